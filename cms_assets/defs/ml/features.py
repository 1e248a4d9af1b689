"""beneficiary_features: one row per beneficiary-year built with Spark from the five tables of a sample."""

import time
from collections.abc import Iterator
from typing import Any

import dagster as dg

from cms_assets.defs.automation import on_sample_change
from cms_assets.defs.checks import check_results, checks_only, partition_check_specs
from cms_assets.defs.io_managers import SparkIOManager
from cms_assets.defs.metadata import column_schema
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.lib.ingest.checks import CheckOutcome
from cms_assets.lib.ml.checks import features_rows_match, label_coverage
from cms_assets.lib.ml.schemas import FEATURE_DOCS, FEATURE_SCHEMA
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.names import sample_of_partition
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
        ).with_io_manager_key("spark_io")
    ],
    ins={t: dg.AssetIn(t, input_manager_key="spark_io") for t in TABLE_NAMES},
    check_specs=partition_check_specs(_KEY, FEATURE_CHECKS),
    can_subset=True,
    pool="spark",
)
def beneficiary_features(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    spark: SparkResource,
    spark_io: dg.ResourceParam[SparkIOManager],
    beneficiary_summary: Any,
    inpatient_claims: Any,
    outpatient_claims: Any,
    carrier_claims: Any,
    prescription_drug_events: Any,
) -> Iterator[dg.Output | dg.MaterializeResult | dg.AssetCheckResult]:
    """Beneficiary-year features and next-year cost label for one sample, from its five tables as DataFrames
    (Spark, nothing collected); ``spark_io`` writes the result."""
    store = storage.get()
    sample = sample_of_partition(context.partition_key)
    if checks_only(context, _KEY):
        yield from check_results(_KEY, context.partition_key, _outcomes(store, sample))
        return
    metadata = {"dagster/column_schema": column_schema(FEATURE_SCHEMA, FEATURE_DOCS), "columns": _COLUMNS}
    if spark.mode == "emr-serverless":
        # The same build_features runs on EMR (emr_entry.py --action features), reading the tables and writing
        # the features itself; Dagster records what the job reported and what it published.
        started = time.monotonic()
        reported = spark.run_pipes(context, spark.emr_job_params(storage, "features", sample), storage.aws_region)
        published = spark_io.describe(_KEY, context.partition_key)
        seconds = {"seconds": round(time.monotonic() - started, 2)}
        yield dg.MaterializeResult(
            asset_key=_KEY, metadata={**(reported.metadata or {}), **published, **metadata, **seconds}
        )
    else:
        from cms_assets.lib.spark.features import build_features, require_columns

        tables = {
            "beneficiary_summary": beneficiary_summary,
            "inpatient_claims": inpatient_claims,
            "outpatient_claims": outpatient_claims,
            "carrier_claims": carrier_claims,
            "prescription_drug_events": prescription_drug_events,
        }
        yield dg.Output(build_features(require_columns(tables)).repartition(1), output_name=_KEY, metadata=metadata)
    yield from check_results(_KEY, context.partition_key, _outcomes(store, sample))


_COLUMNS = dg.MetadataValue.md(
    "| column | meaning |\n|---|---|\n" + "\n".join(f"| {n} | {d} |" for n, (_, d) in FEATURE_DOCS.items())
)


def _outcomes(store: Storage, sample: int) -> dict[str, CheckOutcome]:
    return {name: fn(store, sample) for name, fn in FEATURE_CHECKS.items()}
