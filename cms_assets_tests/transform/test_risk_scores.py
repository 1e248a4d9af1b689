"""CMS-HCC V22 risk scores in SQL (the dbt models risk_scores and risk_adjusted_pmpm) proven against hccpy.

A DuckDB warehouse gets ~1,200 random beneficiary-years (random birth dates around the 65th birthday and the
1 February cut-off, random sex) whose diagnoses are ICD-9 codes drawn HCC by HCC from the GEM rows whose ICD-10 target
is in the V22 map, spread over inpatient, outpatient and carrier claims, plus hand-made beneficiaries for a hierarchy,
an interaction, an ICD-9 code without a GEM map, an age/sex edit and the segment cut-off. dbt builds only the risk
models and their parents (with their tests), once for the module. For every beneficiary-year, hccpy's
``HCCEngine(version="22").profile`` on the ICD-10 codes our GEM step produced (int_hcc_diagnoses) and the same
demographics must give our raw score to 1e-6 and the same HCC list.

The same warehouse carries feature rows with a next-year cost and the cost model's holdout predictions for the last
year, so risk_model_comparison (the cost model beside CMS-HCC and a demographics-only model) is checked against the
same metrics computed here in Python from the proven scores.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from cms_assets.lib import terminology
from cms_assets.lib.transform import layer_schema, run_dbt
from cms_assets.lib.warehouse.load import Warehouse
from cms_assets_tests.transform.handmade import _bene, _car, _ip, arrow_rows

SCHEMA = "cms"
MARTS = layer_schema(SCHEMA, "marts")
INTERMEDIATE = layer_schema(SCHEMA, "intermediate")
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


def build_warehouse(url: str) -> Drawn:
    """Write the random and hand-made rows; return what was drawn per beneficiary-year (birth date, sex, codes)."""
    rng = random.Random(SEED)
    benes, claim_rows, drawn = draw_cases(rng)
    features, predictions = model_rows(rng, drawn)
    wh = Warehouse.from_url(url, schema=SCHEMA)
    try:
        wh.ensure_schema()
        wh.replace_rows("beneficiary_summary", {"sample": 1}, arrow_rows("beneficiary_summary", benes))
        wh.replace_rows("beneficiary_features", {"sample": 1}, arrow_rows("beneficiary_features", features))
        wh.replace_rows("cost_predictions", {"sample": 1}, arrow_rows("cost_predictions", predictions))
        for table, rows in claim_rows.items():
            wh.replace_rows(table, {"sample": 1}, arrow_rows(table, rows))
        for name, reference in terminology.REFERENCE_TABLES.items():
            wh.replace_table(name, reference.read())
    finally:
        wh.close()
    return drawn


def model_rows(
    rng: random.Random, drawn: dict[tuple[str, int], dict[str, Any]]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A next-year cost for every beneficiary-year (rising with its codes, noisy) and, for the last year, the cost
    model's holdout prediction (the cost plus noise; ties on purpose, to pin the decile order)."""
    features, predictions = [], []
    for (bene, year), d in sorted(drawn.items()):
        cost = float(round(rng.lognormvariate(7 + 0.15 * len(d["codes"]), 1.2)))
        features.append({"DESYNPUF_ID": bene, "YEAR": year, "NEXT_YEAR_COST": cost})
        if year == YEARS[-1]:
            guess = float(round(cost * rng.uniform(0.3, 1.7), -2))
            predictions.append({"DESYNPUF_ID": bene, "YEAR": year, "PREDICTED_NEXT_YEAR_COST": guess,
                                "MODEL_VERSION": "v1", "SCOPE": "holdout"})  # fmt: skip
    return features, predictions


class Built:
    def __init__(self, url: str, drawn: dict[tuple[str, int], dict[str, Any]], seconds: float) -> None:
        self.url, self.drawn, self.seconds = url, drawn, seconds

    def rows(self, sql: str) -> list[dict[str, Any]]:
        wh = Warehouse.from_url(self.url, schema=SCHEMA)
        try:
            return wh.query(sql).to_pylist()
        finally:
            wh.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    workdir: Path = tmp_path_factory.mktemp("risk_scores")
    url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
    drawn = build_warehouse(url)
    started = time.perf_counter()
    args = ["build", "--select", "+risk_scores", "+risk_adjusted_pmpm", "+risk_model_comparison",
            "--indirect-selection", "cautious",
            "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")]  # fmt: skip
    result = run_dbt(args, url, SCHEMA, check=False)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    print(f"dbt build of the risk models on {len(drawn)} beneficiary-years: {seconds:.1f}s")
    return Built(url, drawn, seconds)


def hcc_key(name: str) -> int:
    return int(name[3:])


def test_scores_equal_hccpy(built: Built) -> None:
    from hccpy.hcc import HCCEngine

    # cif and the normalization only touch risk_score_adj; risk_score is the raw sum either way.
    engine = HCCEngine(version="22", cif=0, norm_params={"C": 1.0, "D": 1.0, "G": 1.0})
    scores = built.rows(
        f"select desynpuf_id, year, age, sex, segment, demographic_score, disease_score, interaction_score, "
        f"risk_score, hcc_count, hcc_list, interaction_list from {MARTS}.risk_scores"
    )
    icd10: dict[tuple[str, int], list[str]] = defaultdict(list)
    for r in built.rows(f"select desynpuf_id, year, icd10_code from {INTERMEDIATE}.int_hcc_diagnoses"):
        icd10[(r["desynpuf_id"], r["year"])].append(r["icd10_code"])
    assert len(scores) == len(built.drawn) >= 1000
    worst, with_hcc, hierarchy_hit, interaction_hit, segments = 0.0, 0, 0, 0, defaultdict(int)
    for s in scores:
        key = (s["desynpuf_id"], s["year"])
        drawn = built.drawn[key]
        age = age_on_february_1(drawn["birth"], s["year"])
        assert (s["age"], s["sex"], s["segment"]) == (
            age,
            "M" if drawn["sex"] == 1 else "F",
            "CNA" if age >= 65 else "CND",
        )
        profile = engine.profile(
            icd10[key],
            age=age,
            sex=str(drawn["sex"]),
            elig=s["segment"],
            orec="0" if age >= 65 else "1",
            medicaid=False,
        )
        assert profile["risk_score_adj"] == profile["risk_score"]
        hccs = sorted((h for h in profile["hcc_lst"] if re.fullmatch(r"HCC\d+", h)), key=hcc_key)
        interactions = sorted(h for h in profile["hcc_lst"] if not re.fullmatch(r"HCC\d+", h))
        assert s["hcc_list"] == ",".join(hccs), key
        assert s["hcc_count"] == len(hccs), key
        # hccpy lists every interaction; only those with a factor in the segment count, as ours do
        assert [i for i in interactions if f"{s['segment']}_{i}" in engine.coefn] == [
            i for i in s["interaction_list"].split(",") if i and f"{s['segment']}_{i}" in engine.coefn
        ], key
        assert s["demographic_score"] == pytest.approx(profile["risk_score_age"], abs=1e-6), key
        diff = abs(s["risk_score"] - profile["risk_score"])
        assert diff < 1e-6, (key, s, profile)
        worst = max(worst, diff)
        with_hcc += bool(hccs)
        mapped = {c for dx_ccs in profile["hcc_map"].values() for c in dx_ccs if c != "HCCNA"}
        hierarchy_hit += len(mapped) > len(hccs)
        interaction_hit += s["interaction_score"] != 0
        segments[s["segment"]] += 1
    print(
        f"hccpy oracle: {len(scores)} beneficiary-years ({dict(segments)}), {with_hcc} with an HCC, "
        f"{hierarchy_hit} with an HCC dropped by a hierarchy, {interaction_hit} with an interaction factor; "
        f"max |ours - hccpy| = {worst:.2e}"
    )
    assert with_hcc > 800 and hierarchy_hit > 100 and interaction_hit > 50 and min(segments.values()) > 200


def test_handmade_cases(built: Built) -> None:
    from hccpy.hcc import HCCEngine

    coefn = HCCEngine(version="22").coefn
    rows = built.rows(f"select * from {MARTS}.risk_scores where year = 2010 and desynpuf_id like 'H%'")
    got = {r["desynpuf_id"]: r for r in rows}
    diagnoses = defaultdict(set)
    for r in built.rows(f"select desynpuf_id, icd10_code from {INTERMEDIATE}.int_hcc_diagnoses where year = 2010"):
        diagnoses[r["desynpuf_id"]].add(r["icd10_code"])

    # Hierarchy: HCC8 (metastatic cancer) drops HCC12 (breast cancer); male 69 on 1 February 2010.
    h = got[HIERARCHY]
    assert diagnoses[HIERARCHY] == {"C7800", "C50919"}
    assert (h["hcc_list"], h["hcc_count"], h["segment"], h["age"]) == ("HCC8", 1, "CNA", 69)
    assert h["risk_score"] == pytest.approx(coefn["CNA_M65_69"] + coefn["CNA_HCC8"], abs=1e-9)

    # Interaction: heart failure with diabetes; female 74.
    i = got[INTERACTION]
    assert (i["hcc_list"], i["interaction_list"]) == ("HCC19,HCC85", "HCC85_gDiabetesMellit")
    assert i["interaction_score"] == pytest.approx(coefn["CNA_HCC85_gDiabetesMellit"], abs=1e-9)
    assert i["risk_score"] == pytest.approx(
        coefn["CNA_F70_74"] + coefn["CNA_HCC19"] + coefn["CNA_HCC85"] + coefn["CNA_HCC85_gDiabetesMellit"], abs=1e-9
    )

    # An ICD-9 code without a GEM map gives no ICD-10 code and no HCC: demographics only.
    n = got[NO_MAP]
    assert NO_MAP not in diagnoses
    assert (n["hcc_count"], n["hcc_list"], n["risk_score"]) == (0, "", pytest.approx(coefn["CNA_M70_74"], abs=1e-9))

    # Age/sex edit: D66 (hereditary factor VIII deficiency) is HCC46 in a man, HCC48 in a woman.
    assert diagnoses[EDIT_FEMALE] == diagnoses[EDIT_MALE] == {"D66"}
    assert (got[EDIT_MALE]["hcc_list"], got[EDIT_FEMALE]["hcc_list"]) == ("HCC46", "HCC48")

    # Segment on the age on 1 February: 65 that day -> CNA; a day younger -> CND (64).
    assert (got[TURNS_65]["segment"], got[TURNS_65]["age"]) == ("CNA", 65)
    assert (got[TURNS_65_LATER]["segment"], got[TURNS_65_LATER]["age"]) == ("CND", 64)
    assert got[TURNS_65_LATER]["demographic_score"] == pytest.approx(coefn["CND_M60_64"], abs=1e-9)

    # A disabled-segment interaction (no factor in CNA): schizophrenia with alcohol dependence, female 39.
    d = got[DISABLED_PSYCH]
    assert (d["segment"], d["age"], d["interaction_list"]) == ("CND", 39, "gSubstanceAbuse_gPsychiatric")
    assert d["interaction_score"] == pytest.approx(coefn["CND_gSubstanceAbuse_gPsychiatric"], abs=1e-9)


def test_risk_adjusted_pmpm(built: Built) -> None:
    scores = built.rows(f"select year, state_code, member_months, paid_amount, risk_score from {MARTS}.risk_scores")
    cells = {
        (r["year"], r["dimension"], r["dimension_value"]): r
        for r in built.rows(f"select * from {MARTS}.risk_adjusted_pmpm")
    }
    for year in YEARS:
        for dimension, value in [("all", "all"), ("state", "05")]:
            sel = [
                s for s in scores
                if s["year"] == year and s["member_months"] > 0 and (value == "all" or s["state_code"] == value)
            ]  # fmt: skip
            months = sum(s["member_months"] for s in sel)
            paid = sum(float(s["paid_amount"]) for s in sel)
            weighted = sum(s["risk_score"] * s["member_months"] for s in sel) / months
            ordered = sorted(s["risk_score"] for s in sel)
            c = cells[(year, dimension, value)]
            assert (c["beneficiaries"], c["member_months"]) == (len(sel), months)
            assert c["mean_risk_score"] == pytest.approx(sum(ordered) / len(ordered))
            assert c["p50_risk_score"] == pytest.approx(
                (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
            )
            assert c["weighted_mean_risk_score"] == pytest.approx(weighted)
            assert c["pmpm"] == pytest.approx(paid / months)
            assert c["risk_adjusted_pmpm"] == pytest.approx(paid / months / weighted)
            assert c["is_small_cell"] == 0


def _metrics(pairs: list[tuple[tuple[int, str], float, float]]) -> dict[str, float]:
    """r2, mae, top-decile cost share and lift of (order key, actual, predicted) rows, decile 1 the ceil(10%) highest
    predicted (ties by the order key), as the cost model's evaluate and the mart define them."""
    n = len(pairs)
    actual = [a for _, a, _ in pairs]
    mean = sum(actual) / n
    sse = sum((a - p) ** 2 for _, a, p in pairs)
    top = sorted(pairs, key=lambda r: (-r[2], r[0]))[: -(-n // 10)]
    share = sum(a for _, a, _ in top) / sum(actual)
    return {
        "r2": 1 - sse / sum((a - mean) ** 2 for a in actual),
        "mae": sum(abs(a - p) for _, a, p in pairs) / n,
        "top_decile_cost_share": share,
        "top_decile_lift": share / (len(top) / n),
    }


def test_model_comparison_against_python(built: Built) -> None:
    scores = {(r["desynpuf_id"], r["year"]): r for r in built.rows(f"select * from {MARTS}.risk_scores")}
    cost = {
        (r["DESYNPUF_ID"], r["YEAR"]): r["NEXT_YEAR_COST"]
        for r in built.rows('select * from cms."beneficiary_features"')
    }
    predicted = {
        r["DESYNPUF_ID"]: r["PREDICTED_NEXT_YEAR_COST"] for r in built.rows('select * from cms."cost_predictions"')
    }
    train, last = [k for k in cost if k[1] == YEARS[0] and k in scores], YEARS[-1]
    per_score = sum(cost[k] for k in train) / sum(scores[k]["risk_score"] for k in train)
    per_demographic = sum(cost[k] for k in train) / sum(scores[k]["demographic_score"] for k in train)
    holdout = [(1, b) for b, y in cost if y == last and b in predicted and (b, y) in scores]
    expected = {
        "cost_model": _metrics([(k, cost[(k[1], last)], predicted[k[1]]) for k in holdout]),
        "cms_hcc": _metrics([(k, cost[(k[1], last)], scores[(k[1], last)]["risk_score"] * per_score) for k in holdout]),
        "demographics_only": _metrics(
            [(k, cost[(k[1], last)], scores[(k[1], last)]["demographic_score"] * per_demographic) for k in holdout]
        ),
    }
    got = {r["candidate"]: r for r in built.rows(f"select * from {MARTS}.risk_model_comparison")}
    assert len(holdout) > 500
    for candidate, figures in expected.items():
        row = got[candidate]
        assert (row["source"], row["n"], row["holdout_year"]) == ("DE-SynPUF (this warehouse)", len(holdout), last)
        for metric, value in figures.items():
            assert row[metric] == pytest.approx(value, rel=1e-9), (candidate, metric)
    assert got["cms_hcc"]["top_decile_cost_share"] > got["demographics_only"]["top_decile_cost_share"]
    anchors = {r["candidate"]: r for r in got.values() if r["source"] == "RTI 2011 (real Medicare)"}
    assert anchors["CMS-HCC V21"]["r2"] == 0.125 and anchors["CMS-HCC"]["top_decile_cost_share"] == 0.304
    assert anchors["demographic-only"]["top_decile_cost_share"] == 0.154 and anchors["CMS-HCC V12"]["n"] is None
