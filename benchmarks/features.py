"""Benchmark: the beneficiary-year feature query on its two engines over the same Parquet, Spark local mode and
DuckDB (the engine used where no cluster is configured), checked for agreement (row count and the sum of every
column), then the cost model's training time.

    .venv/bin/python benchmarks/features.py --tables-root DIR/tables --sample 1 [--no-train]

Both run the one SQL definition (``cms_assets/lib/features_sql.py``). Figures are wall-clock seconds in this
process on this machine; the ratio is Spark / DuckDB, DuckDB being the baseline (a single-process engine reading
the same files). Spark's JVM start and first job are timed apart and left out of its figure.
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
from pathlib import Path

from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import FEATURE_DOCS
from cms_assets.lib.synpuf.tables import TABLE_NAMES

CHECKED = [n for n, (t, _) in FEATURE_DOCS.items() if n not in ("DESYNPUF_ID",)]


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
    parser.add_argument("--duckdb-memory", default="4GB", help="DuckDB memory_limit (the Spark driver has 4g)")
    args = parser.parse_args()
    import duckdb

    from cms_assets.lib import features_duckdb
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

        files = {t: [str(p) for p in sorted((Path(root) / t / layout.sample_dir(args.sample)).glob("*.parquet"))]
                 for t in TABLE_NAMES}  # fmt: skip
        t0 = time.perf_counter()
        features_duckdb.write_features(
            files, work / "duckdb.parquet", work / "tmp", memory_limit=args.duckdb_memory, threads=args.threads
        )
        duck_s = time.perf_counter() - t0
        con = duckdb.connect()

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
