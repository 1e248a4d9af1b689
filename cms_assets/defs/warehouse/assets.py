"""Warehouse layer: per-sample atomic loads, model metrics, BI views and the insight report."""

import base64

import dagster as dg

from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import StorageResource, WarehouseResource
from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
from cms_assets.lib import layout
from cms_assets.lib.synpuf.tables import TABLE_NAMES

_SOURCE_ASSET = {"beneficiary_features": "beneficiary_features", "cost_predictions": "cost_predictions"}


def source_keys(store, table: str, sample: int) -> list[str]:
    """The Parquet objects holding one sample of a table in storage."""
    if table in TABLE_NAMES:
        return [layout.table_file(table, sample)]
    prefix = layout.features_dir(sample) if table == "beneficiary_features" else layout.predictions_dir(sample)
    keys = [o.key for o in store.list(prefix) if o.key.endswith(".parquet")]
    if not keys:
        raise dg.Failure(f"no Parquet files for {table} sample {sample} under {store.uri(prefix)}")
    return keys


def build_warehouse_asset(table: str) -> dg.AssetsDefinition:
    """One per-sample load asset per table: same loader, one transaction per (table, sample)."""

    @dg.asset(
        key=["warehouse", table],
        description=f"{table} of one sample in the warehouse, replaced atomically (delete + insert, one transaction).",
        partitions_def=cms_sample,
        group_name="warehouse",
        kinds={"sql", "duckdb", "postgres", "redshift"},
        deps=[_SOURCE_ASSET.get(table, table)],
        code_version="1",
    )
    def _load(context: dg.AssetExecutionContext, storage: StorageResource, warehouse: WarehouseResource):
        store = storage.get()
        sample = int(context.partition_key.removeprefix("sample_"))
        wh = warehouse.get()
        wh.ensure_schema()
        result = wh.load_partition(table, sample, store, source_keys(store, table, sample))
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows,
                "table_rows_all_samples": wh.row_count(table),
                "seconds": round(result.seconds, 2),
                "method": result.method,
                "warehouse": repr(wh),
                "relation": f"{warehouse.schema_name}.{table}",
            }
        )

    return _load


warehouse_sample_assets = [build_warehouse_asset(t) for t in WAREHOUSE_SAMPLE_TABLES]


@dg.asset(
    key=["warehouse", "model_metrics"],
    group_name="warehouse",
    kinds={"sql"},
    deps=["cost_model"],
    code_version="1",
)
def model_metrics_table(storage: StorageResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Every metric of the latest model version in the warehouse, replacing that version's rows."""
    from cms_assets.defs.ml.model import latest_model

    store = storage.get()
    version = latest_model(store)["version"]
    wh = warehouse.get()
    wh.ensure_schema()
    result = wh.replace_rows(
        "model_metrics", {"MODEL_VERSION": version}, store, [f"{layout.model_dir(version)}/metrics.parquet"]
    )
    return dg.MaterializeResult(metadata={"dagster/row_count": result.rows, "model_version": version})


@dg.asset(
    key=["warehouse", "bi_views"],
    group_name="warehouse",
    kinds={"sql"},
    deps=[["warehouse", t] for t in WAREHOUSE_SAMPLE_TABLES] + [["warehouse", "model_metrics"]],
    code_version="1",
)
def bi_views(warehouse: WarehouseResource) -> dg.MaterializeResult:
    """Views a Tableau or Superset dashboard reads: cost by demography, conditions, the high-cost cohort."""
    wh = warehouse.get()
    wh.ensure_schema()
    views = wh.create_views()
    return dg.MaterializeResult(metadata={"views": dg.MetadataValue.json(views), "count": len(views)})


@dg.asset(group_name="warehouse", kinds={"html", "matplotlib"}, deps=[["warehouse", "bi_views"]], code_version="1")
def insight_report(storage: StorageResource, warehouse: WarehouseResource) -> dg.MaterializeResult:
    """A static HTML report with charts of the BI views and the model metrics, written to storage."""
    from cms_assets.lib.warehouse.report import build_report

    store = storage.get()
    result = build_report(warehouse.get(), store, layout.REPORTS)
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


warehouse_assets = [*warehouse_sample_assets, model_metrics_table, bi_views, insight_report]
