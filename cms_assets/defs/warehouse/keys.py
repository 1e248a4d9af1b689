"""Asset keys of the warehouse layer, shared by the assets and the jobs."""

import dagster as dg

from cms_assets.lib.synpuf.tables import TABLE_NAMES

#: Per-sample warehouse loads: the five tables, the features and the predictions.
WAREHOUSE_SAMPLE_TABLES: list[str] = [*TABLE_NAMES, "beneficiary_features", "cost_predictions"]
WAREHOUSE_SAMPLE_KEYS: list[dg.AssetKey] = [dg.AssetKey(["warehouse", t]) for t in WAREHOUSE_SAMPLE_TABLES]
#: Whole-warehouse assets: model metrics and the report.
WAREHOUSE_GLOBAL_KEYS: list[dg.AssetKey] = [
    dg.AssetKey(["warehouse", "model_metrics"]),
    dg.AssetKey("insight_report"),
]
