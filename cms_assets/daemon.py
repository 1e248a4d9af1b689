"""The platform run the way a user runs it: a real ``dagster-daemon`` on workspace.yaml and a DAGSTER_HOME, the
sensor switched on through the ``dagster`` CLI, and progress read back from the instance.

Used by ``cms-assets demo`` and by the end-to-end tests, so both go through the path a user's deployment takes:
sensor -> download run -> Declarative Automation -> runs launched by the daemon.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
WORKSPACE = ROOT / "workspace.yaml"
TEMPLATE = ROOT / "dagster.yaml"
SENSOR = "cms_new_files_sensor"


def _bin(name: str) -> str:
    """A console script of this interpreter's environment (the venv's dagster, not another one on PATH)."""
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def prepare_home(home: Path, overrides: str = "") -> Path:
    """A DAGSTER_HOME holding this project's dagster.yaml (kept if the user already has one)."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text(TEMPLATE.read_text() + overrides)
    return home


@dataclass
class Progress:
    """A snapshot of the instance: partitions materialized per per-sample asset, whole-graph assets, runs."""

    samples: list[str]
    partitions_done: dict[str, int]
    unpartitioned_done: dict[str, bool]
    in_flight: int
    failed: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        total = len(self.samples)
        return (
            total > 0
            and all(n == total for n in self.partitions_done.values())
            and all(self.unpartitioned_done.values())
        )

    def line(self) -> str:
        total = len(self.samples)
        done = sum(self.partitions_done.values())
        whole = sum(self.unpartitioned_done.values())
        return (
            f"{done}/{len(self.partitions_done) * total} sample partitions, "
            f"{whole}/{len(self.unpartitioned_done)} whole-graph assets, {self.in_flight} run(s) in flight"
            + (f", {len(self.failed)} failed" if self.failed else "")
        )


class LocalPlatform:
    """Start ``dagster-daemon run`` for a DAGSTER_HOME and environment; stop it on exit (its process group)."""

    def __init__(self, home: Path, env: Mapping[str, str], log_path: Path | None = None) -> None:
        self.home = Path(home).resolve()
        self.env = {**os.environ, **env, "DAGSTER_HOME": str(self.home)}
        self.log_path = log_path or self.home / "daemon.log"
        self.started_at = time.time()
        self._proc: subprocess.Popen[bytes] | None = None
        self._instance: Any = None

    def __enter__(self) -> LocalPlatform:
        self.instance.get_runs_count()  # create the storage first: the daemon and the CLI would race to create it
        self.started_at = time.time()
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the daemon process
        self._proc = subprocess.Popen(
            [_bin("dagster-daemon"), "run", "-w", str(WORKSPACE)],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        log.close()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._proc is not None and self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGTERM)
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self._proc.pid, signal.SIGKILL)
                self._proc.wait()
        if self._instance is not None:
            self._instance.dispose()

    @property
    def instance(self) -> Any:
        import dagster as dg

        if self._instance is None:
            self._instance = dg.DagsterInstance.from_config(str(self.home))
        return self._instance

    def dagster(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the ``dagster`` CLI against this home and workspace, as a user would."""
        return subprocess.run(
            [_bin("dagster"), *args, "-w", str(WORKSPACE)],
            cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    def start_sensor(self, name: str = SENSOR) -> str:
        """``dagster sensor start <name>``; a sensor that is already running is fine."""
        done = self.dagster("sensor", "start", name)
        text = (done.stdout + done.stderr).strip()
        if done.returncode != 0 and "already running" not in text:
            raise RuntimeError(f"`dagster sensor start {name}` failed ({done.returncode}): {text[-2000:]}")
        return text

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def last_tick(self, name: str = SENSOR) -> float | None:
        """Timestamp of the sensor's latest finished tick, from the instance."""
        from dagster._core.scheduler.instigation import TickStatus

        states = [s for s in self.instance.all_instigator_state() if s.name == name]
        for state in states:
            ticks = self.instance.get_ticks(state.instigator_origin_id, state.selector_id, limit=5)
            done = [t.timestamp for t in ticks if t.status != TickStatus.STARTED]
            if done:
                return max(done)
        return None

    def progress(self) -> Progress:
        import dagster as dg

        from cms_assets.definitions import project_assets

        instance = self.instance
        samples = sorted(instance.get_dynamic_partitions("cms_sample"))
        partitioned: dict[str, int] = {}
        whole: dict[str, bool] = {}
        for assets_def in project_assets():
            for key in assets_def.keys:
                name = key.to_user_string()
                if assets_def.partitions_def is not None:
                    partitioned[name] = len(set(instance.get_materialized_partitions(key)) & set(samples))
                else:
                    whole[name] = instance.get_latest_materialization_event(key) is not None
        in_flight = instance.get_runs_count(dg.RunsFilter(statuses=list(_in_progress())))
        failed = instance.get_runs(
            dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE], created_after=_utc(self.started_at))
        )
        return Progress(samples, partitioned, whole, in_flight, [r.run_id for r in failed])

    def wait_until_settled(
        self,
        timeout: float,
        quiet_seconds: float,
        say: Callable[[str], None] = print,
        poll: float = 3.0,
        after_tick: bool = True,
    ) -> Progress:
        """Wait until the sensor has ticked since start (if ``after_tick``), nothing has run for
        ``quiet_seconds`` and every asset of every sample is materialized; or until a run failed and the graph
        is quiet again (returned, with ``failed``), or ``timeout`` (TimeoutError)."""
        deadline = time.monotonic() + timeout
        quiet_since: float | None = None
        last_line = ""
        while True:
            if not self.alive():
                raise RuntimeError(
                    f"dagster-daemon exited ({self._proc.returncode if self._proc else '?'}); see {self.log_path}"
                )
            state = self.progress()
            line = state.line()
            if line != last_line:
                say(line)
                last_line = line
            ticked = not after_tick or (self.last_tick() or 0) >= self.started_at
            if state.in_flight == 0 and ticked:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= quiet_seconds and (state.complete or state.failed):
                    return state
            else:
                quiet_since = None
            if time.monotonic() > deadline:
                raise TimeoutError(f"not settled after {timeout:.0f}s: {line}; daemon log {self.log_path}")
            time.sleep(poll)


def _in_progress() -> list[Any]:
    from dagster._core.storage.dagster_run import IN_PROGRESS_RUN_STATUSES

    return list(IN_PROGRESS_RUN_STATUSES)


def _utc(ts: float) -> Any:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC)
