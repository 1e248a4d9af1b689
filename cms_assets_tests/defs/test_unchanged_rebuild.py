"""An automation run asked to rebuild a sample's partition from exactly what it was last built from re-checks it
instead (issue 20: overlapping samples made Declarative Automation load a sample's warehouse tables twice); a run
a person launches, a changed upstream or a failing re-check still rebuilds. Real assets, real DuckDB file."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.defs.ingest.raw_zips import raw_cms_zips
from cms_assets.defs.provenance import AUTOMATION_RUN_TAG
from cms_assets.defs.resources import CmsSiteResource, StorageResource, WarehouseResource
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.warehouse.assets import warehouse_sample_assets
from cms_assets.defs.wiring import with_io_managers
from cms_assets.sim.generate import generate_sample
from cms_assets.sim.mirror import CmsMirror

SAMPLE = "sample_03"
LOAD = dg.AssetKey(["warehouse", "beneficiary_summary"])
AUTOMATED = {AUTOMATION_RUN_TAG: "true"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cms_site")
    generate_sample(out, 3, scale=0.002, seed=11)
    return out


def _load(instance: dg.DagsterInstance, resources: dict, tags: dict[str, str]) -> dg.AssetMaterialization:
    """Materialize the beneficiary load as a run with ``tags``; its one materialization."""
    result = dg.materialize(
        [*table_assets, *warehouse_sample_assets],
        selection=[LOAD],
        partition_key=SAMPLE,
        instance=instance,
        resources=resources,
        tags=tags,
    )
    assert result.success
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks)
    [mat] = result.asset_materializations_for_node("warehouse__beneficiary_summary")
    return mat


def _data_version(instance: dg.DagsterInstance) -> str:
    record = instance.get_latest_data_version_record(LOAD, is_source=False, partition_key=SAMPLE)
    assert record is not None and record.asset_materialization is not None
    return record.asset_materialization.tags["dagster/data_version"]


def test_automation_reruns_of_an_unchanged_partition_recheck_instead_of_rebuilding(site: Path, tmp_path: Path) -> None:
    storage = StorageResource(url=str(tmp_path / "data"), scratch_dir=str(tmp_path / "scratch"))
    warehouse = WarehouseResource(url=f"duckdb:///{tmp_path / 'warehouse.duckdb'}")
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cms_sample", [SAMPLE])
    with CmsMirror(site) as mirror:
        resources = with_io_managers(
            {"storage": storage, "cms_site": CmsSiteResource(landing_url=mirror.landing_url), "warehouse": warehouse}
        )
        ingest = [raw_cms_zips, *table_assets]
        assert dg.materialize(ingest, partition_key=SAMPLE, instance=instance, resources=resources).success

        first = _load(instance, resources, AUTOMATED)  # never built: built
        assert "unchanged_since_run" not in first.metadata
        rows, version = first.metadata["dagster/row_count"].value, _data_version(instance)
        assert rows > 0

        again = _load(instance, resources, AUTOMATED)  # same code, same upstream data version: re-checked only
        assert again.metadata["unchanged_since_run"].value == first_run(instance, 0)
        assert again.metadata["dagster/row_count"].value == rows and _data_version(instance) == version

        manual = _load(instance, resources, {})  # a person asked for it: rebuilt
        assert "unchanged_since_run" not in manual.metadata

        with closing(warehouse.get()) as wh, wh.backend.transaction() as tx:  # rows lost: the re-check fails
            tx.execute(f"DELETE FROM {wh.backend.qualified('beneficiary_summary')} WHERE YEAR = 2008")
        repaired = _load(instance, resources, AUTOMATED)
        assert "unchanged_since_run" not in repaired.metadata
        assert repaired.metadata["dagster/row_count"].value == rows

        # The upstream table rebuilt from other files: a new data version upstream, so the load runs again.
        generate_sample(site, 3, scale=0.002, seed=12)
        assert dg.materialize(ingest, partition_key=SAMPLE, instance=instance, resources=resources).success
        changed = _load(instance, resources, AUTOMATED)
        assert "unchanged_since_run" not in changed.metadata
        assert _data_version(instance) != version


def first_run(instance: dg.DagsterInstance, index: int) -> str:
    """The run id of the ``index``-th materialization of the load (oldest first)."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=LOAD), limit=100, ascending=True).records
    return records[index].run_id
