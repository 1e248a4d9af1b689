"""beneficiary_features: one row per beneficiary-year built with Spark from the five tables of a sample."""

import time

import dagster as dg

from cms_assets.defs.metadata import column_schema, features_summary
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import FEATURE_DOCS, FEATURE_SCHEMA
from cms_assets.lib.synpuf.tables import TABLE_NAMES


@dg.asset(
    partitions_def=cms_sample,
    group_name="ml",
    kinds={"spark", "parquet"},
    deps=TABLE_NAMES,
    code_version="1",
)
def beneficiary_features(
    context: dg.AssetExecutionContext, storage: StorageResource, spark: SparkResource
) -> dg.MaterializeResult:
    """Beneficiary-year features and next-year cost label for one sample (Spark, nothing collected)."""
    from cms_assets.lib.spark.features import build_features, read_tables, write_features

    store = storage.get()
    sample = int(context.partition_key.removeprefix("sample_"))
    started = time.monotonic()
    session = spark.session()
    prefixes = [f"{layout.table_dir(t)}/{layout.sample_dir(sample)}" for t in TABLE_NAMES]
    with spark.readable_root(store, storage.scratch("spark"), prefixes) as root:
        features = build_features(read_tables(session, f"{root}/{layout.TABLES}", sample))
        with spark.output_dir(store, storage.scratch("spark"), layout.features_dir(sample)) as out:
            rows = write_features(features, out)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": rows,
            "dagster/column_schema": column_schema(FEATURE_SCHEMA),
            "seconds": round(time.monotonic() - started, 2),
            "location": dg.MetadataValue.path(store.uri(layout.features_dir(sample))),
            "columns": dg.MetadataValue.md(
                "| column | meaning |\n|---|---|\n" + "\n".join(f"| {n} | {d} |" for n, (_, d) in FEATURE_DOCS.items())
            ),
            **features_summary(store, layout.features_dir(sample)),
        }
    )
