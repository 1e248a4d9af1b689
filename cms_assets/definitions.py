"""The one place the Dagster definitions are assembled (loaded lazily: no env, Spark or network at import).

Assets, jobs, the schedule and the CMS sensor are autoloaded from the ``defs/`` folder (``load_from_defs_folder``,
the folder named by ``[tool.dg]`` in pyproject.toml); what depends on the deployment's environment is added here:
the resources, each asset's kinds, and the two sensors' intervals.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import dagster as dg

from cms_assets.defs.deployment import for_deployment
from cms_assets.defs.ingest.sensor import CMS_SENSOR, build_cms_sensor
from cms_assets.defs.resources import resources_for


@cache
def _from_defs_folder() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def project_assets() -> list[dg.AssetsDefinition]:
    """Every asset under ``defs/``, as autoloaded (kinds not yet adapted to a deployment)."""
    return list(_from_defs_folder().assets or [])


def _unique(defs: object) -> list:
    by_name = {d.name: d for d in defs or []}  # an object imported into a second module is found twice
    return list(by_name.values())


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
    loaded = _from_defs_folder()
    sensors = [s for s in _unique(loaded.sensors) if s.name != CMS_SENSOR]
    return dg.Definitions(
        assets=for_deployment(project_assets(), resources, env, deployment),
        jobs=_unique(loaded.jobs),
        sensors=[
            build_cms_sensor(int(env.get("CMS_SENSOR_INTERVAL_SECONDS", "3600"))),
            automation_sensor(env),
            *sensors,
        ],
        schedules=_unique(loaded.schedules),
        resources=resources,
        # One process per run: Spark steps share the run's session, and a run's steps need no extra imports.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Entry point for ``dg dev`` ([tool.dg]), workspace.yaml (the daemon, Docker) and the code server."""
    return build_definitions(os.environ.get("CMS_ASSETS_DEPLOYMENT", "local"))
