"""The one place the Dagster definitions are assembled (loaded lazily: no env, Spark or network at import)."""

from __future__ import annotations

import os

import dagster as dg

from cms_assets.defs.ingest.raw_zips import raw_cms_zips
from cms_assets.defs.ingest.sensor import cms_new_files_sensor, weekly_cms_refresh
from cms_assets.defs.jobs import all_jobs
from cms_assets.defs.ml.features import beneficiary_features
from cms_assets.defs.ml.model import cost_model, cost_predictions
from cms_assets.defs.resources import resources_for
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.warehouse.assets import warehouse_assets

all_assets = [raw_cms_zips, *table_assets, beneficiary_features, cost_model, cost_predictions, *warehouse_assets]


def build_definitions(deployment: str = "local", env: dict[str, str] | None = None) -> dg.Definitions:
    """Definitions for a deployment (local, test, production); tests pass their own env."""
    return dg.Definitions(
        assets=all_assets,
        asset_checks=None,
        jobs=all_jobs,
        sensors=[cms_new_files_sensor],
        schedules=[weekly_cms_refresh],
        resources=resources_for(deployment, dict(os.environ) if env is None else env),
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Entry point for ``dagster dev`` (workspace.yaml) and the code server."""
    return build_definitions(os.environ.get("CMS_ASSETS_DEPLOYMENT", "local"))
