"""CMS-HCC V22 scores in the feature query (lib/hcc_sql.py through lib/features_duckdb.py) proven against hccpy.

The same ~1,300 random and hand-made beneficiary-years as the dbt risk models' test (test_risk_scores.py) are written
as the five Parquet tables and run through the feature job's DuckDB path. For every beneficiary-year, hccpy's
``HCCEngine(version="22").profile`` on the ICD-10 codes the GEM gives the drawn ICD-9 codes (first scenario, every
target, NoDx dropped: the rule lib/hcc_sql.py documents, applied here in Python) and the same demographics must give
our raw score to 1e-6 and the same HCC list. Spark runs the same SQL text; test_features.py checks both engines agree
row for row on a generated sample, these columns included.
"""

from __future__ import annotations

import random
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from cms_assets.lib import terminology
from cms_assets.lib.features_duckdb import write_features
from cms_assets.lib.synpuf.tables import TABLE_NAMES
from cms_assets_tests.transform.handmade import arrow_rows
from cms_assets_tests.transform.test_risk_scores import (
    DISABLED_PSYCH,
    EDIT_FEMALE,
    EDIT_MALE,
    HIERARCHY,
    INTERACTION,
    NO_MAP,
    SEED,
    TURNS_65,
    TURNS_65_LATER,
    Drawn,
    age_on_february_1,
    draw_cases,
    hcc_key,
)


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


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[tuple[str, int], dict[str, Any]], Drawn]:
    workdir: Path = tmp_path_factory.mktemp("features_hcc")
    benes, claim_rows, drawn = draw_cases(random.Random(SEED))
    rows = {"beneficiary_summary": benes, "prescription_drug_events": [], **claim_rows}
    files = {}
    for table in TABLE_NAMES:
        path = workdir / f"{table}.parquet"
        pq.write_table(arrow_rows(table, rows[table]), path)
        files[table] = [str(path)]
    out = workdir / "features.parquet"
    write_features(files, out, workdir / "spill", memory_limit="1GB")
    features = pq.read_table(out).to_pylist()
    return {(r["DESYNPUF_ID"], r["YEAR"]): r for r in features}, drawn


def test_feature_scores_equal_hccpy(scored: tuple[dict, Drawn]) -> None:
    from hccpy.hcc import HCCEngine

    features, drawn = scored
    engine = HCCEngine(version="22", cif=0, norm_params={"C": 1.0, "D": 1.0, "G": 1.0})
    targets = gem_targets()
    assert set(features) == set(drawn) and len(drawn) >= 1000
    worst, with_hcc = 0.0, 0
    for key, d in drawn.items():
        f = features[key]
        age = age_on_february_1(d["birth"], key[1])
        segment = "CNA" if age >= 65 else "CND"
        icd10 = sorted({t for code in d["codes"] for t in targets.get(code, ())})
        profile = engine.profile(
            icd10, age=age, sex=str(d["sex"]), elig=segment, orec="0" if age >= 65 else "1", medicaid=False
        )
        hccs = sorted((h for h in profile["hcc_lst"] if re.fullmatch(r"HCC\d+", h)), key=hcc_key)
        assert (f["HCC_SEGMENT"], f["HCC_LIST"], f["HCC_COUNT"]) == (segment, ",".join(hccs), len(hccs)), key
        assert f["DEMOGRAPHIC_SCORE"] == pytest.approx(profile["risk_score_age"], abs=1e-6), key
        assert f["RISK_SCORE"] == pytest.approx(
            f["DEMOGRAPHIC_SCORE"] + f["DISEASE_SCORE"] + f["INTERACTION_SCORE"], abs=1e-9
        )
        diff = abs(f["RISK_SCORE"] - profile["risk_score"])
        assert diff < 1e-6, (key, f, profile)
        worst, with_hcc = max(worst, diff), with_hcc + bool(hccs)
    print(f"hccpy oracle on the feature path: {len(drawn)} beneficiary-years, {with_hcc} with an HCC, max {worst:.1e}")
    assert with_hcc > 800


def test_feature_handmade_cases(scored: tuple[dict, Drawn]) -> None:
    from hccpy.hcc import HCCEngine

    coefn = HCCEngine(version="22").coefn
    features, _ = scored
    got = {bene: r for (bene, year), r in features.items() if year == 2010 and bene.startswith("H")}
    # a hierarchy: HCC8 (metastatic cancer) drops HCC12 (breast cancer); male 69
    assert (got[HIERARCHY]["HCC_LIST"], got[HIERARCHY]["HCC_SEGMENT"]) == ("HCC8", "CNA")
    assert got[HIERARCHY]["RISK_SCORE"] == pytest.approx(coefn["CNA_M65_69"] + coefn["CNA_HCC8"], abs=1e-9)
    # an interaction: heart failure with diabetes; female 74
    assert got[INTERACTION]["HCC_LIST"] == "HCC19,HCC85"
    assert got[INTERACTION]["INTERACTION_SCORE"] == pytest.approx(coefn["CNA_HCC85_gDiabetesMellit"], abs=1e-9)
    # an ICD-9 code without a GEM map: demographics only
    assert (got[NO_MAP]["HCC_COUNT"], got[NO_MAP]["HCC_LIST"]) == (0, "")
    assert got[NO_MAP]["RISK_SCORE"] == pytest.approx(coefn["CNA_M70_74"], abs=1e-9)
    # an age/sex edit: D66 is HCC46 in a man, HCC48 in a woman
    assert (got[EDIT_MALE]["HCC_LIST"], got[EDIT_FEMALE]["HCC_LIST"]) == ("HCC46", "HCC48")
    # the segment on the age on 1 February: 65 that day -> CNA, a day younger -> CND
    assert (got[TURNS_65]["HCC_SEGMENT"], got[TURNS_65_LATER]["HCC_SEGMENT"]) == ("CNA", "CND")
    assert got[TURNS_65_LATER]["DEMOGRAPHIC_SCORE"] == pytest.approx(coefn["CND_M60_64"], abs=1e-9)
    # a disabled-segment interaction
    assert got[DISABLED_PSYCH]["INTERACTION_SCORE"] == pytest.approx(
        coefn["CND_gSubstanceAbuse_gPsychiatric"], abs=1e-9
    )
