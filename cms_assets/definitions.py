"""The one place the Dagster definitions are assembled (loaded lazily: no env, Spark or network at import)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg

from cms_assets.defs.deployment import for_deployment
from cms_assets.defs.ingest.raw_zips import raw_cms_zips
from cms_assets.defs.ingest.sensor import build_cms_sensor, weekly_cms_refresh
from cms_assets.defs.jobs import all_jobs
from cms_assets.defs.ml.features import beneficiary_features
from cms_assets.defs.ml.model import cost_model, cost_predictions
from cms_assets.defs.resources import resources_for
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.warehouse.assets import warehouse_assets

all_assets = [raw_cms_zips, *table_assets, beneficiary_features, cost_model, cost_predictions, *warehouse_assets]


def automation_sensor(env: Mapping[str, str]) -> dg.AutomationConditionSensorDefinition:
    """Evaluates every asset's automation condition; on by default, so switching on the CMS sensor (or
    materializing raw_cms_zips by hand) is all a user does."""
    return dg.AutomationConditionSensorDefinition(
        "cms_automation",
        target=dg.AssetSelection.all(),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=int(env.get("CMS_AUTOMATION_INTERVAL_SECONDS", "30")),
        # Runs per sample, never a backfill: when two samples are requested in one tick, a backfill takes the
        # assets and leaves their partitioned checks to runs of their own, which then check files not yet built.
        emit_backfills=False,
        description="Declarative Automation for the whole graph: per-sample refreshes and once-per-wave retrains.",
    )


def build_definitions(deployment: str = "local", env: Mapping[str, str] | None = None) -> dg.Definitions:
    """Definitions for a deployment (local, test, production); tests pass their own env."""
    env = dict(os.environ) if env is None else dict(env)
    resources = resources_for(deployment, env)
    return dg.Definitions(
        assets=for_deployment(all_assets, resources, env, deployment),
        jobs=all_jobs,
        sensors=[
            build_cms_sensor(int(env.get("CMS_SENSOR_INTERVAL_SECONDS", "3600"))),
            automation_sensor(env),
        ],
        schedules=[weekly_cms_refresh],
        resources=resources,
        # One process per run: Spark steps share the run's session, and a run's steps need no extra imports.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Entry point for ``dg dev`` ([tool.dg]), workspace.yaml (the daemon, Docker) and the code server."""
    return build_definitions(os.environ.get("CMS_ASSETS_DEPLOYMENT", "local"))
