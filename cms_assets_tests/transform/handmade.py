"""A hand-made warehouse for the dbt marts: a handful of explicit rows per table, all in sample 1.

Every row is written out literally so a reader can compute each figure the tests assert by hand; the comments carry
the arithmetic. Beneficiaries (16-character ids, as in DE-SynPUF):

=====  ==========  ======  ========  =====  ===============  ===================  ===========================
id     birth       sex     race      state  2010 age band    2010 A/B months      2010 Part D months
=====  ==========  ======  ========  =====  ===============  ===================  ===========================
A...   1940-03-01  male    white     03     65-74 (69)       max(12, 12) = 12     12   (also a 2009 row)
B...   1930-01-01  female  black     05     75-84 (80)       max(6, 8) = 8        6
C...   1950-07-01  male    other     03     <65 (59)         max(12, 0) = 12      0
D...   1920-02-01  female  hispanic  05     85+ (89)         max(4, 4) = 4        4    (died 2010-04-10)
E...   1945-01-01  female  white     03     65-74 (65)       max(12, 12) = 12     12
=====  ==========  ======  ========  =====  ===============  ===================  ===========================

2010 member months 12 + 8 + 12 + 4 + 12 = 48; Part D months 12 + 6 + 0 + 4 + 12 = 34.
F... has drug events but no beneficiary row (its cost shows under 'unknown').
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pyarrow as pa

from cms_assets.lib.terminology import REFERENCE_TABLES
from cms_assets.lib.warehouse.load import Warehouse
from cms_assets.lib.warehouse.schema import WAREHOUSE_TABLES

A = "AAAAAAAAAAAAAAAA"
B = "BBBBBBBBBBBBBBBB"
C = "CCCCCCCCCCCCCCCC"
D = "DDDDDDDDDDDDDDDD"
E = "EEEEEEEEEEEEEEEE"
F = "FFFFFFFFFFFFFFFF"

_NO_CONDITIONS = {
    f"SP_{c}": 2
    for c in ("ALZHDMTA", "CHF", "CHRNKIDN", "CNCR", "COPD", "DEPRESSN", "DIABETES", "ISCHMCHT", "OSTEOPRS")
} | {"SP_RA_OA": 2, "SP_STRKETIA": 2}


def _bene(id_: str, year: int, birth: str, sex: int, race: int, state: str, hi: int, smi: int, plan: str,
          ip: int, op: int, car: int, death: str | None = None, **flags: int) -> dict[str, Any]:  # fmt: skip
    return {
        "DESYNPUF_ID": id_, "YEAR": year, "BENE_BIRTH_DT": birth, "BENE_DEATH_DT": death,
        "BENE_SEX_IDENT_CD": sex, "BENE_RACE_CD": race, "BENE_ESRD_IND": "0", "SP_STATE_CODE": state,
        "BENE_COUNTY_CD": "090", "BENE_HI_CVRAGE_TOT_MONS": hi, "BENE_SMI_CVRAGE_TOT_MONS": smi,
        "BENE_HMO_CVRAGE_TOT_MONS": 0, "PLAN_CVRG_MOS_NUM": plan, **_NO_CONDITIONS, **flags,
        "MEDREIMB_IP": ip, "BENRES_IP": 0, "PPPYMT_IP": 0, "MEDREIMB_OP": op, "BENRES_OP": 0, "PPPYMT_OP": 0,
        "MEDREIMB_CAR": car, "BENRES_CAR": 0, "PPPYMT_CAR": 0,
    }  # fmt: skip


# 2010 Part A/B payments (MEDREIMB_*):   IP                          OP                 CAR
#   A 9000 / 300 / 600; B 5000 / 0 / 400; C 0 / 500 / 100; D 12000 / 0 / 0; E 7000 / 200 / 300
#   IP 33000 -> PMPM 33000 / 48 = 687.50; OP 1000 -> 20.8333; CAR 1400 -> 29.1667.
#   State 03 (A, C, E): IP 16000 over 12 + 12 + 12 = 36 months -> 444.44.  Age 65-74 (A, E): 16000 / 24 = 666.67.
# Chronic conditions 2010 (1 yes, 2 no): heart failure A, D -> 2 of 5 = 0.4; diabetes A, B -> 0.4.
#   Totals: A 9900, B 5400, C 600, D 12000, E 7500.  CHF with (A + D) 21900 / 2 = 10950; without 13500 / 3 = 4500.
BENEFICIARY_SUMMARY = [
    _bene(A, 2009, "1940-03-01", 1, 1, "03", 12, 12, "12", 3000, 100, 200, SP_CHF=1, SP_DIABETES=1),
    _bene(A, 2010, "1940-03-01", 1, 1, "03", 12, 12, "12", 9000, 300, 600, SP_CHF=1, SP_DIABETES=1),
    _bene(B, 2010, "1930-01-01", 2, 2, "05", 6, 8, "06", 5000, 0, 400, SP_DIABETES=1),
    _bene(C, 2010, "1950-07-01", 1, 3, "03", 12, 0, "00", 0, 500, 100),
    _bene(D, 2010, "1920-02-01", 2, 5, "05", 4, 4, "04", 12000, 0, 0, death="2010-04-10", SP_CHF=1),
    _bene(E, 2010, "1945-01-01", 2, 1, "03", 12, 12, "12", 7000, 200, 300),
]


def _ip(id_: str, clm: str, adm: str, frm: str, thru: str, dis: str | None, paid: int, drg: str,
        *dx: str) -> dict[str, Any]:  # fmt: skip
    row = {
        "DESYNPUF_ID": id_, "CLM_ID": clm, "SEGMENT": 1, "CLM_FROM_DT": frm, "CLM_THRU_DT": thru,
        "PRVDR_NUM": "0500AA", "CLM_PMT_AMT": paid, "NCH_PRMRY_PYR_CLM_PD_AMT": 0, "CLM_ADMSN_DT": adm,
        "NCH_BENE_DSCHRG_DT": dis, "CLM_DRG_CD": drg, "CLM_UTLZTN_DAY_CNT": 1,
    }  # fmt: skip
    return row | {f"ICD9_DGNS_CD_{i}": code for i, code in enumerate(dx, start=1)}


# Stays after merging (int_inpatient_stays); length of stay = discharge - admission in days:
#   A 2009-06-01..06-03  2 days, DRG 392, paid 3000 (2009; next admission 2010-01-05 is > 30 days later)
#   A 2010-01-05..01-15 10 days: claim 101 (01-05..01-10, DRG 291) and claim 102, a TRANSFER admitted on 01-10, the
#     discharge day (DRG 292 of the admission discharged last); paid 4000 + 2000 = 6000. One stay, no readmission.
#   A 2010-02-01..02-08  7 days: interim claims 103 (no discharge date) and 104 share the admission date; DRG 194 of
#     the claim with the latest thru date; paid 1000 + 500. Admitted 17 days after 01-15: a READMISSION.
#   B 2010-03-01..03-04  3 days, DRG 470: index stay, not readmitted.
#   D 2010-04-01..04-10  9 days, DRG 871: D died 2010-04-10 -> excluded as IN-HOSPITAL DEATH.
#   E 2010-12-01..12-05  4 days, DRG 065: discharged after 2010-12-01 (2010-12-31 - 30) -> WINDOW NOT OBSERVED.
# 2010: 5 admissions, 10 + 7 + 3 + 9 + 4 = 33 days, ALOS 6.6, 5 x 12000 / 48 = 1250 admissions per 1,000.
# Readmissions: index stays A2009, A-Jan, A-Feb, B -> 4, readmitted A-Jan -> 1, rate 0.25 (2010: 1 / 3).
INPATIENT_CLAIMS = [
    _ip(A, "100", "2009-06-01", "2009-06-01", "2009-06-03", "2009-06-03", 3000, "392", "4280"),
    _ip(A, "101", "2010-01-05", "2010-01-05", "2010-01-10", "2010-01-10", 4000, "291", "4280", "4019"),
    _ip(A, "102", "2010-01-10", "2010-01-10", "2010-01-15", "2010-01-15", 2000, "292", "4019"),
    _ip(A, "103", "2010-02-01", "2010-02-01", "2010-02-05", None, 1000, "193", "4280"),
    _ip(A, "104", "2010-02-01", "2010-02-06", "2010-02-08", "2010-02-08", 500, "194", "4280"),
    _ip(B, "105", "2010-03-01", "2010-03-01", "2010-03-04", "2010-03-04", 5000, "470", "71536"),
    _ip(D, "106", "2010-04-01", "2010-04-01", "2010-04-10", "2010-04-10", 12000, "871", "0389"),
    _ip(E, "107", "2010-12-01", "2010-12-01", "2010-12-05", "2010-12-05", 7000, "065", "486"),
]


def _op(id_: str, clm: str, date: str, paid: int, dx: str, hcpcs: dict[int, str]) -> dict[str, Any]:
    row = {
        "DESYNPUF_ID": id_, "CLM_ID": clm, "SEGMENT": 1, "CLM_FROM_DT": date, "CLM_THRU_DT": date,
        "PRVDR_NUM": "0500BB", "CLM_PMT_AMT": paid, "NCH_PRMRY_PYR_CLM_PD_AMT": 0, "ICD9_DGNS_CD_1": dx,
    }  # fmt: skip
    return row | {f"HCPCS_CD_{i}": code for i, code in hcpcs.items()}


# 2010: 3 outpatient visits -> 3 x 12000 / 48 = 750 per 1,000. ED codes: C on 06-01 (99283, facility only) and
# A on 07-01 (99284 in HCPCS_CD_3; A also has a physician ED claim that day -> one visit found via both).
OUTPATIENT_CLAIMS = [
    _op(C, "200", "2010-06-01", 300, "4019", {1: "99283", 2: "36415"}),
    _op(A, "201", "2010-07-01", 200, "25000", {1: "36415", 2: "85025", 3: "99284"}),
    _op(E, "202", "2010-08-01", 150, "4019", {1: "97110"}),
]


def _car(id_: str, clm: str, date: str, dx: list[str], lines: list[tuple[str, int, str]]) -> dict[str, Any]:
    row: dict[str, Any] = {"DESYNPUF_ID": id_, "CLM_ID": clm, "CLM_FROM_DT": date, "CLM_THRU_DT": date}
    row |= {f"ICD9_DGNS_CD_{i}": code for i, code in enumerate(dx, start=1)}
    for n in range(1, 14):  # unused amount slots are 0.00 in the published files, code slots empty
        row |= {f"{block}{n}": 0 for block in ("LINE_NCH_PMT_AMT_", "LINE_BENE_PTB_DDCTBL_AMT_",
                "LINE_BENE_PRMRY_PYR_PD_AMT_", "LINE_COINSRNC_AMT_", "LINE_ALOWD_CHRG_AMT_")}  # fmt: skip
    for n, (hcpcs, paid, line_dx) in enumerate(lines, start=1):
        row |= {f"HCPCS_CD_{n}": hcpcs, f"LINE_NCH_PMT_AMT_{n}": paid, f"LINE_ICD9_DGNS_CD_{n}": line_dx}
    return row


# Carrier 2010, after removing the repeated (B, 301) row: 3 claims -> 750 per 1,000.
# ED visits 2010: C 06-01 (outpatient only), A 07-01 (both), B 09-15 (99285 on a carrier line only) -> 3 visits,
#   3 x 12000 / 48 = 750 per 1,000; state 03 (A, C): 2 x 12000 / 36 = 666.67; state 05 (B): 1 x 12000 / 12 = 1000.
# HCPCS 2010 by line payment: 99285 150 (not 300: the repeated row is dropped), 99284 120, 99213 60, 82947 10,
#   36415 5.
CARRIER_CLAIMS = [
    _car(A, "300", "2010-07-01", ["25000"], [("99284", 120, "25000"), ("82947", 10, "25000")]),
    _car(B, "301", "2010-09-15", ["78650"], [("99285", 150, "78650")]),
    _car(B, "301", "2010-09-15", ["78650"], [("99285", 150, "78650")]),  # repeated pair, as CMS's files have
    _car(E, "302", "2010-03-10", ["4019", "25000"], [("99213", 60, "4019"), ("36415", 5, "4019")]),
]

# Diagnoses 2010 with attributed amounts (principal IP/OP dx: CLM_PMT_AMT; carrier line dx: line payment):
#   0389 12000 (D), 486 7000 (E), 4280 4000 + 1000 + 500 = 5500, 71536 5000,
#   4019 2000 (claim 102) + 300 (200) + 150 (202) + 60 + 5 (302's lines) = 2515 in 5 events,
#   25000 200 + 120 + 10 = 330, 78650 150.  Total 32495 = IP 31500 + OP 650 + carrier lines 345.
#   CCS 98 Essential hypertension: 4019 only -> 2515.  CCS 108 (4280) 5500.


def _pde(id_: str, pde: str, date: str, ndc: str, cost: int) -> dict[str, Any]:
    return {
        "DESYNPUF_ID": id_, "PDE_ID": pde, "SRVC_DT": date, "PROD_SRVC_ID": ndc, "QTY_DSPNSD_NUM": "30.000",
        "DAYS_SUPLY_NUM": 30, "PTNT_PAY_AMT": 0, "TOT_RX_CST_AMT": cost,
    }  # fmt: skip


# Part D 2010: 100 + 50 + 40 + 80 + 30 = 300 over 34 Part D months = 8.8235 PMPM (F's 30 under 'unknown');
# 5 fills -> 5 x 12000 / 34 = 1764.71 per 1,000. NDC 00093515601 140 (2 fills), 00378018001 130, 00591054401 30.
PRESCRIPTION_DRUG_EVENTS = [
    _pde(A, "900", "2009-05-01", "00093515601", 20),
    _pde(A, "901", "2010-02-15", "00093515601", 100),
    _pde(A, "902", "2010-03-15", "00378018001", 50),
    _pde(B, "903", "2010-04-15", "00093515601", 40),
    _pde(E, "904", "2010-05-15", "00378018001", 80),
    _pde(F, "905", "2010-06-15", "00591054401", 30),
]

# Holdout (2009 features -> 2010 known): A scored high cost, next-year cost 10000.
# Current (2010 features): A high cost (8000 predicted), C not (1000): state 03 -> 2 scored, 1 high cost.
BENEFICIARY_FEATURES = [
    {"DESYNPUF_ID": A, "YEAR": 2009, "STATE": 3, "NEXT_YEAR_COST": 10000.0},
    {"DESYNPUF_ID": A, "YEAR": 2010, "STATE": 3, "NEXT_YEAR_COST": None},
    {"DESYNPUF_ID": C, "YEAR": 2010, "STATE": 3, "NEXT_YEAR_COST": None},
]
COST_PREDICTIONS = [
    {"DESYNPUF_ID": A, "YEAR": 2009, "PREDICTED_NEXT_YEAR_COST": 9000.0, "PREDICTED_PERCENTILE": 100.0,
     "HIGH_COST": 1, "MODEL_VERSION": "v2", "SCOPE": "holdout"},
    {"DESYNPUF_ID": A, "YEAR": 2010, "PREDICTED_NEXT_YEAR_COST": 8000.0, "PREDICTED_PERCENTILE": 100.0,
     "HIGH_COST": 1, "MODEL_VERSION": "v2", "SCOPE": "current"},
    {"DESYNPUF_ID": C, "YEAR": 2010, "PREDICTED_NEXT_YEAR_COST": 1000.0, "PREDICTED_PERCENTILE": 50.0,
     "HIGH_COST": 0, "MODEL_VERSION": "v2", "SCOPE": "current"},
]  # fmt: skip
_V1 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
_V2 = dt.datetime(2024, 2, 1, tzinfo=dt.UTC)
# The latest version (v2, trained last) has 2 metrics.
MODEL_METRICS = [
    {"MODEL_VERSION": "v1", "MODEL_NAME": "gbt_log", "SPLIT": "temporal", "METRIC": "r2", "VALUE": 0.05,
     "SELECTED": True, "TRAINED_AT": _V1},
    {"MODEL_VERSION": "v2", "MODEL_NAME": "gbt_log", "SPLIT": "temporal", "METRIC": "r2", "VALUE": 0.1,
     "SELECTED": True, "TRAINED_AT": _V2},
    {"MODEL_VERSION": "v2", "MODEL_NAME": "gbt_log", "SPLIT": "temporal", "METRIC": "rmse", "VALUE": 5000.0,
     "SELECTED": True, "TRAINED_AT": _V2},
]  # fmt: skip

PER_SAMPLE = {
    "beneficiary_summary": BENEFICIARY_SUMMARY,
    "inpatient_claims": INPATIENT_CLAIMS,
    "outpatient_claims": OUTPATIENT_CLAIMS,
    "carrier_claims": CARRIER_CLAIMS,
    "prescription_drug_events": PRESCRIPTION_DRUG_EVENTS,
    "beneficiary_features": BENEFICIARY_FEATURES,
    "cost_predictions": COST_PREDICTIONS,
}


def arrow_rows(table: str, rows: list[dict[str, Any]], sample: int = 1) -> pa.Table:
    """The rows as an Arrow table of the warehouse schema: dates from ISO text, money as Decimal, the rest null."""
    schema = WAREHOUSE_TABLES[table].arrow_schema
    out = []
    for row in rows:
        typed: dict[str, Any] = {}
        for field in schema:
            value = row.get(field.name, sample if field.name == "sample" else None)
            if value is not None and pa.types.is_date(field.type):
                value = dt.date.fromisoformat(value)
            elif value is not None and pa.types.is_decimal(field.type):
                value = Decimal(str(value))
            typed[field.name] = value
        out.append(typed)
    return pa.Table.from_pylist(out, schema=schema)


def build_warehouse(url: str, schema: str = "cms") -> None:
    """Create the warehouse at ``url`` and load the hand-made rows and the real terminology tables."""
    wh = Warehouse.from_url(url, schema=schema)
    try:
        wh.ensure_schema()
        for table, rows in PER_SAMPLE.items():
            wh.replace_rows(table, {"sample": 1}, arrow_rows(table, rows))
        wh.replace_table("model_metrics", arrow_rows("model_metrics", MODEL_METRICS))
        for name, reference in REFERENCE_TABLES.items():
            wh.replace_table(name, reference.read())
    finally:
        wh.close()
