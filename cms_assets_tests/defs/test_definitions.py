"""The definitions load, and every asset is documented, grouped, typed by kind and wired as the product promises."""

import subprocess
import sys

import dagster as dg

from cms_assets.definitions import build_definitions, project_assets
from cms_assets.lib.ingest.checks import WARN_CHECKS
from cms_assets.lib.synpuf.tables import TABLE_NAMES
from cms_assets.lib.terminology import REFERENCE_TABLES


def _defs() -> dg.Definitions:
    return build_definitions("local", {"CMS_ASSETS_DATA": "/tmp/cms-defs-test"})


def test_graph_has_every_stage() -> None:
    graph = _defs().resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    expected = {"raw_cms_zips", *TABLE_NAMES, "beneficiary_features", "cost_model", "cost_predictions",
                "warehouse/model_metrics", "insight_report", "terminology/ccs_categories", "marts/readmissions",
                "marts/ed_visits", "marts/financial_pmpm", "staging/stg_inpatient_claims"}  # fmt: skip
    expected |= {f"warehouse/{t}" for t in [*TABLE_NAMES, "beneficiary_features", "cost_predictions"]}
    assert expected <= keys
    # claims depend on the raw zips and on the beneficiary table (referential check)
    parents = {k.to_user_string() for k in graph.get(dg.AssetKey("carrier_claims")).parent_keys}
    assert parents == {"raw_cms_zips", "beneficiary_summary"}


def test_every_asset_has_docstring_group_and_kinds() -> None:
    for assets_def in project_assets():
        for spec in assets_def.specs:
            name = spec.key.to_user_string()
            assert spec.description, f"{name} has no description"
            groups = {"ingest", "tables", "ml", "warehouse", "terminology", "staging", "intermediate", "marts"}
            assert spec.group_name in groups, name
            assert spec.kinds, f"{name} has no kinds"


def test_tables_have_blocking_checks() -> None:
    graph = _defs().resolve_asset_graph()
    for table in TABLE_NAMES:
        checks = [c for c in graph.asset_check_keys if c.asset_key == dg.AssetKey(table)]
        names = {c.name for c in checks}
        assert {"rows_positive", "keys_unique", "dates_in_range"} <= names, (table, names)
    claims_checks = {c.name for c in graph.asset_check_keys if c.asset_key == dg.AssetKey("carrier_claims")}
    assert "references_beneficiaries" in claims_checks


def test_jobs_sensor_schedule() -> None:
    defs = _defs()
    for job in ["ingest_job", "features_job", "model_job", "scoring_job", "warehouse_job", "reporting_job",
                "sample_refresh_job"]:  # fmt: skip
        assert defs.resolve_job_def(job) is not None
    assert defs.resolve_sensor_def("cms_new_files_sensor").job_name == "sample_refresh_job"
    assert defs.resolve_schedule_def("weekly_cms_refresh").cron_schedule == "0 6 * * 1"


def test_production_resources_take_secrets_from_env_vars() -> None:
    resources = build_definitions("production", {}).resources
    assert isinstance(resources["warehouse"].url, dg.EnvVar)
    assert isinstance(resources["warehouse"].iam_role, dg.EnvVar)
    assert isinstance(resources["storage"].url, dg.EnvVar)


def test_import_starts_nothing() -> None:
    """Importing the definitions module must not start Spark, touch the network or require env vars."""
    code = (
        "import sys, socket\n"
        "def boom(*a, **k): raise SystemExit('network touched at import')\n"
        "socket.socket.connect = boom\n"
        "import cms_assets.definitions\n"
        "assert 'pyspark' not in sys.modules, 'pyspark imported at import time'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env={"PATH": "/usr/bin:/bin"})


def test_everything_downstream_of_the_cms_files_is_automated() -> None:
    """Snapshot of the automation wiring: which condition each asset carries, Spark/download/warehouse pools."""
    graph = _defs().resolve_asset_graph()
    conditions = {
        node.key.to_user_string(): node.automation_condition.get_label() if node.automation_condition else None
        for node in graph.asset_nodes
    }
    assert conditions.pop("raw_cms_zips") is None  # the sensor downloads; everything else follows by itself
    per_sample = {*TABLE_NAMES, "beneficiary_features", *(f"warehouse/{t}" for t in TABLE_NAMES)}
    per_sample |= {"warehouse/beneficiary_features", "warehouse/cost_predictions"}
    assert {k for k, v in conditions.items() if v == "on_sample_change"} == per_sample
    wave = {"cost_model", "cost_predictions", "warehouse/model_metrics"}
    assert {k for k, v in conditions.items() if v == "after_wave"} == wave
    # the analyst layer, once per wave in one run: staging waits for the wave, the rest and the report join it
    staging = {k for k in conditions if k.startswith("staging/")}
    below = {k for k in conditions if k.split("/")[0] in ("intermediate", "marts")}
    assert len(staging) >= 10 and len(below) >= 15
    assert {k for k, v in conditions.items() if v == "dbt_wave"} == staging
    assert {k for k, v in conditions.items() if v == "with_its_inputs"} == below | {"insight_report"}
    assert {k for k, v in conditions.items() if v == "reference_refresh"} == {
        f"terminology/{t}" for t in REFERENCE_TABLES
    }
    pools = {node.key.to_user_string(): node.pools for node in graph.asset_nodes}
    assert pools["beneficiary_features"] == pools["cost_model"] == pools["cost_predictions"] == {"spark"}
    assert pools["raw_cms_zips"] == {"cms_download"} and pools["insight_report"] == {"warehouse"}


def test_checks_are_per_sample_and_described() -> None:
    graph = _defs().resolve_asset_graph()
    for key in graph.asset_check_keys:
        spec = graph.get_check_spec(key)
        if key.asset_key.path[0] in ("staging", "intermediate", "marts"):
            continue  # dbt tests, checked whole-table once per wave (test_analytics_assets.py)
        assert spec.description, key
        assert spec.partitions_def is not None, key
        assert spec.blocking == (key.name not in WARN_CHECKS), key  # WARN checks report, the rest block
    checked = {k.asset_key.to_user_string() for k in graph.asset_check_keys}
    assert {"beneficiary_features", "cost_predictions", "warehouse/carrier_claims"} <= checked


def test_automation_sensor_is_on_by_default_and_the_cms_sensor_is_switched_on_by_the_user() -> None:
    defs = build_definitions("local", {"CMS_SENSOR_INTERVAL_SECONDS": "7"})
    automation = defs.resolve_sensor_def("cms_automation")
    assert automation.default_status == dg.DefaultSensorStatus.RUNNING
    cms = defs.resolve_sensor_def("cms_new_files_sensor")
    assert cms.default_status == dg.DefaultSensorStatus.STOPPED and cms.minimum_interval_seconds == 7


def test_two_new_samples_in_one_tick_make_one_run_each_with_their_checks() -> None:
    """The automation sensor's own run-request builder on a real evaluation: each sample's tables, features and
    loads go into one run together with their checks. With backfills (Dagster's default) the checks of two
    samples requested together were split into check-only runs that failed on files not yet built."""
    from dagster._core.definitions.automation_tick_evaluation_context import build_run_requests

    defs = build_definitions("local", {})
    sensor = defs.resolve_sensor_def("cms_automation")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cms_sample", ["sample_01", "sample_02"])
    first = dg.evaluate_automation_conditions(defs, instance)
    for partition in ("sample_01", "sample_02"):
        instance.report_runless_asset_event(dg.AssetMaterialization("raw_cms_zips", partition=partition))
    tick = dg.evaluate_automation_conditions(defs, instance, cursor=first.cursor)
    subsets = [r.true_subset for r in tick.results if not r.true_subset.is_empty]

    runs = build_run_requests(subsets, defs.resolve_asset_graph(), None, emit_backfills=sensor.emit_backfills)
    assert sorted(r.partition_key for r in runs) == ["sample_01", "sample_02"]
    for run in runs:
        assets = {k.to_user_string() for k in run.asset_selection}
        checks = {k.asset_key.to_user_string() for k in run.asset_check_keys}
        assert {"inpatient_claims", "beneficiary_features", "warehouse/inpatient_claims"} <= assets
        assert checks <= assets and {"inpatient_claims", "beneficiary_features"} <= checks
    split = build_run_requests(subsets, defs.resolve_asset_graph(), None, emit_backfills=True)
    assert any(not r.asset_selection and r.asset_check_keys for r in split)  # the failure this setting avoids
