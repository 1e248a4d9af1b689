"""Warehouse layer: per-sample atomic loads, model metrics and the insight report (the marts between them are dbt
models: defs/transform)."""

import base64
from collections.abc import Iterator
from contextlib import closing

import dagster as dg

from cms_assets.defs.automation import after_wave, on_sample_change, with_its_inputs
from cms_assets.defs.checks import build_or_recheck, check_results, sample_asset
from cms_assets.defs.io_managers import ParquetIOManager, SparkIOManager
from cms_assets.defs.kinds import STORAGE, WAREHOUSE
from cms_assets.defs.ml.features import FEATURE_CHECKS
from cms_assets.defs.ml.model import PREDICTION_CHECKS
from cms_assets.defs.resources import StorageResource, WarehouseResource
from cms_assets.defs.warehouse.guard import refuse_unsafe_source
from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
from cms_assets.lib.ingest.checks import WARN_CHECKS, CheckOutcome, checks_for
from cms_assets.lib.ml.artifacts import metrics_key
from cms_assets.lib.synpuf.names import sample_of_partition
from cms_assets.lib.synpuf.tables import TABLE_NAMES
from cms_assets.lib.warehouse.checks import parquet_rows_of, rows_match_parquet
from cms_assets.lib.warehouse.report import MARTS

#: The blocking checks of each load's source, whose latest result per sample gates the load.
_SOURCE_CHECKS: dict[str, list[str]] = {
    **{t: [name for name, _ in checks_for(t) if name not in WARN_CHECKS] for t in TABLE_NAMES},
    "beneficiary_features": list(FEATURE_CHECKS),
    "cost_predictions": list(PREDICTION_CHECKS),
}


class WarehouseLoadConfig(dg.Config):
    """Loads refuse to replace a sample's rows with none unless ``allow_empty`` says an empty source is right."""

    allow_empty: bool = False


def build_warehouse_asset(table: str) -> dg.AssetsDefinition:
    """One per-sample load asset per table: same loader, one transaction per (table, sample)."""
    key = ["warehouse", table]
    source = dg.AssetKey(table)  # each load is named after the asset it loads

    @sample_asset(
        key,
        description=f"{table} of one sample in the warehouse, replaced atomically (one transaction).",
        group="warehouse",
        kinds={"sql", WAREHOUSE},
        deps=[source],
        automation=on_sample_change(),
        checks={"rows_match_parquet": rows_match_parquet},
        # Not automated (see cost_predictions): a check run of its own could race the reload it verifies.
        automated_checks=False,
        pool="warehouse",
    )
    def _load(
        context: dg.AssetExecutionContext,
        config: WarehouseLoadConfig,
        storage: StorageResource,
        tables_io: dg.ResourceParam[ParquetIOManager],
        warehouse: WarehouseResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        store = storage.get()
        sample = sample_of_partition(context.partition_key)
        keys = tables_io.parquet_keys(source.path[-1], context.partition_key)  # what the source's IO manager published

        def recheck() -> dict[str, CheckOutcome]:
            with closing(warehouse.get()) as wh:
                return {"rows_match_parquet": rows_match_parquet(wh, table, sample, store, keys)}

        def build() -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
            with closing(warehouse.get()) as wh:  # closed after the step: DuckDB allows one writing process
                refuse_unsafe_source(
                    context, source, _SOURCE_CHECKS[table], parquet_rows_of(store, keys), config.allow_empty
                )
                wh.ensure_schema()
                result = wh.load_partition(table, sample, store, keys)
                outcome = rows_match_parquet(wh, table, sample, store, keys)
                total = wh.row_count(table)
            yield dg.MaterializeResult(
                asset_key=key,
                metadata={
                    "dagster/row_count": result.rows,
                    "table_rows_all_samples": total,
                    "seconds": round(result.seconds, 2),
                    "method": result.method,
                    "warehouse": repr(wh),
                    "relation": f"{warehouse.schema_name}.{table}",
                },
            )
            yield from check_results(key, context.partition_key, {"rows_match_parquet": outcome})

        yield from build_or_recheck(context, key, build, recheck)

    return _load


warehouse_sample_assets = [build_warehouse_asset(t) for t in WAREHOUSE_SAMPLE_TABLES]


@dg.asset(
    key=["warehouse", "model_metrics"],
    group_name="warehouse",
    kinds={"sql", WAREHOUSE},
    deps=["cost_model"],
    code_version="1",
    pool="warehouse",
    automation_condition=after_wave(),
)
def model_metrics_table(
    storage: StorageResource, spark_io: dg.ResourceParam[SparkIOManager], warehouse: WarehouseResource
) -> dg.MaterializeResult:
    """Every metric of the latest model version in the warehouse, replacing that version's rows."""
    store = storage.get()
    version = spark_io.latest_model()["version"]
    with closing(warehouse.get()) as wh:
        wh.ensure_schema()
        result = wh.replace_rows("model_metrics", {"MODEL_VERSION": version}, store, [metrics_key(version)])
    return dg.MaterializeResult(metadata={"dagster/row_count": result.rows, "model_version": version})


@dg.asset(
    group_name="warehouse",
    kinds={"html", "matplotlib", STORAGE},
    deps=[["marts", mart] for mart in MARTS],  # the dbt marts (defs/transform)
    code_version="1",
    pool="warehouse",
    automation_condition=with_its_inputs(),  # rides in the dbt run that rebuilds the marts
)
def insight_report(storage: StorageResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """A static HTML report with charts of the dbt marts (cost, utilization, readmissions, ED visits, diagnoses,
    conditions, the high-cost cohort, the model's evidence), written to storage."""
    from cms_assets.lib.warehouse.report import build_report

    store = storage.get()
    with closing(warehouse.get()) as wh:
        result = build_report(wh, store)  # reports keep their own writer (lib/warehouse/report.py)
    thumb = base64.b64encode(result.thumbnail_png).decode()
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(store.uri(result.html_key)),
            "latest": dg.MetadataValue.path(store.uri(result.latest_key)),
            "run": result.run,
            "charts": result.charts,
            "thumbnail": dg.MetadataValue.md(f"![report](data:image/png;base64,{thumb})"),
        }
    )


warehouse_assets = [*warehouse_sample_assets, model_metrics_table, insight_report]
