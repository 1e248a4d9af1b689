"""The script EMR runs (``spark-submit emr_entry.py --action features ...``): the same library functions as the
Dagster assets, with results reported through Dagster Pipes when Dagster launched the job.

Outside Dagster (no Pipes bootstrap variables) it runs the same way and prints its summary as JSON, so it can be
run by hand or in tests with a local session.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cms_assets.lib import layout
from cms_assets.lib.publish import current_prefix, publishing
from cms_assets.lib.spark.emr import ACTIONS

if TYPE_CHECKING:
    from cms_assets.lib.storage import Storage


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="emr_entry", description=__doc__)
    parser.add_argument("--action", choices=ACTIONS, required=True)
    parser.add_argument("--tables-root", required=True, help="root holding <table>/sample=NN/ Parquet directories")
    parser.add_argument("--out-root", required=True, help="storage root for features/, models/ and predictions/")
    parser.add_argument("--samples", type=int, nargs="+", required=True)
    parser.add_argument("--model-version", help="model to write (train, default: a UTC timestamp) or to score with")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--gbt-trees", type=int, help="GBT boosting rounds (train; default model.GBT_PARAMS)")
    parser.add_argument("--gbt-depth", type=int, help="GBT tree depth (train; default model.GBT_PARAMS)")
    parser.add_argument("--max-fit-rows", type=int, help="fit-set cap, 0 = all rows (default MAX_FIT_ROWS)")
    args = parser.parse_args(argv)
    if args.action == "predict" and not args.model_version:
        parser.error("--action predict needs --model-version")
    return args


def _features(spark: Any, args: argparse.Namespace) -> dict[str, Any]:
    from cms_assets.lib.spark.features import build_features, read_tables, write_features

    store = _storage(args.out_root)
    rows = {}
    for sample in args.samples:
        with publishing(store, layout.features_dir(sample)) as version:  # published (pointer moved) on success
            features = build_features(read_tables(spark, args.tables_root, sample))
            rows[sample] = write_features(features, store.uri(version))
    return {"rows": rows, "total_rows": sum(rows.values())}


def _train(spark: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Train, then leave the same files as the ``cost_model`` asset: the pipeline, ``metrics.parquet`` and
    ``chart.png``. The ``latest.json`` pointer is not moved here: Dagster moves it once it has recorded the run."""
    from cms_assets.lib.ml.artifacts import metrics_rows, model_version, write_model_files
    from cms_assets.lib.spark.model import MAX_FIT_ROWS, gbt_params, save_model, train_cost_model

    store = _storage(args.out_root)
    features = spark.read.parquet(*[_published_uri(store, layout.features_dir(s)) for s in args.samples])
    fit_rows = MAX_FIT_ROWS if args.max_fit_rows is None else args.max_fit_rows
    gbt = gbt_params(args.gbt_trees, args.gbt_depth)
    result = train_cost_model(features, seed=args.seed, gbt=gbt, max_fit_rows=fit_rows)
    trained_at = datetime.now(UTC)
    version = args.model_version or model_version(trained_at, result.selected)
    with publishing(store, layout.model_dir(version)) as saved:
        save_model(result, store.uri(saved), version)
    rows = metrics_rows(result.metrics, version, trained_at, result.selected)
    write_model_files(store, version, rows, result.chart_png)
    temporal = {m["MODEL_NAME"]: m["VALUE"] for m in result.metrics if m["SPLIT"] == "temporal" and m["METRIC"] == "r2"}
    return {
        "model_version": version,
        "selected_model": result.selected,
        "trained_at": trained_at.isoformat(),
        "train_rows": result.train_rows,
        "fit_rows": result.fit_rows,
        "validation_rows": result.valid_rows,
        "temporal_r2": temporal,
        "top_features": [n for n, _ in result.importances[:10]],
    }


def _storage(out_root: str) -> Storage:
    """The out root as a Storage for the non-Spark files: a local path, or S3 through boto3's default credentials
    (on EMR, the job role) in the job's region."""
    from cms_assets.lib.storage import storage_from_url

    if out_root.startswith("s3://"):
        return storage_from_url(out_root, region=os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION"))
    return storage_from_url(out_root)


def _published_uri(store: Storage, prefix: str) -> str:
    """Where Spark reads what is published at ``prefix``: its current version (lib/publish.py), never a partial one."""
    return store.uri(current_prefix(store, prefix))


def _predict(spark: Any, args: argparse.Namespace) -> dict[str, Any]:
    from cms_assets.lib.spark.model import load_model, predict

    store = _storage(args.out_root)
    model = load_model(_published_uri(store, layout.model_dir(args.model_version)))
    rows, scopes = {}, {}
    for sample in args.samples:
        features = spark.read.parquet(_published_uri(store, layout.features_dir(sample)))
        with publishing(store, layout.predictions_dir(sample)) as version:
            out = store.uri(version)
            predict(model, features, args.model_version).coalesce(1).write.mode("overwrite").parquet(out)
            # rows of each SCOPE: "current" (one per beneficiary) and "holdout" (labelled validation-year rows)
            counts = spark.read.parquet(out).groupBy("SCOPE").count().collect()
        scopes[sample] = {r["SCOPE"]: r["count"] for r in counts}
        rows[sample] = sum(scopes[sample].values())
    return {"model_version": args.model_version, "rows": rows, "scopes": scopes, "total_rows": sum(rows.values())}


RUNNERS = {"features": _features, "train": _train, "predict": _predict}


def _pipes() -> Any:
    """The Pipes context when Dagster launched us, else a no-op context (no mock, no warning)."""
    from dagster_pipes import PipesEnvVarParamsLoader, open_dagster_pipes

    return open_dagster_pipes() if PipesEnvVarParamsLoader().is_dagster_pipes_process() else nullcontext(None)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run one action and report: Pipes materialization metadata, or JSON on stdout."""
    from cms_assets.lib.spark.session import get_spark

    args = parse_args(argv)
    with _pipes() as pipes:
        started = time.monotonic()
        if pipes is not None:
            pipes.log.info(f"cms_assets {args.action} for samples {args.samples}")
        summary = RUNNERS[args.action](get_spark(app_name=f"cms_assets-{args.action}"), args)
        summary = {"action": args.action, "samples": args.samples, **summary}
        summary["seconds"] = round(time.monotonic() - started, 2)
        if pipes is not None:
            pipes.report_asset_materialization(metadata=_metadata(summary))
        else:
            print(json.dumps(summary, default=str))
    return summary


def _metadata(summary: dict[str, Any]) -> dict[str, Any]:
    """Pipes metadata: scalars as they are, anything nested as JSON."""
    out: dict[str, Any] = {}
    for key, value in summary.items():
        if isinstance(value, bool | int | float | str):
            out[key] = value
        else:
            out[key] = {"raw_value": json.loads(json.dumps(value, default=str)), "type": "json"}
    if "total_rows" in summary:
        out["dagster/row_count"] = summary["total_rows"]
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
