"""EMR request parameters (exact; no AWS here) and the EMR entry script run locally, with and without Pipes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import dagster as dg
import pyarrow.parquet as pq
import pytest

from cms_assets.lib import layout
from cms_assets.lib.ml.artifacts import chart_key, metrics_key, read_model_info
from cms_assets.lib.ml.schemas import METRICS_SCHEMA
from cms_assets.lib.spark import emr_entry
from cms_assets.lib.spark.emr import emr_serverless_job_params, emr_step_params, entry_arguments
from cms_assets.lib.storage import LocalStorage

ROLE = "arn:aws:iam::123456789012:role/cms-emr"
CONF = (
    "--conf spark.driver.memory=4g --conf spark.executor.memory=8g --conf spark.executor.cores=4"
    " --conf spark.sql.shuffle.partitions=64 --conf spark.sql.session.timeZone=UTC"
)
ARGS = ["--action", "features", "--tables-root", "s3://lake/cms/tables", "--out-root", "s3://lake/cms", "--seed", "42"]


def test_serverless_params_exact() -> None:
    params = emr_serverless_job_params(
        "00fabc", ROLE, "s3://code/emr_entry.py", "s3://lake/cms/tables/", "s3://lake/cms", 3,
        py_files_s3="s3://code/cms_assets.zip", venv_archive_s3="s3://code/venv.tar.gz", log_uri_s3="s3://logs/emr",
    )  # fmt: skip
    py = "./environment/bin/python"
    assert params == {
        "applicationId": "00fabc",
        "executionRoleArn": ROLE,
        "name": "cms-assets-features-03",
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": "s3://code/emr_entry.py",
                "entryPointArguments": [*ARGS, "--samples", "3"],
                "sparkSubmitParameters": CONF
                + " --conf spark.archives=s3://code/venv.tar.gz#environment"
                + f" --conf spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON={py}"
                + f" --conf spark.emr-serverless.driverEnv.PYSPARK_PYTHON={py}"
                + f" --conf spark.executorEnv.PYSPARK_PYTHON={py}"
                + " --py-files s3://code/cms_assets.zip",
            }
        },
        "configurationOverrides": {
            "monitoringConfiguration": {"s3MonitoringConfiguration": {"logUri": "s3://logs/emr/"}}
        },
    }


def test_serverless_train_minimal() -> None:
    params = emr_serverless_job_params(
        "app", ROLE, "s3://c/e.py", "s3://l/tables", "s3://l", [1, 2], action="train", model_version="v1", seed=7
    )
    assert set(params) == {"applicationId", "executionRoleArn", "name", "jobDriver"}
    assert params["name"] == "cms-assets-train-01-02"
    assert params["jobDriver"]["sparkSubmit"]["entryPointArguments"] == [
        "--action", "train", "--tables-root", "s3://l/tables", "--out-root", "s3://l", "--seed", "7",
        "--samples", "1", "2", "--model-version", "v1",
    ]  # fmt: skip
    assert params["jobDriver"]["sparkSubmit"]["sparkSubmitParameters"] == CONF


def test_step_params_exact() -> None:
    step = emr_step_params("s3://code/emr_entry.py", "s3://lake/cms/tables", "s3://lake/cms", 3, conf={"a.b": "1"})
    assert step == {
        "Name": "cms-assets-features-03",
        "ActionOnFailure": "CONTINUE",
        "HadoopJarStep": {
            "Jar": "command-runner.jar",
            "Args": [
                "spark-submit", "--deploy-mode", "cluster", "--conf", "a.b=1", "s3://code/emr_entry.py",
                *ARGS, "--samples", "3",
            ],
        },
    }  # fmt: skip


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"role_arn": "cms-emr"}, "role_arn"),
        ({"entry_point_s3": "/local/emr_entry.py"}, "entry_point_s3"),
        ({"entry_point_s3": "s3://code/emr_entry.jar"}, r"\.py"),
        ({"tables_root_s3": "lake/tables"}, "tables_root_s3"),
        ({"sample": 21}, "within 1-20"),
        ({"action": "train2"}, "action"),
        ({"action": "predict"}, "model_version"),
    ],
)
def test_bad_parameters_named(kwargs: dict, message: str) -> None:
    base = {
        "application_id": "app", "role_arn": ROLE, "entry_point_s3": "s3://c/e.py", "tables_root_s3": "s3://l/t",
        "out_root_s3": "s3://l", "sample": 1,
    }  # fmt: skip
    with pytest.raises(ValueError, match=message):
        emr_serverless_job_params(**{**base, **kwargs})


def test_arguments_round_trip_through_the_entry_parser() -> None:
    args = emr_entry.parse_args(entry_arguments("predict", "/t", "/o", [4, 5], model_version="v9", seed=3))
    assert (args.action, args.tables_root, args.out_root, args.samples, args.model_version, args.seed) == (
        "predict", "/t", "/o", [4, 5], "v9", 3,
    )  # fmt: skip
    train = emr_entry.parse_args(entry_arguments("train", "/t", "/o", [1], gbt_size=(7, 3)))
    assert (train.gbt_trees, train.gbt_depth) == (7, 3)
    assert emr_entry.parse_args(entry_arguments("train", "/t", "/o", [1])).gbt_trees is None  # the model's default
    assert emr_entry.parse_args(entry_arguments("train", "/t", "/o", [1], max_fit_rows=0)).max_fit_rows == 0
    assert emr_entry.parse_args(entry_arguments("train", "/t", "/o", [1])).max_fit_rows is None


def test_entry_runs_locally_end_to_end(spark, small_generated_root: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    from dagster_pipes import PipesEnvVarParamsLoader

    monkeypatch.delenv("DAGSTER_PIPES_CONTEXT", raising=False)
    monkeypatch.delenv("DAGSTER_PIPES_MESSAGES", raising=False)
    assert not PipesEnvVarParamsLoader().is_dagster_pipes_process()
    out = str(tmp_path)
    common = ["--tables-root", str(small_generated_root), "--out-root", out, "--samples", "1"]
    features = emr_entry.main(["--action", "features", *common])
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["rows"] == {"1": features["rows"][1]}
    assert features["rows"][1] == spark.read.parquet(f"{out}/{layout.features_dir(1)}").count() > 1000
    # a small GBT: the entry point's wiring is under test here, the model's quality in test_model
    small = ["--gbt-trees", "8", "--gbt-depth", "4"]
    trained = emr_entry.main(["--action", "train", *common, *small, "--model-version", "v-emr"])
    assert trained["model_version"] == "v-emr" and trained["selected_model"] in trained["temporal_r2"]
    assert (tmp_path / layout.model_dir("v-emr") / "pipeline" / "metadata").is_dir()
    # the same files beside the model as the in-process cost_model asset (warehouse/model_metrics reads metrics)
    metrics = pq.read_table(tmp_path / metrics_key("v-emr"))
    assert metrics.column_names == METRICS_SCHEMA.names and set(metrics["MODEL_VERSION"].to_pylist()) == {"v-emr"}
    assert (tmp_path / chart_key("v-emr")).read_bytes().startswith(b"\x89PNG")
    assert read_model_info(LocalStorage(tmp_path), "v-emr")["selected"] == trained["selected_model"]
    scored = emr_entry.main(["--action", "predict", *common, "--model-version", "v-emr"])
    feats = spark.read.parquet(f"{out}/{layout.features_dir(1)}")
    beneficiaries = feats.select("DESYNPUF_ID").distinct().count()
    holdout = feats.where("YEAR = 2009 AND NEXT_YEAR_COST IS NOT NULL").count()
    assert scored["scopes"] == {1: {"current": beneficiaries, "holdout": holdout}}
    assert scored["rows"] == {1: beneficiaries + holdout}


def test_entry_reports_through_pipes(small_generated_root: Path, tmp_path: Path) -> None:
    """A real Pipes session: Dagster runs the entry script as a subprocess and receives its materialization."""

    @dg.asset(name="beneficiary_features")
    def features_asset(context, pipes: dg.PipesSubprocessClient):  # noqa: ANN001 - dagster resolves annotations
        command = [sys.executable, "-m", "cms_assets.lib.spark.emr_entry", "--action", "features"]
        command += ["--tables-root", str(small_generated_root), "--out-root", str(tmp_path), "--samples", "1"]
        return pipes.run(command=command, context=context).get_materialize_result()

    result = dg.materialize([features_asset], resources={"pipes": dg.PipesSubprocessClient()})
    assert result.success
    (event,) = result.get_asset_materialization_events()
    metadata = event.materialization.metadata
    assert metadata["action"].value == "features"
    rows = metadata["dagster/row_count"].value
    assert rows > 1000 and metadata["rows"].value == {"1": rows}
    assert (tmp_path / layout.features_dir(1)).is_dir()
