"""cost_model and cost_predictions: train/select the next-year cost model; score every sample."""

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import dagster as dg

from cms_assets.defs.automation import after_wave
from cms_assets.defs.checks import check_results, checks_only, partition_check_specs
from cms_assets.defs.io_managers import SparkIOManager, SparkSource
from cms_assets.defs.metadata import column_schema
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import ModelSizeResource, SparkResource, StorageResource
from cms_assets.lib.ml.artifacts import (
    chart_key,
    decile_shares,
    headline,
    metric_table,
    metrics_rows,
    model_version,
    read_model_info,
    write_latest,
    write_model_files,
)
from cms_assets.lib.ml.checks import predictions_complete
from cms_assets.lib.ml.inline_chart import lift_markdown
from cms_assets.lib.ml.schemas import PREDICTION_DOCS, PREDICTION_SCHEMA
from cms_assets.lib.spark.model import BASELINES
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.names import sample_of_partition


class CostModelConfig(dg.Config):
    """Which samples to train on (default: every sample whose features are materialized) and the seed."""

    samples: list[int] | None = None
    seed: int = 42


def _feature_samples(features: Any, wanted: list[int] | None) -> list[int]:
    """The samples to train on: those whose features are published (and wanted)."""
    if isinstance(features, SparkSource):
        found = sorted(sample_of_partition(k) for k in features.partition_keys)
    else:
        found = sorted(int(r[0]) for r in features.select("sample").distinct().collect())
    samples = [s for s in found if wanted is None or s in wanted]
    if not samples:
        raise dg.Failure(f"no beneficiary_features published for samples {wanted} (published: {found})")
    return samples


@dg.asset(
    group_name="ml",
    kinds={"spark", "sparkml"},
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
    """Next-year cost model selected on a temporal holdout (2009 -> 2010) against two baselines."""
    store = storage.get()
    samples = _feature_samples(features, config.samples)
    started = time.monotonic()
    if spark.mode == "emr-serverless":
        trained, pipes_metadata = _train_on_emr(context, storage, spark, samples, config.seed, model_size)
    else:
        trained = _train_in_process(store, spark_io, features, samples, config.seed, model_size)
        pipes_metadata = {}
    # The pointer moves last, and only after the model, its metrics and chart are all published.
    write_latest(store, trained["version"], trained["selected"], samples)
    context.log.info(f"selected {trained['selected']} ({trained['version']}) trained on samples {samples}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(trained["version"]),  # every retrain is a new model: predictions re-score
        metadata={
            **pipes_metadata,
            "model_version": trained["version"],
            "selected_model": trained["selected"],
            "gbt_size": f"{model_size.gbt_trees} trees of depth {model_size.gbt_depth}",
            "max_fit_rows": model_size.max_fit_rows,
            **_model_metadata(trained),
            "samples": dg.MetadataValue.json(samples),
            "train_rows": trained["train_rows"],
            "fit_rows": trained.get("fit_rows", trained["train_rows"]),
            "validation_rows": trained["valid_rows"],
            "seconds": round(time.monotonic() - started, 2),
            "location": dg.MetadataValue.path(spark_io.model_location(trained["version"])),
            "chart_png": dg.MetadataValue.path(store.uri(chart_key(trained["version"]))),
            "top_features": dg.MetadataValue.md(
                "| feature | importance |\n|---|---|\n"
                + "\n".join(f"| {n} | {v:.3f} |" for n, v in trained["importances"][:15])
            ),
        },
    )


def _model_metadata(trained: dict[str, Any]) -> dict[str, Any]:
    """Headline floats of the selected model, every model's figures in one table, the decile lift chart inline."""
    selected, metrics = trained["selected"], trained["metrics"]
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


def _train_in_process(
    store: Storage, spark_io: SparkIOManager, features: Any, samples: list[int], seed: int, size: ModelSizeResource
) -> dict[str, Any]:
    """Train with this process's Spark session and publish the pipeline, metrics and chart under a new version."""
    from pyspark.sql import functions as F

    from cms_assets.lib.spark.model import save_model, train_cost_model

    chosen = features.where(F.col("sample").isin(samples))
    result = train_cost_model(chosen, seed=seed, gbt=size.gbt_params(), max_fit_rows=size.max_fit_rows)
    trained_at = datetime.now(UTC)
    version = model_version(trained_at, result.selected)
    with spark_io.model_output(version) as out:
        save_model(result, out, version)
    rows = metrics_rows(result.metrics, version, trained_at, result.selected)
    write_model_files(store, version, rows, result.chart_png)
    return {
        "version": version,
        "selected": result.selected,
        "metrics": result.metrics,
        "importances": result.importances,
        "train_rows": result.train_rows,
        "fit_rows": result.fit_rows,
        "valid_rows": result.valid_rows,
        "chart_png": result.chart_png,
    }


def _train_on_emr(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    spark: SparkResource,
    samples: list[int],
    seed: int,
    size: ModelSizeResource,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train on EMR (``emr_entry.py --action train``), which names the version like the in-process path and
    publishes the pipeline, metrics and chart; the rest is read back from what it published."""
    store = storage.get()
    reported = spark.run_pipes(
        context,
        spark.emr_job_params(
            storage, "train", samples, seed=seed, gbt_size=size.gbt_size(), max_fit_rows=size.max_fit_rows
        ),
        storage.aws_region,
    )
    metadata = dict(reported.metadata or {})
    version = metadata.get("model_version")
    version = version.value if isinstance(version, dg.MetadataValue) else version
    if not version:
        raise dg.Failure(
            "the EMR train job reported no model_version: Pipes reads it from the job's CloudWatch driver stdout, "
            "so check that CloudWatch logging works for the application and job role; latest.json is unchanged"
        )
    info = read_model_info(store, str(version))
    keys = ("version", "selected", "metrics", "importances", "train_rows", "valid_rows")
    trained = {k: info[k] for k in keys} | {"fit_rows": info.get("fit_rows", info["train_rows"])}
    return {**trained, "chart_png": store.read_bytes(chart_key(str(version)))}, metadata


_PREDICTIONS = "cost_predictions"
PREDICTION_CHECKS = {"predictions_complete": predictions_complete}


@dg.multi_asset(
    name=_PREDICTIONS,
    specs=[
        dg.AssetSpec(
            _PREDICTIONS,
            description="Predicted next-year cost per beneficiary of one sample: current year and temporal holdout.",
            partitions_def=cms_sample,
            group_name="ml",
            kinds={"spark", "parquet"},
            deps=["cost_model", "beneficiary_features"],
            code_version="1",
            # Re-score when the model changes, once the wave upstream has settled: a new sample's features retrain
            # the model first, and the new model scores every sample, the new one included (never the old model).
            automation_condition=after_wave(triggered_by=[dg.AssetKey("cost_model")], new_partitions=False),
            metadata={"dagster/column_schema": column_schema(PREDICTION_SCHEMA, PREDICTION_DOCS)},
            skippable=True,
        ).with_io_manager_key("spark_io")
    ],
    ins={"features": dg.AssetIn("beneficiary_features", input_manager_key="spark_io")},
    # Not automated: when Dagster splits a tick into a backfill (the wave re-scoring every sample), automated checks
    # are launched as runs of their own, racing the re-score that replaces what they read.
    check_specs=partition_check_specs(_PREDICTIONS, PREDICTION_CHECKS, automated=False),
    can_subset=True,
    pool="spark",
)
def cost_predictions(
    context: dg.AssetExecutionContext,
    features: Any,
    storage: StorageResource,
    spark: SparkResource,
    spark_io: dg.ResourceParam[SparkIOManager],
) -> Iterator[dg.Output | dg.MaterializeResult | dg.AssetCheckResult]:
    """Predicted next-year cost for each beneficiary's latest year in the sample (SCOPE current) and for the temporal
    holdout's 2009 rows with known 2010 cost (SCOPE holdout), with the model version."""
    store = storage.get()
    sample = sample_of_partition(context.partition_key)
    if checks_only(context, _PREDICTIONS):  # what is published, checked against itself
        yield from check_results(
            _PREDICTIONS, context.partition_key, {"predictions_complete": predictions_complete(store, sample)}
        )
        return
    version = spark_io.latest_model()["version"]
    metadata = {"dagster/column_schema": column_schema(PREDICTION_SCHEMA, PREDICTION_DOCS), "model_version": version}
    if spark.mode == "emr-serverless":
        # emr_entry.py --action predict loads the model version and writes the sample's predictions itself.
        params = spark.emr_job_params(storage, "predict", sample, model_version=version)
        metadata |= dict(spark.run_pipes(context, params, storage.aws_region).metadata or {})
        metadata |= spark_io.describe(_PREDICTIONS, context.partition_key)
        yield dg.MaterializeResult(asset_key=_PREDICTIONS, metadata=metadata)
    else:
        from cms_assets.lib.spark.model import predict

        scored = predict(spark_io.load_model(version), features, version).coalesce(1)
        yield dg.Output(scored, output_name=_PREDICTIONS, metadata=metadata)
    outcome = predictions_complete(store, sample, version)
    yield from check_results(_PREDICTIONS, context.partition_key, {"predictions_complete": outcome})
