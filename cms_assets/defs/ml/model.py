"""cost_model and cost_predictions: train/select the next-year cost model; score every sample."""

import base64
import json
import time
from datetime import UTC, datetime

import dagster as dg

from cms_assets.defs.metadata import column_schema, parquet_preview
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import PREDICTION_SCHEMA

LATEST_MODEL_KEY = f"{layout.MODELS}/latest.json"


class CostModelConfig(dg.Config):
    """Which samples to train on (default: every sample whose features are materialized) and the seed."""

    samples: list[int] | None = None
    seed: int = 42


def _feature_samples(store, wanted: list[int] | None) -> list[int]:
    found = sorted({int(o.key.split("sample=")[1][:2]) for o in store.list(layout.FEATURES) if "sample=" in o.key})
    samples = [s for s in found if wanted is None or s in wanted]
    if not samples:
        raise dg.Failure(f"no beneficiary_features materialized under {store.uri(layout.FEATURES)} for {wanted}")
    return samples


@dg.asset(group_name="ml", kinds={"spark", "sparkml"}, deps=["beneficiary_features"], code_version="1")
def cost_model(
    context: dg.AssetExecutionContext, config: CostModelConfig, storage: StorageResource, spark: SparkResource
) -> dg.MaterializeResult:
    """Next-year cost model selected on a temporal holdout (2009 -> 2010) against two baselines."""
    from cms_assets.lib.spark.model import save_model, train_cost_model

    store = storage.get()
    samples = _feature_samples(store, config.samples)
    session = spark.session()
    prefixes = [layout.features_dir(s) for s in samples]
    started = time.monotonic()
    with spark.readable_root(store, storage.scratch("spark"), prefixes) as root:
        features = session.read.parquet(*[f"{root}/{p}" for p in prefixes])
        result = train_cost_model(features, seed=config.seed)
    trained_at = datetime.now(UTC)
    version = f"{trained_at:%Y%m%dT%H%M%SZ}-{result.selected}"
    with spark.output_dir(store, storage.scratch("spark"), layout.model_dir(version)) as out:
        save_model(result, out, version)
    metrics_rows = [
        {**m, "MODEL_VERSION": version, "TRAINED_AT": trained_at, "SELECTED": m["MODEL_NAME"] == result.selected}
        for m in result.metrics
    ]
    _write_metrics(store, version, metrics_rows)
    store.write_bytes(f"{layout.model_dir(version)}/chart.png", result.chart_png)
    store.write_json(LATEST_MODEL_KEY, {"version": version, "selected": result.selected, "samples": samples})
    numeric = {
        f"{m['SPLIT']}/{m['MODEL_NAME']}/{m['METRIC']}": dg.MetadataValue.float(float(m["VALUE"]))
        for m in result.metrics
    }
    chart = base64.b64encode(result.chart_png).decode()
    context.log.info(f"selected {result.selected} ({version}) trained on samples {samples}")
    return dg.MaterializeResult(
        metadata={
            "model_version": version,
            "selected_model": result.selected,
            "samples": dg.MetadataValue.json(samples),
            "train_rows": result.train_rows,
            "validation_rows": result.valid_rows,
            "seconds": round(time.monotonic() - started, 2),
            "location": dg.MetadataValue.path(store.uri(layout.model_dir(version))),
            "top_features": dg.MetadataValue.md(
                "| feature | importance |\n|---|---|\n"
                + "\n".join(f"| {n} | {v:.4f} |" for n, v in result.importances[:15])
            ),
            "chart": dg.MetadataValue.md(f"![predicted vs actual](data:image/png;base64,{chart})"),
            **numeric,
        }
    )


def _write_metrics(store, version: str, rows: list[dict]) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cms_assets.lib.ml.schemas import METRICS_SCHEMA

    table = pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)
    with store.writer(f"{layout.model_dir(version)}/metrics.parquet") as path:
        pq.write_table(table, path)


def latest_model(store) -> dict:
    """The pointer written by cost_model: which version to score with."""
    if not store.exists(LATEST_MODEL_KEY):
        raise dg.Failure(f"no cost model yet: materialize cost_model first ({store.uri(LATEST_MODEL_KEY)} missing)")
    return json.loads(store.read_bytes(LATEST_MODEL_KEY))


@dg.asset(
    partitions_def=cms_sample,
    group_name="ml",
    kinds={"spark", "parquet"},
    deps=["cost_model", "beneficiary_features"],
    code_version="1",
)
def cost_predictions(
    context: dg.AssetExecutionContext, storage: StorageResource, spark: SparkResource
) -> dg.MaterializeResult:
    """Predicted next-year cost for each beneficiary's latest year in the sample, with the model version."""
    from cms_assets.lib.spark.model import load_model, predict

    store = storage.get()
    sample = int(context.partition_key.removeprefix("sample_"))
    model_info = latest_model(store)
    version = model_info["version"]
    session = spark.session()
    prefixes = [layout.features_dir(sample), layout.model_dir(version)]
    with spark.readable_root(store, storage.scratch("spark"), prefixes) as root:
        model = load_model(f"{root}/{layout.model_dir(version)}")
        scored = predict(model, session.read.parquet(f"{root}/{layout.features_dir(sample)}"), version)
        with spark.output_dir(store, storage.scratch("spark"), layout.predictions_dir(sample)) as o:
            scored.coalesce(1).write.mode("overwrite").parquet(o)
    key_dir = layout.predictions_dir(sample)
    parts = [o for o in store.list(key_dir) if o.key.endswith(".parquet")]
    import pyarrow.parquet as pq

    rows = 0
    for part in parts:
        with store.open_read(part.key) as f:
            rows += pq.ParquetFile(f).metadata.num_rows
    with store.open_read(parts[0].key) as f:
        head = parquet_preview(f)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "dagster/column_schema": column_schema(PREDICTION_SCHEMA),
            "model_version": version,
            "location": dg.MetadataValue.path(store.uri(key_dir)),
            "preview": head,
        }
    )
