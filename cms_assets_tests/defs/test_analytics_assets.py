"""Every dbt model of the analyst layer is an asset with lineage from the warehouse loads, every dbt test a check,
and a model file added to the project becomes an asset once the definitions reload."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg

from cms_assets.definitions import build_definitions
from cms_assets.lib.transform import PROJECT_DIR, ensure_manifest, manifest_is_stale


def _manifest() -> dict:
    return json.loads(ensure_manifest().read_text())


def _graph() -> dg.AssetGraph:
    return build_definitions("local", {"CMS_ASSETS_DATA": "/tmp/cms-defs-test"}).resolve_asset_graph()


def test_every_model_is_an_asset_in_its_layer_group_with_its_description() -> None:
    graph = _graph()
    models = [n for n in _manifest()["nodes"].values() if n["resource_type"] == "model"]
    assert len(models) >= 20
    for model in models:
        layer = model["fqn"][1]
        node = graph.get(dg.AssetKey([layer, model["name"]]))
        assert node.group_name == layer
        assert node.description and model["description"] in node.description, model["name"]
        assert "dbt" in node.kinds and "duckdb" in node.kinds
        columns = node.metadata["dagster/column_schema"].columns
        assert columns and all(c.description for c in columns), model["name"]


def test_staging_reads_the_warehouse_loads_and_the_reference_tables() -> None:
    graph = _graph()
    staging = [k for k in graph.get_all_asset_keys() if k.path[0] == "staging"]
    parents = {p for k in staging for p in graph.get(k).parent_keys}
    for table in ("beneficiary_summary", "inpatient_claims", "carrier_claims", "cost_predictions", "model_metrics"):
        assert dg.AssetKey(["warehouse", table]) in parents, table
    for ref in ("icd9_diagnoses", "ccs_categories", "icd9_icd10_gem"):
        assert dg.AssetKey(["terminology", ref]) in parents, ref
    report = graph.get(dg.AssetKey("insight_report"))
    assert {k.path[0] for k in report.parent_keys} == {"marts"}


def test_dbt_tests_are_checks_and_errors_block() -> None:
    graph = _graph()
    tests = [n for n in _manifest()["nodes"].values() if n["resource_type"] == "test"]
    checks = [k for k in graph.asset_check_keys if k.asset_key.path[0] in ("staging", "intermediate", "marts")]
    assert len(checks) >= len([t for t in tests if t.get("attached_node") or t["depends_on"]["nodes"]]) // 2
    specs = [graph.get_check_spec(k) for k in checks]
    assert any(s.blocking for s in specs)
    severities = {t["name"]: t["config"]["severity"].lower() for t in tests}
    for spec in specs:
        if spec.name in severities:
            assert spec.blocking == (severities[spec.name] == "error"), spec.name


def test_dbt_models_run_once_per_wave() -> None:
    graph = _graph()
    for key in graph.get_all_asset_keys():
        if key.path[0] in ("staging", "intermediate", "marts"):
            node = graph.get(key)
            assert node.automation_condition is not None, key
            label = node.automation_condition.get_label()
            assert node.pools == {"warehouse"}, key
            assert node.partitions_def is None, key  # once per wave, never once per sample
            assert label == ("dbt_wave" if key.path[0] == "staging" else "with_its_inputs"), key


def _keys_after_reload(project_dir: Path) -> dict[str, list[str]]:
    """Asset keys and their parents as a freshly started code server sees them (dagster-dbt caches a manifest per
    process, so a reload is a new process, as under `dg dev` or the daemon's code server)."""
    code = (
        "import json, sys\n"
        "from dagster_dbt import DbtProject\n"
        "from cms_assets.defs.transform.assets import build_analytics\n"
        "a = build_analytics(DbtProject(project_dir=sys.argv[1], profiles_dir=sys.argv[1]))\n"
        "print(json.dumps({k.to_user_string(): sorted(d.to_user_string() for d in a.asset_deps[k]) for k in a.keys}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(project_dir)], capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_a_model_file_added_to_the_project_becomes_an_asset(tmp_path: Path) -> None:
    copy = tmp_path / "transform"
    shutil.copytree(PROJECT_DIR, copy, ignore=shutil.ignore_patterns("target", "logs"))
    before = _keys_after_reload(copy)
    assert "marts/financial_pmpm" in before and not manifest_is_stale(copy)
    time.sleep(1.1)  # mtime resolution of some filesystems
    (copy / "models" / "marts" / "pmpm_by_year_only.sql").write_text(
        "select\n    year,\n    sum(paid_amount) as paid_amount\nfrom {{ ref('financial_pmpm') }}\ngroup by year\n"
    )
    assert manifest_is_stale(copy)
    after = _keys_after_reload(copy)
    assert set(after) - set(before) == {"marts/pmpm_by_year_only"}
    assert after["marts/pmpm_by_year_only"] == ["marts/financial_pmpm"]  # lineage from the model it selects from


def test_a_subset_builds_on_a_warehouse_holding_only_the_reference_tables(tmp_path: Path) -> None:
    """What automation runs first on a fresh warehouse: the reference tables, then their staging views alone.
    Tests of models downstream (a relationship from int_diagnoses_long) must wait for those models."""
    from cms_assets.defs.resources import WarehouseResource
    from cms_assets.defs.terminology.assets import terminology_assets
    from cms_assets.defs.transform.assets import analytics
    from cms_assets.defs.wiring import dbt_cli

    resources = {"warehouse": WarehouseResource(url=f"duckdb:///{tmp_path / 'wh.duckdb'}"), "dbt": dbt_cli()}
    assert dg.materialize(terminology_assets, resources=resources).success
    views = [dg.AssetKey(["staging", f"stg_{t}"]) for t in ("icd9_diagnoses", "ccs_categories", "icd9_icd10_gem")]
    result = dg.materialize([analytics], selection=views, resources=resources)
    assert result.success
    assert {e.asset_key for e in result.get_asset_materialization_events()} == set(views)
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks) and {c.asset_key for c in checks} <= set(views)
