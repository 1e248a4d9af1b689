"""deploy/dagster.prod.yaml loads as a real instance: runs in PostgreSQL, step logs in S3, the queue limits as meant."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from sqlalchemy.engine import make_url

from cms_assets_tests.fixtures.s3 import S3Server

PROD_YAML = Path(__file__).resolve().parents[2] / "deploy" / "dagster.prod.yaml"


@pytest.fixture
def prod_instance(
    tmp_path: Path, postgres_db_url: str, s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[dg.DagsterInstance, str, str]]:
    """The production instance config, with its env vars pointed at the test PostgreSQL and SeaweedFS."""
    pytest.importorskip("dagster_postgres", reason="dagster-postgres is needed by deploy/dagster.prod.yaml")
    url = make_url(postgres_db_url)
    bucket, prefix = f"cms-logs-{uuid.uuid4().hex[:8]}", "dagster/compute-logs"
    s3_server.client().create_bucket(Bucket=bucket)
    s3_server.buckets.append(bucket)
    env = {
        "DAGSTER_PG_HOST": url.host,
        "DAGSTER_PG_PORT": str(url.port),
        "DAGSTER_PG_USERNAME": url.username,
        "DAGSTER_PG_PASSWORD": url.password,
        "DAGSTER_PG_DB": url.database,
        "DAGSTER_COMPUTE_LOG_BUCKET": bucket,
        "DAGSTER_COMPUTE_LOG_PREFIX": prefix,
        # On AWS the task role and region provide these; boto3 reads the endpoint override from the environment.
        "AWS_ENDPOINT_URL_S3": s3_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3_server.access_key,
        "AWS_SECRET_ACCESS_KEY": s3_server.secret_key,
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, str(value))
    home = tmp_path / "dagster_home"
    home.mkdir()
    shutil.copy(PROD_YAML, home / "dagster.yaml")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance, bucket, prefix


def test_prod_instance_stores_runs_in_postgres_and_step_logs_in_s3(
    prod_instance: tuple[dg.DagsterInstance, str, str], s3_server: S3Server
) -> None:
    from dagster_aws.s3.compute_log_manager import S3ComputeLogManager
    from dagster_postgres import PostgresRunStorage

    instance, bucket, prefix = prod_instance
    assert isinstance(instance.run_storage, PostgresRunStorage)
    assert isinstance(instance.compute_log_manager, S3ComputeLogManager)

    @dg.asset
    def shouting_asset() -> int:
        print("hello from a step")
        return 1

    result = dg.materialize([shouting_asset], instance=instance)
    assert result.success
    assert instance.get_run_by_id(result.run_id) is not None  # read back from PostgreSQL
    listed = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert any(k.endswith(".out") for k in keys), f"no stdout log uploaded under s3://{bucket}/{prefix}: {keys}"
    out_key = next(k for k in keys if k.endswith(".out"))
    body = s3_server.client().get_object(Bucket=bucket, Key=out_key)["Body"].read().decode()
    assert "hello from a step" in body


def test_prod_instance_pools_limit_spark_to_one_step(prod_instance: tuple[dg.DagsterInstance, str, str]) -> None:
    instance, _, _ = prod_instance
    config = instance.get_concurrency_config()
    assert config.pool_config.default_pool_limit == 1  # pools spark, cms_download, warehouse: one step at a time
    assert config.run_queue_config is not None and config.run_queue_config.max_concurrent_runs == 4
    assert instance.run_monitoring_enabled
    assert instance.run_retries_enabled and instance.run_retries_max_retries == 1
    assert not instance.telemetry_enabled


def test_prod_instance_names_a_missing_env_var(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A task started without its secrets fails at start-up with the variable's name, not on first run."""
    for key in ("DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD"):
        monkeypatch.delenv(key, raising=False)
    shutil.copy(PROD_YAML, tmp_path / "dagster.yaml")
    with pytest.raises(Exception, match="DAGSTER_PG_"):
        dg.DagsterInstance.from_config(str(tmp_path))
