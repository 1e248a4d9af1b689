"""The Dagster definitions, assembled in one place (lazily: no env, Spark or network at import).

- assets, jobs and the weekly schedule: autoloaded from the ``defs/`` folder (``load_from_defs_folder``, the
  folder named by ``[tool.dg]`` in pyproject.toml), with each asset's kinds for this deployment
  (:func:`cms_assets.defs.deployment.for_deployment`: the warehouse, storage and Spark it really uses);
- the two sensors: ``cms_new_files_sensor`` (defs/ingest/sensor.py) and the Declarative Automation sensor
  (defs/automation.py), built here with the deployment's intervals;
- the resources of the deployment (defs/wiring.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import cache
from pathlib import Path

import dagster as dg

from cms_assets.defs.automation import automation_sensor
from cms_assets.defs.deployment import for_deployment
from cms_assets.defs.ingest.sensor import build_cms_sensor
from cms_assets.defs.wiring import resources_for


@cache
def _from_defs_folder() -> dg.Definitions:
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)


def project_assets() -> list[dg.AssetsDefinition]:
    """Every asset under ``defs/``, as autoloaded (kinds not yet adapted to a deployment)."""
    return list(_from_defs_folder().assets or [])


def build_definitions(deployment: str = "local", env: Mapping[str, str] | None = None) -> dg.Definitions:
    """Definitions for a deployment (local, test, production); tests pass their own env."""
    env = dict(os.environ) if env is None else dict(env)
    resources = resources_for(deployment, env)
    loaded = _from_defs_folder()
    return dg.Definitions(
        assets=for_deployment(project_assets(), resources, env, deployment),
        jobs=loaded.jobs,
        schedules=loaded.schedules,
        sensors=[
            build_cms_sensor(int(env.get("CMS_SENSOR_INTERVAL_SECONDS", "3600"))),
            automation_sensor(int(env.get("CMS_AUTOMATION_INTERVAL_SECONDS", "30"))),
        ],
        resources=resources,
        # One process per run: Spark steps share the run's session, and a run's steps need no extra imports.
        executor=dg.in_process_executor,
    )


@dg.definitions
def defs() -> dg.Definitions:
    """Entry point for ``dg dev`` ([tool.dg]), workspace.yaml (the daemon, Docker) and the code server."""
    return build_definitions(os.environ.get("CMS_ASSETS_DEPLOYMENT", "local"))
