"""Generated files with every real-file detail, through the real path: the mirror over HTTP, then ``dg.materialize``
of raw_cms_zips and the five tables (and, once carrier repeats are WARN in the Dagster layer, features and the
warehouse downstream).

Sample 1 brings the wrongly named 2010 beneficiary link and carrier rows repeating a (DESYNPUF_ID, CLM_ID) pair;
Sample 11 brings the Deflate64 carrier A zip. Every CSV field must come back from the Parquet tables as the same text.
"""

from __future__ import annotations

import io
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from cms_assets.defs.ingest.raw_zips import raw_cms_zips
from cms_assets.defs.resources import CmsSiteResource, StorageResource
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.wiring import with_io_managers
from cms_assets.lib import layout
from cms_assets.lib.ingest.checks import WARN_CHECKS
from cms_assets.lib.ingest.zipfiles import open_member
from cms_assets.lib.site.download import read_manifest
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec, files_for_sample
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.sim.generate import generate
from cms_assets.sim.mirror import CmsMirror
from cms_assets_tests.lib.test_convert import _as_csv_text

SAMPLES = (1, 11)
SCALE = 0.005  # about 24,000 carrier rows a sample: a few repeated pairs at CMS's rate


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("real-files-site")
    generate(out, SAMPLES, scale=SCALE, seed=11)
    return out


@pytest.fixture(scope="module")
def ingested(site_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[LocalStorage, dict, CmsMirror]:
    """Both samples materialized once through the mirror; the run results by sample."""
    root = tmp_path_factory.mktemp("real-files-data")
    storage = StorageResource(url=str(root / "data"), scratch_dir=str(root / "scratch"))
    results = {}
    with CmsMirror(site_dir) as mirror:
        instance = dg.DagsterInstance.ephemeral()
        instance.add_dynamic_partitions("cms_sample", [names.partition_key(s) for s in SAMPLES])
        for sample in SAMPLES:
            results[sample] = dg.materialize(
                [raw_cms_zips, *table_assets],
                partition_key=names.partition_key(sample),
                instance=instance,
                resources=with_io_managers(
                    {"storage": storage, "cms_site": CmsSiteResource(landing_url=mirror.landing_url)}
                ),
                raise_on_error=False,
            )
    return LocalStorage(root / "data"), results, mirror


def _csv(site_dir: Path, spec: FileSpec) -> pa.Table:
    """A generated file's CSV as text columns, read through our own zip reader (Deflate64 included)."""
    _, stream = open_member(site_dir / spec.zip_name, spec)
    with stream:
        opts = pacsv.ConvertOptions(column_types=dict.fromkeys(spec.table.csv_columns, pa.string()))
        return pacsv.read_csv(io.BytesIO(stream.read()), convert_options=opts)


def test_every_value_round_trips_exactly(ingested, site_dir: Path) -> None:
    storage, _, _ = ingested
    for sample in SAMPLES:
        for kind, table in TABLES.items():
            csv = pa.concat_tables([_csv(site_dir, s) for s in files_for_sample(sample) if s.kind is kind])
            with storage.open_read(layout.table_file(table.name, sample)) as f:
                got = pq.read_table(f)
            assert got.num_rows == csv.num_rows, (sample, table.name)  # nothing dropped, repeats included
            for name, dtype in table.csv_types.items():
                want = [v or None for v in csv.column(name).to_pylist()]
                assert [_as_csv_text(v, dtype) for v in got.column(name).to_pylist()] == want, (sample, name)


def test_wrongly_named_link_is_used_without_the_fallback(ingested) -> None:
    storage, _, mirror = ingested
    entry = read_manifest(storage, 1)["files"][FileSpec(Kind.BENEFICIARY, 1, year=2010).zip_name]
    assert entry["url"].endswith("/synpufs/downloads/DE1_0_2010_Beneficiary_Summary_File_Sample_20.zip")
    assert not mirror.hits_for(names.SAMPLE1_BENEFICIARY_2010_FIX)


def test_deflate64_carrier_a_converts(ingested, site_dir: Path) -> None:
    import zipfile

    storage, results, _ = ingested
    spec = FileSpec(Kind.CARRIER, 11, part="A")
    assert zipfile.ZipFile(site_dir / spec.zip_name).infolist()[0].compress_type == 9
    [mat] = results[11].asset_materializations_for_node("carrier_claims")
    assert mat.metadata["rows_per_file"].value[spec.zip_name] == _csv(site_dir, spec).num_rows > 0


def test_carrier_repeats_are_kept_and_reported(ingested) -> None:
    _, results, _ = ingested
    repeats = 0
    for sample in SAMPLES:
        evaluations = results[sample].get_asset_check_evaluations()
        failed = [e.check_name for e in evaluations if not e.passed]
        assert set(failed) <= WARN_CHECKS, (sample, failed)  # every blocking check passes
        [repeated] = [e for e in evaluations if e.check_name == "repeated_rows"]
        repeats += repeated.metadata["repeated_pairs"].value
    assert repeats >= 1  # the generator repeats pairs at CMS's rate; the check saw them (rows kept: round trip)


def test_carrier_repeats_block_nothing(ingested) -> None:
    _, results, _ = ingested
    for sample in SAMPLES:
        assert results[sample].success
        for e in results[sample].get_asset_check_evaluations():
            if e.check_name in WARN_CHECKS:
                assert e.severity == dg.AssetCheckSeverity.WARN
