"""Benchmark: the beneficiary-year feature build on Spark local mode beside the same aggregation in DuckDB SQL over
the same Parquet, checked for agreement (row count and column sums), then the cost model's training time.

    .venv/bin/python benchmarks/features.py --tables-root DIR/tables --sample 1 [--no-train]

Figures are wall-clock seconds in this process on this machine; the ratio is Spark / DuckDB. DuckDB is the
baseline: a single-process engine reading the same files, the natural local alternative to Spark.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import DIAGNOSIS_GROUPS, FEATURE_DOCS
from cms_assets.lib.spark.features import (
    BENEFICIARY,
    CARRIER,
    CARRIER_DX,
    CARRIER_NPI,
    CARRIER_PAY,
    CLAIM_DX,
    ICD9_PATTERN,
    INPATIENT,
    OUTPATIENT,
    PDE,
)

CHECKED = [n for n, (t, _) in FEATURE_DOCS.items() if n not in ("DESYNPUF_ID",)]


def _group_sql(rule: str) -> str:
    if "-" in rule:
        lo, hi = rule.split("-")
        return f"regexp_matches(code, '^[0-9]') AND TRY_CAST(substr(code, 1, 3) AS INTEGER) BETWEEN {lo} AND {hi}"
    return f"starts_with(code, '{rule}')"


def duckdb_sql(tables_root: str, sample: int) -> str:
    """The feature table in DuckDB SQL, same definitions as :func:`cms_assets.lib.spark.features.build_features`."""

    def src(table: str) -> str:
        return f"read_parquet('{tables_root}/{table}/{layout.sample_dir(sample)}/*.parquet', hive_partitioning = false)"

    claim_dx = ", ".join(CLAIM_DX)
    car_dx = ", ".join(CARRIER_DX)
    car_pay = " + ".join(f"coalesce({c}, 0)" for c in CARRIER_PAY)
    groups = ",\n  ".join(
        f"count(DISTINCT code) FILTER (WHERE {_group_sql(rule)}) AS {g}" for g, _, rule in DIAGNOSIS_GROUPS
    )
    cc = [n for n in FEATURE_DOCS if n.startswith("CC_") and n != "CC_COUNT"]
    flags = ", ".join(f"CASE WHEN SP_{c[3:]} = 1 THEN 1 ELSE 0 END AS {c}" for c in cc)
    money = ["IP_PAYMENT", "OP_PAYMENT", "CAR_PAYMENT", "PDE_COST"]
    counts = ["IP_CLAIMS", "OP_CLAIMS", "CAR_CLAIMS", "IP_STAYS", "IP_DAYS", "PDE_FILLS", "PDE_DAYS_SUPPLY"]
    hospital = []
    for prefix, table in (("ip", INPATIENT), ("op", OUTPATIENT)):
        extra = ", max(CLM_ADMSN_DT) AS adm, sum(CLM_UTLZTN_DAY_CNT) AS days" if prefix == "ip" else ""
        hospital.append(
            f"""{prefix}_raw AS (SELECT * FROM {src(table)}),
{prefix}_claim AS (SELECT DESYNPUF_ID, CLM_ID, year(max(CLM_THRU_DT)) AS YEAR, sum(CLM_PMT_AMT) AS pay{extra}
  FROM {prefix}_raw GROUP BY ALL HAVING max(CLM_THRU_DT) IS NOT NULL),
{prefix}_rows AS (SELECT r.*, c.YEAR FROM {prefix}_raw r JOIN {prefix}_claim c USING (DESYNPUF_ID, CLM_ID))"""
        )
    return f"""
WITH {",".join(hospital)},
car AS (SELECT *, year(CLM_THRU_DT) AS YEAR FROM (
    SELECT *, {car_pay} AS pay FROM {src(CARRIER)}
    QUALIFY row_number() OVER (PARTITION BY DESYNPUF_ID, CLM_ID
      ORDER BY pay DESC NULLS LAST, CLM_THRU_DT DESC NULLS LAST, HCPCS_CD_1 ASC NULLS LAST) = 1)
  WHERE CLM_THRU_DT IS NOT NULL),
ip AS (SELECT DESYNPUF_ID, YEAR, sum(pay) AS IP_PAYMENT, count(*) AS IP_CLAIMS, count(DISTINCT adm) AS IP_STAYS,
  sum(days) AS IP_DAYS FROM ip_claim GROUP BY ALL),
op AS (SELECT DESYNPUF_ID, YEAR, sum(pay) AS OP_PAYMENT, count(*) AS OP_CLAIMS FROM op_claim GROUP BY ALL),
ca AS (SELECT DESYNPUF_ID, YEAR, sum(pay) AS CAR_PAYMENT, count(*) AS CAR_CLAIMS FROM car GROUP BY ALL),
pd AS (SELECT DESYNPUF_ID, year(SRVC_DT) AS YEAR, sum(TOT_RX_CST_AMT) AS PDE_COST, count(*) AS PDE_FILLS,
  sum(DAYS_SUPLY_NUM) AS PDE_DAYS_SUPPLY FROM {src(PDE)} WHERE SRVC_DT IS NOT NULL GROUP BY ALL),
dx AS (SELECT DESYNPUF_ID, YEAR, code FROM (
    SELECT DESYNPUF_ID, YEAR, unnest([{claim_dx}]) AS code FROM ip_rows
    UNION ALL SELECT DESYNPUF_ID, YEAR, unnest([{claim_dx}]) FROM op_rows
    UNION ALL SELECT DESYNPUF_ID, YEAR, unnest([{car_dx}]) FROM car)
  WHERE regexp_full_match(code, '{ICD9_PATTERN.strip("^$")}')),
dxa AS (SELECT DESYNPUF_ID, YEAR, count(DISTINCT code) AS DISTINCT_DIAGNOSES,
  {groups}
  FROM dx GROUP BY ALL),
prov AS (SELECT DESYNPUF_ID, YEAR, count(DISTINCT p) AS DISTINCT_PROVIDERS FROM (
    SELECT DESYNPUF_ID, YEAR, PRVDR_NUM AS p FROM ip_rows
    UNION ALL SELECT DESYNPUF_ID, YEAR, PRVDR_NUM FROM op_rows
    UNION ALL SELECT DESYNPUF_ID, YEAR, unnest([{", ".join(CARRIER_NPI)}]) FROM car)
  WHERE p IS NOT NULL AND p <> '' GROUP BY ALL),
f AS (
  SELECT b.DESYNPUF_ID, b.YEAR, b.sample,
    b.YEAR - year(BENE_BIRTH_DT) - CASE WHEN month(BENE_BIRTH_DT) > 1 OR day(BENE_BIRTH_DT) > 1 THEN 1 ELSE 0 END
      AS AGE,
    BENE_SEX_IDENT_CD AS SEX, BENE_RACE_CD AS RACE, SP_STATE_CODE AS STATE,
    CASE WHEN BENE_ESRD_IND = 'Y' THEN 1 ELSE 0 END AS ESRD, {flags},
    {" + ".join(f"CASE WHEN SP_{c[3:]} = 1 THEN 1 ELSE 0 END" for c in cc)} AS CC_COUNT,
    BENE_HI_CVRAGE_TOT_MONS AS HI_MONTHS, BENE_SMI_CVRAGE_TOT_MONS AS SMI_MONTHS,
    BENE_HMO_CVRAGE_TOT_MONS AS HMO_MONTHS, PLAN_CVRG_MOS_NUM AS PLAN_MONTHS,
    CASE WHEN year(BENE_DEATH_DT) = b.YEAR THEN 1 ELSE 0 END AS DIED_IN_YEAR,
    {", ".join(f"coalesce({m}, 0)::DOUBLE AS {m}" for m in money)},
    {" + ".join(f"coalesce({m}, 0)::DOUBLE" for m in money)} AS TOTAL_PAYMENT,
    {", ".join(f"coalesce({c}, 0) AS {c}" for c in counts)},
    coalesce(DISTINCT_DIAGNOSES, 0) AS DISTINCT_DIAGNOSES,
    {", ".join(f"coalesce({g}, 0) AS {g}" for g, _, _ in DIAGNOSIS_GROUPS)},
    coalesce(DISTINCT_PROVIDERS, 0) AS DISTINCT_PROVIDERS
  FROM {src(BENEFICIARY)} b
  LEFT JOIN ip USING (DESYNPUF_ID, YEAR) LEFT JOIN op USING (DESYNPUF_ID, YEAR)
  LEFT JOIN ca USING (DESYNPUF_ID, YEAR) LEFT JOIN pd USING (DESYNPUF_ID, YEAR)
  LEFT JOIN dxa USING (DESYNPUF_ID, YEAR) LEFT JOIN prov USING (DESYNPUF_ID, YEAR))
SELECT *, CASE WHEN lead(YEAR) OVER w = YEAR + 1 THEN lead(TOTAL_PAYMENT) OVER w END AS NEXT_YEAR_COST
FROM f WINDOW w AS (PARTITION BY DESYNPUF_ID ORDER BY YEAR)
"""


def checksums(con, parquet_glob: str) -> dict[str, float]:
    """Row count and the sum of every numeric feature column (and the label's non-null count) of a result."""
    sums = ", ".join(f'sum(TRY_CAST("{c}" AS DOUBLE)) AS "{c}"' for c in CHECKED)  # codes may be text
    source = f"read_parquet('{parquet_glob}', hive_partitioning = false)"
    row = con.execute(f"SELECT count(*)::DOUBLE, count(NEXT_YEAR_COST)::DOUBLE, {sums} FROM {source}").fetchone()
    return dict(zip(["rows", "labelled", *CHECKED], row, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables-root", required=True)
    parser.add_argument("--sample", type=int, default=1)
    parser.add_argument("--no-train", action="store_true", help="skip the model training timing")
    parser.add_argument("--threads", type=int, default=2, help="DuckDB threads (Spark uses local[*])")
    args = parser.parse_args()
    import duckdb

    from cms_assets.lib.spark.features import build_features, read_tables, write_features
    from cms_assets.lib.spark.session import get_spark

    root = str(Path(args.tables_root).resolve())
    work = Path(tempfile.mkdtemp(prefix="bench-features-"))
    try:
        t0 = time.perf_counter()
        spark = get_spark()
        spark.range(1).count()
        startup = time.perf_counter() - t0

        t0 = time.perf_counter()
        rows = write_features(build_features(read_tables(spark, root, args.sample)), str(work / "spark"))
        spark_s = time.perf_counter() - t0

        con = duckdb.connect()
        con.execute(f"SET threads = {args.threads}")
        t0 = time.perf_counter()
        con.execute(f"COPY ({duckdb_sql(root, args.sample)}) TO '{work / 'duckdb.parquet'}' (FORMAT parquet)")
        duck_s = time.perf_counter() - t0

        spark_sums = checksums(con, f"{work / 'spark'}/*.parquet")
        duck_sums = checksums(con, str(work / "duckdb.parquet"))
        bad = {
            k: (spark_sums[k], duck_sums[k])
            for k in spark_sums
            if not math.isclose(spark_sums[k] or 0, duck_sums[k] or 0, rel_tol=1e-9, abs_tol=1e-6)
        }
        print(f"tables root        {root} (sample {args.sample})")
        print(f"spark startup      {startup:8.2f} s (JVM + first job, not in the figures below)")
        print(f"spark features     {spark_s:8.2f} s  {rows:,} rows")
        print(f"duckdb features    {duck_s:8.2f} s  {int(duck_sums['rows']):,} rows ({args.threads} threads)")
        print(f"ratio spark/duckdb {spark_s / duck_s:8.2f}")
        print(f"agreement          {'all ' + str(len(spark_sums)) + ' checksums equal' if not bad else bad}")
        print(f"  TOTAL_PAYMENT sum {spark_sums['TOTAL_PAYMENT']:,.2f}; labelled rows {int(spark_sums['labelled']):,}")
        if not args.no_train:
            from cms_assets.lib.spark.model import train_cost_model

            t0 = time.perf_counter()
            result = train_cost_model(spark.read.parquet(str(work / "spark")))
            train_s = time.perf_counter() - t0
            r2 = {
                m["MODEL_NAME"]: m["VALUE"] for m in result.metrics if m["METRIC"] == "r2" and m["SPLIT"] == "temporal"
            }
            print(
                f"model training     {train_s:8.2f} s  ({result.train_rows:,} train / {result.valid_rows:,} valid rows)"
            )
            print(f"  selected {result.selected}; temporal r2: " + ", ".join(f"{k} {v:.3f}" for k, v in r2.items()))
            cap = {
                m["MODEL_NAME"]: m["VALUE"]
                for m in result.metrics
                if m["METRIC"] == "top10_capture" and m["SPLIT"] == "temporal"
            }
            print("  temporal top10_capture: " + ", ".join(f"{k} {v:.3f}" for k, v in cap.items()))
        if bad:
            raise SystemExit(f"Spark and DuckDB disagree: {bad}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
