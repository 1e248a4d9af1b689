"""Resource classes: where data lives (:class:`StorageResource`), where CMS files come from, Spark (local, Spark
Connect or EMR Serverless), the cost model's size and the warehouse. Which values each deployment gives them, read
from its environment, is decided in :mod:`cms_assets.defs.wiring`.
"""

import copy
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import PrivateAttr

from cms_assets.instance import at_run_end, at_run_start
from cms_assets.lib import layout
from cms_assets.lib.publish import fetch_prefix, publish_directory, publishing
from cms_assets.lib.spark.model import MAX_FIT_ROWS
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

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Every run of the project uses storage: before its steps claim pool slots, free the slots of dead runs and
        make a wait for a slot obey SIGTERM (cms_assets/instance.py)."""
        at_run_start(context)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        at_run_end(context)

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


class ModelSizeResource(dg.ConfigurableResource):
    """Size of the cost model's GBT candidates: more and deeper trees fit more and train longer; and the most rows a
    candidate is fitted on, so training stops growing with the number of samples (settings, so an automated retrain
    uses them too; ``CMS_GBT_TREES`` / ``CMS_GBT_DEPTH`` / ``CMS_MODEL_FIT_ROWS``, 0 = every row)."""

    gbt_trees: int = 25
    gbt_depth: int = 5
    max_fit_rows: int = MAX_FIT_ROWS

    def gbt_size(self) -> tuple[int, int]:
        return self.gbt_trees, self.gbt_depth

    def gbt_params(self) -> dict[str, Any]:
        from cms_assets.lib.spark.model import gbt_params

        return gbt_params(self.gbt_trees, self.gbt_depth)


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


SparkMode = Literal["local", "connect", "emr-serverless"]


class SparkResource(dg.ConfigurableResource):
    """Where the Spark assets run: in-process Spark in local mode (default), in-process against a cluster through a
    Spark Connect URL (``remote``, ``sc://host:15002``), or EMR Serverless through Dagster Pipes (``emr_*``).

    With EMR Serverless the same library functions run on the cluster through ``emr_entry.py``; Dagster only
    starts the job, waits, and records what it reports. Nothing talks to AWS until :meth:`run_pipes`.
    """

    remote: str | None = None
    #: Where the beneficiary-year features are computed: ``auto`` is DuckDB when no cluster is configured (local
    #: mode) and the storage is a local directory, else Spark; ``spark`` or ``duckdb`` force one (the same query).
    features_engine: Literal["auto", "spark", "duckdb"] = "auto"
    driver_memory: str = "4g"
    shuffle_partitions: int = 8
    #: EMR Serverless application; setting it selects EMR Serverless (it wins over ``remote``).
    emr_application_id: str | None = None
    #: Job runtime role (``arn:aws:iam::...``): reads the tables and writes features and models.
    emr_job_role_arn: str | None = None
    #: ``s3://.../emr_entry.py``, a copy of :mod:`cms_assets.lib.spark.emr_entry`.
    emr_entry_point_s3: str | None = None
    #: ``s3://.../cms_assets.zip`` for ``--py-files`` (optional when the venv archive holds the package).
    emr_py_files_s3: str | None = None
    #: ``s3://.../venv.tar.gz`` (venv-pack with dagster-pipes, pyarrow, boto3), unpacked as ``./environment``.
    emr_venv_archive_s3: str | None = None
    #: ``s3://...`` for the job's Spark logs (optional; Pipes messages come through CloudWatch either way).
    emr_log_uri_s3: str | None = None

    @property
    def mode(self) -> SparkMode:
        """``emr-serverless`` when an application is set (then its role and entry point must be too),
        ``connect`` with a Spark Connect URL, else ``local``."""
        if self.emr_application_id:
            for field in ("emr_job_role_arn", "emr_entry_point_s3"):
                if not getattr(self, field):
                    raise ValueError(
                        f"SparkResource.{field} is required with emr_application_id (EMR Serverless); "
                        f"set {field} (production: CMS_{field.upper()})"
                    )
            return "emr-serverless"
        return "connect" if self.remote else "local"

    def session(self) -> Any:
        from cms_assets.lib.spark.session import get_spark

        conf = {"spark.driver.memory": self.driver_memory, "spark.sql.shuffle.partitions": str(self.shuffle_partitions)}
        return get_spark(remote=self.remote, conf=conf)

    def emr_job_params(
        self,
        storage: StorageResource,
        action: str,
        samples: int | list[int],
        *,
        model_version: str | None = None,
        seed: int = 42,
        gbt_size: tuple[int, int] | None = None,
        max_fit_rows: int | None = None,
    ) -> dict[str, Any]:
        """The EMR Serverless ``start_job_run`` request for ``emr_entry.py --action <action>``.

        The entry reads ``<storage>/tables`` and writes under the storage root itself, with the layout the
        in-process assets use, so the storage must be S3. CloudWatch logging is always on: Pipes reads the
        entry's messages from there.
        """
        from cms_assets.lib.spark.emr import emr_serverless_job_params

        if self.mode != "emr-serverless":
            raise ValueError(f"emr_job_params needs EMR Serverless settings (emr_application_id); mode is {self.mode}")
        if not storage.url.startswith("s3://"):
            raise ValueError(
                f"EMR Serverless needs S3 storage (CMS_ASSETS_DATA=s3://bucket/prefix), got {storage.url!r}: "
                "the cluster cannot read a local directory"
            )
        store = storage.get()
        return emr_serverless_job_params(
            str(self.emr_application_id),
            str(self.emr_job_role_arn),
            str(self.emr_entry_point_s3),
            store.uri(layout.TABLES),
            store.uri(""),
            samples,
            action=action,
            model_version=model_version,
            seed=seed,
            gbt_size=gbt_size,
            max_fit_rows=max_fit_rows,
            py_files_s3=self.emr_py_files_s3,
            venv_archive_s3=self.emr_venv_archive_s3,
            log_uri_s3=self.emr_log_uri_s3,
            cloudwatch_logs=True,
        )

    def pipes_client(self, region: str | None = None) -> Any:
        """A ``PipesEMRServerlessClient`` on boto3 clients for ``region`` (None: boto3's own resolution).

        The CloudWatch Logs client is passed explicitly so both AWS clients use the same region.
        """
        import boto3
        from dagster_aws.pipes import PipesCloudWatchMessageReader, PipesEMRServerlessClient

        return PipesEMRServerlessClient(
            client=boto3.client("emr-serverless", region_name=region),
            message_reader=PipesCloudWatchMessageReader(client=boto3.client("logs", region_name=region)),
        )

    def run_pipes(
        self, context: dg.AssetExecutionContext, params: dict[str, Any], region: str | None = None
    ) -> dg.MaterializeResult:
        """Start the job, wait for it, and return the materialization it reported (plus the job run ids).

        ``params`` is copied because the Pipes client appends its bootstrap variables to the request in place.
        """
        client = self.pipes_client(region)
        invocation = client.run(context=context, start_job_run_params=copy.deepcopy(params))
        return invocation.get_materialize_result()

    def features_on_duckdb(self, local_storage: bool) -> bool:
        """Whether the feature query runs on DuckDB (see ``features_engine``); DuckDB reads local files only."""
        if self.features_engine == "duckdb" and not local_storage:
            raise ValueError("features_engine=duckdb needs local storage (DuckDB reads local Parquet files here)")
        if self.features_engine == "auto":
            return self.mode == "local" and local_storage
        return self.features_engine == "duckdb"

    def duckdb_memory_limit(self) -> str:
        """DuckDB's memory_limit for the feature query: the budget a local Spark driver would have had."""
        value = self.driver_memory.strip().lower()
        return value[:-1] + "GB" if value.endswith("g") else value[:-1] + "MB" if value.endswith("m") else value

    def needs_staging(self, storage: Storage) -> bool:
        """True for S3 storage with a local Spark: a laptop Spark has no S3A connector, so inputs are copied."""
        return storage.local_path("") is None and not self.remote

    def readable(self, storage: Storage, stage: Path | None, prefixes: list[str]) -> str:
        """A root from which Spark can read the given storage prefixes.

        Local storage is read in place; a cluster (Spark Connect/EMR) reads ``s3a://`` directly; S3 with local
        Spark is copied into ``stage`` first (once per prefix; the caller removes ``stage``)."""
        local = storage.local_path("")
        if local is not None:
            return str(local)
        if self.remote:
            return storage.uri("").replace("s3://", "s3a://", 1)
        if stage is None:
            raise ValueError("S3 storage with a local Spark needs a local staging directory")
        for prefix in prefixes:
            if not (stage / prefix).exists():
                fetch_prefix(storage, prefix, stage)
        return str(stage)

    @contextmanager
    def output_dir(self, storage: Storage, scratch: Path, prefix: str) -> Iterator[str]:
        """A directory for Spark to write into, published at ``prefix`` when the block succeeds."""
        if self.remote and storage.local_path("") is None:
            with publishing(storage, prefix) as version:  # the cluster writes a new version; the pointer follows
                yield storage.uri(version).replace("s3://", "s3a://", 1)
            return
        out = scratch / f"out-{uuid.uuid4().hex[:8]}"
        try:
            yield str(out)
            publish_directory(storage, out, prefix)
        finally:
            shutil.rmtree(out, ignore_errors=True)


class WarehouseResource(dg.ConfigurableResource):
    """DuckDB file (default), PostgreSQL, or Redshift (``redshift+psycopg2://``; COPY uses ``iam_role``).

    ``url`` may carry a password, so :func:`~cms_assets.defs.wiring.resources_for` passes such a
    ``CMS_WAREHOUSE_URL`` as a ``dg.EnvVar`` (always in production): run snapshots and event logs then record the
    variable's name, never its value.
    """

    url: str = "duckdb:///data/warehouse.duckdb"
    schema_name: str = "cms"
    iam_role: str | None = None

    def get(self) -> Any:
        from cms_assets.lib.warehouse.load import Warehouse

        return Warehouse.from_url(self.url, schema=self.schema_name, iam_role=self.iam_role)
