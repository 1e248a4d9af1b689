"""Check, then publish, and loads that never make things worse, across runs on one persistent instance:
a header-only file fails its table's run naming the file and leaves the table as it was; a later warehouse load
of that table refuses while its latest blocking check failed; an empty source never empties a warehouse
partition unless the run config allows it; checks run on their own re-check what is published."""

from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from cms_assets.defs.ingest.raw_zips import raw_cms_zips
from cms_assets.defs.resources import CmsSiteResource, StorageResource, WarehouseResource
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.warehouse.assets import warehouse_sample_assets
from cms_assets.defs.wiring import with_io_managers
from cms_assets.lib import layout
from cms_assets.lib.synpuf.names import FileSpec, Kind
from cms_assets.lib.versions import sha256_of
from cms_assets.sim.generate import generate_sample
from cms_assets.sim.mirror import CmsMirror
from cms_assets_tests.fixtures.site import write_zip

PK = "sample_03"
INPATIENT_LOAD = next(a for a in warehouse_sample_assets if dg.AssetKey(["warehouse", "inpatient_claims"]) in a.keys)


@pytest.fixture
def world(tmp_path: Path):
    site, data = tmp_path / "site", tmp_path / "data"
    generate_sample(site, 3, scale=0.002, seed=11)
    (tmp_path / "home").mkdir()
    with CmsMirror(site) as mirror, dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        instance.add_dynamic_partitions("cms_sample", [PK])
        resources = with_io_managers(
            {
                "storage": StorageResource(url=str(data), scratch_dir=str(tmp_path / "scratch")),
                "cms_site": CmsSiteResource(landing_url=mirror.landing_url, retries=0),
                "warehouse": WarehouseResource(url=f"duckdb:///{data / 'warehouse.duckdb'}"),
            }
        )
        yield site, data, instance, resources


def _run(assets, instance, resources, **kwargs) -> dg.ExecuteInProcessResult:
    return dg.materialize(
        assets, partition_key=PK, instance=instance, resources=resources, raise_on_error=False, **kwargs
    )


def _wh_rows(resources) -> int:
    wh = resources["warehouse"].get()
    try:
        return wh.row_count("inpatient_claims", 3)
    finally:
        wh.close()


def test_bad_file_publishes_nothing_and_blocks_later_loads(world) -> None:
    site, data, instance, resources = world
    assert _run([raw_cms_zips, *table_assets], instance, resources).success
    assert _run([INPATIENT_LOAD], instance, resources).success
    key = layout.table_file("inpatient_claims", 3)
    sha, rows = sha256_of(data / key), pq.ParquetFile(data / key).metadata.num_rows
    assert _wh_rows(resources) == rows > 0

    spec = FileSpec(Kind.INPATIENT, 3)
    write_zip(site, spec, rows=0)  # CMS now serves a header-only inpatient file for this sample
    bad = _run([raw_cms_zips, *table_assets], instance, resources)
    assert not bad.success
    [failure] = [e for e in bad.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    message = failure.step_failure_data.error.message
    assert spec.zip_name in message and "rows_positive" in message and "nothing published" in message
    assert sha256_of(data / key) == sha  # the published table is the old, good one
    [evaluation] = [c for c in bad.get_asset_check_evaluations() if c.check_name == "rows_positive" and not c.passed]
    assert evaluation.asset_key == dg.AssetKey("inpatient_claims")

    refused = _run([INPATIENT_LOAD], instance, resources)  # a load launched by hand, in a later run
    assert not refused.success
    [failure] = [e for e in refused.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "latest blocking checks failed (rows_positive)" in failure.step_failure_data.error.message
    assert _wh_rows(resources) == rows

    checks_job = dg.define_asset_job(  # the checks alone re-check what is published: the old table passes
        "checks_only", selection=dg.AssetSelection.checks_for_assets("inpatient_claims")
    )
    defs = dg.Definitions(assets=[raw_cms_zips, *table_assets], jobs=[checks_job], resources=resources)
    checks_only = defs.resolve_job_def("checks_only").execute_in_process(
        instance=instance, tags={"dagster/partition": PK}
    )
    assert checks_only.success and all(c.passed for c in checks_only.get_asset_check_evaluations())
    assert not checks_only.get_asset_materialization_events()


def test_empty_source_never_empties_a_partition_unless_allowed(world) -> None:
    _, data, instance, resources = world
    assert _run([raw_cms_zips, *table_assets], instance, resources).success
    assert _run([INPATIENT_LOAD], instance, resources).success
    loaded = _wh_rows(resources)
    key = data / layout.table_file("inpatient_claims", 3)
    table = pq.read_table(key)
    pq.write_table(table.slice(0, 0), key)  # an empty file put there by other means than the checked asset

    refused = _run([INPATIENT_LOAD], instance, resources)
    assert not refused.success
    [failure] = [e for e in refused.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert (
        "0 rows" in failure.step_failure_data.error.message and "allow_empty" in failure.step_failure_data.error.message
    )
    assert _wh_rows(resources) == loaded

    config = {"ops": {"warehouse__inpatient_claims": {"config": {"allow_empty": True}}}}
    assert _run([INPATIENT_LOAD], instance, resources, run_config=config).success
    assert _wh_rows(resources) == 0
