"""cost_model and cost_predictions: train/select the next-year cost model; score every sample."""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from cms_assets.defs.automation import after_wave
from cms_assets.defs.checks import build_or_recheck, check_results, sample_asset
from cms_assets.defs.io_managers import SparkIOManager
from cms_assets.defs.kinds import SPARK, STORAGE
from cms_assets.defs.metadata import column_schema
from cms_assets.defs.ml.engine import SparkEngine, Trained, spark_engine
from cms_assets.defs.resources import ModelSizeResource, SparkResource, StorageResource
from cms_assets.lib.ml.artifacts import (
    chart_key,
    decile_shares,
    headline,
    metric_table,
    write_latest,
)
from cms_assets.lib.ml.checks import predictions_complete
from cms_assets.lib.ml.inline_chart import lift_markdown
from cms_assets.lib.ml.schemas import PREDICTION_DOCS, PREDICTION_SCHEMA
from cms_assets.lib.spark.model import BASELINES
from cms_assets.lib.synpuf.names import sample_of_partition


class CostModelConfig(dg.Config):
    """Which samples to train on (default: every sample whose features are materialized) and the seed."""

    samples: list[int] | None = None
    seed: int = 42


def _feature_samples(engine: SparkEngine, features: Any, wanted: list[int] | None) -> list[int]:
    """The samples to train on: those whose features are published (and wanted)."""
    found = engine.samples(features)
    samples = [s for s in found if wanted is None or s in wanted]
    if not samples:
        raise dg.Failure(f"no beneficiary_features published for samples {wanted} (published: {found})")
    return samples


@dg.asset(
    group_name="ml",
    kinds={SPARK, "sparkml", STORAGE},
    ins={"features": dg.AssetIn("beneficiary_features", input_manager_key="spark_io")},
    code_version="1",
    pool="spark",
    automation_condition=after_wave(),
)
def cost_model(
    context: dg.AssetExecutionContext,
    config: CostModelConfig,
    features: Any,
    storage: StorageResource,
    spark: SparkResource,
    spark_io: dg.ResourceParam[SparkIOManager],
    model_size: ModelSizeResource,
) -> dg.MaterializeResult:
    """Next-year cost model selected on a temporal holdout (2009 -> 2010) against four baselines."""
    store = storage.get()
    engine = spark_engine(spark, storage, spark_io)
    samples = _feature_samples(engine, features, config.samples)
    started = time.monotonic()
    trained = engine.train(context, features, samples, config.seed, model_size)
    # The pointer moves last, and only after the model, its metrics and chart are all published.
    write_latest(store, trained.version, trained.selected, samples)
    context.log.info(f"selected {trained.selected} ({trained.version}) trained on samples {samples}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(trained.version),  # every retrain is a new model: predictions re-score
        metadata={
            **trained.reported,
            "model_version": trained.version,
            "selected_model": trained.selected,
            "gbt_size": f"{model_size.gbt_trees} trees of depth {model_size.gbt_depth}",
            "max_fit_rows": model_size.max_fit_rows,
            **_model_metadata(trained),
            "samples": dg.MetadataValue.json(samples),
            "train_rows": trained.train_rows,
            "fit_rows": trained.fit_rows,
            "validation_rows": trained.valid_rows,
            "seconds": round(time.monotonic() - started, 2),
            "location": dg.MetadataValue.path(spark_io.model_location(trained.version)),
            "chart_png": dg.MetadataValue.path(store.uri(chart_key(trained.version))),
            "top_features": dg.MetadataValue.md(
                "| feature | importance |\n|---|---|\n"
                + "\n".join(f"| {n} | {v:.3f} |" for n, v in trained.importances[:15])
            ),
        },
    )


def _model_metadata(trained: Trained) -> dict[str, Any]:
    """Headline floats of the selected model, every model's figures in one table, the decile lift chart inline."""
    selected, metrics = trained.selected, trained.metrics
    figures = {k: dg.MetadataValue.float(v) for k, v in headline(metrics, selected).items()}
    rows = metric_table(metrics, selected)
    columns = [dg.TableColumn(k, "string" if k in ("model", "split") else "float") for k in rows[0]]
    compared = [selected, *[b for b in BASELINES if b != selected]]
    lift = lift_markdown(compared, [decile_shares(metrics, m) for m in compared])
    return {
        **figures,
        "metrics": dg.MetadataValue.table([dg.TableRecord(r) for r in rows], dg.TableSchema(columns)),
        "decile_lift": dg.MetadataValue.md(lift),
    }


_PREDICTIONS = "cost_predictions"
PREDICTION_CHECKS = {"predictions_complete": predictions_complete}


@sample_asset(
    _PREDICTIONS,
    description="Predicted next-year cost per beneficiary of one sample: current year and temporal holdout.",
    group="ml",
    kinds={SPARK, "parquet", STORAGE},
    deps=["cost_model", "beneficiary_features"],
    # Re-score when the model changes, once the wave upstream has settled: a new sample's features retrain the
    # model first, and the new model scores every sample, the new one included (never the old model).
    automation=after_wave(triggered_by=[dg.AssetKey("cost_model")], new_partitions=False),
    checks=PREDICTION_CHECKS,
    # Not automated: when Dagster splits a tick into a backfill (the wave re-scoring every sample), automated checks
    # are launched as runs of their own, racing the re-score that replaces what they read.
    automated_checks=False,
    metadata={"dagster/column_schema": column_schema(PREDICTION_SCHEMA, PREDICTION_DOCS)},
    io_manager_key="spark_io",
    ins={"features": dg.AssetIn("beneficiary_features", input_manager_key="spark_io")},
    pool="spark",
)
def cost_predictions(
    context: dg.AssetExecutionContext,
    features: Any,
    storage: StorageResource,
    spark: SparkResource,
    spark_io: dg.ResourceParam[SparkIOManager],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Predicted next-year cost for each beneficiary's latest year in the sample (SCOPE current) and for the temporal
    holdout's 2009 rows with known 2010 cost (SCOPE holdout), with the model version."""
    store = storage.get()
    sample = sample_of_partition(context.partition_key)

    def build() -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        version = spark_io.latest_model()["version"]
        published = spark_engine(spark, storage, spark_io).predict(context, sample, features, version)
        schema = column_schema(PREDICTION_SCHEMA, PREDICTION_DOCS)
        metadata = {**published, "dagster/column_schema": schema, "model_version": version}
        yield dg.MaterializeResult(asset_key=_PREDICTIONS, metadata=metadata)
        outcome = predictions_complete(store, sample, version)
        yield from check_results(_PREDICTIONS, context.partition_key, {"predictions_complete": outcome})

    # Re-checked alone, what is published is checked against itself.
    yield from build_or_recheck(
        context, _PREDICTIONS, build, lambda: {"predictions_complete": predictions_complete(store, sample)}
    )
