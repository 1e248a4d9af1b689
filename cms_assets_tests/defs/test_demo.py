"""The README's main command end to end, through a real dagster-daemon: synthetic site -> tables -> features ->
model -> predictions -> warehouse -> report, every run launched by the sensor or the automation; a second demo
with unchanged files launches nothing; the UI on the demo's instance lists its runs and the sensor's ticks; then
the same warehouse jobs against a real PostgreSQL server. The demo runs once per session (fixtures/demo.py);
test_demo_waves lets the graph run on from it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pyarrow.parquet as pq
import pytest

from cms_assets.definitions import build_definitions
from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
from cms_assets.demo import demo_env, run_demo
from cms_assets.lib import layout
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.warehouse.load import Warehouse
from cms_assets_tests.defs.test_ui import ARTIFACTS, assert_real_screenshot, running_webserver
from cms_assets_tests.fixtures.browser import Browser
from cms_assets_tests.fixtures.demo import (
    DEMO_SAMPLES,
    DEMO_SCALE,
    DEMO_SEED,
    parquet_rows,
    warehouse_rows,
)
from cms_assets_tests.groups import DAEMON_GROUP

pytestmark = [pytest.mark.slow, pytest.mark.timeout(2400), pytest.mark.xdist_group(DAEMON_GROUP)]


def test_demo_materializes_everything_through_the_instance(demo_run: tuple[Path, Path]) -> None:
    data, home = demo_run
    store = LocalStorage(data)
    for sample in (1, 2):
        assert store.exists(layout.table_file("carrier_claims", sample))
        assert [o for o in store.list(layout.features_dir(sample)) if o.key.endswith(".parquet")]
        assert [o for o in store.list(layout.predictions_dir(sample)) if o.key.endswith(".parquet")]
    assert [o for o in store.list(layout.REPORTS) if o.key.endswith(".html")]
    for sample in (1, 2):
        for table in WAREHOUSE_SAMPLE_TABLES:
            assert warehouse_rows(data, table, sample) > 0, (table, sample)
        carrier = layout.table_file("carrier_claims", sample)
        assert warehouse_rows(data, "carrier_claims", sample) == parquet_rows(data, carrier)
    with dg.DagsterInstance.from_config(str(home)) as instance:  # the DAGSTER_HOME `make dev` shows
        runs = instance.get_runs()
        assert runs and all(r.is_success for r in runs)
        launched_by = {r.tags.get("dagster/sensor_name") for r in runs}
        assert launched_by == {"cms_new_files_sensor", "cms_automation"}
        assert len(instance.fetch_materializations(dg.AssetKey("cost_model"), limit=10).records) == 1
        features = instance.fetch_materializations(dg.AssetKey("beneficiary_features"), limit=10).records
        assert {r.asset_materialization.metadata["engine"].value for r in features} == {"duckdb"}  # no cluster here
        # the analyst layer: every dbt model built once in the wave, every dbt test a passed check
        graph = build_definitions("local", {}).resolve_asset_graph()
        dbt_keys = [k for k in graph.get_all_asset_keys() if k.path[0] in ("staging", "intermediate", "marts")]
        assert len(dbt_keys) >= 20
        for key in dbt_keys:
            assert len(instance.fetch_materializations(key, limit=10).records) == 1, key
        dbt_checks = [c for c in graph.asset_check_keys if c.asset_key in dbt_keys and graph.get_check_spec(c).blocking]
        failed = [
            c
            for c in dbt_checks
            if (e := instance.event_log_storage.get_latest_asset_check_execution_by_key([c]).get(c)) is None
            or e.status.value != "SUCCEEDED"
        ]
        assert len(dbt_checks) > 100 and not failed, failed[:5]  # severity error; `warn` tests may report
    page = (data / store.read_json(f"{layout.REPORTS}/latest.json")["html_key"]).read_text()
    for section in ("30-day all-cause readmissions by year", "Emergency-department visits per 1,000",
                    "diagnosis categories (AHRQ CCS)", "Top 20 ICD-9 diagnoses"):  # fmt: skip
        assert section in page, section
    assert "Unspecified essential hypertension" in page or "Essential hypertension" in page  # named, not bare codes


def test_second_demo_with_unchanged_files_launches_no_run(demo_run: tuple[Path, Path]) -> None:
    data, home = demo_run
    with dg.DagsterInstance.from_config(str(home)) as instance:
        before = instance.get_runs_count()
    assert (
        run_demo(samples=DEMO_SAMPLES, scale=DEMO_SCALE, seed=DEMO_SEED, data=data, home=home, timeout=600, port=0) == 0
    )
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_runs_count() == before


@pytest.fixture(scope="module")
def demo_ui(demo_run: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One webserver on the demo's instance for the UI tests (the demo is over; no sensor or daemon runs here)."""
    data, home = demo_run
    env = demo_env(data, "http://127.0.0.1:9/")
    log = tmp_path_factory.mktemp("demo_ui") / "webserver.log"
    with running_webserver(home, env, log, daemon=False) as server:
        yield server


def test_ui_shows_dbt_models_with_lineage_and_checks(demo_ui: Any, browser: Browser) -> None:
    """Each dbt model is an asset with lineage from the warehouse loads, its dbt tests listed as checks."""
    server = demo_ui
    staging = f"{server.url}/assets/staging/stg_inpatient_claims?view=lineage"
    dom = browser.dump_dom(staging)
    assert "stg_inpatient_claims" in dom and "inpatient_claims" in dom.replace("stg_inpatient_claims", "")
    assert "Something went wrong" not in dom
    assert_real_screenshot(browser.screenshot(staging, ARTIFACTS / "dbt_staging_lineage.png"))
    mart = f"{server.url}/assets/marts/financial_pmpm?view=lineage"
    dom = browser.dump_dom(mart)
    assert "int_member_months" in dom and "financial_pmpm" in dom
    assert_real_screenshot(browser.screenshot(mart, ARTIFACTS / "dbt_mart_lineage.png"))
    checks = f"{server.url}/assets/marts/financial_pmpm?view=checks"
    dom = browser.dump_dom(checks)
    assert "not_null_financial_pmpm" in dom, "the mart's dbt tests are not listed as checks"
    assert_real_screenshot(browser.screenshot(checks, ARTIFACTS / "dbt_mart_checks.png"))
    group = f"{server.url}/locations/{server.location}/asset-groups/marts"
    # The group graph renders the nodes in view (a run here showed readmissions but not ed_visits), in a tall window;
    # under load its layout can outlast one page load.
    tall = browser.with_window("1600,3000")
    dom = tall.dump_dom_showing(group, "readmissions")
    assert "readmissions" in dom and "Something went wrong" not in dom
    assert_real_screenshot(browser.screenshot(group, ARTIFACTS / "dbt_marts_group.png"))


def test_ui_lists_the_demo_runs_and_sensor_ticks(demo_ui: Any, browser: Browser) -> None:
    server = demo_ui
    runs_url = f"{server.url}/runs"
    dom = browser.dump_dom(runs_url)
    assert "cms_automation" in dom or "__ASSET_JOB" in dom, "the Runs page lists no automation run"
    assert "Something went wrong" not in dom
    assert_real_screenshot(browser.screenshot(runs_url, ARTIFACTS / "demo_runs.png"))
    job_url = f"{server.url}/locations/{server.location}/jobs/sample_refresh_job/runs"
    dom = browser.dump_dom(job_url)
    assert "No runs" not in dom and "raw_cms_zips" in dom
    sensor_url = f"{server.url}/locations/{server.location}/sensors/cms_new_files_sensor"
    dom = browser.dump_dom(sensor_url)
    assert "Sensor has never run" not in dom and "Running" in dom
    assert_real_screenshot(browser.screenshot(sensor_url, ARTIFACTS / "demo_sensor.png"))


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
        result = defs.resolve_job_def("warehouse_job").execute_in_process(instance=instance, partition_key="sample_01")
        assert result.success
    assert defs.resolve_job_def("reporting_job").execute_in_process(instance=instance).success
    wh = Warehouse.from_url(postgres_url, schema="cms_demo")
    with LocalStorage(data).open_read(layout.table_file("carrier_claims", 1)) as f:
        assert wh.row_count("carrier_claims") == pq.ParquetFile(f).metadata.num_rows
    assert os.path.exists(data / "warehouse.duckdb")
