"""Benchmark: every cost-model candidate on the temporal holdout, from features built by this revision.

    .venv/bin/python benchmarks/model_candidates.py --tables RUN_DIR/tables --samples 1-20 --work /tmp/candidates

Builds each sample's feature table with the feature job's DuckDB path (``write_features``, this revision's query)
from a pipeline run's published tables, then trains the cost model once as the model asset does (default cap and
seed) and prints each candidate's temporal-holdout R2, MAE, top-decile share of next-year cost and its lift, with
n, beside RTI's real-data anchors; and the seconds each stage took. Feature files already in ``--work`` are reused.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cms_assets.lib import layout
from cms_assets.lib.features_duckdb import write_features
from cms_assets.lib.spark.model import TEMPORAL, train_cost_model
from cms_assets.lib.spark.session import get_spark
from cms_assets.lib.synpuf.tables import TABLE_NAMES

#: RTI 2011 on real Medicare fee-for-service data (prospective): top predicted decile's share of next-year spending.
RTI_TOP_DECILE = {"cms_hcc": "30.4%", "demographics_only": "15.4%"}


def samples(spec: str) -> list[int]:
    """ "1-20" or "1,3,5" -> sample numbers."""
    if "-" in spec:
        lo, hi = (int(v) for v in spec.split("-"))
        return list(range(lo, hi + 1))
    return [int(v) for v in spec.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables", type=Path, required=True, help="a run's published tables (RUN_DIR/tables)")
    parser.add_argument("--samples", default="1-20")
    parser.add_argument("--work", type=Path, required=True, help="where the feature files go (reused if present)")
    parser.add_argument("--duckdb-memory", default="4GB")
    args = parser.parse_args()
    feature_files = []
    started = time.monotonic()
    for sample in samples(args.samples):
        out = args.work / f"sample={sample:02d}" / "features.parquet"
        if not out.exists():
            files = {t: [str(args.tables.parent / layout.table_file(t, sample))] for t in TABLE_NAMES}
            t0 = time.monotonic()
            rows = write_features(files, out, args.work / ".spill", args.duckdb_memory)
            print(f"sample {sample}: {rows:,} feature rows in {time.monotonic() - t0:.1f} s", flush=True)
        feature_files.append(str(out))
    print(f"features: {len(feature_files)} samples ready in {time.monotonic() - started:.0f} s", flush=True)
    spark = get_spark(conf={"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8"})
    features = spark.read.parquet(*feature_files)
    result = train_cost_model(features)
    print(f"trained in {result.seconds:.0f} s on {result.fit_rows:,} of {result.train_rows:,} labelled 2008 rows")
    temporal: dict[str, dict[str, float]] = {}
    for m in result.metrics:
        if m["SPLIT"] == TEMPORAL:
            temporal.setdefault(m["MODEL_NAME"], {})[m["METRIC"]] = m["VALUE"]
    print("\n| candidate | r2 | MAE | top decile's share of next-year cost | lift | n | RTI 2011 (real data) |")
    print("|---|---|---|---|---|---|---|")
    for name, v in sorted(temporal.items(), key=lambda kv: -kv[1]["r2"]):
        label = f"**{name} (selected)**" if name == result.selected else name
        print(
            f"| {label} | {v['r2']:.3f} | ${v['mae']:,.0f} | {100 * v['top10_capture']:.1f}% | "
            f"{v['top_decile_lift']:.2f} | {int(v['rows']):,} | {RTI_TOP_DECILE.get(name, '')} |"
        )
    print("\nimportances of the selected model (top 15):")
    for name, weight in result.importances[:15]:
        print(f"  {name:<24} {weight:.3f}")


if __name__ == "__main__":
    main()
