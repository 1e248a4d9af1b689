"""A step waiting for a pool slot obeys SIGTERM. Dagster's in-process executor catches SIGTERM for the whole run and
only raises it inside a step, so a run whose ``beneficiary_features`` step waits for the ``spark`` slot (held by
another, live run) used to ignore SIGTERM and spin; now it is marked failed, frees its claims and exits.

Real processes: the waiting run is ``dg.materialize`` in a subprocess on an instance configured from the project's
dagster.yaml; the slot is held by a run whose recorded process is alive (this test's)."""

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
from dagster._core.events import EngineEventData

from cms_assets.daemon import TEMPLATE

RUN = textwrap.dedent(
    """
    import sys
    import dagster as dg
    from cms_assets.defs.ml.features import beneficiary_features
    from cms_assets.defs.resources import SparkResource, StorageResource
    from cms_assets.defs.tables.assets import table_assets
    from cms_assets.defs.wiring import with_io_managers

    storage = StorageResource(url=sys.argv[1], scratch_dir=sys.argv[2])
    resources = with_io_managers({"storage": storage, "spark": SparkResource()})
    with dg.DagsterInstance.get() as instance:
        dg.materialize([*table_assets, beneficiary_features], selection=["beneficiary_features"],
                       partition_key="sample_01", instance=instance, resources=resources, raise_on_error=False)
    """
)


def test_a_step_waiting_for_a_pool_slot_obeys_sigterm(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(TEMPLATE, home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions("cms_sample", ["sample_01"])
        storage = instance.event_log_storage
        storage.initialize_concurrency_limit_to_default("spark")
        holder = instance.create_run_for_job(dg.GraphDefinition("holder").to_job())
        instance.report_engine_event(  # a live run: its recorded process is this one
            f"Executing steps in process (pid: {os.getpid()})", holder, EngineEventData.in_process(os.getpid())
        )
        assert storage.claim_concurrency_slot("spark", holder.run_id, "holder_step").is_claimed

        env = {**os.environ, "DAGSTER_HOME": str(home)}
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN, str(tmp_path / "data"), str(tmp_path / "scratch")],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 120
            while not (waiting := _waiting_runs(instance, holder.run_id)):
                assert proc.poll() is None, proc.stderr.read()[-3000:] if proc.stderr else proc.returncode
                assert time.monotonic() < deadline, "the step never queued for the spark slot"
                time.sleep(0.5)
            time.sleep(2)  # well into the wait
            proc.send_signal(signal.SIGTERM)
            sent = time.monotonic()
            code = proc.wait(timeout=60)
            print(f"exited {code} {time.monotonic() - sent:.1f}s after SIGTERM")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        assert code == 128 + signal.SIGTERM
        [run_id] = waiting
        run = instance.get_run_by_id(run_id)
        assert run is not None and run.status == dg.DagsterRunStatus.FAILURE
        info = storage.get_concurrency_info("spark")
        assert [s.run_id for s in info.claimed_slots] == [holder.run_id]  # the live holder keeps its slot
        assert all(p.run_id != run_id for p in info.pending_steps)  # the interrupted run left no claim behind
        storage.free_concurrency_slots_for_run(holder.run_id)


def _waiting_runs(instance: dg.DagsterInstance, holder: str) -> set[str]:
    info = instance.event_log_storage.get_concurrency_info("spark")
    return {p.run_id for p in info.pending_steps if p.run_id != holder}
