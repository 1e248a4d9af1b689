"""After the demo (``test_demo``: two samples from the site to the report, launched by the sensor and the
automation alone), the graph keeps running itself on the demo's instance, with real processes: ``dagster-daemon
run`` on workspace.yaml, the local CMS mirror over HTTP. The test launches no run.

1. A third sample appears on the site: it flows to the warehouse, the model trains once more (once for the wave),
   every sample is re-scored with it, the analyst layer and the report follow once. In that wave the run worker of
   a Spark step is killed with -9 while it holds the ``spark`` pool slot: run monitoring marks the run failed and
   frees the slot, its retry completes the wave, and no pool slot is held afterwards (issue 22).
2. Sample 1's inpatient file becomes header-only: its table and warehouse rows stay as they were, the run fails
   naming the file, and nothing downstream runs for that sample.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.daemon import LocalPlatform
from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
from cms_assets.demo import demo_env
from cms_assets.instance import pid_alive, run_pid
from cms_assets.lib import layout
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf.names import FileSpec, Kind
from cms_assets.lib.versions import sha256_of
from cms_assets.sim.generate import generate_sample
from cms_assets.sim.mirror import CmsMirror
from cms_assets_tests.fixtures.demo import DEMO_SCALE, DEMO_SEED, SMALL_GBT, parquet_rows, warehouse_rows
from cms_assets_tests.fixtures.site import write_zip
from cms_assets_tests.groups import DAEMON_GROUP

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400), pytest.mark.xdist_group(DAEMON_GROUP)]
# Shorter intervals than the demo's, and the demo's smaller GBT (the automation is under test, not the model).
FAST = {"CMS_SENSOR_INTERVAL_SECONDS": "5", "CMS_AUTOMATION_INTERVAL_SECONDS": "3", **SMALL_GBT}
SPARK_STEPS = {"beneficiary_features", "cost_model", "cost_predictions"}
DOWNSTREAM_OF_INPATIENT = ["beneficiary_features", "cost_predictions", "cost_model"] + [
    f"warehouse/{t}" for t in ("inpatient_claims", "beneficiary_features", "cost_predictions")
]


def _materializations(instance: dg.DagsterInstance, key: str, partition: str | None = None) -> list:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(
            asset_key=dg.AssetKey.from_user_string(key), asset_partitions=[partition] if partition else None
        ),
        limit=1000,
    ).records
    return sorted(records, key=lambda r: r.storage_id)


def _rebuilt_from_the_same_inputs(instance: dg.DagsterInstance) -> list[str]:
    """Per-sample partitions built twice from the same upstream data versions (``built_from``); an automation run
    that found nothing changed records ``unchanged_since_run`` instead of building."""
    repeats = []
    for key in ["beneficiary_features", "cost_predictions", *(f"warehouse/{t}" for t in WAREHOUSE_SAMPLE_TABLES)]:
        for pk in sorted(instance.get_dynamic_partitions("cms_sample")):
            seen: set[str] = set()
            for record in _materializations(instance, key, pk):
                metadata = record.asset_materialization.metadata
                if "unchanged_since_run" in metadata or "built_from" not in metadata:
                    continue
                inputs = json.dumps(metadata["built_from"].value, sort_keys=True)
                if inputs in seen:
                    repeats.append(f"{key} {pk} (run {record.run_id})")
                seen.add(inputs)
    return repeats


def _spark_step_running(instance: dg.DagsterInstance, run_id: str) -> bool:
    started, ended = set(), set()
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or entry.step_key is None:
            continue
        if event.event_type == dg.DagsterEventType.STEP_START:
            started.add(entry.step_key)
        elif event.event_type in (dg.DagsterEventType.STEP_SUCCESS, dg.DagsterEventType.STEP_FAILURE):
            ended.add(entry.step_key)
    return any(s.split("[")[0] in SPARK_STEPS for s in started - ended)


def _end_status(instance: dg.DagsterInstance, run_id: str, deadline: float) -> dg.DagsterRunStatus:
    while True:
        run = instance.get_run_by_id(run_id)
        assert run is not None
        if run.status not in (dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING):
            return run.status
        assert time.monotonic() < deadline, f"run {run_id} still {run.status} after its worker was killed"
        time.sleep(1)


def _kill_a_spark_step(platform: LocalPlatform, instance: dg.DagsterInstance) -> dg.DagsterRun:
    """Wait for a launched run inside a Spark step (holding the ``spark`` slot), kill its worker with -9, and
    return it once run monitoring has marked it failed. A small sample's Spark step can end in the seconds before
    the kill lands (CI failed on that once: the run succeeded and nothing failed); then the next one is tried."""
    deadline = time.monotonic() + 600
    tried: set[str] = set()
    while True:
        for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
            if run.run_id in tried or not _spark_step_running(instance, run.run_id):
                continue
            time.sleep(3)  # inside the step: the Spark session is starting or working
            tried.add(run.run_id)
            pid = run_pid(instance, run.run_id, "Started process for run")
            if pid is None or not pid_alive(pid):
                continue  # it finished in those seconds
            os.kill(pid, signal.SIGKILL)
            status = _end_status(instance, run.run_id, deadline)
            if status == dg.DagsterRunStatus.FAILURE:
                print(f"killed run {run.run_id} (pid {pid}) in a Spark step")
                return run
            print(f"run {run.run_id} ended {status.value} before the kill landed; trying the next Spark step")
        assert platform.alive() and time.monotonic() < deadline, "no Spark step could be killed"
        time.sleep(1)


def _held_slots(instance: dg.DagsterInstance) -> dict[str, list]:
    storage = instance.event_log_storage
    infos = {pool: storage.get_concurrency_info(pool) for pool in storage.get_concurrency_keys()}
    return {p: [*i.claimed_slots, *i.pending_steps] for p, i in infos.items() if i.claimed_slots or i.pending_steps}


def _dbt_builds(instance: dg.DagsterInstance) -> set[int]:
    """How many times each dbt model was materialized (a set: one number for every model is the claim). Every
    staging model waits for the wave's last loads, so each wave rebuilds every model once."""
    from cms_assets.definitions import build_definitions

    graph = build_definitions("local", {}).resolve_asset_graph()
    keys = [k for k in graph.get_all_asset_keys() if k.path[0] in ("staging", "intermediate", "marts")]
    assert len(keys) >= 30
    return {len(_materializations(instance, k.to_user_string())) for k in keys}


def _runs_by_whom(instance: dg.DagsterInstance) -> dict[str, int]:
    by: dict[str, int] = {}
    for run in instance.get_runs():
        who = run.tags.get("dagster/sensor_name", "test or user")
        by[who] = by.get(who, 0) + 1
    return by


def test_graph_runs_on_after_the_demo(demo_run: tuple[Path, Path], tmp_path: Path) -> None:
    data, home = demo_run
    site = data / "cms_site"
    with CmsMirror(site) as mirror:
        env = {**demo_env(data, mirror.landing_url), **FAST, "CMS_ASSETS_SCRATCH": str(tmp_path / "scratch")}
        with LocalPlatform(home, env) as platform:
            platform.start_sensor()  # still on from the demo; switching it on again is a no-op
            instance = platform.instance
            assert len(_materializations(instance, "cost_model")) == 1  # the demo's wave
            assert _dbt_builds(instance) == {1}

            # 1. a third sample appears on the site; a Spark run is killed with -9 in the middle of its step
            generate_sample(site, 3, scale=DEMO_SCALE, seed=DEMO_SEED)
            platform.started_at = time.time()
            killed = _kill_a_spark_step(platform, instance)
            # An automation tick takes about 10 s, and the analyst layer waits a tick or two after the wave's last
            # load: "settled" must outlast that gap.
            second = platform.wait_until_settled(timeout=1500, quiet_seconds=45, say=print)
            assert second.failed == [killed.run_id], second.failed  # only the killed run
            [retry] = instance.get_runs(dg.RunsFilter(tags={"dagster/parent_run_id": killed.run_id}))
            assert retry.status == dg.DagsterRunStatus.SUCCESS, retry.status
            assert _held_slots(instance) == {}
            assert second.samples == ["sample_01", "sample_02", "sample_03"] and second.complete, second.line()
            for table in WAREHOUSE_SAMPLE_TABLES:
                assert warehouse_rows(data, table, 3) > 0, table
            assert warehouse_rows(data, "carrier_claims", 3) == parquet_rows(
                data, layout.table_file("carrier_claims", 3)
            )
            models = _materializations(instance, "cost_model")
            assert len(models) == 2  # once per wave
            assert models[-1].asset_materialization.metadata["samples"].value == [1, 2, 3]
            reports = _materializations(instance, "insight_report")
            assert len(reports) == 2
            assert _dbt_builds(instance) == {2}  # every dbt model once more for the wave, not once per sample
            last_load = max(r.storage_id for r in _materializations(instance, "warehouse/cost_predictions"))
            assert reports[-1].storage_id > last_load  # the report was rendered after every sample's scores
            for pk in ("sample_01", "sample_02", "sample_03"):  # every sample re-scored by the new model
                scored = _materializations(instance, "cost_predictions", pk)[-1]
                version = models[-1].asset_materialization.metadata["model_version"].value
                assert scored.asset_materialization.metadata["model_version"].value == version
            assert set(_runs_by_whom(instance)) == {"cms_new_files_sensor", "cms_automation"}
            assert _rebuilt_from_the_same_inputs(instance) == []  # overlapping samples' runs: nothing built twice

            # 2. sample 1's inpatient file becomes header-only on the site
            store = LocalStorage(data)
            table_key = layout.table_file("inpatient_claims", 1)
            table_sha, table_rows = sha256_of(data / table_key), parquet_rows(data, table_key)
            loaded = warehouse_rows(data, "inpatient_claims", 1)
            before = {k: len(_materializations(instance, k, "sample_01")) for k in DOWNSTREAM_OF_INPATIENT[:2]}
            before_wh = {k: len(_materializations(instance, k, "sample_01")) for k in DOWNSTREAM_OF_INPATIENT[3:]}
            models_before = len(_materializations(instance, "cost_model"))
            spec = FileSpec(Kind.INPATIENT, 1)
            write_zip(site, spec, rows=0)
            platform.started_at = time.time()
            third = platform.wait_until_settled(timeout=600, quiet_seconds=20, say=print)
            assert third.failed, "the header-only file should fail its table's run"
            [failed] = [instance.get_run_by_id(r) for r in third.failed]
            messages = [
                e.dagster_event.step_failure_data.error.message
                for e in instance.all_logs(failed.run_id, of_type=dg.DagsterEventType.STEP_FAILURE)
                if e.dagster_event and e.dagster_event.step_failure_data.error
            ]
            assert any(spec.zip_name in m and "rows_positive" in m for m in messages), messages
            assert sha256_of(data / table_key) == table_sha and parquet_rows(data, table_key) == table_rows
            assert store.exists(table_key)
            assert warehouse_rows(data, "inpatient_claims", 1) == loaded
            assert {k: len(_materializations(instance, k, "sample_01")) for k in before} == before
            assert {k: len(_materializations(instance, k, "sample_01")) for k in before_wh} == before_wh
            assert len(_materializations(instance, "cost_model")) == models_before
            [info] = instance.event_log_storage.get_asset_check_partition_info(
                [dg.AssetCheckKey(dg.AssetKey("inpatient_claims"), "rows_positive")], partition_keys=["sample_01"]
            )
            assert info.latest_execution_status.value == "FAILED"
