"""The CMS-HCC test cases shared by the feature query's hccpy test (lib/test_features_hcc.py) and the risk marts'
test (test_risk_scores.py): ~1,300 random beneficiary-years (birth dates around the 65th birthday and the 1 February
cut-off, random sex) whose diagnoses are ICD-9 codes drawn HCC by HCC from the GEM rows whose ICD-10 target is in
the V22 map, spread over inpatient, outpatient and carrier claims, plus hand-made beneficiaries for a hierarchy, an
interaction, an ICD-9 code without a GEM map, an age/sex edit, the segment cut-off and a code not in CCS; and their
feature rows, built by the feature job's DuckDB path."""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from cms_assets.lib import terminology
from cms_assets.lib.features_duckdb import write_features
from cms_assets.lib.synpuf.tables import TABLE_NAMES
from cms_assets_tests.transform.handmade import _bene, _car, _ip, arrow_rows

SEED = 20240519
RANDOM_BENEFICIARIES = 650  # x 1-2 years -> > 1,000 beneficiary-years
YEARS = (2009, 2010)

# Hand-made beneficiaries (all scored in 2010): id -> (birth date, sex code, ICD-9 codes).
HIERARCHY = "H000000000000001"  # 1970 -> C7800 (HCC8) drops 1749 -> C50919 (HCC12)
INTERACTION = "H000000000000002"  # 4280 -> I509 (HCC85) + 25000 -> E119 (HCC19): HCC85_gDiabetesMellit
NO_MAP = "H000000000000003"  # an ICD-9 code whose GEM row is NoDx: no ICD-10 code, no HCC
EDIT_FEMALE = "H000000000000004"  # 2860 -> D66: HCC46, but HCC48 in a woman (V22 age/sex edit)
EDIT_MALE = "H000000000000005"
TURNS_65 = "H000000000000006"  # born 1945-02-01: 65 on 1 February 2010 -> CNA
TURNS_65_LATER = "H000000000000007"  # born 1945-02-02: 64 on 1 February 2010 -> CND
DISABLED_PSYCH = "H000000000000008"  # CND: 29530 (HCC57) + 30390 (HCC54/55): gSubstanceAbuse_gPsychiatric
NOT_IN_CCS = "H000000000000009"  # 4280 (CCS 108) + 88888: ICD-9-shaped, in neither the GEM nor the CCS grouper


def age_on_february_1(birth: dt.date, year: int) -> int:
    return year - birth.year - ((birth.month, birth.day) > (2, 1))


def no_map_code() -> str:
    return next(r["ICD9_CODE"] for r in terminology.icd9_icd10_gem().to_pylist() if r["NO_MAP"] == 1)


def codes_by_hcc() -> dict[int, list[str]]:
    """ICD-9 codes whose (first-scenario) GEM targets reach a V22 HCC, grouped by one such HCC."""
    v22 = defaultdict(set)
    for r in terminology.hcc_v22_icd10_map().to_pylist():
        v22[r["ICD10_CODE"]].add(r["HCC"])
    by_hcc: dict[int, set[str]] = defaultdict(set)
    for r in terminology.icd9_icd10_gem().to_pylist():
        if r["SCENARIO"] <= 1 and r["ICD10_CODE"] in v22:
            for hcc in v22[r["ICD10_CODE"]]:
                by_hcc[hcc].add(r["ICD9_CODE"])
    return {hcc: sorted(codes) for hcc, codes in sorted(by_hcc.items())}


class Claims:
    """Builds claim rows, each code on an inpatient, outpatient or carrier claim (header or line diagnosis)."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict[str, Any]]] = {
            "inpatient_claims": [],
            "outpatient_claims": [],
            "carrier_claims": [],
        }
        self.next_id = 1

    def _id(self) -> str:
        self.next_id += 1
        return str(10_000_000 + self.next_id)

    def add(self, rng: random.Random, bene: str, year: int, codes: list[str]) -> None:
        by_type: dict[str, list[str]] = defaultdict(list)
        for code in codes:
            by_type[rng.choice(["ip", "op", "car", "car_line"])].append(code)
        day = f"{year}-0{rng.randint(1, 9)}-1{rng.randint(0, 8)}"
        for kind, kind_codes in by_type.items():
            for start in range(0, len(kind_codes), 8):
                chunk = kind_codes[start : start + 8]
                if kind == "ip":
                    self.rows["inpatient_claims"].append(_ip(bene, self._id(), day, day, day, day, 100, "291", *chunk))
                elif kind == "op":
                    row = {"DESYNPUF_ID": bene, "CLM_ID": self._id(), "SEGMENT": 1, "CLM_FROM_DT": day,
                           "CLM_THRU_DT": day, "PRVDR_NUM": "0500AA", "CLM_PMT_AMT": 50}  # fmt: skip
                    row |= {f"ICD9_DGNS_CD_{i}": c for i, c in enumerate(chunk, start=1)}
                    self.rows["outpatient_claims"].append(row)
                elif kind == "car":
                    self.rows["carrier_claims"].append(_car(bene, self._id(), day, chunk, [("99213", 20, chunk[0])]))
                else:
                    lines = [("99213", 10, c) for c in chunk]
                    self.rows["carrier_claims"].append(_car(bene, self._id(), day, [], lines))


def handmade_cases() -> dict[str, tuple[str, int, list[str]]]:
    return {
        HIERARCHY: ("1940-03-01", 1, ["1970", "1749"]),
        INTERACTION: ("1935-06-01", 2, ["4280", "25000"]),
        NO_MAP: ("1938-05-01", 1, [no_map_code()]),
        EDIT_FEMALE: ("1942-08-01", 2, ["2860"]),
        EDIT_MALE: ("1942-08-01", 1, ["2860"]),
        TURNS_65: ("1945-02-01", 1, ["4280"]),
        TURNS_65_LATER: ("1945-02-02", 1, ["4280"]),
        DISABLED_PSYCH: ("1970-04-01", 2, ["29530", "30390"]),
        NOT_IN_CCS: ("1940-03-01", 2, ["4280", "88888"]),
    }


Drawn = dict[tuple[str, int], dict[str, Any]]


def draw_cases(rng: random.Random) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]], Drawn]:
    """The random and hand-made beneficiary rows, their claim rows by table, and what was drawn per
    beneficiary-year (birth date, sex, ICD-9 codes)."""
    pool = codes_by_hcc()
    hccs = list(pool)
    claims = Claims()
    benes: list[dict[str, Any]] = []
    drawn: dict[tuple[str, int], dict[str, Any]] = {}
    for n in range(RANDOM_BENEFICIARIES):
        bene = f"R{n:015d}"
        # ages 40-100 on 1 February, a third of them within a year of 65; birthdays on and around 1 February
        birth_year = rng.choice([1944, 1945, 1946]) if n % 3 == 0 else rng.randint(1910, 1970)
        month = rng.choice([1, 2, 2, 3, 7, 12])
        birth = dt.date(birth_year, month, rng.choice([1, 1, 2, 15]))
        sex = rng.choice([1, 2])
        years = [y for y in YEARS if rng.random() < 0.85] or [2010]
        for year in years:
            codes = sorted({rng.choice(pool[rng.choice(hccs)]) for _ in range(rng.choice([0, 1, 2, 3, 5, 8, 12]))})
            state = rng.choice(["03", "05", "10", "33"])
            benes.append(_bene(bene, year, birth.isoformat(), sex, 1, state, 12, rng.randint(0, 12), "12",
                               rng.randint(0, 20_000), rng.randint(0, 2_000), rng.randint(0, 3_000)))  # fmt: skip
            claims.add(rng, bene, year, codes)
            drawn[(bene, year)] = {"birth": birth, "sex": sex, "codes": codes}
    for bene, (birth, sex, codes) in handmade_cases().items():
        benes.append(_bene(bene, 2010, birth, sex, 1, "03", 12, 12, "12", 1000, 100, 100))
        claims.add(rng, bene, 2010, codes)
        drawn[(bene, 2010)] = {"birth": dt.date.fromisoformat(birth), "sex": sex, "codes": codes}
    return benes, claims.rows, drawn


def hcc_key(name: str) -> int:
    return int(name[3:])


def gem_targets() -> dict[str, set[str]]:
    """ICD-9 -> its ICD-10 targets: every row of the code's first scenario, "no map" rows dropped."""
    rows = terminology.icd9_icd10_gem().to_pylist()
    first: dict[str, int] = {}
    for r in rows:
        first[r["ICD9_CODE"]] = min(first.get(r["ICD9_CODE"], r["SCENARIO"]), r["SCENARIO"])
    out: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        if r["SCENARIO"] == first[r["ICD9_CODE"]] and r["ICD10_CODE"] is not None:
            out[r["ICD9_CODE"]].add(r["ICD10_CODE"])
    return out


def feature_rows(
    workdir: Path, benes: list[dict[str, Any]], claim_rows: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    """The feature table of these rows, from the feature job's DuckDB path (the five tables written as Parquet)."""
    rows = {"beneficiary_summary": benes, "prescription_drug_events": [], **claim_rows}
    files = {}
    for table in TABLE_NAMES:
        path = workdir / f"{table}.parquet"
        pq.write_table(arrow_rows(table, rows[table]), path)
        files[table] = [str(path)]
    out = workdir / "features.parquet"
    write_features(files, out, workdir / "spill", memory_limit="1GB")
    return pq.read_table(out).to_pylist()
