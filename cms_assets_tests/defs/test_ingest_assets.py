"""raw_cms_zips and the five tables materialized with dg.materialize, over real HTTP, into a local directory and
into SeaweedFS over the S3 protocol; row counts equal the CSV rows of every file; re-runs skip unchanged files."""

import io
import zipfile
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.defs.ingest.raw_zips import raw_cms_zips
from cms_assets.defs.resources import CmsSiteResource, StorageResource
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.wiring import with_io_managers
from cms_assets.lib.synpuf.names import files_for_sample
from cms_assets.sim.generate import generate_sample
from cms_assets.sim.mirror import CmsMirror


@pytest.fixture(scope="module")
def cms_site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cms_site")
    generate_sample(out, 2, scale=0.002, seed=7)  # sample 2 carries the " - Copy.csv" quirk
    return out


def _csv_rows(zip_path: Path) -> int:
    with zipfile.ZipFile(zip_path) as zf, zf.open(zf.namelist()[0]) as f:
        return sum(1 for _ in io.TextIOWrapper(f, newline="")) - 1  # minus the header


def _materialize(storage: StorageResource, url: str) -> dg.ExecuteInProcessResult:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cms_sample", ["sample_02"])
    return dg.materialize(
        [raw_cms_zips, *table_assets],
        partition_key="sample_02",
        instance=instance,
        resources=with_io_managers({"storage": storage, "cms_site": CmsSiteResource(landing_url=url)}),
    )


def _check_rows(result: dg.ExecuteInProcessResult, cms_site_dir: Path) -> None:
    expected: dict[str, int] = {}
    for spec in files_for_sample(2):
        expected[spec.table.name] = expected.get(spec.table.name, 0) + _csv_rows(cms_site_dir / spec.zip_name)
    for table, rows in expected.items():
        [mat] = result.asset_materializations_for_node(table)
        assert mat.metadata["dagster/row_count"].value == rows, table
    checks = result.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]


@pytest.mark.parametrize("kind", ["local", "s3"])
def test_ingest_sample_end_to_end(
    kind: str, cms_site_dir: Path, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if kind == "local":
        storage = StorageResource(url=str(tmp_path / "data"), scratch_dir=str(tmp_path / "scratch"))
    else:
        s3 = request.getfixturevalue("s3_server")
        bucket = s3.make_storage("ingest-e2e")
        storage = StorageResource(
            url=bucket.uri(""), s3_endpoint_url=s3.endpoint_url, aws_access_key_id=s3.access_key,
            aws_secret_access_key=s3.secret_key, scratch_dir=str(tmp_path / "scratch"),
        )  # fmt: skip
    with CmsMirror(cms_site_dir) as mirror:
        first = _materialize(storage, mirror.landing_url)
        assert first.success
        _check_rows(first, cms_site_dir)
        [raw] = first.asset_materializations_for_node("raw_cms_zips")
        assert raw.metadata["files"].value == 8 and raw.metadata["downloaded"].value == 8
        again = _materialize(storage, mirror.landing_url)  # idempotent; unchanged files skipped by ETag+size
        [raw2] = again.asset_materializations_for_node("raw_cms_zips")
        assert raw2.metadata["skipped_unchanged"].value == 8
        _check_rows(again, cms_site_dir)
    names = {o.key for o in storage.get().list("tables")}
    assert len(names) == 5 and all(k.endswith("sample=02/part-0.parquet") for k in names)
