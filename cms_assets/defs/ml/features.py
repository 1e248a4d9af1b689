"""beneficiary_features: one row per beneficiary-year built with Spark from the five tables of a sample."""

import time
from collections.abc import Iterator

import dagster as dg

from cms_assets.defs.automation import on_sample_change
from cms_assets.defs.checks import check_results, checks_only, partition_check_specs
from cms_assets.defs.metadata import column_schema, features_summary, parquet_rows
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.lib import layout
from cms_assets.lib.ingest.checks import CheckOutcome
from cms_assets.lib.ml.checks import features_rows_match, label_coverage
from cms_assets.lib.ml.schemas import FEATURE_DOCS, FEATURE_SCHEMA
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.tables import TABLE_NAMES

FEATURE_CHECKS = {"rows_match_beneficiary_years": features_rows_match, "label_coverage": label_coverage}
_KEY = "beneficiary_features"


@dg.multi_asset(
    name=_KEY,
    specs=[
        dg.AssetSpec(
            _KEY,
            description="Beneficiary-year features and next-year cost label for one sample (Spark).",
            partitions_def=cms_sample,
            group_name="ml",
            kinds={"spark", "parquet"},
            deps=TABLE_NAMES,
            code_version="1",
            automation_condition=on_sample_change(),
            metadata={"dagster/column_schema": column_schema(FEATURE_SCHEMA, FEATURE_DOCS)},
            skippable=True,
        )
    ],
    check_specs=partition_check_specs(_KEY, FEATURE_CHECKS),
    can_subset=True,
    pool="spark",
)
def beneficiary_features(
    context: dg.AssetExecutionContext, storage: StorageResource, spark: SparkResource
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Beneficiary-year features and next-year cost label for one sample (Spark, nothing collected)."""
    store = storage.get()
    sample = int(context.partition_key.removeprefix("sample_"))
    if checks_only(context, _KEY):
        yield from check_results(_KEY, context.partition_key, _outcomes(store, sample))
        return
    started = time.monotonic()
    if spark.mode == "emr-serverless":
        # The same build_features/write_features run on EMR (emr_entry.py --action features), writing to
        # layout.features_dir(sample) under the storage root; Dagster records what the job reported.
        reported = spark.run_pipes(context, spark.emr_job_params(storage, "features", sample), storage.aws_region)
        rows = parquet_rows(store, layout.features_dir(sample))
        pipes_metadata = dict(reported.metadata or {})
    else:
        rows = _build_in_process(storage, spark, sample)
        pipes_metadata = {}
    yield dg.MaterializeResult(
        asset_key=_KEY,
        metadata={
            **pipes_metadata,
            "dagster/row_count": rows,
            "dagster/column_schema": column_schema(FEATURE_SCHEMA, FEATURE_DOCS),
            "seconds": round(time.monotonic() - started, 2),
            "location": dg.MetadataValue.path(store.uri(layout.features_dir(sample))),
            "columns": dg.MetadataValue.md(
                "| column | meaning |\n|---|---|\n" + "\n".join(f"| {n} | {d} |" for n, (_, d) in FEATURE_DOCS.items())
            ),
            **features_summary(store, layout.features_dir(sample)),
        },
    )
    yield from check_results(_KEY, context.partition_key, _outcomes(store, sample))


def _outcomes(store: Storage, sample: int) -> dict[str, CheckOutcome]:
    return {name: fn(store, sample) for name, fn in FEATURE_CHECKS.items()}


def _build_in_process(storage: StorageResource, spark: SparkResource, sample: int) -> int:
    """Build and publish one sample's features with this process's Spark session; returns the row count."""
    from cms_assets.lib.spark.features import build_features, read_tables, write_features

    store = storage.get()
    session = spark.session()
    prefixes = [f"{layout.table_dir(t)}/{layout.sample_dir(sample)}" for t in TABLE_NAMES]
    with spark.readable_root(store, storage.scratch("spark"), prefixes) as root:
        features = build_features(read_tables(session, f"{root}/{layout.TABLES}", sample))
        with spark.output_dir(store, storage.scratch("spark"), layout.features_dir(sample)) as out:
            return write_features(features, out)
