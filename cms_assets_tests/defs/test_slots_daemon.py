"""Under a real ``dagster-daemon``, a run worker killed with -9 in the middle of a Spark step (holding the ``spark``
pool slot) during a two-sample wave: run monitoring marks it failed, frees its pool slots
(``free_slots_after_run_end_seconds`` in dagster.yaml), the retry runs, both samples reach the report, and no pool
slot is held at the end. Without the freeing, the retry and every later Spark run stay queued forever."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest
import yaml

from cms_assets.daemon import TEMPLATE, LocalPlatform, prepare_home
from cms_assets.demo import demo_env
from cms_assets.instance import pid_alive, run_pid
from cms_assets.lib.generate import generate_sample
from cms_assets.lib.site.mirror import CmsMirror

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400)]
SCALE = 0.002
FAST = {
    "CMS_SENSOR_INTERVAL_SECONDS": "5",
    "CMS_AUTOMATION_INTERVAL_SECONDS": "3",
    "CMS_GBT_TREES": "4",
    "CMS_GBT_DEPTH": "3",
}
SPARK_STEPS = {"beneficiary_features", "cost_model", "cost_predictions"}


def _home(path: Path) -> Path:
    """The project's dagster.yaml with run monitoring polling every 5 s instead of 30 (the test's wall time)."""
    config = yaml.safe_load(TEMPLATE.read_text())
    config["run_monitoring"]["poll_interval_seconds"] = 5
    path.mkdir(parents=True)
    (path / "dagster.yaml").write_text(yaml.safe_dump(config))
    return prepare_home(path)


def _spark_step_running(instance: dg.DagsterInstance) -> tuple[dg.DagsterRun, str] | None:
    """A launched run in the middle of a Spark step (started, not ended), and the step."""
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        started, ended = set(), set()
        for entry in instance.all_logs(run.run_id):
            event = entry.dagster_event
            if event is None or entry.step_key is None:
                continue
            if event.event_type == dg.DagsterEventType.STEP_START:
                started.add(entry.step_key)
            elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
                ended.add(entry.step_key)
        running = [s for s in started - ended if s.split("[")[0] in SPARK_STEPS]
        if running:
            return run, running[0]
    return None


def _failed_steps(instance: dg.DagsterInstance, run_id: str) -> list[str]:
    return [e.step_key or "?" for e in instance.all_logs(run_id, of_type=dg.DagsterEventType.STEP_FAILURE)]


def _held(instance: dg.DagsterInstance) -> dict[str, list]:
    storage = instance.event_log_storage
    infos = {pool: storage.get_concurrency_info(pool) for pool in storage.get_concurrency_keys()}
    return {
        pool: [*i.claimed_slots, *i.pending_steps] for pool, i in infos.items() if i.claimed_slots or i.pending_steps
    }


def _latest(instance: dg.DagsterInstance, key: str, partition: str | None = None) -> float:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey.from_user_string(key), asset_partitions=[partition] if partition else None
        ),
        limit=1,
    ).records
    return records[0].timestamp if records else 0.0


def _reached_report(instance: dg.DagsterInstance, since: float) -> bool:
    """Both samples' scores are in the warehouse, and a report was rendered after them and after the kill."""
    loads = [_latest(instance, "warehouse/cost_predictions", pk) for pk in ("sample_01", "sample_02")]
    report = _latest(instance, "insight_report")
    return all(loads) and report > max(*loads, since)


def test_a_killed_spark_run_frees_its_slot_and_its_retry_completes_the_wave(tmp_path: Path) -> None:
    site, data = tmp_path / "site", tmp_path / "data"
    for sample in (1, 2):
        generate_sample(site, sample, scale=SCALE, seed=5)
    home = _home(tmp_path / "home")
    with CmsMirror(site) as mirror:
        env = {**demo_env(data, mirror.landing_url), **FAST, "CMS_ASSETS_SCRATCH": str(tmp_path / "scratch")}
        with LocalPlatform(home, env) as platform:
            platform.start_sensor()
            instance = platform.instance

            deadline = time.monotonic() + 900
            while (found := _spark_step_running(instance)) is None:
                assert platform.alive() and time.monotonic() < deadline, "no Spark step started"
                time.sleep(1)
            run, step = found
            time.sleep(3)  # inside the step: the Spark session is starting or working
            pid = run_pid(instance, run.run_id, "Started process for run")
            assert pid is not None and pid_alive(pid)
            os.kill(pid, signal.SIGKILL)
            killed_at = time.time()
            print(f"killed run {run.run_id} (pid {pid}) in step {step}")

            deadline = time.monotonic() + 1500
            while True:  # settled (nothing in flight for 20 s) with both samples in the report
                state = platform.wait_until_settled(timeout=deadline - time.monotonic(), quiet_seconds=20, say=print)
                others = {r: _failed_steps(instance, r) for r in state.failed if r != run.run_id}
                assert not others, f"runs other than the killed one failed (run: failed steps): {others}"
                if _reached_report(instance, killed_at):
                    break
                assert time.monotonic() < deadline, state.line()

            killed = instance.get_run_by_id(run.run_id)
            assert killed is not None and killed.status == dg.DagsterRunStatus.FAILURE
            [retry] = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": run.run_id}))
            assert retry.status == dg.DagsterRunStatus.SUCCESS, retry.status
            retry_record = instance.get_run_record_by_id(retry.run_id)
            assert retry_record is not None and retry_record.start_time is not None
            print(f"retry started {retry_record.start_time - killed_at:.0f}s after the kill")
            assert _held(instance) == {}
