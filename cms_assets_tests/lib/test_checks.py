"""Table checks pass on good data and fail with examples on crafted bad data, on local disk and on S3."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from cms_assets.lib import layout
from cms_assets.lib.ingest import checks
from cms_assets.lib.ingest.convert import convert_table
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.names import FileSpec, files_for_sample
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.sim.generate import generate_sample
from cms_assets_tests.lib.ingest_data import BENE_A, BENE_B, row, sample_files

BENE = TABLES[Kind.BENEFICIARY]
INP = TABLES[Kind.INPATIENT]
CAR = TABLES[Kind.CARRIER]
PDE = TABLES[Kind.PDE]


def publish(storage: Storage, files: Sequence[tuple[FileSpec, Path]], sample: int) -> None:
    """Convert every table of a sample and publish it where the checks look (the production path)."""
    for kind, table in TABLES.items():
        sources = [(s, p) for s, p in files if s.kind is kind]
        with storage.writer(layout.table_file(table.name, sample)) as out:
            convert_table(table, sources, sample, out)


def crafted(tmp_path: Path, overrides: Mapping[str, list[list[str]]] = {}) -> list[tuple[FileSpec, Path]]:
    """A tiny consistent sample 4 (two beneficiaries, a few claims), with some files replaced by ``overrides``."""
    bene = [row(BENE, DESYNPUF_ID=b, BENE_BIRTH_DT="19300101") for b in (BENE_A, BENE_B)]
    rows = {f"beneficiary_{y}": bene for y in (2008, 2009, 2010)}
    rows["inpatient"] = [
        row(INP, DESYNPUF_ID=BENE_A, CLM_ID="1"),
        row(INP, DESYNPUF_ID=BENE_A, CLM_ID="1", SEGMENT="2"),
    ]
    rows["outpatient"] = [row(TABLES[Kind.OUTPATIENT], DESYNPUF_ID=BENE_B, CLM_ID="2")]
    rows["carrier_A"] = [row(CAR, DESYNPUF_ID=BENE_A, CLM_ID="3")]
    rows["carrier_B"] = [row(CAR, DESYNPUF_ID=BENE_B, CLM_ID="4")]
    rows["pde"] = [row(PDE, DESYNPUF_ID=BENE_A, PDE_ID="5"), row(PDE, DESYNPUF_ID=BENE_B, PDE_ID="6")]
    return sample_files(tmp_path / "raw", 4, {**rows, **overrides})


def run_all(storage: Storage, sample: int) -> dict[tuple[str, str], checks.CheckOutcome]:
    return {(t.name, name): check(storage, t, sample) for t in TABLES.values() for name, check in checks.checks_for(t)}


def test_checks_for_lists_the_right_checks() -> None:
    common = ["rows_positive", "keys_unique", "dates_in_range", "dates_in_file_years"]
    assert [n for n, _ in checks.checks_for(BENE)] == [*common, "flags_valid"]
    for table in (INP, PDE, TABLES[Kind.OUTPATIENT]):
        names = [n for n, _ in checks.checks_for(table.name)]
        assert names == [*common, "references_beneficiaries"]
    names = [n for n, _ in checks.checks_for(CAR)]
    assert names == [*common, "references_beneficiaries", "repeated_rows"]
    assert checks.WARN_CHECKS == {"repeated_rows"}  # reported, not blocking; every other check blocks


def test_all_checks_pass_on_good_data(storage: Storage, tmp_path: Path) -> None:
    publish(storage, crafted(tmp_path), 4)
    outcomes = run_all(storage, 4)
    assert len(outcomes) == 26
    failed = {k: v for k, v in outcomes.items() if not v.passed}
    assert not failed
    assert outcomes[("carrier_claims", "rows_positive")].metadata["rows"] == 2
    assert outcomes[("beneficiary_summary", "keys_unique")].metadata["duplicate_keys"] == 0


def test_all_checks_pass_on_generated_sample(tmp_path: Path) -> None:
    from cms_assets.lib.storage import LocalStorage

    storage = LocalStorage(tmp_path / "store")
    paths = generate_sample(tmp_path / "raw", 6, scale=0.001, seed=3)
    publish(storage, list(zip(files_for_sample(6), paths, strict=True)), 6)
    outcomes = run_all(storage, 6)
    blocking = {k: v for k, v in outcomes.items() if k[1] not in checks.WARN_CHECKS}
    failed = {k: (v.description, v.metadata) for k, v in blocking.items() if not v.passed}
    assert not failed
    # The generator repeats carrier pairs as CMS's files do: the WARN check sees them, nothing blocking does.
    assert outcomes[("carrier_claims", "repeated_rows")].metadata["repeated_pairs"] >= 1


def test_missing_or_empty_table_fails_rows_positive(storage: Storage, tmp_path: Path) -> None:
    outcome = checks.rows_positive(storage, PDE, 4)
    assert not outcome.passed and "no Parquet file" in outcome.description
    publish(storage, crafted(tmp_path, {"pde": []}), 4)
    outcome = checks.rows_positive(storage, PDE, 4)
    assert not outcome.passed and outcome.metadata["rows"] == 0


def test_duplicate_key_fails_with_examples(storage: Storage, tmp_path: Path) -> None:
    pde = [row(PDE, DESYNPUF_ID=BENE_A, PDE_ID=i) for i in ("7", "8", "7", "9", "7", "8")]
    publish(storage, crafted(tmp_path, {"pde": pde}), 4)
    outcome = checks.keys_unique(storage, PDE, 4)
    assert not outcome.passed
    assert outcome.metadata["duplicate_keys"] == 2 and outcome.metadata["null_keys"] == 0
    assert outcome.metadata["examples"] == "7, 3; 8, 2"


def test_carrier_repeats_are_reported_not_blocking(storage: Storage, tmp_path: Path) -> None:
    """CMS's carrier files repeat (DESYNPUF_ID, CLM_ID) pairs: kept, counted with examples by a WARN check."""
    carrier = [row(CAR, DESYNPUF_ID=BENE_B, CLM_ID=i) for i in ("4", "5", "4", "6", "5", "4")]
    publish(storage, crafted(tmp_path, {"carrier_B": carrier}), 4)
    assert checks.rows_positive(storage, CAR, 4).metadata["rows"] == 7  # nothing dropped (1 in A + 6 in B)
    assert checks.keys_unique(storage, CAR, 4).passed  # one beneficiary per CLM_ID: the key holds
    outcome = checks.repeated_rows(storage, CAR, 4)
    assert not outcome.passed
    assert (outcome.metadata["repeated_pairs"], outcome.metadata["extra_rows"]) == (2, 3)
    assert outcome.metadata["examples"] == f"{BENE_B}, 4, 3; {BENE_B}, 5, 2"
    assert "2 (DESYNPUF_ID, CLM_ID) pairs" in outcome.description
    with pytest.raises(ValueError, match="carrier"):
        checks.repeated_rows(storage, PDE, 4)


def test_carrier_claim_under_two_beneficiaries_still_blocks(storage: Storage, tmp_path: Path) -> None:
    carrier = [row(CAR, DESYNPUF_ID=b, CLM_ID="4") for b in (BENE_A, BENE_B, BENE_B)]
    publish(storage, crafted(tmp_path, {"carrier_B": carrier}), 4)
    outcome = checks.keys_unique(storage, CAR, 4)
    assert not outcome.passed and outcome.metadata["duplicate_keys"] == 1
    assert outcome.metadata["examples"] == "4, 2"  # the CLM_ID, then how many beneficiaries share it


def test_duplicate_beneficiary_year_and_null_key(storage: Storage, tmp_path: Path) -> None:
    bene = [row(BENE, DESYNPUF_ID=b) for b in (BENE_A, BENE_A, "")]
    publish(storage, crafted(tmp_path, {"beneficiary_2009": bene}), 4)
    outcome = checks.keys_unique(storage, BENE, 4)
    assert not outcome.passed
    assert outcome.metadata["null_keys"] == 1
    assert f"{BENE_A}, 2009, 2" in str(outcome.metadata["examples"])


def test_date_out_of_range_fails_with_examples(storage: Storage, tmp_path: Path) -> None:
    inp = [row(INP, DESYNPUF_ID=BENE_A, CLM_ID="1", CLM_THRU_DT="20130105"), row(INP, DESYNPUF_ID=BENE_A, CLM_ID="2")]
    publish(storage, crafted(tmp_path, {"inpatient": inp}), 4)
    outcome = checks.dates_in_range(storage, INP, 4)
    assert not outcome.passed
    assert outcome.metadata["out_of_range.CLM_THRU_DT"] == 1
    assert outcome.metadata["examples"] == "CLM_THRU_DT, 1, 2013-01-05"


def test_invalid_flags_fail_with_examples(storage: Storage, tmp_path: Path) -> None:
    bene = [
        row(BENE, DESYNPUF_ID=BENE_A, SP_CHF="0"),
        row(BENE, DESYNPUF_ID=BENE_B, BENE_RACE_CD="4", SP_STATE_CODE="40", BENE_ESRD_IND="N"),
        # Codes keep CMS's padding: "3", "90" and "6" are not how CMS writes state, county and plan months.
        row(BENE, DESYNPUF_ID="00000000000000CC", SP_STATE_CODE="3", BENE_COUNTY_CD="90", PLAN_CVRG_MOS_NUM="6"),
    ]
    publish(storage, crafted(tmp_path, {"beneficiary_2010": bene}), 4)
    outcome = checks.flags_valid(storage, BENE, 4)
    assert not outcome.passed
    meta = outcome.metadata
    assert (meta["invalid.SP_CHF"], meta["invalid.BENE_RACE_CD"], meta["invalid.SP_STATE_CODE"]) == (1, 1, 2)
    assert (meta["invalid.BENE_COUNTY_CD"], meta["invalid.PLAN_CVRG_MOS_NUM"]) == (1, 1)
    assert meta["invalid.BENE_ESRD_IND"] == 1 and "invalid.SP_COPD" not in meta
    assert f"SP_CHF, {BENE_A}, 2010, 0" in str(meta["examples"])
    with pytest.raises(ValueError, match="beneficiary_summary only"):
        checks.flags_valid(storage, PDE, 4)


def test_orphan_claim_fails_with_examples(storage: Storage, tmp_path: Path) -> None:
    orphan = "FFFFFFFFFFFFFFFF"
    carrier = [row(CAR, DESYNPUF_ID=orphan, CLM_ID=str(i)) for i in range(3)] + [row(CAR, DESYNPUF_ID="", CLM_ID="9")]
    publish(storage, crafted(tmp_path, {"carrier_B": carrier}), 4)
    outcome = checks.references_beneficiaries(storage, CAR, 4)
    assert not outcome.passed
    assert (outcome.metadata["orphan_rows"], outcome.metadata["orphan_beneficiaries"]) == (4, 1)
    assert outcome.metadata["examples"] == f"{orphan}; NULL"
    assert checks.references_beneficiaries(storage, PDE, 4).passed
