"""Instance plug-ins named in dagster.yaml (never imported by the code location).

:class:`MonitoredRunLauncher` is Dagster's default launcher plus a run-worker health check, so that run
monitoring can mark a run whose process died (killed, OOM) as failed instead of leaving it STARTED forever.
Dagster's default launcher offers no such check; container launchers (ECS, Kubernetes) have their own.
"""

from __future__ import annotations

import os
from pathlib import Path

from dagster import DagsterEventType, DagsterRun
from dagster._core.launcher import CheckRunHealthResult, DefaultRunLauncher, WorkerStatus


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
        for entry in self._instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
            event = entry.dagster_event
            data = event.engine_event_data if event else None
            if data and event.message and event.message.startswith("Started process for run"):
                pid = data.metadata.get("pid")
                if pid is not None:
                    return int(getattr(pid, "value", pid))
        return None
