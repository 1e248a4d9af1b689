"""Schemas of the ML outputs: the feature table, the predictions and the model metrics.

They are the contract between the Spark code that writes them and the warehouse that loads them. Every feature
column is documented in :data:`FEATURE_DOCS`.
"""

from __future__ import annotations

import pyarrow as pa

#: ICD-9-CM chapters used as diagnosis groups: (column, description, predicate over the code without dot).
DIAGNOSIS_GROUPS: list[tuple[str, str, str]] = [
    ("DX_NEOPLASM", "neoplasms (ICD-9 140-239)", "140-239"),
    ("DX_ENDOCRINE", "endocrine, nutritional, metabolic incl. diabetes (240-279)", "240-279"),
    ("DX_MENTAL", "mental disorders incl. dementia and depression (290-319)", "290-319"),
    ("DX_NERVOUS", "nervous system and sense organs (320-389)", "320-389"),
    ("DX_CIRCULATORY", "circulatory system incl. heart failure, ischemia, stroke (390-459)", "390-459"),
    ("DX_RESPIRATORY", "respiratory system incl. COPD (460-519)", "460-519"),
    ("DX_GENITOURINARY", "genitourinary system incl. chronic kidney disease (580-629)", "580-629"),
    ("DX_MUSCULOSKELETAL", "musculoskeletal incl. arthritis and osteoporosis (710-739)", "710-739"),
    ("DX_INJURY", "injury and poisoning (800-999)", "800-999"),
    ("DX_SUPPLEMENTARY", "V codes: supplementary factors, e.g. dialysis status, aftercare (V01-V91)", "V"),
]

CHRONIC_FEATURES = [
    "CC_ALZHDMTA", "CC_CHF", "CC_CHRNKIDN", "CC_CNCR", "CC_COPD", "CC_DEPRESSN",
    "CC_DIABETES", "CC_ISCHMCHT", "CC_OSTEOPRS", "CC_RA_OA", "CC_STRKETIA",
]  # fmt: skip

_F = pa.float64()
_I32 = pa.int32()
_I16 = pa.int16()
_I8 = pa.int8()

FEATURE_DOCS: dict[str, tuple[pa.DataType, str]] = {
    "DESYNPUF_ID": (pa.string(), "beneficiary identifier"),
    "YEAR": (_I16, "calendar year the features describe (2008-2010)"),
    "sample": (_I16, "CMS sample number (1-20)"),
    "AGE": (_I16, "age in whole years on 1 January of YEAR"),
    "SEX": (_I8, "BENE_SEX_IDENT_CD: 1 male, 2 female"),
    "RACE": (_I8, "BENE_RACE_CD: 1 white, 2 black, 3 other, 5 hispanic"),
    "STATE": (_I8, "SP_STATE_CODE, SSA state code 1-54"),
    "ESRD": (_I8, "end-stage renal disease: 1 if BENE_ESRD_IND = 'Y' else 0"),
    **{cc: (_I8, f"chronic condition {cc[3:]} (SP_{cc[3:]} = 1) as 0/1") for cc in CHRONIC_FEATURES},
    "CC_COUNT": (_I8, "number of the 11 chronic conditions present"),
    "HI_MONTHS": (_I8, "Part A coverage months (BENE_HI_CVRAGE_TOT_MONS)"),
    "SMI_MONTHS": (_I8, "Part B coverage months (BENE_SMI_CVRAGE_TOT_MONS)"),
    "HMO_MONTHS": (_I8, "HMO coverage months (BENE_HMO_CVRAGE_TOT_MONS)"),
    "PLAN_MONTHS": (_I8, "Part D coverage months (PLAN_CVRG_MOS_NUM)"),
    "DIED_IN_YEAR": (_I8, "1 if BENE_DEATH_DT falls in YEAR"),
    "IP_PAYMENT": (_F, "sum of inpatient CLM_PMT_AMT for claims with CLM_THRU_DT in YEAR"),
    "OP_PAYMENT": (_F, "sum of outpatient CLM_PMT_AMT in YEAR"),
    "CAR_PAYMENT": (_F, "sum of carrier LINE_NCH_PMT_AMT_1..13 in YEAR"),
    "PDE_COST": (_F, "sum of PDE TOT_RX_CST_AMT with SRVC_DT in YEAR"),
    "TOTAL_PAYMENT": (_F, "IP_PAYMENT + OP_PAYMENT + CAR_PAYMENT + PDE_COST"),
    "IP_CLAIMS": (_I32, "distinct inpatient CLM_ID in YEAR"),
    "OP_CLAIMS": (_I32, "distinct outpatient CLM_ID in YEAR"),
    "CAR_CLAIMS": (_I32, "distinct carrier CLM_ID in YEAR"),
    "IP_STAYS": (
        _I32,
        "inpatient stays: distinct CLM_ADMSN_DT over inpatient claims in YEAR (interim claims share it)",
    ),
    "IP_DAYS": (_I32, "sum of CLM_UTLZTN_DAY_CNT over inpatient claims in YEAR"),
    "DISTINCT_DIAGNOSES": (
        _I32,
        "distinct ICD-9 codes in YEAR: IP/OP ICD9_DGNS_CD_1..10, carrier ICD9_DGNS_CD_1..8 and LINE_ICD9_DGNS_CD_1..13",
    ),
    **{g: (_I32, f"distinct diagnosis codes (as above) in YEAR in group: {d}") for g, d, _ in DIAGNOSIS_GROUPS},
    "CCS_LIST": (
        pa.string(),
        "AHRQ CCS single-level category of each distinct diagnosis code of YEAR, ascending, one entry per code "
        "(CCS49,CCS49,CCS98: two codes in category 49, one in 98); codes not in the CCS grouper are left out",
    ),
    "DISTINCT_PROVIDERS": (_I32, "distinct PRVDR_NUM (IP, OP) and PRF_PHYSN_NPI (carrier) in YEAR"),
    "PDE_FILLS": (_I32, "number of PDE rows in YEAR"),
    "PDE_DAYS_SUPPLY": (_I32, "sum of DAYS_SUPLY_NUM in YEAR"),
    "HCC_SEGMENT": (
        pa.string(),
        "CMS-HCC V22 segment scored: CNA (community non-dual aged, age >= 65 on 1 February) or CND (disabled, < 65)",
    ),
    "HCC_AGE": (_I16, "age in whole years on 1 February of YEAR: the age CMS-HCC scores (AGE is on 1 January)"),
    "DEMOGRAPHIC_SCORE": (_F, "CMS-HCC V22 age/sex factor of the segment (the demographic-only model's score)"),
    "DISEASE_SCORE": (_F, "sum of the CMS-HCC V22 factors of the HCCs kept (after age/sex edits and hierarchies)"),
    "INTERACTION_SCORE": (_F, "sum of the CMS-HCC V22 factors of the community disease interactions present"),
    "RISK_SCORE": (
        _F,
        "CMS-HCC V22 raw community risk score: DEMOGRAPHIC_SCORE + DISEASE_SCORE + INTERACTION_SCORE "
        "(no normalization or coding-intensity adjustment); diagnoses of YEAR mapped ICD-9 -> ICD-10 by the GEM",
    ),
    "HCC_COUNT": (_I16, "number of CMS-HCC V22 HCCs kept in YEAR"),
    "HCC_LIST": (pa.string(), "the HCCs kept in YEAR, ascending and comma-separated (HCC8,HCC85); empty if none"),
    "HCC_INTERACTIONS": (
        pa.string(),
        "the CMS-HCC V22 community interactions present in YEAR, comma-separated by name (HCC85_gDiabetesMellit); "
        "one without a factor in the segment (gSubstanceAbuse_gPsychiatric in CNA) is listed and adds 0",
    ),
    "NEXT_YEAR_COST": (_F, "label: TOTAL_PAYMENT of YEAR+1; null when the beneficiary is absent in YEAR+1"),
}

FEATURE_SCHEMA = pa.schema([pa.field(n, t) for n, (t, _) in FEATURE_DOCS.items()])
#: Columns that are not model inputs.
NON_FEATURES = {"DESYNPUF_ID", "YEAR", "sample", "NEXT_YEAR_COST"}
#: Categorical inputs (one-hot encoded by the model pipeline).
CATEGORICAL_FEATURES = ["SEX", "RACE", "STATE"]
#: The CMS-HCC V22 columns: the cms_hcc and demographics_only candidates' scores, and inputs of the *_hcc_ccs ML
#: candidates only (lib/spark/model.py): at 20 x 1.0 they add nothing measurable (gbt_log_hcc_ccs temporal r2 0.141
#: against gbt_log's 0.143; benchmarks/results/2026-12-06-0c81a32-model-candidates-20x1.0.txt).
HCC_FEATURES = [
    "HCC_SEGMENT", "HCC_AGE", "DEMOGRAPHIC_SCORE", "DISEASE_SCORE", "INTERACTION_SCORE", "RISK_SCORE", "HCC_COUNT",
    "HCC_LIST", "HCC_INTERACTIONS",
]  # fmt: skip
#: Lists of codes: inputs of the ``*_hcc_ccs`` candidates only (as per-category counts), like HCC_FEATURES.
CCS_FEATURES = ["CCS_LIST"]
NUMERIC_FEATURES = [
    n
    for n in FEATURE_DOCS
    if n not in NON_FEATURES and n not in CATEGORICAL_FEATURES and n not in HCC_FEATURES and n not in CCS_FEATURES
]

#: Baselines scaled the way CMS pays Medicare Advantage: a score x the training year's mean next-year cost per unit
#: of score. cms_hcc: the CMS-HCC V22 raw risk score; demographics_only: its age/sex factor alone (RTI's
#: demographic model).
SCORE_BASELINES = {"cms_hcc": "RISK_SCORE", "demographics_only": "DEMOGRAPHIC_SCORE"}
BASELINES = ["baseline_mean", "baseline_last_year", *SCORE_BASELINES]

#: SCOPE of a prediction row. "current": each beneficiary's latest feature year, whose next year is not in the data
#: (the prediction a care manager acts on). "holdout": the temporal validation year (2009 features, 2010 known), scored
#: by the same model trained on 2008 -> 2009, so the cohort can be judged against what it actually cost.
CURRENT, HOLDOUT = "current", "holdout"
SCOPES = (CURRENT, HOLDOUT)

PREDICTION_DOCS: dict[str, tuple[pa.DataType, str]] = {
    "DESYNPUF_ID": (pa.string(), "beneficiary identifier"),
    "YEAR": (_I16, "feature year scored; the prediction is for YEAR + 1"),
    "sample": (_I16, "CMS sample number (1-20)"),
    "PREDICTED_NEXT_YEAR_COST": (_F, "predicted total payment (IP + OP + carrier + Part D) of YEAR + 1, dollars"),
    "PREDICTED_PERCENTILE": (_F, "0-100 rank of the prediction within the sample's rows of the same SCOPE"),
    "HIGH_COST": (_I8, "1 for the top 10% predicted within (sample, SCOPE), else 0"),
    "MODEL_VERSION": (pa.string(), "version of the cost model that scored the row"),
    "SCOPE": (pa.string(), "current: each beneficiary's latest year; holdout: 2009 features, 2010 known"),
}
PREDICTION_SCHEMA = pa.schema([pa.field(n, t) for n, (t, _) in PREDICTION_DOCS.items()])

METRICS_SCHEMA = pa.schema(
    [
        pa.field("MODEL_VERSION", pa.string()),
        pa.field("MODEL_NAME", pa.string()),  # e.g. gbt_log, linear, baseline_mean, baseline_last_year
        pa.field("SPLIT", pa.string()),  # temporal (2009->2010) or random (seeded beneficiary holdout)
        # r2, rmse, mae, rows (scored), top10_capture, top_decile_lift, and per predicted decile DD (01 = highest):
        # decile_DD_cost_share (share of actual cost), decile_DD_mean_predicted, decile_DD_mean_actual
        pa.field("METRIC", pa.string()),
        pa.field("VALUE", _F),
        pa.field("SELECTED", pa.bool_()),
        pa.field("TRAINED_AT", pa.timestamp("s", tz="UTC")),
    ]
)
