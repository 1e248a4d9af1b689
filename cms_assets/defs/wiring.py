"""Per-deployment wiring: :func:`resources_for` gives ``local`` (./data, local Spark, DuckDB), ``test`` (the same,
pointed at servers the tests start) and ``production`` (S3, Spark on a cluster, Redshift) their resources, reading
every setting from the deployment's environment here (storage and warehouse URLs, model size, EMR variables; secrets
only through ``dg.EnvVar``) and building the IO managers on the storage and Spark chosen. The classes live in
:mod:`.resources` and :mod:`.io_managers`; ``defs/`` is autoloaded, so this module defines functions only.
"""

import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import dagster as dg
from dagster_dbt import DbtCliResource

from cms_assets.defs.io_managers import ParquetIOManager, SparkIOManager
from cms_assets.defs.resources import (
    CmsSiteResource,
    ModelSizeResource,
    SparkResource,
    StorageResource,
    WarehouseResource,
)
from cms_assets.defs.transform.project import dbt_project
from cms_assets.lib.transform import dbt_executable

#: Non-secret EMR Serverless settings read in production, by SparkResource field.
EMR_ENV = {
    "emr_application_id": "CMS_EMR_APPLICATION_ID",
    "emr_job_role_arn": "CMS_EMR_JOB_ROLE_ARN",
    "emr_entry_point_s3": "CMS_EMR_ENTRY_POINT_S3",
    "emr_py_files_s3": "CMS_EMR_PY_FILES_S3",
    "emr_venv_archive_s3": "CMS_EMR_VENV_ARCHIVE_S3",
    "emr_log_uri_s3": "CMS_EMR_LOG_URI_S3",
}


def resources_for(deployment: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Resources per deployment, with the IO managers on top of its storage and Spark. Non-secret settings come
    from ``env`` with defaults; secrets only via dg.EnvVar."""
    return {**with_io_managers(_resources_for(deployment, env)), "dbt": dbt_cli()}


def dbt_cli() -> DbtCliResource:
    """dagster-dbt's CLI resource on the analyst layer's project; its warehouse comes from ``warehouse`` at run time."""
    return DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())


def with_io_managers(resources: Mapping[str, Any]) -> dict[str, Any]:
    """``resources`` plus the IO managers on its ``storage`` and ``spark`` (local Spark when absent): ``tables_io``
    (Arrow tables as Parquet) and ``spark_io`` (Spark DataFrames and the cost model)."""
    storage, spark = resources["storage"], resources.get("spark") or SparkResource()
    return {
        **resources,
        "tables_io": ParquetIOManager(storage=storage),
        "spark_io": SparkIOManager(storage=storage, spark=spark),
    }


def _resources_for(deployment: str, env: Mapping[str, str]) -> dict[str, Any]:
    data = env.get("CMS_ASSETS_DATA", "data")
    site = CmsSiteResource(landing_url=env.get("CMS_SOURCE_URL", CmsSiteResource.model_fields["landing_url"].default))
    if deployment == "production":
        return {
            "storage": StorageResource(
                url=dg.EnvVar("CMS_ASSETS_DATA"),
                aws_region=env.get("AWS_REGION"),
                scratch_dir=env.get("CMS_ASSETS_SCRATCH", "/tmp/cms_assets"),
            ),
            "cms_site": site,
            "spark": production_spark(env),
            "model_size": model_size(env),
            "warehouse": WarehouseResource(
                url=dg.EnvVar("CMS_WAREHOUSE_URL"),
                schema_name=env.get("CMS_WAREHOUSE_SCHEMA", "cms"),
                iam_role=dg.EnvVar("CMS_REDSHIFT_IAM_ROLE"),
            ),
        }
    if deployment not in ("local", "test"):
        raise ValueError(f"CMS_ASSETS_DEPLOYMENT must be local, test or production, got {deployment!r}")
    s3_secrets: dict[str, Any] = {}
    if data.startswith("s3://") and "AWS_ACCESS_KEY_ID" in env:
        s3_secrets = {
            "aws_access_key_id": dg.EnvVar("AWS_ACCESS_KEY_ID"),
            "aws_secret_access_key": dg.EnvVar("AWS_SECRET_ACCESS_KEY"),
        }
    local_data = data if not data.startswith("s3://") else "data"
    return {
        "storage": StorageResource(
            url=data,
            s3_endpoint_url=env.get("CMS_S3_ENDPOINT_URL"),
            aws_region=env.get("AWS_REGION"),
            scratch_dir=env.get("CMS_ASSETS_SCRATCH", os.path.join(local_data, ".scratch")),
            **s3_secrets,
        ),
        "cms_site": site,
        "spark": SparkResource(
            remote=env.get("CMS_SPARK_REMOTE") or None, features_engine=env.get("CMS_FEATURES_ENGINE", "auto")
        ),
        "model_size": model_size(env),
        "warehouse": WarehouseResource(
            url=warehouse_url(env, f"duckdb:///{os.path.join(local_data, 'warehouse.duckdb')}"),
            schema_name=env.get("CMS_WAREHOUSE_SCHEMA", "cms"),
        ),
    }


def model_size(env: Mapping[str, str]) -> ModelSizeResource:
    """The GBT size from ``CMS_GBT_TREES`` / ``CMS_GBT_DEPTH`` (defaults 25 / 5) and the fit-set cap from
    ``CMS_MODEL_FIT_ROWS`` (default 250,000; 0 fits on every row)."""
    values = {}
    names = [("gbt_trees", "CMS_GBT_TREES", 1), ("gbt_depth", "CMS_GBT_DEPTH", 1)]
    names.append(("max_fit_rows", "CMS_MODEL_FIT_ROWS", 0))
    for field, name, least in names:
        raw = env.get(name, "").strip().replace("_", "")
        if raw:
            if not raw.isdigit() or int(raw) < least:
                kind = "a positive whole number" if least else "a whole number (0 = every row)"
                raise ValueError(f"{name} must be {kind}, got {env[name]!r}")
            values[field] = int(raw)
    return ModelSizeResource(**values)


def production_spark(env: Mapping[str, str]) -> SparkResource:
    """Production Spark, chosen by which variables are set: ``CMS_EMR_APPLICATION_ID`` gives EMR Serverless
    through Pipes (``CMS_SPARK_REMOTE`` is then not needed); else ``CMS_SPARK_REMOTE`` gives Spark Connect; with
    neither, Spark runs in local mode inside the run's own task. That last one is acceptable for small samples
    only: size the task for it (the driver memory and ``CMS_ASSETS_SCRATCH``), or set one of the two.

    The Spark Connect URL stays a ``dg.EnvVar`` because it may carry a token; the EMR values are ids and S3
    paths, read as plain strings.
    """
    emr = {field: env.get(var) or None for field, var in EMR_ENV.items()}
    remote = dg.EnvVar("CMS_SPARK_REMOTE") if env.get("CMS_SPARK_REMOTE") else None
    return SparkResource(remote=remote, **emr)


def warehouse_url(env: Mapping[str, str], default: str) -> str:
    """``CMS_WAREHOUSE_URL`` for a local/test deployment: a ``dg.EnvVar`` (read from the process environment at run
    time, never stored in the instance) when it carries a password, as a PostgreSQL URL does; a password-free URL
    (a DuckDB path) stays a plain string, visible in the UI."""
    url = env.get("CMS_WAREHOUSE_URL")
    if not url:
        return default
    try:
        secret = urlsplit(url).password is not None
    except ValueError:  # unparseable: treat it as secret rather than risk storing it
        secret = True
    return dg.EnvVar("CMS_WAREHOUSE_URL") if secret else url
