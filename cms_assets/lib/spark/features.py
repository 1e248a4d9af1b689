"""The beneficiary-year feature table: one row per DESYNPUF_ID and YEAR of the beneficiary file, with the
next-year cost label. DataFrame API only, nothing collected to the driver, so it runs the same in local mode, on
Spark Connect and on EMR.

Decisions (the column meanings are in :data:`cms_assets.lib.ml.schemas.FEATURE_DOCS`):
- A claim's year is the year of CLM_THRU_DT (PDE: SRVC_DT). Inpatient/outpatient second-segment rows have empty
  dates, so those tables are first reduced to one row per claim (dates max'ed over segments, payments summed).
- Diagnoses: IP/OP ICD9_DGNS_CD_1..10, carrier ICD9_DGNS_CD_1..8 *and* LINE_ICD9_DGNS_CD_1..13 (line codes are
  diagnoses too; counting distinct codes keeps repeats of the claim-level codes from inflating anything).
  Admitting diagnoses are left out (they restate a listed code or a reason for admission, not a condition).
  Only values shaped like ICD-9 codes count (NNN[NN], VNN[NN], ENNN[N]); placeholders such as "OTHER" do not.
  Group counts are distinct codes per group; E codes count in DISTINCT_DIAGNOSES but in no group.
- Beneficiary-years without claims get zeros; the label is null when the beneficiary is absent next year.
- Codes stay text in the tables ("03", "00"); STATE is the SSA code as a number (3 for "03"), still a categorical
  for the model (one-hot, never ordered), and PLAN_MONTHS is PLAN_CVRG_MOS_NUM as a number of months.
- Carrier duplicates: CMS's carrier files repeat some (DESYNPUF_ID, CLM_ID) pairs. A claim counts once: of the
  rows sharing a pair, one is kept, the one with the largest line payment total, then the latest CLM_THRU_DT, then
  the smallest first-line HCPCS, so the choice does not depend on file order (repeats in the published files and
  in the generator are identical rows, for which every rule gives the same result).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import CHRONIC_FEATURES, DIAGNOSIS_GROUPS, FEATURE_DOCS
from cms_assets.lib.synpuf.columns import CARRIER_LINES
from cms_assets.lib.synpuf.tables import TABLES, Kind

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

BENEFICIARY = TABLES[Kind.BENEFICIARY].name
INPATIENT = TABLES[Kind.INPATIENT].name
OUTPATIENT = TABLES[Kind.OUTPATIENT].name
CARRIER = TABLES[Kind.CARRIER].name
PDE = TABLES[Kind.PDE].name

ID = "DESYNPUF_ID"
ICD9_PATTERN = r"^([0-9]{3,5}|V[0-9]{2,4}|E[0-9]{3,4})$"
CLAIM_DX = [f"ICD9_DGNS_CD_{i}" for i in range(1, 11)]
CARRIER_DX = [f"ICD9_DGNS_CD_{i}" for i in range(1, 9)] + [
    f"LINE_ICD9_DGNS_CD_{i}" for i in range(1, CARRIER_LINES + 1)
]
CARRIER_NPI = [f"PRF_PHYSN_NPI_{i}" for i in range(1, CARRIER_LINES + 1)]
CARRIER_PAY = [f"LINE_NCH_PMT_AMT_{i}" for i in range(1, CARRIER_LINES + 1)]

_SPARK_TYPES = {pa.int8(): "tinyint", pa.int16(): "smallint", pa.int32(): "int", pa.float64(): "double"}
#: Claim-derived columns: zero, not null, for beneficiary-years without claims.
CLAIM_COLUMNS = [
    "IP_PAYMENT", "OP_PAYMENT", "CAR_PAYMENT", "PDE_COST", "IP_CLAIMS", "OP_CLAIMS", "CAR_CLAIMS",
    "IP_STAYS", "IP_DAYS", "PDE_FILLS", "PDE_DAYS_SUPPLY",
]  # fmt: skip


def read_tables(spark: SparkSession, tables_root: str, sample: int) -> dict[str, DataFrame]:
    """The five tables of one sample, keyed by table name (the EMR entry's reader; in Dagster the Spark IO
    manager reads them).

    Each sample directory (``<root>/<table>/sample=NN``) is read directly, so Spark discovers no partition column
    and the ``sample`` column stored in the file is the only one.
    """
    root = tables_root.rstrip("/")
    out: dict[str, DataFrame] = {}
    for spec in TABLES.values():
        path = f"{root}/{spec.name}/{layout.sample_dir(sample)}"
        local = path.removeprefix("file://")
        if "://" not in local and not os.path.isdir(local):
            raise FileNotFoundError(f"table {spec.name} of sample {sample} not found: {path} is not a directory")
        out[spec.name] = spark.read.parquet(path)
    return require_columns(out)


def require_columns(tables: dict[str, DataFrame]) -> dict[str, DataFrame]:
    """``tables`` unchanged, after checking each holds its table's columns (a clear error naming the table)."""
    for spec in TABLES.values():
        df = tables[spec.name]
        missing = [n for n in spec.schema.names if n not in df.columns]
        if missing:
            files = df.inputFiles()
            where = f" ({files[0]}{' ...' if len(files) > 1 else ''})" if files else ""
            raise ValueError(f"table {spec.name}{where}: lacks columns {missing}")
    return tables


def _codes(columns: list[str]) -> Column:
    """Distinct ICD-9-shaped codes among the given columns of one row."""
    from pyspark.sql import functions as F

    return F.array_distinct(F.filter(F.array(*[F.col(c) for c in columns]), lambda x: x.rlike(ICD9_PATTERN)))


def _present(columns: list[str]) -> Column:
    """Distinct non-empty values among the given columns of one row."""
    from pyspark.sql import functions as F

    return F.array_distinct(F.filter(F.array(*[F.col(c) for c in columns]), lambda x: x.isNotNull() & (x != "")))


def _merge(column: str) -> Column:
    """Distinct union of the arrays in ``column`` over a group."""
    from pyspark.sql import functions as F

    return F.array_distinct(F.flatten(F.collect_list(column))).alias(column)


def _year(column: str) -> Column:
    from pyspark.sql import functions as F

    return F.year(column).cast("smallint").alias("YEAR")


def _hospital(df: DataFrame, prefix: str) -> DataFrame:
    """Inpatient or outpatient claims per beneficiary-year, after folding each claim's segments into one row."""
    from pyspark.sql import functions as F

    inpatient = prefix == "IP"
    claims = df.groupBy(ID, "CLM_ID").agg(
        F.max("CLM_THRU_DT").alias("thru"),
        F.sum("CLM_PMT_AMT").alias("pay"),
        F.flatten(F.collect_list(_codes(CLAIM_DX))).alias("dx"),
        F.flatten(F.collect_list(_present(["PRVDR_NUM"]))).alias("prov"),
        *([F.max("CLM_ADMSN_DT").alias("adm"), F.sum("CLM_UTLZTN_DAY_CNT").alias("days")] if inpatient else []),
    )
    extra = (
        [F.size(F.array_distinct(F.collect_list("adm"))).alias("IP_STAYS"), F.sum("days").alias("IP_DAYS")]
        if inpatient
        else []
    )
    return (
        claims.where(F.col("thru").isNotNull())
        .groupBy(ID, _year("thru"))
        .agg(
            F.sum("pay").alias(f"{prefix}_PAYMENT"),
            F.count(F.lit(1)).alias(f"{prefix}_CLAIMS"),
            *extra,
            _merge("dx"),
            _merge("prov"),
        )
    )


def one_row_per_claim(df: DataFrame, pay: Column) -> DataFrame:
    """Carrier rows with one row per (DESYNPUF_ID, CLM_ID), chosen as the module docstring says; adds ``pay``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    order = Window.partitionBy(ID, "CLM_ID").orderBy(
        F.col("pay").desc_nulls_last(), F.col("CLM_THRU_DT").desc_nulls_last(), F.col("HCPCS_CD_1").asc_nulls_last()
    )
    ranked = df.withColumn("pay", pay).withColumn("_rank", F.row_number().over(order))
    return ranked.where(F.col("_rank") == 1).drop("_rank")


def _carrier(df: DataFrame) -> DataFrame:
    """Carrier claims per beneficiary-year, each claim once (see :func:`one_row_per_claim`)."""
    from pyspark.sql import functions as F

    line_total = sum(
        (F.coalesce(F.col(c), F.lit(0)) for c in CARRIER_PAY[1:]), F.coalesce(F.col(CARRIER_PAY[0]), F.lit(0))
    )
    # The 21 diagnosis and 13 NPI columns are folded into two arrays (and the 13 payments into their total) before
    # the de-duplicating shuffle, so it moves 7 columns per row instead of 39; they are computed per row either way.
    slim = df.select(
        ID, "CLM_ID", "CLM_THRU_DT", "HCPCS_CD_1", line_total.alias("pay"), _codes(CARRIER_DX).alias("dx"),
        _present(CARRIER_NPI).alias("prov"),
    )  # fmt: skip
    return (
        one_row_per_claim(slim, F.col("pay"))
        .where(F.col("CLM_THRU_DT").isNotNull())
        .select(ID, _year("CLM_THRU_DT"), "pay", "dx", "prov")
        .groupBy(ID, "YEAR")
        .agg(F.sum("pay").alias("CAR_PAYMENT"), F.count(F.lit(1)).alias("CAR_CLAIMS"), _merge("dx"), _merge("prov"))
    )


def _pde(df: DataFrame) -> DataFrame:
    from pyspark.sql import functions as F

    return (
        df.where(F.col("SRVC_DT").isNotNull())
        .groupBy(ID, _year("SRVC_DT"))
        .agg(
            F.sum("TOT_RX_CST_AMT").alias("PDE_COST"),
            F.count(F.lit(1)).alias("PDE_FILLS"),
            F.sum("DAYS_SUPLY_NUM").alias("PDE_DAYS_SUPPLY"),
        )
    )


def _group_predicate(rule: str) -> Callable[[Column], Column]:
    """Predicate over a dot-less ICD-9 code for a DIAGNOSIS_GROUPS rule: "lo-hi" (3-digit prefix) or a letter."""
    if "-" in rule:
        lo, hi = (int(x) for x in rule.split("-"))
        return lambda x: x.rlike("^[0-9]") & x.substr(1, 3).cast("int").between(lo, hi)
    return lambda x: x.startswith(rule)


def _claims(tables: dict[str, DataFrame]) -> DataFrame:
    """All claim aggregates per beneficiary-year: one union and one group-by instead of four joins."""
    from pyspark.sql import functions as F

    parts = [
        _hospital(tables[INPATIENT], "IP"),
        _hospital(tables[OUTPATIENT], "OP"),
        _carrier(tables[CARRIER]),
        _pde(tables[PDE]),
    ]
    union = parts[0]
    for part in parts[1:]:
        union = union.unionByName(part, allowMissingColumns=True)
    return union.groupBy(ID, "YEAR").agg(*[F.sum(c).alias(c) for c in CLAIM_COLUMNS], _merge("dx"), _merge("prov"))


def build_features(tables: dict[str, DataFrame]) -> DataFrame:
    """Beneficiary-year features with exactly the columns and types of FEATURE_SCHEMA (lazy; nothing collected)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    bene = tables[BENEFICIARY]
    joined = bene.join(_claims(tables), [ID, "YEAR"], "left")
    birth = F.col("BENE_BIRTH_DT")
    flag = {cc: F.when(F.col(f"SP_{cc[3:]}") == 1, 1).otherwise(0) for cc in CHRONIC_FEATURES}
    empty = F.array().cast("array<string>")
    dx = F.coalesce(F.col("dx"), empty)
    money = [
        F.coalesce(F.col(c), F.lit(0)).cast("double") for c in ("IP_PAYMENT", "OP_PAYMENT", "CAR_PAYMENT", "PDE_COST")
    ]
    values: dict[str, Column] = {
        ID: F.col(ID),
        "YEAR": F.col("YEAR"),
        "sample": F.col("sample"),
        "AGE": F.col("YEAR") - F.year(birth) - F.when((F.month(birth) > 1) | (F.dayofmonth(birth) > 1), 1).otherwise(0),
        "SEX": F.col("BENE_SEX_IDENT_CD"),
        "RACE": F.col("BENE_RACE_CD"),
        "STATE": F.col("SP_STATE_CODE").cast("tinyint"),
        "ESRD": F.when(F.col("BENE_ESRD_IND") == "Y", 1).otherwise(0),
        **flag,
        "CC_COUNT": sum(flag.values(), F.lit(0)),
        "HI_MONTHS": F.col("BENE_HI_CVRAGE_TOT_MONS"),
        "SMI_MONTHS": F.col("BENE_SMI_CVRAGE_TOT_MONS"),
        "HMO_MONTHS": F.col("BENE_HMO_CVRAGE_TOT_MONS"),
        "PLAN_MONTHS": F.col("PLAN_CVRG_MOS_NUM").cast("tinyint"),
        "DIED_IN_YEAR": F.when(F.year("BENE_DEATH_DT") == F.col("YEAR"), 1).otherwise(0),
        **{c: F.coalesce(F.col(c), F.lit(0)) for c in CLAIM_COLUMNS},
        **dict(zip(("IP_PAYMENT", "OP_PAYMENT", "CAR_PAYMENT", "PDE_COST"), money, strict=True)),
        "TOTAL_PAYMENT": money[0] + money[1] + money[2] + money[3],
        "DISTINCT_DIAGNOSES": F.size(dx),
        **{g: F.size(F.filter(dx, _group_predicate(rule))) for g, _, rule in DIAGNOSIS_GROUPS},
        "DISTINCT_PROVIDERS": F.size(F.coalesce(F.col("prov"), empty)),
    }
    typed = [
        values[name].cast(_SPARK_TYPES.get(dtype, "string")).alias(name)
        for name, (dtype, _) in FEATURE_DOCS.items()
        if name != "NEXT_YEAR_COST"
    ]
    features = joined.select(*typed)
    following = Window.partitionBy(ID).orderBy("YEAR")
    present_next = F.lead("YEAR").over(following) == F.col("YEAR") + 1
    label = F.when(present_next, F.lead("TOTAL_PAYMENT").over(following)).cast("double").alias("NEXT_YEAR_COST")
    return features.select("*", label)


def write_features(df: DataFrame, out_dir: str) -> int:
    """Write one sample's features as Parquet (replacing ``out_dir``); the row count is read back from the files."""
    df.repartition(1).write.mode("overwrite").parquet(out_dir)
    return df.sparkSession.read.parquet(out_dir).count()
