"""``cms-assets emr package --to s3://...`` end to end against SeaweedFS: the command uploads the entry script and
the package zip, the SparkResource built from the printed variables points its EMR job at those objects, the zip
imports on its own, and the downloaded pair runs an action under spark-submit the way EMR runs it."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from cms_assets.defs.resources import StorageResource
from cms_assets.defs.wiring import production_spark
from cms_assets.lib import layout
from cms_assets.lib.spark.emr_package import ENTRY_NAME, ZIP_NAME, build_package, build_zip, package_root
from cms_assets.lib.storage import LocalStorage
from cms_assets_tests.fixtures.s3 import S3Server
from cms_assets_tests.fixtures.spark import write_tables

WORKTREE = Path(__file__).resolve().parents[2]
ROLE = "arn:aws:iam::123456789012:role/cms-assets-emr-job"


def _cli(args: list[str], s3: S3Server) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(WORKTREE),
        "CMS_S3_ENDPOINT_URL": s3.endpoint_url,
        "AWS_ACCESS_KEY_ID": s3.access_key,
        "AWS_SECRET_ACCESS_KEY": s3.secret_key,
    }
    command = [sys.executable, "-m", "cms_assets.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_zip_is_reproducible_and_holds_only_sources(tmp_path: Path) -> None:
    first, second = build_package(), build_package()
    assert first == second and len(first.digest) == 12
    with zipfile.ZipFile(io.BytesIO(first.zip)) as zf:
        members = zf.namelist()
    assert "cms_assets/__init__.py" in members and "cms_assets/lib/spark/emr_entry.py" in members
    assert all(m.startswith("cms_assets/") and m.endswith(".py") and "__pycache__" not in m for m in members)
    assert first.entry == (package_root() / "lib" / "spark" / ENTRY_NAME).read_bytes()
    with pytest.raises(FileNotFoundError, match="not a Python package"):
        build_zip(tmp_path)


def test_package_command_uploads_and_job_params_point_at_it(s3_server: S3Server, tmp_path: Path) -> None:
    store = s3_server.make_storage("code/emr")
    done = _cli(["emr", "package", "--to", store.uri("")], s3_server)
    assert done.returncode == 0, done.stderr[-3000:]
    printed = dict(line.split("=", 1) for line in done.stdout.split())
    digest = build_package().digest
    assert printed == {
        "CMS_EMR_ENTRY_POINT_S3": f"s3://{store.bucket}/code/emr/{digest}/{ENTRY_NAME}",
        "CMS_EMR_PY_FILES_S3": f"s3://{store.bucket}/code/emr/{digest}/{ZIP_NAME}",
    }
    assert sorted(o.key for o in store.list("")) == sorted([f"{digest}/{ENTRY_NAME}", f"{digest}/{ZIP_NAME}"])
    again = _cli(["emr", "package", "--to", store.uri("")], s3_server)  # unchanged code: same objects
    assert again.returncode == 0 and again.stdout == done.stdout

    spark = production_spark({"CMS_EMR_APPLICATION_ID": "00app", "CMS_EMR_JOB_ROLE_ARN": ROLE, **printed})
    data = StorageResource(url=f"s3://{store.bucket}/lake", s3_endpoint_url=s3_server.endpoint_url)
    submit = spark.emr_job_params(data, "features", 1)["jobDriver"]["sparkSubmit"]
    assert submit["entryPoint"] == printed["CMS_EMR_ENTRY_POINT_S3"]
    assert f"--py-files {printed['CMS_EMR_PY_FILES_S3']}" in submit["sparkSubmitParameters"]

    # What the cluster fetches is what was built here, and it runs without this checkout on the path.
    local = tmp_path / "fetched"
    local.mkdir()
    for uri in (submit["entryPoint"], printed["CMS_EMR_PY_FILES_S3"]):
        key = uri.removeprefix(store.uri("")).lstrip("/")
        store.get_file(key, local / key.rsplit("/", 1)[-1])
    _imports_from_zip(local / ZIP_NAME)
    _runs_under_spark_submit(local / ENTRY_NAME, local / ZIP_NAME, tmp_path)


def test_package_command_rejects_a_non_s3_target(s3_server: S3Server, tmp_path: Path) -> None:
    done = _cli(["emr", "package", "--to", str(tmp_path)], s3_server)
    assert done.returncode != 0 and "--to must be s3://bucket/prefix" in done.stderr


def _clean_env() -> dict[str, str]:
    """No PYTHONPATH: the venv's own install of cms_assets (editable, the main checkout) must lose to the zip."""
    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def _imports_from_zip(archive: Path) -> None:
    probe = "import cms_assets, cms_assets.lib.spark.emr_entry as e; print(cms_assets.__file__, e.ACTIONS)"
    env = {**_clean_env(), "PYTHONPATH": str(archive)}
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, env=env, cwd=archive.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.startswith(f"{archive}/cms_assets/__init__.py"), done.stdout


def _runs_under_spark_submit(entry: Path, archive: Path, tmp_path: Path) -> None:
    import pyspark

    rows = {
        "beneficiary_summary": [{"DESYNPUF_ID": f"B{i}", "BENE_BIRTH_DT": "1930-01-01", "YEAR": 2008} for i in range(3)]
    }
    tables = write_tables(tmp_path / "lake", 1, rows)
    spark_submit = Path(pyspark.__file__).parent / "bin" / "spark-submit"
    command = [str(spark_submit), "--master", "local[1]", "--driver-memory", "1g", "--py-files", str(archive)]
    command += ["--conf", "spark.ui.enabled=false", "--conf", "spark.driver.host=127.0.0.1"]
    command += [str(entry), "--action", "features", "--tables-root", str(tables), "--out-root", str(tmp_path / "out")]
    command += ["--samples", "1"]
    env = {**_clean_env(), "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert summary["action"] == "features" and summary["total_rows"] == 3
    assert LocalStorage(tmp_path / "out").list(layout.features_dir(1))
