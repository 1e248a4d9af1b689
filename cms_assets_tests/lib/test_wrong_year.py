"""Issue 22, item 3: a file of another year (or period) under this one's name fails a blocking check that names it.

Through the real path: the generator's sample, a zip rewritten on disk, the local mirror over HTTP, and
``dg.materialize`` of the download and the tables; the lib-level cases convert real zips and run the check.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.defs.ingest.raw_zips import raw_cms_zips
from cms_assets.defs.resources import CmsSiteResource, StorageResource
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.wiring import with_io_managers
from cms_assets.lib import layout
from cms_assets.lib.ingest import checks
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.sim.generate import generate_sample
from cms_assets.sim.mirror import CmsMirror
from cms_assets_tests.lib.ingest_data import BENE_A, BENE_B, row
from cms_assets_tests.lib.test_checks import crafted, publish

BENE = TABLES[Kind.BENEFICIARY]
INP = TABLES[Kind.INPATIENT]
CAR = TABLES[Kind.CARRIER]
PDE = TABLES[Kind.PDE]
B2008 = FileSpec(Kind.BENEFICIARY, 2, year=2008)
B2009 = FileSpec(Kind.BENEFICIARY, 2, year=2009)


def _deaths(csv: bytes, year: int) -> int:
    """Rows whose BENE_DEATH_DT (third column) falls in ``year``."""
    return sum(1 for line in csv.splitlines()[1:] if line.split(b",")[2][:4] == str(year).encode())


def test_2009_file_in_the_2008_zip_fails_naming_the_zip(tmp_path: Path) -> None:
    site = tmp_path / "site"
    generate_sample(site, 2, scale=0.002, seed=7)
    with zipfile.ZipFile(site / B2009.zip_name) as zf:
        (member,) = zf.namelist()
        csv_2009 = zf.read(member)
    deaths = _deaths(csv_2009, 2009)
    assert deaths > 0, "the generated 2009 file must hold deaths for this test to mean anything"
    with zipfile.ZipFile(site / B2008.zip_name, "w", zipfile.ZIP_DEFLATED) as zf:  # 2009's rows, 2008's names
        zf.writestr(B2008.csv_name, csv_2009)

    storage = StorageResource(url=str(tmp_path / "data"), scratch_dir=str(tmp_path / "scratch"))
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cms_sample", ["sample_02"])
    with CmsMirror(site) as mirror:
        result = dg.materialize(
            [raw_cms_zips, *table_assets],
            partition_key="sample_02",
            instance=instance,
            resources=with_io_managers(
                {"storage": storage, "cms_site": CmsSiteResource(landing_url=mirror.landing_url)}
            ),
            raise_on_error=False,
        )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure and e.step_key == "beneficiary_summary"]
    message = failure.step_failure_data.error.message
    raw_2008 = storage.get().uri(layout.raw_zip(2, B2008.zip_name))
    assert "blocking checks dates_in_file_years failed" in message, message
    assert f"converted from {raw_2008} (" in message, message  # the culprit zip alone, not all three
    assert storage.get().uri(layout.raw_zip(2, B2009.zip_name)) not in message.split("(", 1)[0]
    assert f"{B2008.zip_name} is labelled 2008 but holds {deaths} death after year" in message, message
    assert "a file of another year under this one's name?" in message and "nothing published" in message
    assert not storage.get().exists(layout.table_file(BENE.name, 2))
    evaluations = {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key.path == [BENE.name]}
    assert (
        not evaluations["dates_in_file_years"].passed and evaluations["keys_unique"].passed
    )  # only this check sees it
    assert evaluations["dates_in_file_years"].metadata["death_after_year.2008"].value == deaths


def test_generated_sample_passes_the_year_checks(tmp_path: Path) -> None:
    """The generator's real-file quirks (empty second-segment dates, deaths mid-year, 2010's fewer rows) pass."""
    from cms_assets.lib.storage import LocalStorage
    from cms_assets.lib.synpuf.names import files_for_sample

    storage = LocalStorage(tmp_path / "store")
    paths = generate_sample(tmp_path / "raw", 5, scale=0.002, seed=11)
    publish(storage, list(zip(files_for_sample(5), paths, strict=True)), 5)
    for table in TABLES.values():
        outcome = checks.dates_in_file_years(storage, table, 5)
        assert outcome.passed, outcome.description


def test_beneficiary_death_before_or_birth_after_its_year(storage: Storage, tmp_path: Path) -> None:
    bene_2010 = [
        row(BENE, DESYNPUF_ID=BENE_A, BENE_BIRTH_DT="19300101", BENE_DEATH_DT="20090301"),  # dead before 2010
        row(BENE, DESYNPUF_ID=BENE_B, BENE_BIRTH_DT="20110101"),  # born after it
    ]
    publish(storage, crafted(tmp_path, {"beneficiary_2010": bene_2010}), 4)
    outcome = checks.dates_in_file_years(storage, BENE, 4)
    assert not outcome.passed
    zip_2010 = FileSpec(Kind.BENEFICIARY, 4, year=2010).zip_name
    assert outcome.culprits == (zip_2010,)
    assert f"{zip_2010} is labelled 2010 but holds 1 death before year, 1 birth after year" in outcome.description
    assert outcome.metadata["death_before_year.2010"] == 1 and "death_after_year.2010" not in outcome.metadata


def test_deaths_inside_the_labelled_year_pass(storage: Storage, tmp_path: Path) -> None:
    bene = [row(BENE, DESYNPUF_ID=BENE_A, BENE_BIRTH_DT="19300101", BENE_DEATH_DT="20091201")]
    bene += [row(BENE, DESYNPUF_ID=BENE_B, BENE_BIRTH_DT="19400101")]
    publish(storage, crafted(tmp_path, {"beneficiary_2009": bene}), 4)
    assert checks.dates_in_file_years(storage, BENE, 4).passed


@pytest.mark.parametrize(
    ("table", "key", "rows", "column"),
    [
        (INP, "inpatient", [row(INP, DESYNPUF_ID=BENE_A, CLM_ID="1", CLM_THRU_DT="20110315")], "CLM_THRU_DT"),
        (CAR, "carrier_A", [row(CAR, DESYNPUF_ID=BENE_A, CLM_ID="3", CLM_THRU_DT="20071231")], "CLM_THRU_DT"),
        (PDE, "pde", [row(PDE, DESYNPUF_ID=BENE_A, PDE_ID="5", SRVC_DT="20070601")], "SRVC_DT"),
    ],
)
def test_claim_outside_2008_2010_fails(storage: Storage, tmp_path: Path, table, key, rows, column) -> None:
    """A date in the slack year that ``dates_in_range`` allows is still outside the DE-SynPUF's years."""
    publish(storage, crafted(tmp_path, {key: rows}), 4)
    assert checks.dates_in_range(storage, table, 4).passed
    outcome = checks.dates_in_file_years(storage, table, 4)
    assert not outcome.passed
    assert f"{table.name} sample 4: 1 rows have {column} outside the DE-SynPUF's years 2008-01-01..2010-12-31" in (
        outcome.description
    )
    assert outcome.metadata["rows_outside"] == 1


def test_a_stay_begun_in_december_2007_is_a_2008_claim(storage: Storage, tmp_path: Path) -> None:
    """CMS: a claim's year is the year of CLM_THRU_DT, so its from and admission dates may precede 2008."""
    inp = [
        row(INP, DESYNPUF_ID=BENE_A, CLM_ID="1", CLM_FROM_DT="20071228", CLM_ADMSN_DT="20071228",
            CLM_THRU_DT="20080104", NCH_BENE_DSCHRG_DT="20080104"),
        row(INP, DESYNPUF_ID=BENE_A, CLM_ID="1", SEGMENT="2", CLM_FROM_DT="", CLM_THRU_DT="", CLM_ADMSN_DT="",
            NCH_BENE_DSCHRG_DT=""),
    ]  # fmt: skip
    publish(storage, crafted(tmp_path, {"inpatient": inp}), 4)
    assert checks.dates_in_file_years(storage, INP, 4).passed
