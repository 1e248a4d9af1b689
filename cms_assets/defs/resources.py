"""Resources: where data lives, where CMS files come from, Spark, and the warehouse.

Three deployments share one code path (see :func:`resources_for`): ``local`` (default: ./data, local Spark,
DuckDB), ``test`` (the same, pointed at servers the tests start) and ``production`` (S3, Spark on a cluster,
Redshift, every secret through ``dg.EnvVar``).
"""

import os
import shutil
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from pydantic import PrivateAttr

from cms_assets.lib.publish import fetch_prefix, publish_directory
from cms_assets.lib.storage import LocalStorage, S3Storage, Storage


class StorageResource(dg.ConfigurableResource):
    """Local directory or ``s3://bucket/prefix`` holding raw zips, tables, features, models and reports."""

    url: str = "data"
    s3_endpoint_url: str | None = None
    aws_region: str | None = None
    aws_access_key_id: str | None = None
    aws_secret_access_key: str | None = None
    #: Local scratch for partial downloads and Spark staging (kept across runs so downloads resume).
    scratch_dir: str = "data/.scratch"

    _storage: Storage | None = PrivateAttr(default=None)

    def get(self) -> Storage:
        if self._storage is None:
            if self.url.startswith("s3://"):
                bucket, _, prefix = self.url[5:].partition("/")
                self._storage = S3Storage(
                    bucket, prefix, endpoint_url=self.s3_endpoint_url, region=self.aws_region,
                    access_key_id=self.aws_access_key_id, secret_access_key=self.aws_secret_access_key,
                )  # fmt: skip
            else:
                self._storage = LocalStorage(self.url)
        return self._storage

    def scratch(self, name: str) -> Path:
        path = Path(self.scratch_dir).expanduser().resolve() / name
        path.mkdir(parents=True, exist_ok=True)
        return path


class CmsSiteResource(dg.ConfigurableResource):
    """The CMS DE-SynPUF site: the real cms.gov by default, or the local mirror."""

    landing_url: str = (
        "https://www.cms.gov/Research-Statistics-Data-and-Systems/Downloadable-Public-Use-Files/SynPUFs/DE_Syn_PUF"
    )
    timeout_seconds: float = 60.0
    retries: int = 4
    max_parallel_downloads: int = 2

    def client(self) -> Any:
        from cms_assets.lib.site.scraper import CmsSite

        return CmsSite(self.landing_url, timeout=self.timeout_seconds, retries=self.retries)


class SparkResource(dg.ConfigurableResource):
    """Spark in local mode (default) or on a cluster through a Spark Connect URL (``sc://host:15002``)."""

    remote: str | None = None
    driver_memory: str = "4g"
    shuffle_partitions: int = 8

    def session(self) -> Any:
        from cms_assets.lib.spark.session import get_spark

        conf = {"spark.driver.memory": self.driver_memory, "spark.sql.shuffle.partitions": str(self.shuffle_partitions)}
        return get_spark(remote=self.remote, conf=conf)

    @contextmanager
    def readable_root(self, storage: Storage, scratch: Path, prefixes: list[str]) -> Iterator[str]:
        """A root from which Spark can read the given storage prefixes.

        Local storage is read in place; a cluster (Spark Connect/EMR) reads ``s3a://`` directly; S3 with local
        Spark is staged to local scratch first, because a laptop Spark has no S3A connector.
        """
        local = storage.local_path("")
        if local is not None:
            yield str(local)
        elif self.remote:
            yield storage.uri("").replace("s3://", "s3a://", 1)
        else:
            stage = scratch / f"stage-{uuid.uuid4().hex[:8]}"
            try:
                for prefix in prefixes:
                    fetch_prefix(storage, prefix, stage)
                yield str(stage)
            finally:
                shutil.rmtree(stage, ignore_errors=True)

    @contextmanager
    def output_dir(self, storage: Storage, scratch: Path, prefix: str) -> Iterator[str]:
        """A directory for Spark to write into, published at ``prefix`` when the block succeeds."""
        if self.remote and storage.local_path("") is None:
            yield storage.uri(prefix).replace("s3://", "s3a://", 1)  # the cluster's own commit protocol
            return
        out = scratch / f"out-{uuid.uuid4().hex[:8]}"
        try:
            yield str(out)
            publish_directory(storage, out, prefix)
        finally:
            shutil.rmtree(out, ignore_errors=True)


class WarehouseResource(dg.ConfigurableResource):
    """DuckDB file (default), PostgreSQL, or Redshift (``redshift+psycopg2://``; COPY uses ``iam_role``)."""

    url: str = "duckdb:///data/warehouse.duckdb"
    schema_name: str = "cms"
    iam_role: str | None = None

    def get(self) -> Any:
        from cms_assets.lib.warehouse.load import Warehouse

        return Warehouse.from_url(self.url, schema=self.schema_name, iam_role=self.iam_role)


def resources_for(deployment: str, env: Mapping[str, str]) -> dict[str, Any]:
    """Resources per deployment. Non-secret settings come from ``env`` with defaults; secrets only via dg.EnvVar."""
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
            "spark": SparkResource(remote=dg.EnvVar("CMS_SPARK_REMOTE")),
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
        "spark": SparkResource(remote=env.get("CMS_SPARK_REMOTE") or None),
        "warehouse": WarehouseResource(
            url=env.get("CMS_WAREHOUSE_URL", f"duckdb:///{os.path.join(local_data, 'warehouse.duckdb')}"),
            schema_name=env.get("CMS_WAREHOUSE_SCHEMA", "cms"),
        ),
    }
