"""Run monitoring can only fail a dead run if the launcher can tell it is dead: MonitoredRunLauncher's health check
against a real process, on an instance configured from the project's dagster.yaml."""

import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.events import EngineEventData
from dagster._core.launcher import WorkerStatus

from cms_assets.daemon import TEMPLATE
from cms_assets.instance import MonitoredRunLauncher


def test_a_killed_run_worker_is_reported_failed(tmp_path: Path) -> None:
    shutil.copy(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        launcher = instance.run_launcher
        assert isinstance(launcher, MonitoredRunLauncher) and instance.run_monitoring_enabled
        run = instance.create_run_for_job(dg.GraphDefinition("g").to_job())
        assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING  # no pid yet: still starting

        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        try:
            # what the run worker logs first (dagster/_grpc/impl.py), so the launcher can find its process
            instance.report_engine_event(
                f"Started process for run (pid: {worker.pid}).", run, EngineEventData.in_process(worker.pid)
            )
            assert launcher.check_run_worker_health(run).status == WorkerStatus.RUNNING
            worker.kill()  # kill -9
            worker.wait()
            time.sleep(0.1)
            health = launcher.check_run_worker_health(run)
            assert health.status == WorkerStatus.FAILED
            assert str(worker.pid) in (health.msg or "")
        finally:
            if worker.poll() is None:
                worker.kill()
