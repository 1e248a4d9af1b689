"""The README's main command end to end: synthetic site -> tables -> features -> model -> predictions ->
warehouse -> report, through the real jobs; then the same warehouse jobs against a real PostgreSQL server."""

import os
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.definitions import build_definitions
from cms_assets.demo import run_demo
from cms_assets.lib import layout
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.warehouse.load import Warehouse


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("demo")
    data, home = root / "data", root / "home"
    old = os.environ.get("DAGSTER_HOME")
    try:
        assert run_demo(samples=[1, 2], scale=0.01, seed=3, data=data, home=home) == 0
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old
    return data, home


def test_demo_materializes_everything(demo_run: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    data, home = demo_run
    store = LocalStorage(data)
    for sample in (1, 2):
        assert store.exists(layout.table_file("carrier_claims", sample))
        assert [o for o in store.list(layout.features_dir(sample)) if o.key.endswith(".parquet")]
        assert [o for o in store.list(layout.predictions_dir(sample)) if o.key.endswith(".parquet")]
    assert [o for o in store.list(layout.REPORTS) if o.key.endswith(".html")]
    assert (data / "warehouse.duckdb").exists()
    # the runs live in the persistent DAGSTER_HOME that `make dev` shows
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
    jobs = {r.job_name for r in runs}
    assert {"sample_refresh_job", "model_job", "scoring_job", "warehouse_job", "reporting_job"} <= jobs
    assert runs and all(r.is_success for r in runs)


def test_warehouse_jobs_on_postgres(
    demo_run: tuple[Path, Path], postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, _ = demo_run
    monkeypatch.setenv("CMS_WAREHOUSE_URL", postgres_url)  # a dg.EnvVar: read from the process environment
    env = {"CMS_ASSETS_DATA": str(data), "CMS_WAREHOUSE_URL": postgres_url, "CMS_WAREHOUSE_SCHEMA": "cms_demo"}
    defs = build_definitions("local", env)
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cms_sample", ["sample_01"])
    for _ in range(2):  # twice: idempotent per-sample replace
        assert (
            defs.resolve_job_def("warehouse_job")
            .execute_in_process(instance=instance, partition_key="sample_01")
            .success
        )
    assert defs.resolve_job_def("reporting_job").execute_in_process(instance=instance).success
    wh = Warehouse.from_url(postgres_url, schema="cms_demo")
    rows = LocalStorage(data)
    import pyarrow.parquet as pq

    with rows.open_read(layout.table_file("carrier_claims", 1)) as f:
        assert wh.row_count("carrier_claims") == pq.ParquetFile(f).metadata.num_rows
