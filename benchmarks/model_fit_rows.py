"""Benchmark: the cost model fitted on a capped sample of rows (``CMS_MODEL_FIT_ROWS``) against every row.

    .venv/bin/python benchmarks/model_fit_rows.py --data RUN_DIR --runs 250000:42,250000:7,0:42

Trains the same candidates on the same features once per cap:seed and prints, per run, the fit rows, seconds
and the selected model's temporal-holdout figures; the spread between seeds at the same cap is the run-to-run
noise that the capped figures are judged against. 0 = every row. ``RUN_DIR`` is a data directory the pipeline
(or ``full_scale.py``) has filled; its features are read from where the pipeline writes them.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from cms_assets.lib import layout
from cms_assets.lib.ml.artifacts import headline
from cms_assets.lib.spark.model import train_cost_model
from cms_assets.lib.spark.session import get_spark


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a pipeline data directory holding features")
    parser.add_argument("--runs", default="250000:42,250000:7,0:42", help="cap:seed pairs, 0 = every row")
    args = parser.parse_args()
    spark = get_spark(conf={"spark.driver.memory": "4g", "spark.sql.shuffle.partitions": "8"})
    root = args.data / layout.FEATURES
    parts = sorted(str(p) for p in root.glob("sample=*"))
    if not parts:
        raise SystemExit(f"no feature partitions under {root}")
    features = spark.read.parquet(*parts)
    print(f"features: {features.count():,} rows from {len(parts)} samples in {root}")
    print(f"{'cap':>9} {'seed':>5} {'fit rows':>9} {'seconds':>8}  selected   r2      mae     top10_capture")
    for cap, seed in (tuple(int(v) for v in run.split(":")) for run in args.runs.split(",")):
        started = time.monotonic()
        result = train_cost_model(features, seed=seed, max_fit_rows=cap)
        seconds = time.monotonic() - started
        h = headline(result.metrics, result.selected)
        print(
            f"{cap:>9,} {seed:>5} {result.fit_rows:>9,} {seconds:>8.1f}  {result.selected:<9}"
            f" {h['temporal_r2']:.3f}  {h['temporal_mae']:>7,.0f}  {h['top10_capture']:.3f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
