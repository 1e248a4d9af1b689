"""Instance plug-ins named in dagster.yaml, and the freeing of pool slots held by dead runs.

:class:`MonitoredRunLauncher` is Dagster's default launcher plus a run-worker health check, so that run
monitoring can mark a run whose process died (killed, OOM) as failed instead of leaving it STARTED forever.
Dagster's default launcher offers no such check; container launchers (ECS, Kubernetes) have their own.

Pool slots (``spark``, ``warehouse``, ``cms_download``) are rows in the instance's storage, freed by the run that
claimed them when its step ends. A run killed with -9 never frees them. Under the daemon, run monitoring frees
the slots of finished runs (``run_monitoring.free_slots_after_run_end_seconds`` in dagster.yaml) once it has
marked the dead run failed. Without a daemon (``dg.materialize`` on a persistent instance, tests, notebooks)
nobody does, and the next run's step waits for the slot forever; :func:`free_slots_of_dead_runs`, called when a
run starts (by the IO managers, before any step claims a slot), covers that case. And a step that waits for a
slot held by a live run obeys SIGTERM (:func:`exit_on_sigterm_while_waiting`).
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path

from dagster import DagsterEventType, DagsterInstance, DagsterRun, DagsterRunStatus, InitResourceContext
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus
from dagster._core.storage.dagster_run import FINISHED_STATUSES
from dagster._utils.interrupts import check_captured_interrupt

#: Engine events that record a run's process: a launched run worker, and a run executing in-process.
_PID_EVENTS = ("Started process for run", "Executing steps in process")


def pid_alive(pid: int) -> bool:
    """True if a process with this pid exists and is not a zombie (a dead child not yet reaped)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except (OSError, IndexError):
            return True
    return True


class MonitoredRunLauncher(DefaultRunLauncher):
    """Launches runs like DefaultRunLauncher; reports a run whose worker process is gone as FAILED.

    The run worker records its pid in the engine event "Started process for run (pid: N)"; the check runs on
    the host of the daemon, which for this launcher is the host of the code server that started the process.
    """

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        pid = self._worker_pid(run.run_id)
        if pid is None:
            return CheckRunHealthResult(WorkerStatus.RUNNING, "run worker pid not recorded yet")
        if pid_alive(pid):
            return CheckRunHealthResult(WorkerStatus.RUNNING, run_worker_id=str(pid))
        return CheckRunHealthResult(
            WorkerStatus.FAILED, f"run worker process {pid} is gone (killed or crashed)", run_worker_id=str(pid)
        )

    def _worker_pid(self, run_id: str) -> int | None:
        return run_pid(self._instance, run_id, _PID_EVENTS[0])


def run_pid(instance: DagsterInstance, run_id: str, *prefixes: str) -> int | None:
    """The pid a run's engine events recorded (first match of ``prefixes``; default: worker or in-process)."""
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        event = entry.dagster_event
        data = event.engine_event_data if event else None
        if data and event.message and event.message.startswith(prefixes or _PID_EVENTS):
            pid = data.metadata.get("pid")
            if pid is not None:
                return int(getattr(pid, "value", pid))
    return None


def free_slots_of_dead_runs(
    instance: DagsterInstance, current_run_id: str | None = None, log: Callable[[str], None] | None = None
) -> dict[str, str]:
    """Free the pool slots (claimed or queued for) of runs that can no longer free them: finished runs, deleted
    runs, and runs whose process is gone. Returns {run_id: why}.

    A process is only judged on an instance whose storage is SQLite (runs on this host); on a shared database
    (production) a pid means nothing here, and the daemon's run monitoring does the job instead. An in-process run
    found dead is also marked failed, since no run monitoring watches in-process runs; a launched run is left to
    run monitoring (which then retries it).
    """
    storage = instance.event_log_storage
    if not storage.supports_global_concurrency_limits:
        return {}
    held = set(storage.get_concurrency_run_ids())
    for pool in storage.get_concurrency_keys():
        held |= storage.get_concurrency_info(pool).active_run_ids
    held.discard(current_run_id or "")
    same_host = type(storage).__module__.startswith("dagster._core.storage.event_log.sqlite")
    freed: dict[str, str] = {}
    for run_id in sorted(held):
        run = instance.get_run_by_id(run_id)
        if run is None:
            why = "the run no longer exists"
        elif run.status in FINISHED_STATUSES:
            why = f"the run ended ({run.status.value})"
        elif same_host and (pid := run_pid(instance, run_id)) is not None and not pid_alive(pid):
            why = f"the run's process {pid} is gone (killed or crashed)"
            if run_pid(instance, run_id, _PID_EVENTS[0]) is None:  # in-process: nobody else will mark it
                instance.report_run_failed(run, message=f"{why}; marked failed by a later run")
        else:
            continue
        storage.free_concurrency_slots_for_run(run_id)
        freed[run_id] = why
        if log:
            log(f"freed the pool slots of run {run_id}: {why}")
    return freed


#: How long an interrupt may stay undelivered before the run is judged stuck waiting for a pool slot.
SIGTERM_GRACE_SECONDS = 5.0
_watchers: dict[str, threading.Event] = {}


def exit_on_sigterm_while_waiting(instance: DagsterInstance, run: DagsterRun) -> None:
    """Make a run that waits for a pool slot obey SIGTERM/SIGINT (and cancellation, which sends SIGINT).

    Dagster catches these signals for the whole run and raises them only inside a step; its in-process executor
    never looks at them while a step waits for a pool slot, so such a run ignores SIGTERM (and busy-waits). A
    watcher thread sees the signal still undelivered after SIGTERM_GRACE_SECONDS while the run has a step queued
    for a slot: it marks the run failed (canceled, if cancellation was asked for), frees its pool claims and exits
    the process with 143, as the signal asked. A signal during a step is untouched: Dagster delivers it there.
    """
    if threading.current_thread() is not threading.main_thread() or run.run_id in _watchers:
        return
    stop = threading.Event()
    _watchers[run.run_id] = stop

    def watch() -> None:
        pending_since: float | None = None
        while not stop.wait(1.0):
            if not check_captured_interrupt():
                pending_since = None
                continue
            pending_since = pending_since or time.monotonic()
            if time.monotonic() - pending_since < SIGTERM_GRACE_SECONDS or not _waiting_for_pool(instance, run):
                continue
            try:
                message = "interrupted (SIGTERM/SIGINT) while waiting for a pool slot"
                current = instance.get_run_by_id(run.run_id) or run
                if current.status == DagsterRunStatus.CANCELING:
                    instance.report_run_canceled(current, message=message)
                else:
                    instance.report_run_failed(current, message=message)
                instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
            finally:
                os._exit(128 + signal.SIGTERM)

    threading.Thread(target=watch, name=f"sigterm-watch-{run.run_id[:8]}", daemon=True).start()


def stop_sigterm_watch(run_id: str) -> None:
    """The run is over (its resources are torn down): stop watching."""
    stop = _watchers.pop(run_id, None)
    if stop is not None:
        stop.set()


def _waiting_for_pool(instance: DagsterInstance, run: DagsterRun) -> bool:
    """True while a step of ``run`` is queued for a pool slot it has not got."""
    storage = instance.event_log_storage
    for pool in storage.get_concurrency_keys():
        info = storage.get_concurrency_info(pool)
        claimed = {s.step_key for s in info.claimed_slots if s.run_id == run.run_id}
        if any(p.run_id == run.run_id and p.step_key not in claimed for p in info.pending_steps):
            return True
    return False


def at_run_start(context: InitResourceContext) -> None:
    """Called by the project's resources as a run starts (before any step claims a pool slot): free the slots of
    dead runs and watch for SIGTERM while a step waits for one. Idempotent within a run."""
    run = context.run
    if context.instance is not None and run is not None:
        free_slots_of_dead_runs(context.instance, run.run_id, log=context.log.warning if context.log else None)
        exit_on_sigterm_while_waiting(context.instance, run)


def at_run_end(context: InitResourceContext | None) -> None:
    """Called as the run's resources are torn down: stop watching."""
    if context is not None and context.run is not None:
        stop_sigterm_watch(context.run.run_id)
