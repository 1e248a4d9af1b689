"""Column descriptions from the CMS DE-SynPUF Codebook (Feb 2013), for the catalog and the warehouse.

Numbered columns (ICD9_DGNS_CD_3, LINE_NCH_PMT_AMT_7) share one description with their number appended, so the
descriptions are written once per column family. Columns this project adds (``YEAR``, ``sample``, ``SEGMENT``'s
meaning in our tables) are described as ours.
"""

from __future__ import annotations

import re

_CONDITIONS = {
    "SP_ALZHDMTA": "Alzheimer's disease or related disorders or senile dementia",
    "SP_CHF": "heart failure",
    "SP_CHRNKIDN": "chronic kidney disease",
    "SP_CNCR": "cancer",
    "SP_COPD": "chronic obstructive pulmonary disease",
    "SP_DEPRESSN": "depression",
    "SP_DIABETES": "diabetes",
    "SP_ISCHMCHT": "ischemic heart disease",
    "SP_OSTEOPRS": "osteoporosis",
    "SP_RA_OA": "rheumatoid arthritis or osteoarthritis",
    "SP_STRKETIA": "stroke or transient ischemic attack",
}
_SETTINGS = {"IP": "inpatient", "OP": "outpatient", "CAR": "carrier"}

#: Column (or column family, without its _n suffix) -> description.
DESCRIPTIONS: dict[str, str] = {
    "DESYNPUF_ID": "Beneficiary code (synthetic identifier; joins every table)",
    "BENE_BIRTH_DT": "Date of birth",
    "BENE_DEATH_DT": "Date of death (empty if alive at the end of the year)",
    "BENE_SEX_IDENT_CD": "Sex: 1 male, 2 female",
    "BENE_RACE_CD": "Beneficiary race code: 1 white, 2 black, 3 others, 5 Hispanic",
    "BENE_ESRD_IND": "End stage renal disease indicator: Y yes, 0 no",
    "SP_STATE_CODE": "State code (SSA, two digits as text, 01-54)",
    "BENE_COUNTY_CD": "County code (SSA, three digits as text)",
    "BENE_HI_CVRAGE_TOT_MONS": "Total number of months of Part A (hospital insurance) coverage in the year",
    "BENE_SMI_CVRAGE_TOT_MONS": "Total number of months of Part B (supplementary medical insurance) coverage",
    "BENE_HMO_CVRAGE_TOT_MONS": "Total number of months of HMO coverage in the year",
    "PLAN_CVRG_MOS_NUM": "Total number of months of Part D plan coverage in the year (two digits as text)",
    **{c: f"Chronic condition: {label} (1 yes, 2 no)" for c, label in _CONDITIONS.items()},
    **{f"MEDREIMB_{s}": f"Annual Medicare {label} reimbursement amount" for s, label in _SETTINGS.items()},
    **{f"BENRES_{s}": f"Annual beneficiary responsibility amount, {label}" for s, label in _SETTINGS.items()},
    **{f"PPPYMT_{s}": f"Annual primary payer reimbursement amount, {label}" for s, label in _SETTINGS.items()},
    "YEAR": "Calendar year of the beneficiary summary file (added by cms_assets)",
    "sample": "CMS DE-SynPUF sample number, 1-20 (added by cms_assets)",
    "CLM_ID": "Claim ID",
    "SEGMENT": "Claim line segment (a claim may span segments 1 and 2)",
    "CLM_FROM_DT": "Claim start date",
    "CLM_THRU_DT": "Claim end date",
    "PRVDR_NUM": "Provider institution number",
    "CLM_PMT_AMT": "Claim payment amount (Medicare)",
    "NCH_PRMRY_PYR_CLM_PD_AMT": "NCH primary payer claim paid amount",
    "AT_PHYSN_NPI": "Attending physician NPI",
    "OP_PHYSN_NPI": "Operating physician NPI",
    "OT_PHYSN_NPI": "Other physician NPI",
    "CLM_ADMSN_DT": "Inpatient admission date",
    "ADMTNG_ICD9_DGNS_CD": "Claim admitting diagnosis code (ICD-9)",
    "CLM_PASS_THRU_PER_DIEM_AMT": "Claim pass thru per diem amount",
    "NCH_BENE_IP_DDCTBL_AMT": "NCH beneficiary inpatient deductible amount",
    "NCH_BENE_PTA_COINSRNC_LBLTY_AM": "NCH beneficiary Part A coinsurance liability amount",
    "NCH_BENE_BLOOD_DDCTBL_LBLTY_AM": "NCH beneficiary blood deductible liability amount",
    "CLM_UTLZTN_DAY_CNT": "Claim utilization day count",
    "NCH_BENE_DSCHRG_DT": "Inpatient discharge date (empty on interim claims)",
    "CLM_DRG_CD": "Claim diagnosis related group code (three characters as text)",
    "ICD9_DGNS_CD": "Claim diagnosis code (ICD-9)",
    "ICD9_PRCDR_CD": "Claim procedure code (ICD-9)",
    "HCPCS_CD": "Revenue center HCFA common procedure coding system code",
    "NCH_BENE_PTB_DDCTBL_AMT": "NCH beneficiary Part B deductible amount",
    "NCH_BENE_PTB_COINSRNC_AMT": "NCH beneficiary Part B coinsurance amount",
    "PRF_PHYSN_NPI": "Line: provider physician NPI",
    "TAX_NUM": "Line: provider institution tax number",
    "LINE_NCH_PMT_AMT": "Line: NCH payment amount",
    "LINE_BENE_PTB_DDCTBL_AMT": "Line: beneficiary Part B deductible amount",
    "LINE_BENE_PRMRY_PYR_PD_AMT": "Line: beneficiary primary payer paid amount",
    "LINE_COINSRNC_AMT": "Line: coinsurance amount",
    "LINE_ALOWD_CHRG_AMT": "Line: allowed charge amount",
    "LINE_PRCSG_IND_CD": "Line: processing indicator code",
    "LINE_ICD9_DGNS_CD": "Line: diagnosis code (ICD-9)",
    "PDE_ID": "CCW Part D event number",
    "SRVC_DT": "RX service date",
    "PROD_SRVC_ID": "Product service ID (11-digit NDC as text)",
    "QTY_DSPNSD_NUM": "Quantity dispensed",
    "DAYS_SUPLY_NUM": "Days supply",
    "PTNT_PAY_AMT": "Patient pay amount",
    "TOT_RX_CST_AMT": "Gross drug cost",
}

_NUMBERED = re.compile(r"(?P<family>.+)_(?P<n>\d+)$")


def describe(column: str) -> str:
    """The codebook description of ``column``; numbered columns get their family's with the number."""
    if column in DESCRIPTIONS:
        return DESCRIPTIONS[column]
    match = _NUMBERED.match(column)
    if match and match["family"] in DESCRIPTIONS:
        return f"{DESCRIPTIONS[match['family']]} #{match['n']}"
    raise KeyError(f"no codebook description for column {column!r}")
