"""Jobs per stage, for manual runs and backfills. Day to day nothing needs them: the sensor downloads new or
changed samples (``sample_refresh_job``) and Declarative Automation refreshes everything downstream. Spark and
download concurrency is governed by pools on the assets (``spark``, ``cms_download``), not by run tags."""

import dagster as dg

from cms_assets.defs.warehouse.keys import WAREHOUSE_GLOBAL_KEYS, WAREHOUSE_SAMPLE_KEYS

_TABLES = dg.AssetSelection.groups("tables")

ingest_job = dg.define_asset_job(
    "ingest_job",
    selection=dg.AssetSelection.assets("raw_cms_zips") | _TABLES,
    description="Download a sample's 8 zips and convert them into the five typed tables.",
)
features_job = dg.define_asset_job(
    "features_job",
    selection=dg.AssetSelection.assets("beneficiary_features"),
    description="Build the beneficiary-year feature table of a sample with Spark.",
)
model_job = dg.define_asset_job(
    "model_job",
    selection=dg.AssetSelection.assets("cost_model"),
    description="Train and select the cost model.",
)
scoring_job = dg.define_asset_job(
    "scoring_job",
    selection=dg.AssetSelection.assets("cost_predictions"),
    description="Score a sample's beneficiaries with the selected model.",
)
warehouse_job = dg.define_asset_job(
    "warehouse_job",
    selection=dg.AssetSelection.assets(*WAREHOUSE_SAMPLE_KEYS),
    description="Load a sample's tables, features and predictions into the warehouse (one transaction each).",
)
reporting_job = dg.define_asset_job(
    "reporting_job",
    selection=dg.AssetSelection.assets(*WAREHOUSE_GLOBAL_KEYS)
    | dg.AssetSelection.groups("terminology", "staging", "intermediate", "marts"),
    description="Load model metrics and the reference tables, build and test the dbt models, render the report.",
)
#: What the sensor and the weekly schedule run for a new or changed sample: the download; automation follows.
sample_refresh_job = dg.define_asset_job(
    "sample_refresh_job",
    selection=dg.AssetSelection.assets("raw_cms_zips"),
    description="Download a new or changed sample's zips; Declarative Automation takes it on to the report.",
)
