"""A run killed with -9 in the middle of ``cost_model`` (its Spark step holding the ``spark`` pool slot), on a
persistent instance configured from the project's dagster.yaml, with no daemon: nothing is half-published, and a
re-run in a new process frees the dead run's slot, trains and publishes the model, and leaves no slot held.

Every run is a real process (``dg.materialize`` in a subprocess), killed for real."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.daemon import TEMPLATE
from cms_assets.lib import layout
from cms_assets.lib.ml.artifacts import LATEST_MODEL_KEY, read_latest, read_model_info
from cms_assets.lib.storage import LocalStorage
from cms_assets_tests.fixtures.spark import generated_tables

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

# One dg.materialize of the named asset (and partition) on $DAGSTER_HOME, with the project's assets and resources.
RUN = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from cms_assets.defs.ml.features import beneficiary_features
    from cms_assets.defs.ml.model import cost_model
    from cms_assets.defs.resources import ModelSizeResource, SparkResource, StorageResource
    from cms_assets.defs.tables.assets import table_assets
    from cms_assets.defs.wiring import with_io_managers

    data, scratch, name, partition = sys.argv[1:5]
    resources = with_io_managers({
        "storage": StorageResource(url=data, scratch_dir=scratch),
        "spark": SparkResource(driver_memory="1g", shuffle_partitions=2),
        "model_size": ModelSizeResource(gbt_trees=4, gbt_depth=3),
    })
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(
            [*table_assets, beneficiary_features, cost_model], selection=[name], partition_key=partition or None,
            instance=instance, resources=resources, raise_on_error=False,
        )
    print("SUCCESS" if result.success else "FAILED", result.run_id)
    sys.exit(0 if result.success else 1)
    """
)


def _materialize(data: Path, name: str, partition: str = "") -> list[str]:
    return [sys.executable, "-c", RUN, str(data), str(data / ".scratch"), name, partition]


def _spark_slots(instance: dg.DagsterInstance) -> tuple[set[str], set[str]]:
    info = instance.event_log_storage.get_concurrency_info("spark")
    return info.active_run_ids, {s.run_id for s in info.pending_steps}


def _step_started(instance: dg.DagsterInstance, step: str) -> dg.DagsterRun | None:
    for run in instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        for entry in instance.all_logs(run.run_id, of_type=dg.DagsterEventType.STEP_START):
            if entry.step_key == step:
                return run
    return None


def test_cost_model_killed_midway_then_rerun_in_process(tmp_path: Path) -> None:
    data, home = tmp_path / "data", tmp_path / "home"
    generated_tables(data, 1, scale=0.005, seed=4)
    home.mkdir()
    shutil.copy(TEMPLATE, home / "dagster.yaml")  # sqlite storage, pools of one slot
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("cms_sample", ["sample_01"])
        features = subprocess.run(
            _materialize(data, "beneficiary_features", "sample_01"), env=env, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert features.returncode == 0, features.stderr[-3000:]

        # cost_model in its own process, killed with -9 a few seconds into its Spark step
        proc = subprocess.Popen(
            _materialize(data, "cost_model"), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            deadline = time.monotonic() + 300
            while (run := _step_started(instance, "cost_model")) is None:
                assert proc.poll() is None and time.monotonic() < deadline, "cost_model never started"
                time.sleep(0.5)
            time.sleep(8)  # Spark is up and training
            assert proc.poll() is None, "cost_model ended before it could be killed"
            proc.send_signal(signal.SIGKILL)
            proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
        store = LocalStorage(data)
        assert not store.exists(LATEST_MODEL_KEY), "killed mid-training, yet the pointer moved"
        models = data / layout.MODELS
        assert not [p for p in models.iterdir() if not p.name.startswith(".")] if models.exists() else True
        claimed, _ = _spark_slots(instance)
        assert run.run_id in claimed  # the dead run still holds the spark slot: the hang's precondition

        started = time.monotonic()
        rerun = subprocess.run(_materialize(data, "cost_model"), env=env, capture_output=True, text=True, timeout=900)
        assert rerun.returncode == 0, (rerun.stdout[-2000:], rerun.stderr[-4000:])
        print(f"re-run after the kill: {time.monotonic() - started:.0f}s")
        assert f"freed the pool slots of run {run.run_id}" in rerun.stderr
        latest = read_latest(store)
        assert read_model_info(store, latest["version"])["selected"] == latest["selected"]
        assert _spark_slots(instance) == (set(), set())
        dead = instance.get_run_by_id(run.run_id)
        assert dead is not None and dead.status == dg.DagsterRunStatus.FAILURE
