"""Where the Spark assets' work runs: in this process (Spark local mode, or a cluster through Spark Connect) or as
EMR Serverless jobs started through Dagster Pipes. :func:`spark_engine` is the one place that chooses, from the
``spark`` resource's settings; both engines take the same arguments and return the same results (what was
published, as metadata), so each asset reads top to bottom with no mode branch.

Inputs arrive as ``spark_io`` loads them for the same settings: DataFrames for Spark in this process, the
published locations (:class:`SparkSource`) for EMR, which reads them on the cluster; the features read the
published tables themselves, so no Spark starts where DuckDB runs the feature query. The in-process engine runs the
library functions and publishes through ``spark_io`` (the storage layout lives there); the EMR engine runs the same
functions on the cluster (``emr_entry.py``), which publishes with the same layout, and reads back what was
published.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

import dagster as dg

from cms_assets.defs.io_managers import SparkIOManager, SparkSource, partition_location
from cms_assets.defs.resources import ModelSizeResource, SparkResource, StorageResource
from cms_assets.lib.ml.artifacts import chart_key, metrics_rows, model_version, read_model_info, write_model_files
from cms_assets.lib.synpuf.names import sample_of_partition
from cms_assets.lib.synpuf.tables import TABLE_NAMES


@dataclass(frozen=True)
class Trained:
    """A published model version and its evidence (the same fields whichever engine trained it)."""

    version: str
    selected: str
    metrics: dict[str, Any]
    importances: list[tuple[str, float]]
    train_rows: int
    fit_rows: int
    valid_rows: int
    chart_png: bytes
    #: What the engine itself reported (EMR: the job's Pipes metadata and run ids; in process: nothing).
    reported: dict[str, Any]


class SparkEngine(Protocol):
    """The three Spark steps of the graph; each publishes its output before it returns."""

    def samples(self, features: Any) -> list[int]:
        """The samples whose features are published, from the loaded ``beneficiary_features`` input."""
        ...

    def features(self, context: dg.AssetExecutionContext, sample: int) -> dict:
        """Build and publish one sample's beneficiary-year features from its published tables; return the metadata
        of what was published."""
        ...

    def train(
        self, context: dg.AssetExecutionContext, features: Any, samples: list[int], seed: int, size: ModelSizeResource
    ) -> Trained:
        """Train the candidates on ``samples``, select one, publish it with its metrics and chart."""
        ...

    def predict(self, context: dg.AssetExecutionContext, sample: int, features: Any, version: str) -> dict:
        """Score one sample with model ``version`` and publish the predictions; return their metadata."""
        ...


@dataclass(frozen=True)
class InProcessEngine:
    """This process's Spark session (local mode, or a cluster through Spark Connect); the feature query runs on
    DuckDB instead when ``duckdb_features`` (no cluster, local storage: see ``SparkResource.features_engine``)."""

    spark_io: SparkIOManager
    duckdb_features: bool = False

    def samples(self, features: Any) -> list[int]:
        return sorted(int(r[0]) for r in features.select("sample").distinct().collect())

    def features(self, context: dg.AssetExecutionContext, sample: int) -> dict:
        pk = context.partition_key
        keys = {t: self.spark_io.parquet_keys(t, pk) for t in TABLE_NAMES}  # a Failure naming a missing one
        if self.duckdb_features:
            return self._features_on_duckdb(pk, keys)
        from cms_assets.lib.spark.features import build_features, require_columns

        tables = {t: self.spark_io.read([partition_location(t, pk)]) for t in TABLE_NAMES}
        df = build_features(require_columns(tables)).repartition(1)
        return {**self.spark_io.publish(df, "beneficiary_features", pk), "engine": "spark"}

    def _features_on_duckdb(self, pk: str, keys: dict[str, list[str]]) -> dict:
        from cms_assets.lib.features_duckdb import write_features

        started = time.monotonic()
        store = self.spark_io.storage.get()
        files = {t: [str(store.local_path(k)) for k in ks] for t, ks in keys.items()}
        spark = self.spark_io.spark
        with self.spark_io.output_file("beneficiary_features", pk) as path:
            write_features(
                files, path, self.spark_io.storage.scratch("duckdb"), memory_limit=spark.duckdb_memory_limit()
            )
        seconds = round(time.monotonic() - started, 2)
        return {**self.spark_io.describe("beneficiary_features", pk), "seconds": seconds, "engine": "duckdb"}

    def train(
        self, context: dg.AssetExecutionContext, features: Any, samples: list[int], seed: int, size: ModelSizeResource
    ) -> Trained:
        from pyspark.sql import functions as F

        from cms_assets.lib.spark.model import save_model, train_cost_model

        chosen = features.where(F.col("sample").isin(samples))
        result = train_cost_model(chosen, seed=seed, gbt=size.gbt_params(), max_fit_rows=size.max_fit_rows)
        trained_at = datetime.now(UTC)
        version = model_version(trained_at, result.selected)
        with self.spark_io.model_output(version) as out:
            save_model(result, out, version)
        rows = metrics_rows(result.metrics, version, trained_at, result.selected)
        write_model_files(self.spark_io.storage.get(), version, rows, result.chart_png)
        return Trained(
            version, result.selected, result.metrics, result.importances, result.train_rows, result.fit_rows,
            result.valid_rows, result.chart_png, reported={},
        )  # fmt: skip

    def predict(self, context: dg.AssetExecutionContext, sample: int, features: Any, version: str) -> dict:
        from cms_assets.lib.spark.model import predict

        scored = predict(self.spark_io.load_model(version), features, version)
        return self.spark_io.publish(scored.coalesce(1), "cost_predictions", context.partition_key)


@dataclass(frozen=True)
class EmrServerlessEngine:
    """EMR Serverless jobs running ``emr_entry.py`` (the same library functions), started and followed through
    Dagster Pipes; the job reads its inputs and publishes its outputs on S3 itself."""

    spark: SparkResource
    storage: StorageResource
    spark_io: SparkIOManager

    def _run(self, context: dg.AssetExecutionContext, action: str, samples: int | list[int], **kw: Any) -> dict:
        params = self.spark.emr_job_params(self.storage, action, samples, **kw)
        return dict(self.spark.run_pipes(context, params, self.storage.aws_region).metadata or {})

    def _published(self, context: dg.AssetExecutionContext, asset: str, reported: dict, started: float) -> dict:
        described = self.spark_io.describe(asset, context.partition_key)
        return {**reported, **described, "seconds": round(time.monotonic() - started, 2)}

    def samples(self, features: SparkSource) -> list[int]:
        return sorted(sample_of_partition(k) for k in features.partition_keys)

    def features(self, context: dg.AssetExecutionContext, sample: int) -> dict:
        started = time.monotonic()
        return self._published(context, "beneficiary_features", self._run(context, "features", sample), started)

    def train(
        self, context: dg.AssetExecutionContext, features: Any, samples: list[int], seed: int, size: ModelSizeResource
    ) -> Trained:
        reported = self._run(
            context, "train", samples, seed=seed, gbt_size=size.gbt_size(), max_fit_rows=size.max_fit_rows
        )
        version = reported.get("model_version")
        version = version.value if isinstance(version, dg.MetadataValue) else version
        if not version:
            raise dg.Failure(
                "the EMR train job reported no model_version: Pipes reads it from the job's CloudWatch driver "
                "stdout, so check that CloudWatch logging works for the application and job role; latest.json is "
                "unchanged"
            )
        store = self.storage.get()
        info = read_model_info(store, str(version))
        return Trained(
            info["version"], info["selected"], info["metrics"], info["importances"], info["train_rows"],
            info.get("fit_rows", info["train_rows"]), info["valid_rows"], store.read_bytes(chart_key(str(version))),
            reported=reported,
        )  # fmt: skip

    def predict(self, context: dg.AssetExecutionContext, sample: int, features: Any, version: str) -> dict:
        started = time.monotonic()
        reported = self._run(context, "predict", sample, model_version=version)
        return self._published(context, "cost_predictions", reported, started)


def spark_engine(spark: SparkResource, storage: StorageResource, spark_io: SparkIOManager) -> SparkEngine:
    """The engine the ``spark`` resource's settings select (see :attr:`SparkResource.mode`)."""
    if spark.mode == "emr-serverless":
        return EmrServerlessEngine(spark, storage, spark_io)
    return InProcessEngine(spark_io, spark.features_on_duckdb(storage.get().local_path("") is not None))
