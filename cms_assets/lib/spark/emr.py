"""Request parameters for running :mod:`cms_assets.lib.spark.emr_entry` on AWS through Dagster Pipes.

Plain dicts, no AWS call: ``emr_serverless_job_params`` is the ``start_job_run`` request that
``dagster_aws.pipes.PipesEMRServerlessClient.run(start_job_run_params=...)`` takes (the client appends the Pipes
bootstrap variables to ``sparkSubmitParameters``); ``emr_step_params`` is one step for the ``Steps`` list of the
``run_job_flow`` request that ``PipesEMRClient`` takes (EMR on EC2).

The entry script needs this package and ``dagster-pipes`` on the cluster: pass ``py_files_s3`` (a zip of
``cms_assets``) and, for EMR Serverless, ``venv_archive_s3`` (a venv-pack tarball unpacked as ``./environment``).
"""

from __future__ import annotations

from cms_assets.lib.synpuf.names import SAMPLES

ACTIONS = ("features", "train", "predict")
VENV_PYTHON = "./environment/bin/python"


def _s3(field: str, value: str) -> str:
    if not value.startswith("s3://") or len(value) <= len("s3://"):
        raise ValueError(f"{field} must be an s3:// URI, got {value!r}")
    return value.rstrip("/")


def entry_arguments(
    action: str,
    tables_root: str,
    out_root: str,
    samples: list[int],
    model_version: str | None = None,
    seed: int = 42,
    gbt_size: tuple[int, int] | None = None,
    max_fit_rows: int | None = None,
) -> list[str]:
    """Command-line arguments of ``emr_entry.py`` (the same parser reads them back)."""
    if action not in ACTIONS:
        raise ValueError(f"action must be one of {ACTIONS}, got {action!r}")
    if not samples:
        raise ValueError("samples must name at least one sample")
    bad = [s for s in samples if s not in SAMPLES]
    if bad:
        raise ValueError(f"samples must be within {SAMPLES[0]}-{SAMPLES[-1]}, got {bad}")
    if action == "predict" and not model_version:
        raise ValueError("action 'predict' needs model_version")
    args = ["--action", action, "--tables-root", tables_root, "--out-root", out_root, "--seed", str(seed)]
    args += ["--samples", *[str(s) for s in samples]]
    if model_version:
        args += ["--model-version", model_version]
    if gbt_size:
        args += ["--gbt-trees", str(gbt_size[0]), "--gbt-depth", str(gbt_size[1])]
    if max_fit_rows is not None:
        args += ["--max-fit-rows", str(max_fit_rows)]
    return args


def spark_conf(
    driver_memory: str = "4g",
    executor_memory: str = "8g",
    executor_cores: int = 4,
    shuffle_partitions: int = 64,
    extra: dict[str, str] | None = None,
) -> dict[str, str]:
    """Cluster Spark settings: UTC session time zone like local mode, so dates mean the same everywhere."""
    conf = {
        "spark.driver.memory": driver_memory,
        "spark.executor.memory": executor_memory,
        "spark.executor.cores": str(executor_cores),
        "spark.sql.shuffle.partitions": str(shuffle_partitions),
        "spark.sql.session.timeZone": "UTC",
    }
    conf.update(extra or {})
    return conf


def _submit_parameters(conf: dict[str, str], py_files_s3: str | None) -> str:
    parts = [f"--conf {k}={v}" for k, v in conf.items()]
    if py_files_s3:
        parts.append(f"--py-files {_s3('py_files_s3', py_files_s3)}")
    return " ".join(parts)


def emr_serverless_job_params(
    application_id: str,
    role_arn: str,
    entry_point_s3: str,
    tables_root_s3: str,
    out_root_s3: str,
    sample: int | list[int],
    *,
    action: str = "features",
    model_version: str | None = None,
    seed: int = 42,
    gbt_size: tuple[int, int] | None = None,
    max_fit_rows: int | None = None,
    py_files_s3: str | None = None,
    venv_archive_s3: str | None = None,
    log_uri_s3: str | None = None,
    cloudwatch_logs: bool = False,
    name: str | None = None,
    conf: dict[str, str] | None = None,
) -> dict:
    """The EMR Serverless ``start_job_run`` request for one action on one sample (or several, for ``train``).

    ``cloudwatch_logs`` turns on the job's CloudWatch logging: ``PipesEMRServerlessClient`` reads the Pipes
    messages (the entry's materialization metadata) from the driver's stdout stream there and nowhere else.
    """
    if not application_id:
        raise ValueError("application_id is required")
    if not role_arn.startswith("arn:aws:iam::"):
        raise ValueError(f"role_arn must be an IAM role ARN, got {role_arn!r}")
    entry = _s3("entry_point_s3", entry_point_s3)
    if not entry.endswith(".py"):
        raise ValueError(f"entry_point_s3 must name a .py file, got {entry_point_s3!r}")
    samples = sample if isinstance(sample, list) else [sample]
    roots = _s3("tables_root_s3", tables_root_s3), _s3("out_root_s3", out_root_s3)
    arguments = entry_arguments(action, *roots, samples, model_version, seed, gbt_size, max_fit_rows)
    settings = dict(conf if conf is not None else spark_conf())
    if venv_archive_s3:
        settings["spark.archives"] = f"{_s3('venv_archive_s3', venv_archive_s3)}#environment"
        settings["spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON"] = VENV_PYTHON
        settings["spark.emr-serverless.driverEnv.PYSPARK_PYTHON"] = VENV_PYTHON
        settings["spark.executorEnv.PYSPARK_PYTHON"] = VENV_PYTHON
    params: dict = {
        "applicationId": application_id,
        "executionRoleArn": role_arn,
        "name": name or f"cms-assets-{action}-" + "-".join(f"{s:02d}" for s in samples),
        "jobDriver": {
            "sparkSubmit": {
                "entryPoint": entry,
                "entryPointArguments": arguments,
                "sparkSubmitParameters": _submit_parameters(settings, py_files_s3),
            }
        },
    }
    monitoring: dict = {}
    if log_uri_s3:
        monitoring["s3MonitoringConfiguration"] = {"logUri": _s3("log_uri_s3", log_uri_s3) + "/"}
    if cloudwatch_logs:
        monitoring["cloudWatchLoggingConfiguration"] = {"enabled": True}
    if monitoring:
        params["configurationOverrides"] = {"monitoringConfiguration": monitoring}
    return params


def emr_step_params(
    entry_point_s3: str,
    tables_root_s3: str,
    out_root_s3: str,
    sample: int | list[int],
    *,
    action: str = "features",
    model_version: str | None = None,
    seed: int = 42,
    gbt_size: tuple[int, int] | None = None,
    max_fit_rows: int | None = None,
    py_files_s3: str | None = None,
    name: str | None = None,
    conf: dict[str, str] | None = None,
    action_on_failure: str = "CONTINUE",
) -> dict:
    """One EMR-on-EC2 step running ``spark-submit`` in cluster mode through ``command-runner.jar``."""
    entry = _s3("entry_point_s3", entry_point_s3)
    samples = sample if isinstance(sample, list) else [sample]
    roots = _s3("tables_root_s3", tables_root_s3), _s3("out_root_s3", out_root_s3)
    arguments = entry_arguments(action, *roots, samples, model_version, seed, gbt_size, max_fit_rows)
    submit = ["spark-submit", "--deploy-mode", "cluster"]
    for key, value in (conf if conf is not None else spark_conf()).items():
        submit += ["--conf", f"{key}={value}"]
    if py_files_s3:
        submit += ["--py-files", _s3("py_files_s3", py_files_s3)]
    return {
        "Name": name or f"cms-assets-{action}-" + "-".join(f"{s:02d}" for s in samples),
        "ActionOnFailure": action_on_failure,
        "HadoopJarStep": {"Jar": "command-runner.jar", "Args": [*submit, entry, *arguments]},
    }
