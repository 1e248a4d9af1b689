"""Exact DE-SynPUF column lists, in file order, and their Arrow types.

Source: the CMS DE-SynPUF Codebook (Feb 2013). Types follow three rules:
- identifiers and codes (DESYNPUF_ID, CLM_ID, NPIs, ICD-9, HCPCS, NDC, DRG, provider numbers, SSA state and county,
  PLAN_CVRG_MOS_NUM) are strings, so leading zeros ("03", "090", "00", "0611998537", "057", "0389",
  "00058251515") and alphanumeric codes ("V5869", "0506GC", "OTH") survive as the text users join on (SSA
  crosswalks, NDC and DRG lookups);
- dates (written YYYYMMDD) are ``date32``;
- flags and counts written unpadded (sex, race, SP_* 1/2, BENE_*_CVRAGE_TOT_MONS "12"/"0") are int8/int16;
- QTY_DSPNSD_NUM, written with three decimals ("120.000"), is ``decimal128(12, 3)``, exact like money;
- money is ``decimal128(12, 2)``: CMS writes amounts with two decimals ("3620.00", "-10.00"); a decimal keeps
  them exact through Parquet, Spark (DecimalType(12,2)), DuckDB and Redshift (DECIMAL(12,2)), so warehouse sums
  equal the beneficiary file's annual amounts to the cent, which a float cannot promise. Twelve digits hold
  amounts up to 9,999,999,999.99, far above any CMS value.
"""

from __future__ import annotations

import pyarrow as pa

MONEY = pa.decimal128(12, 2)
QUANTITY = pa.decimal128(12, 3)
DATE = pa.date32()
STR = pa.string()
I8 = pa.int8()
I16 = pa.int16()

#: The column every table adds to say which CMS sample a row came from (lower case: ours, not CMS's).
SAMPLE_COLUMN = "sample"
#: The column the beneficiary table adds for the file's year.
YEAR_COLUMN = "YEAR"


def _n(prefix: str, count: int) -> list[str]:
    return [f"{prefix}{i}" for i in range(1, count + 1)]


BENEFICIARY_TYPES: dict[str, pa.DataType] = {
    "DESYNPUF_ID": STR,
    "BENE_BIRTH_DT": DATE,
    "BENE_DEATH_DT": DATE,
    "BENE_SEX_IDENT_CD": I8,
    "BENE_RACE_CD": I8,
    "BENE_ESRD_IND": STR,
    "SP_STATE_CODE": STR,  # "01".."54"
    "BENE_COUNTY_CD": STR,  # "000".."999"
    "BENE_HI_CVRAGE_TOT_MONS": I8,
    "BENE_SMI_CVRAGE_TOT_MONS": I8,
    "BENE_HMO_CVRAGE_TOT_MONS": I8,
    "PLAN_CVRG_MOS_NUM": STR,  # "00".."12", padded unlike the three other coverage counts
    "SP_ALZHDMTA": I8,
    "SP_CHF": I8,
    "SP_CHRNKIDN": I8,
    "SP_CNCR": I8,
    "SP_COPD": I8,
    "SP_DEPRESSN": I8,
    "SP_DIABETES": I8,
    "SP_ISCHMCHT": I8,
    "SP_OSTEOPRS": I8,
    "SP_RA_OA": I8,
    "SP_STRKETIA": I8,
    "MEDREIMB_IP": MONEY,
    "BENRES_IP": MONEY,
    "PPPYMT_IP": MONEY,
    "MEDREIMB_OP": MONEY,
    "BENRES_OP": MONEY,
    "PPPYMT_OP": MONEY,
    "MEDREIMB_CAR": MONEY,
    "BENRES_CAR": MONEY,
    "PPPYMT_CAR": MONEY,
}

#: The eleven chronic-condition flags (1 = yes, 2 = no), in file order.
CHRONIC_CONDITIONS: list[str] = [c for c in BENEFICIARY_TYPES if c.startswith("SP_") and c != "SP_STATE_CODE"]

_CLAIM_HEAD: dict[str, pa.DataType] = {
    "DESYNPUF_ID": STR,
    "CLM_ID": STR,
    "SEGMENT": I8,
    "CLM_FROM_DT": DATE,
    "CLM_THRU_DT": DATE,
    "PRVDR_NUM": STR,
    "CLM_PMT_AMT": MONEY,
    "NCH_PRMRY_PYR_CLM_PD_AMT": MONEY,
    "AT_PHYSN_NPI": STR,
    "OP_PHYSN_NPI": STR,
    "OT_PHYSN_NPI": STR,
}

INPATIENT_TYPES: dict[str, pa.DataType] = {
    **_CLAIM_HEAD,
    "CLM_ADMSN_DT": DATE,
    "ADMTNG_ICD9_DGNS_CD": STR,
    "CLM_PASS_THRU_PER_DIEM_AMT": MONEY,
    "NCH_BENE_IP_DDCTBL_AMT": MONEY,
    "NCH_BENE_PTA_COINSRNC_LBLTY_AM": MONEY,
    "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": MONEY,
    "CLM_UTLZTN_DAY_CNT": I16,
    "NCH_BENE_DSCHRG_DT": DATE,
    "CLM_DRG_CD": STR,
    **{c: STR for c in _n("ICD9_DGNS_CD_", 10)},
    **{c: STR for c in _n("ICD9_PRCDR_CD_", 6)},
    **{c: STR for c in _n("HCPCS_CD_", 45)},
}

OUTPATIENT_TYPES: dict[str, pa.DataType] = {
    **_CLAIM_HEAD,
    "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": MONEY,
    **{c: STR for c in _n("ICD9_DGNS_CD_", 10)},
    **{c: STR for c in _n("ICD9_PRCDR_CD_", 6)},
    "NCH_BENE_PTB_DDCTBL_AMT": MONEY,
    "NCH_BENE_PTB_COINSRNC_AMT": MONEY,
    "ADMTNG_ICD9_DGNS_CD": STR,
    **{c: STR for c in _n("HCPCS_CD_", 45)},
}

#: Carrier line blocks: ten blocks of 13 line columns each, in file order.
CARRIER_LINE_BLOCKS: list[tuple[str, pa.DataType]] = [
    ("PRF_PHYSN_NPI_", STR),
    ("TAX_NUM_", STR),
    ("HCPCS_CD_", STR),
    ("LINE_NCH_PMT_AMT_", MONEY),
    ("LINE_BENE_PTB_DDCTBL_AMT_", MONEY),
    ("LINE_BENE_PRMRY_PYR_PD_AMT_", MONEY),
    ("LINE_COINSRNC_AMT_", MONEY),
    ("LINE_ALOWD_CHRG_AMT_", MONEY),
    ("LINE_PRCSG_IND_CD_", STR),
    ("LINE_ICD9_DGNS_CD_", STR),
]
CARRIER_LINES = 13

CARRIER_TYPES: dict[str, pa.DataType] = {
    "DESYNPUF_ID": STR,
    "CLM_ID": STR,
    "CLM_FROM_DT": DATE,
    "CLM_THRU_DT": DATE,
    **{c: STR for c in _n("ICD9_DGNS_CD_", 8)},
    **{c: t for prefix, t in CARRIER_LINE_BLOCKS for c in _n(prefix, CARRIER_LINES)},
}

PDE_TYPES: dict[str, pa.DataType] = {
    "DESYNPUF_ID": STR,
    "PDE_ID": STR,
    "SRVC_DT": DATE,
    "PROD_SRVC_ID": STR,
    # Written "120.000": fractional (2.5 ml) and exact to the thousandth, so a decimal, not a float.
    "QTY_DSPNSD_NUM": QUANTITY,
    "DAYS_SUPLY_NUM": I16,
    "PTNT_PAY_AMT": MONEY,
    "TOT_RX_CST_AMT": MONEY,
}

BENEFICIARY_COLUMNS = list(BENEFICIARY_TYPES)
INPATIENT_COLUMNS = list(INPATIENT_TYPES)
OUTPATIENT_COLUMNS = list(OUTPATIENT_TYPES)
CARRIER_COLUMNS = list(CARRIER_TYPES)
PDE_COLUMNS = list(PDE_TYPES)

assert len(BENEFICIARY_COLUMNS) == 32
assert len(INPATIENT_COLUMNS) == 81
assert len(OUTPATIENT_COLUMNS) == 76
assert len(CARRIER_COLUMNS) == 142
assert len(PDE_COLUMNS) == 8
