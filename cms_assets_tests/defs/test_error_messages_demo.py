"""Issue 22, item 4: the demo tells a run whose process died (killed) from a run that failed, and waits for the
retry run retries queue instead of exiting 1 on the first failure.

On a real instance made from the project's dagster.yaml (run monitoring and run retries on): a real run worker
process is killed, Dagster's own run-monitoring pass marks the run failed, the instance decides it will retry; the
retry is a real run carrying the tags run retries put on it.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
from dagster._core.events import DagsterEvent, DagsterEventType, EngineEventData
from dagster._daemon.monitoring.run_monitoring import monitor_started_run

from cms_assets.daemon import TEMPLATE
from cms_assets.demo import PARENT_RUN_ID_TAG, RETRY_NUMBER_TAG, WILL_RETRY_TAG, triage


@dg.op
def fine() -> int:
    return 1


@dg.op
def broken() -> None:
    raise dg.Failure("inpatient_claims sample_01: blocking checks dates_in_file_years failed")


ok_job = dg.GraphDefinition("cms_demo_job", node_defs=[fine]).to_job()
bad_job = dg.GraphDefinition("cms_demo_bad", node_defs=[broken]).to_job()


def _killed_run(instance: dg.DagsterInstance) -> dg.DagsterRun:
    """A STARTED run whose worker process is killed, then failed by Dagster's run monitoring, as the daemon does."""
    run = instance.create_run_for_job(ok_job)
    instance.report_dagster_event(DagsterEvent(DagsterEventType.RUN_START.value, job_name=run.job_name), run.run_id)
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        instance.report_engine_event(
            f"Started process for run (pid: {worker.pid}).", run, EngineEventData.in_process(worker.pid)
        )
        worker.kill()
        worker.wait()
        time.sleep(0.1)
        record = instance.get_run_records(dg.RunsFilter(run_ids=[run.run_id]))[0]
        monitor_started_run(instance, None, record, logging.getLogger("test"))  # type: ignore[arg-type]
    finally:
        if worker.poll() is None:
            worker.kill()
    run = instance.get_run_by_id(run.run_id)
    assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
    return run


def _retry_of(instance: dg.DagsterInstance, run: dg.DagsterRun, job: dg.JobDefinition = ok_job) -> str:
    """A real run carrying the tags run retries put on a retry; returns its id."""
    tags = {PARENT_RUN_ID_TAG: run.run_id, RETRY_NUMBER_TAG: "1", "dagster/root_run_id": run.run_id}
    return job.execute_in_process(instance=instance, tags=tags, raise_on_error=False).run_id


def test_killed_run_whose_retry_succeeded_is_told_as_such(tmp_path: Path) -> None:
    shutil.copy(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        run = _killed_run(instance)
        assert run.tags.get(WILL_RETRY_TAG) == "true"  # run retries (dagster.yaml) will re-launch it
        pending = triage(instance, [run.run_id])
        assert not pending.failed and not pending.recovered
        assert pending.pending == [
            f"run {run.run_id}'s process died (killed: run worker process "
            + pending.pending[0].split("run worker process ", 1)[1].split(" ", 1)[0]
            + " is gone; run monitoring marked the run failed); its retry is about to be queued"
        ]
        retry_id = _retry_of(instance, run)
        done = triage(instance, [run.run_id])
        assert not done.failed and not done.pending
        [line] = done.recovered
        assert line.startswith(f"run {run.run_id}'s process died (killed: run worker process ")
        assert line.endswith(f"; retry {retry_id} (#1) succeeded")


def test_retry_running_is_pending_and_failed_retry_is_a_failure(tmp_path: Path) -> None:
    shutil.copy(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        run = _killed_run(instance)
        queued = instance.create_run_for_job(ok_job, tags={PARENT_RUN_ID_TAG: run.run_id, RETRY_NUMBER_TAG: "1"})
        verdict = triage(instance, [run.run_id])
        assert [line.rsplit("; ", 1)[1] for line in verdict.pending] == [f"retry {queued.run_id} (#1) not_started"]
        instance.delete_run(queued.run_id)
        retry_id = _retry_of(instance, run, bad_job)
        verdict = triage(instance, [run.run_id, retry_id])  # both failed: told once, as one story
        assert not verdict.pending and not verdict.recovered
        [line] = verdict.failed
        assert f"run {run.run_id}'s process died (killed" in line
        assert f"retry {retry_id} (#1) failed too: run {retry_id} failed: broken: " in line
        assert "blocking checks dates_in_file_years failed" in line and line.endswith("; not retried")


def test_a_step_failure_is_not_called_a_killed_process(tmp_path: Path) -> None:
    shutil.copy(TEMPLATE, tmp_path / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        run_id = bad_job.execute_in_process(instance=instance, raise_on_error=False).run_id
        [line] = triage(instance, [run_id]).failed
        assert line.startswith(f"run {run_id} failed: broken: ")
        assert "process died" not in line and line.endswith("; not retried")
