"""beneficiary_features: one row per beneficiary-year built from the five tables of a sample by one SQL query."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from cms_assets.defs.automation import on_sample_change
from cms_assets.defs.checks import build_or_recheck, check_results, sample_asset
from cms_assets.defs.io_managers import SparkIOManager
from cms_assets.defs.kinds import FEATURES_ENGINE, STORAGE
from cms_assets.defs.metadata import column_schema
from cms_assets.defs.ml.engine import spark_engine
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.lib.ingest.checks import CheckOutcome
from cms_assets.lib.ml.checks import features_rows_match, label_coverage
from cms_assets.lib.ml.schemas import FEATURE_DOCS, FEATURE_SCHEMA
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.names import sample_of_partition
from cms_assets.lib.synpuf.tables import TABLE_NAMES
from cms_assets.lib.terminology import HCCPY, PACKAGE, package_version

FEATURE_CHECKS = {"rows_match_beneficiary_years": features_rows_match, "label_coverage": label_coverage}
_KEY = "beneficiary_features"


@sample_asset(
    _KEY,
    description="Beneficiary-year features, CMS-HCC V22 risk scores, AHRQ CCS categories and next-year cost label for "
    "one sample (one SQL query: DuckDB where no cluster is configured, else Spark).",
    group="ml",
    kinds={FEATURES_ENGINE, "parquet", STORAGE},
    deps=TABLE_NAMES,
    automation=on_sample_change(),
    checks=FEATURE_CHECKS,
    metadata={"dagster/column_schema": column_schema(FEATURE_SCHEMA, FEATURE_DOCS)},
    io_manager_key="spark_io",
    pool="spark",
    # 4: CCS_LIST. The CMS-HCC scores and the CCS categories read the packages' reference tables: a new release of
    # either rebuilds the features
    code_version=f"4+{HCCPY}=={package_version(HCCPY)}+{PACKAGE}=={package_version(PACKAGE)}",
)
def beneficiary_features(
    context: dg.AssetExecutionContext,
    storage: StorageResource,
    spark: SparkResource,
    spark_io: dg.ResourceParam[SparkIOManager],
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Beneficiary-year features and next-year cost label for one sample, built from its published tables and
    published by the engine the ``spark`` resource selects (DuckDB or Spark in this process, or EMR Serverless)."""
    store = storage.get()
    sample = sample_of_partition(context.partition_key)

    def build() -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        published = spark_engine(spark, storage, spark_io).features(context, sample)
        yield dg.MaterializeResult(asset_key=_KEY, metadata={**published, **_metadata()})
        yield from check_results(_KEY, context.partition_key, _outcomes(store, sample))

    yield from build_or_recheck(context, _KEY, build, lambda: _outcomes(store, sample))


def _metadata() -> dict[str, Any]:
    return {"dagster/column_schema": column_schema(FEATURE_SCHEMA, FEATURE_DOCS), "columns": _COLUMNS}


_COLUMNS = dg.MetadataValue.md(
    "| column | meaning |\n|---|---|\n" + "\n".join(f"| {n} | {d} |" for n, (_, d) in FEATURE_DOCS.items())
)


def _outcomes(store: Storage, sample: int) -> dict[str, CheckOutcome]:
    return {name: fn(store, sample) for name, fn in FEATURE_CHECKS.items()}
