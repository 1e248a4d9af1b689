"""EMR Serverless in the Dagster layer, without AWS: which Spark the resource selects, the exact ``start_job_run``
requests it builds, its errors, and the ML assets going through the real ``PipesEMRServerlessClient`` on botocore
``Stubber``-ed clients (botocore's in-process stand-in for AWS: it checks each request against the service model
and answers with canned responses, no network) while the data side is a real S3 protocol (SeaweedFS)."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import botocore.session
import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.stub import ANY, Stubber
from dagster_pipes import PIPES_METADATA_TYPE_INFER, PIPES_PROTOCOL_VERSION, PIPES_PROTOCOL_VERSION_FIELD

from cms_assets.defs.ml.features import beneficiary_features
from cms_assets.defs.ml.model import CostModelConfig, cost_model, cost_predictions
from cms_assets.defs.resources import ModelSizeResource, SparkResource, StorageResource
from cms_assets.defs.tables.assets import table_assets
from cms_assets.defs.wiring import resources_for, with_io_managers
from cms_assets.lib import layout
from cms_assets.lib.ml.artifacts import LATEST_MODEL_KEY, chart_key
from cms_assets.lib.ml.schemas import FEATURE_SCHEMA
from cms_assets.lib.spark import emr_entry
from cms_assets.lib.synpuf.tables import TABLE_NAMES
from cms_assets_tests.fixtures.s3 import S3Server

APP = "00fabc123def"
ROLE = "arn:aws:iam::123456789012:role/cms-assets-emr-job"
REGION = "eu-west-1"
EMR_ENV = {
    "CMS_EMR_APPLICATION_ID": APP,
    "CMS_EMR_JOB_ROLE_ARN": ROLE,
    "CMS_EMR_ENTRY_POINT_S3": "s3://code/cms/emr_entry.py",
    "CMS_EMR_PY_FILES_S3": "s3://code/cms/cms_assets.zip",
    "CMS_EMR_VENV_ARCHIVE_S3": "s3://code/cms/venv.tar.gz",
    "CMS_EMR_LOG_URI_S3": "s3://logs/emr",
}
PROD_ENV = {"CMS_ASSETS_DATA": "s3://bucket/prefix", "AWS_REGION": REGION, **EMR_ENV}
PY = "./environment/bin/python"
SUBMIT = (
    "--conf spark.driver.memory=4g --conf spark.executor.memory=8g --conf spark.executor.cores=4"
    " --conf spark.sql.shuffle.partitions=64 --conf spark.sql.session.timeZone=UTC"
    " --conf spark.archives=s3://code/cms/venv.tar.gz#environment"
    f" --conf spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON={PY}"
    f" --conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON={PY}"
    f" --conf spark.executorEnv.PYSPARK_PYTHON={PY}"
    " --py-files s3://code/cms/cms_assets.zip"
)
MONITORING = {
    "monitoringConfiguration": {
        "s3MonitoringConfiguration": {"logUri": "s3://logs/emr/"},
        "cloudWatchLoggingConfiguration": {"enabled": True},
    }
}
VERSION = "20240102T030405Z-gbt_log"


def _emr_spark(**overrides: Any) -> SparkResource:
    fields = {
        "emr_application_id": APP,
        "emr_job_role_arn": ROLE,
        "emr_entry_point_s3": "s3://code/cms/emr_entry.py",
        "emr_py_files_s3": "s3://code/cms/cms_assets.zip",
        "emr_venv_archive_s3": "s3://code/cms/venv.tar.gz",
        "emr_log_uri_s3": "s3://logs/emr",
    }
    return SparkResource(**{**fields, **overrides})


def _expected(name: str, arguments: list[str]) -> dict[str, Any]:
    return {
        "applicationId": APP,
        "executionRoleArn": ROLE,
        "name": name,
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": "s3://code/cms/emr_entry.py",
                "entryPointArguments": arguments,
                "sparkSubmitParameters": SUBMIT,
            }
        },
        "configurationOverrides": MONITORING,
    }


ROOTS = ["--tables-root", "s3://bucket/prefix/tables", "--out-root", "s3://bucket/prefix"]


@pytest.fixture
def prod(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StorageResource, SparkResource]]:
    """Production storage and spark from ``resources_for`` with a production-like env, resolved as Dagster would
    (the storage URL is a ``dg.EnvVar``), and with boto3 forbidden: building requests must not touch AWS."""
    for key, value in PROD_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(boto3, "client", _no_aws)
    resources = resources_for("production", PROD_ENV)
    with dg.build_resources({k: resources[k] for k in ("storage", "spark")}) as built:
        yield built.storage, built.spark


def _no_aws(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError(f"boto3.client{args} created while only building requests")


# ---------------------------------------------------------------- mode selection and production wiring


def test_mode_selection() -> None:
    assert SparkResource().mode == "local"
    assert SparkResource(remote="sc://spark:15002").mode == "connect"
    assert _emr_spark().mode == "emr-serverless"
    assert _emr_spark(remote="sc://spark:15002").mode == "emr-serverless"  # the application id wins
    minimal = SparkResource(emr_application_id=APP, emr_job_role_arn=ROLE, emr_entry_point_s3="s3://c/e.py")
    assert minimal.mode == "emr-serverless"
    # defaults of the in-process path are unchanged
    assert (SparkResource().driver_memory, SparkResource().shuffle_partitions, SparkResource().remote) == (
        "4g",
        8,
        None,
    )


@pytest.mark.parametrize(
    ("missing", "env_var"),
    [("emr_job_role_arn", "CMS_EMR_JOB_ROLE_ARN"), ("emr_entry_point_s3", "CMS_EMR_ENTRY_POINT_S3")],
)
def test_emr_needs_role_and_entry_point(missing: str, env_var: str) -> None:
    spark = _emr_spark(**{missing: None})
    with pytest.raises(ValueError, match=rf"SparkResource\.{missing} is required.*{env_var}"):
        _ = spark.mode


def test_emr_needs_s3_storage(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"EMR Serverless needs S3 storage \(CMS_ASSETS_DATA=s3://"):
        _emr_spark().emr_job_params(StorageResource(url=str(tmp_path)), "features", 1)


def test_params_only_in_emr_mode() -> None:
    with pytest.raises(ValueError, match="mode is connect"):
        SparkResource(remote="sc://x:15002").emr_job_params(StorageResource(url="s3://b/p"), "features", 1)


def test_production_selects_emr_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(boto3, "client", _no_aws)  # constructing resources creates no AWS client
    spark = resources_for("production", PROD_ENV)["spark"]
    assert spark.mode == "emr-serverless"
    assert (spark.emr_application_id, spark.emr_job_role_arn) == (APP, ROLE)
    assert spark.emr_log_uri_s3 == "s3://logs/emr" and spark.remote is None


def test_production_without_emr_env_does_not_select_emr() -> None:
    base = {"CMS_ASSETS_DATA": "s3://bucket/prefix"}
    plain = resources_for("production", base)["spark"]
    assert plain.mode == "local" and plain.emr_application_id is None  # no cluster configured: local Spark
    connect = resources_for("production", {**base, "CMS_SPARK_REMOTE": "sc://spark:15002"})["spark"]
    assert connect.mode == "connect"
    assert isinstance(connect.remote, dg.EnvVar)  # a Spark Connect URL may carry a token: resolved at run time
    # an EMR variable without the application id does not switch modes
    assert resources_for("production", {**base, "CMS_EMR_JOB_ROLE_ARN": ROLE})["spark"].mode == "local"


# ---------------------------------------------------------------- the exact requests


def test_features_params_exact(prod: tuple[StorageResource, SparkResource]) -> None:
    storage, spark = prod
    params = spark.emr_job_params(storage, "features", 3)
    assert params == _expected(
        "cms-assets-features-03", ["--action", "features", *ROOTS, "--seed", "42", "--samples", "3"]
    )
    # the entry writes exactly where the in-process asset publishes and the rest of the graph reads
    args = emr_entry.parse_args(params["jobDriver"]["sparkSubmit"]["entryPointArguments"])
    store = storage.get()
    assert f"{args.out_root}/{layout.features_dir(3)}" == store.uri(layout.features_dir(3))
    for table in TABLE_NAMES:
        read_by_entry = f"{args.tables_root}/{table}/{layout.sample_dir(3)}"
        assert read_by_entry == store.uri(f"{layout.table_dir(table)}/{layout.sample_dir(3)}")


def test_train_params_exact(prod: tuple[StorageResource, SparkResource]) -> None:
    storage, spark = prod
    params = spark.emr_job_params(storage, "train", [1, 2], seed=7, gbt_size=(25, 5))
    # no --model-version: the entry names it after training, as the in-process asset does
    assert params == _expected(
        "cms-assets-train-01-02",
        ["--action", "train", *ROOTS, "--seed", "7", "--samples", "1", "2", "--gbt-trees", "25", "--gbt-depth", "5"],
    )
    args = emr_entry.parse_args(params["jobDriver"]["sparkSubmit"]["entryPointArguments"])
    assert f"{args.out_root}/{layout.model_dir('v')}" == storage.get().uri(layout.model_dir("v"))


def test_predict_params_exact(prod: tuple[StorageResource, SparkResource]) -> None:
    storage, spark = prod
    params = spark.emr_job_params(storage, "predict", 3, model_version=VERSION)
    assert params == _expected(
        "cms-assets-predict-03",
        ["--action", "predict", *ROOTS, "--seed", "42", "--samples", "3", "--model-version", VERSION],
    )
    args = emr_entry.parse_args(params["jobDriver"]["sparkSubmit"]["entryPointArguments"])
    assert f"{args.out_root}/{layout.predictions_dir(3)}" == storage.get().uri(layout.predictions_dir(3))


def test_minimal_settings_params(prod: tuple[StorageResource, SparkResource]) -> None:
    """Without py-files, venv and log URI: just the cluster Spark settings, and CloudWatch on for Pipes."""
    storage, _ = prod
    spark = SparkResource(emr_application_id=APP, emr_job_role_arn=ROLE, emr_entry_point_s3="s3://c/e.py")
    params = spark.emr_job_params(storage, "features", 3)
    assert params["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"] == SUBMIT.split(" --conf spark.archives")[0]
    assert params["configurationOverrides"] == {
        "monitoringConfiguration": {"cloudWatchLoggingConfiguration": {"enabled": True}}
    }


# ---------------------------------------------------------------- the assets through Pipes, AWS stubbed


@dataclass
class FakeAws:
    """Stubbed emr-serverless and logs clients, what was sent to start_job_run, and the regions asked for."""

    emr: Stubber
    logs: Stubber
    sent: list[dict[str, Any]]
    regions: dict[str, str | None]

    def expect_job(self, pipes_lines: list[str], run_id: str = "jr-0001") -> None:
        """One job run: started, found SUCCESS, its application read, then its driver stdout read from CloudWatch
        (the lines the entry script printed through dagster_pipes)."""
        arn = f"arn:aws:emr-serverless:{REGION}:123456789012:/applications/{APP}"
        self.emr.add_response(
            "start_job_run", {"applicationId": APP, "jobRunId": run_id, "arn": f"{arn}/jobruns/{run_id}"}
        )
        job_run = {
            "applicationId": APP, "jobRunId": run_id, "arn": f"{arn}/jobruns/{run_id}", "createdBy": ROLE,
            "createdAt": 0, "updatedAt": 0, "executionRole": ROLE, "state": "SUCCESS", "stateDetails": "done",
            "releaseLabel": "emr-7.5.0", "jobDriver": {"sparkSubmit": {"entryPoint": "s3://code/cms/emr_entry.py"}},
        }  # fmt: skip
        self.emr.add_response("get_job_run", {"jobRun": job_run}, {"applicationId": APP, "jobRunId": run_id})
        application = {
            "applicationId": APP, "arn": arn, "releaseLabel": "emr-7.5.0", "type": "Spark", "state": "STARTED",
            "createdAt": 0, "updatedAt": 0,
            "monitoringConfiguration": {
                "cloudWatchLoggingConfiguration": {"enabled": True, "logTypes": {"SPARK_DRIVER": ["STDOUT"]}}
            },
        }  # fmt: skip
        self.emr.add_response("get_application", {"application": application}, {"applicationId": APP})
        group, stream = "/aws/emr-serverless", f"/applications/{APP}/jobs/{run_id}/SPARK_DRIVER/stdout"
        self.logs.add_response(
            "describe_log_streams",
            {"logStreams": [{"logStreamName": stream}]},
            {"logGroupName": group, "logStreamNamePrefix": stream},
        )
        events = [{"timestamp": 1, "message": line, "ingestionTime": 1} for line in pipes_lines]
        self.logs.add_response(
            "get_log_events",
            {"events": events, "nextForwardToken": "f/1", "nextBackwardToken": "b/1"},
            {"logGroupName": group, "logStreamName": stream, "startTime": ANY},
        )


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAws]:
    """Route ``boto3.client('emr-serverless' | 'logs')`` to Stubber-ed clients; S3 goes to the real SeaweedFS."""
    session = botocore.session.get_session()
    creds = {"region_name": REGION, "aws_access_key_id": "test", "aws_secret_access_key": "test"}
    clients = {name: session.create_client(name, **creds) for name in ("emr-serverless", "logs")}
    fake = FakeAws(Stubber(clients["emr-serverless"]), Stubber(clients["logs"]), [], {})
    clients["emr-serverless"].meta.events.register(
        "provide-client-params.emr-serverless.StartJobRun", lambda params, **_: fake.sent.append(copy.deepcopy(params))
    )
    real_client = boto3.client

    def client(service: str, *args: Any, **kwargs: Any) -> Any:
        if service in clients:
            fake.regions[service] = kwargs.get("region_name")
            return clients[service]
        return real_client(service, *args, **kwargs)

    monkeypatch.setattr(boto3, "client", client)
    with fake.emr, fake.logs:
        yield fake
    fake.emr.assert_no_pending_responses()
    fake.logs.assert_no_pending_responses()


def _pipes_lines(asset: str, summary: dict[str, Any] | None) -> list[str]:
    """The stdout lines ``emr_entry.main`` prints through dagster_pipes for ``summary`` (None: it reports nothing)."""
    messages: list[tuple[str, dict[str, Any]]] = [("opened", {"extras": {}})]
    if summary is not None:
        metadata = {
            k: v if isinstance(v, dict) else {"raw_value": v, "type": PIPES_METADATA_TYPE_INFER}
            for k, v in emr_entry._metadata(summary).items()
        }
        messages.append(
            ("report_asset_materialization", {"asset_key": asset, "data_version": None, "metadata": metadata})
        )
    messages.append(("closed", {}))
    return [
        json.dumps({PIPES_PROTOCOL_VERSION_FIELD: PIPES_PROTOCOL_VERSION, "method": m, "params": p})
        for m, p in messages
    ]


def _s3_resources(server: S3Server) -> tuple[Any, StorageResource]:
    store = server.make_storage("prefix")
    storage = StorageResource(
        url=f"s3://{store.bucket}/prefix", s3_endpoint_url=server.endpoint_url, aws_region=REGION,
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
    )  # fmt: skip
    return storage.get(), storage


def _publish_features(store: Any, sample: int, rows: int = 5) -> None:
    """What the cluster leaves for one sample: a Spark-style part file under layout.features_dir."""
    values = {"DESYNPUF_ID": [f"B{i:04d}" for i in range(rows)], "YEAR": [2008] * rows, "sample": [sample] * rows}
    values |= {"TOTAL_PAYMENT": [100.0 * i for i in range(rows)], "NEXT_YEAR_COST": [None] + [50.0] * (rows - 1)}
    table = pa.table(
        {f.name: pa.array(values.get(f.name, [None] * rows), type=f.type) for f in FEATURE_SCHEMA},
        schema=FEATURE_SCHEMA,
    )
    with store.writer(f"{layout.features_dir(sample)}/part-00000-abc.c000.snappy.parquet") as path:
        pq.write_table(table, path)
    # and what ingest left before: the beneficiary-years the features' row check counts
    beneficiaries = pa.table({"DESYNPUF_ID": values["DESYNPUF_ID"], "YEAR": pa.array(values["YEAR"], pa.int16())})
    with store.writer(layout.table_file("beneficiary_summary", sample)) as path:
        pq.write_table(beneficiaries, path)


def _sample_instance(partitions: list[str] | None = None) -> dg.DagsterInstance:
    instance = dg.DagsterInstance.ephemeral()
    instance.add_dynamic_partitions("cms_sample", partitions or ["sample_03"])
    return instance


def _run_metadata(result: dg.ExecuteInProcessResult) -> dict[str, Any]:
    (event,) = result.get_asset_materialization_events()
    return {k: v.value for k, v in event.materialization.metadata.items()}


def _check_sent(fake: FakeAws, expected: dict[str, Any]) -> None:
    """The request reached AWS as built, plus only what the Pipes client adds: run tags and its bootstrap env."""
    (sent,) = fake.sent
    submit = sent["jobDriver"]["sparkSubmit"].pop("sparkSubmitParameters")
    expected = copy.deepcopy(expected)
    built = expected["jobDriver"]["sparkSubmit"].pop("sparkSubmitParameters")
    assert submit.startswith(built + " --conf spark.emr-serverless.driverEnv.DAGSTER_PIPES_")
    assert "driverEnv.DAGSTER_PIPES_CONTEXT=" in submit and "driverEnv.DAGSTER_PIPES_MESSAGES=" in submit
    assert "dagster/run-id" in sent.pop("tags")
    assert sent == expected
    assert fake.regions == {"emr-serverless": REGION, "logs": REGION}


def test_features_asset_dispatches_to_emr(s3_server: S3Server, aws: FakeAws) -> None:
    store, storage = _s3_resources(s3_server)
    spark = _emr_spark()
    _publish_features(store, 3)  # stands in for what the job writes; the Dagster side reads it back
    for table in TABLE_NAMES[1:]:  # the claim tables the job reads (their content does not matter here)
        with store.writer(layout.table_file(table, 3)) as path:
            pq.write_table(pa.table({"DESYNPUF_ID": ["B0000"]}), path)
    summary = {"action": "features", "samples": [3], "rows": {3: 5}, "total_rows": 5, "seconds": 42.0}
    aws.expect_job(_pipes_lines("beneficiary_features", summary))

    result = dg.materialize(
        [*table_assets, beneficiary_features], selection=[beneficiary_features.key], partition_key="sample_03",
        instance=_sample_instance(), resources=with_io_managers({"storage": storage, "spark": spark}),
    )  # fmt: skip

    assert result.success
    _check_sent(aws, spark.emr_job_params(storage, "features", 3))
    metadata = _run_metadata(result)
    assert metadata["action"] == "features" and metadata["rows"] == {"3": 5}  # reported by the entry via Pipes
    assert metadata["AWS EMR Serverless Job Run ID"] == "jr-0001"
    assert metadata["dagster/row_count"] == 5 and "B0004" in str(metadata["preview"])  # read back from S3
    assert metadata["location"] == f"s3://{store.bucket}/prefix/{layout.features_dir(3)}"


def _publish_model(store: Any, version: str) -> None:
    """What ``emr_entry --action train`` leaves besides the Spark pipeline: the info summary, chart and metrics."""
    deciles = [(f"decile_{d:02d}_cost_share", share) for d, share in enumerate([0.3] + [0.7 / 9] * 9, start=1)]
    metrics = [
        {"MODEL_NAME": n, "SPLIT": "temporal", "METRIC": m, "VALUE": v, "SELECTED": n == "gbt_log"}
        for n, r2 in (("gbt_log", 0.31234), ("baseline_mean", 0.0))
        for m, v in (("r2", r2), ("mae", 2345.678), ("top10_capture", 0.3), ("top_decile_lift", 3.0), *deciles)
    ]
    info = {"version": version, "selected": "gbt_log", "metrics": metrics, "importances": [["AGE", 0.7]],
            "train_rows": 900, "valid_rows": 800}  # fmt: skip
    store.write_bytes(f"{layout.model_dir(version)}/info/part-00000-abc-c000.txt", json.dumps(info).encode() + b"\n")
    store.write_bytes(chart_key(version), b"\x89PNG\r\n\x1a\nchart")


def test_cost_model_on_emr_moves_the_pointer_to_the_reported_version(s3_server: S3Server, aws: FakeAws) -> None:
    store, storage = _s3_resources(s3_server)
    spark = _emr_spark()
    for sample in (1, 2):
        _publish_features(store, sample)
    _publish_model(store, VERSION)
    summary = {"action": "train", "samples": [1, 2], "model_version": VERSION, "selected_model": "gbt_log"}
    aws.expect_job(_pipes_lines("cost_model", summary))

    result = dg.materialize(
        [*table_assets, beneficiary_features, cost_model],
        selection=[cost_model.key],
        instance=_sample_instance(["sample_01", "sample_02"]),
        resources=with_io_managers({"storage": storage, "spark": spark, "model_size": ModelSizeResource()}),
        run_config=dg.RunConfig({"cost_model": CostModelConfig(seed=7)}),
    )  # fmt: skip

    assert result.success
    sent = spark.emr_job_params(storage, "train", [1, 2], seed=7, gbt_size=(25, 5), max_fit_rows=250_000)
    _check_sent(aws, sent)
    assert sent["jobDriver"]["sparkSubmit"]["entryPointArguments"][-2:] == ["--max-fit-rows", "250000"]
    assert store.read_json(LATEST_MODEL_KEY) == {"version": VERSION, "selected": "gbt_log", "samples": [1, 2]}
    metadata = _run_metadata(result)
    assert metadata["model_version"] == VERSION and metadata["train_rows"] == 900
    assert metadata["temporal_r2"] == 0.312 and metadata["temporal_mae"] == 2346.0
    assert [r.data["model"] for r in metadata["metrics"].records] == ["gbt_log (selected)", "baseline_mean"]
    assert len(metadata["decile_lift"]) < 1000 and "data:image/png;base64," in metadata["decile_lift"]
    assert metadata["location"] == f"s3://{store.bucket}/prefix/{layout.model_dir(VERSION)}"


def test_cost_model_on_emr_without_a_reported_version_keeps_the_pointer(s3_server: S3Server, aws: FakeAws) -> None:
    store, storage = _s3_resources(s3_server)
    _publish_features(store, 1)
    store.write_json(LATEST_MODEL_KEY, {"version": "older", "selected": "linear", "samples": [1]})
    aws.expect_job(_pipes_lines("cost_model", None))

    result = dg.materialize(
        [*table_assets, beneficiary_features, cost_model],
        selection=[cost_model.key],
        instance=_sample_instance(["sample_01"]),
        resources=with_io_managers({"storage": storage, "spark": _emr_spark(), "model_size": ModelSizeResource()}),
        raise_on_error=False,
    )

    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
    assert "reported no model_version" in failure.step_failure_data.error.message
    assert store.read_json(LATEST_MODEL_KEY)["version"] == "older"


def test_cost_predictions_on_emr_scores_with_the_latest_model(s3_server: S3Server, aws: FakeAws) -> None:
    store, storage = _s3_resources(s3_server)
    spark = _emr_spark()
    store.write_json(LATEST_MODEL_KEY, {"version": VERSION, "selected": "gbt_log", "samples": [1, 2]})
    _publish_features(store, 3, rows=4)  # any Parquet stands in for the scored part file here
    with store.writer(f"{layout.predictions_dir(3)}/part-00000-abc.c000.snappy.parquet") as path:
        scored = {
            "DESYNPUF_ID": ["a", "b", "c"],
            "PREDICTED_NEXT_YEAR_COST": [1.0, 2.0, 3.0],
            "MODEL_VERSION": [VERSION] * 3,
        }
        pq.write_table(pa.table(scored), path)
    summary = {"action": "predict", "samples": [3], "model_version": VERSION, "rows": {3: 3}, "total_rows": 3}
    aws.expect_job(_pipes_lines("cost_predictions", summary))

    result = dg.materialize(
        [*table_assets, beneficiary_features, cost_predictions], selection=[cost_predictions.key],
        partition_key="sample_03",
        instance=_sample_instance(),
        resources=with_io_managers({"storage": storage, "spark": spark}),
    )  # fmt: skip

    assert result.success
    _check_sent(aws, spark.emr_job_params(storage, "predict", 3, model_version=VERSION))
    metadata = _run_metadata(result)
    assert metadata["model_version"] == VERSION and metadata["dagster/row_count"] == 3


def test_model_size_comes_from_the_environment_in_every_deployment() -> None:
    env = {**PROD_ENV, "CMS_GBT_TREES": "9", "CMS_GBT_DEPTH": "3"}
    for deployment in ("local", "test", "production"):
        size = resources_for(deployment, env)["model_size"]
        assert size.gbt_size() == (9, 3) and size.gbt_params()["maxIter"] == 9
    assert resources_for("local", {})["model_size"].gbt_size() == (25, 5)
    with pytest.raises(ValueError, match="CMS_GBT_TREES must be a positive whole number, got '2.5'"):
        resources_for("local", {"CMS_GBT_TREES": "2.5"})
    assert resources_for("local", {})["model_size"].max_fit_rows == 250_000
    assert resources_for("local", {"CMS_MODEL_FIT_ROWS": "1_000_000"})["model_size"].max_fit_rows == 1_000_000
    assert resources_for("local", {"CMS_MODEL_FIT_ROWS": "0"})["model_size"].max_fit_rows == 0  # every row
    with pytest.raises(ValueError, match="CMS_MODEL_FIT_ROWS must be a whole number .0 = every row., got '-5'"):
        resources_for("local", {"CMS_MODEL_FIT_ROWS": "-5"})
