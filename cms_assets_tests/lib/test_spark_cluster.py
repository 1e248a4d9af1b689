"""Features, cost model and predictions on a real standalone cluster (master + two workers) through Spark Connect.

The client is the project's ``SparkResource`` in connect mode running the same action functions EMR runs
(``emr_entry``), in a subprocess because one Python process holds one kind of session. Data goes through a shared
local path (see :mod:`cms_assets_tests.fixtures.spark_cluster` for why not s3a). Proof that the work ran on the
workers: the application's REST API shows two executors, one per worker, each with tasks completed during the
run, and each worker's own status lists an executor of this application.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pyarrow.parquet as pq

from cms_assets.lib import layout
from cms_assets.lib.ml.artifacts import read_model_info
from cms_assets.lib.ml.schemas import CURRENT
from cms_assets.lib.storage import LocalStorage
from cms_assets_tests.fixtures.spark_cluster import SparkCluster, _get_json

CLIENT = textwrap.dedent(
    """
    import json, sys
    from cms_assets.defs.resources import SparkResource
    from cms_assets.lib.spark import emr_entry
    from cms_assets.lib.spark.session import stop_spark

    url, tables_root, out_root = sys.argv[1:4]
    spark = SparkResource(remote=url, shuffle_partitions=2).session()  # one partition per executor
    common = ["--tables-root", tables_root, "--out-root", out_root, "--samples", "1", "--model-version", "cluster"]
    # A smaller GBT (fewer, shallower trees): this test is about where the work runs, not about model quality,
    # and each boosting round is several cluster jobs.
    common += ["--gbt-trees", "5", "--gbt-depth", "3"]
    report = {"session": type(spark).__module__}
    for action in ("features", "train", "predict"):
        report[action] = emr_entry.RUNNERS[action](spark, emr_entry.parse_args(["--action", action, *common]))
    print(json.dumps(report, default=str))
    stop_spark()
    """
)


def _task_counts(cluster: SparkCluster) -> dict[str, tuple[str, int]]:
    """Executor id -> (host:port, completed tasks), the driver left out."""
    return {e["id"]: (e["hostPort"], e["completedTasks"]) for e in cluster.executors() if e["id"] != "driver"}


def test_features_model_predictions_run_on_the_workers(
    spark_cluster: SparkCluster, small_generated_root: Path, tmp_path: Path
) -> None:
    before = _task_counts(spark_cluster)
    assert len(before) == 2, before
    out_root = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, spark_cluster.connect_url, str(small_generated_root), str(out_root)],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["session"].startswith("pyspark.sql.connect")

    features = pq.read_table(out_root / layout.features_dir(1))
    predictions = pq.read_table(out_root / layout.predictions_dir(1))
    assert report["features"]["total_rows"] == features.num_rows > 1000
    assert report["predict"]["total_rows"] == predictions.num_rows
    current = [s == CURRENT for s in predictions.column("SCOPE").to_pylist()]
    assert sum(current) == len(set(features.column("DESYNPUF_ID").to_pylist()))  # each beneficiary's latest year
    info = read_model_info(LocalStorage(out_root), "cluster")
    assert info["selected"] == report["train"]["selected_model"]
    assert report["train"]["train_rows"] > 500

    after = _task_counts(spark_cluster)
    assert set(after) == set(before), (before, after)  # no executor lost and replaced mid-run
    worked = {eid: after[eid][1] - before[eid][1] for eid in after}
    assert all(n > 0 for n in worked.values()), worked  # both executors ran tasks of this run
    assert len({host for host, _ in after.values()}) == 2  # two executor processes, not one

    app = spark_cluster.app_id()
    status = spark_cluster.master_status()
    assert [a["id"] for a in status["activeapps"]] == [app]
    alive = [w for w in status["workers"] if w["state"] == "ALIVE"]
    assert len(alive) == 2 and all(w["coresused"] == 1 for w in alive)
    for ui in spark_cluster.worker_uis:
        executors = _get_json(f"{ui}/json")["executors"]
        assert [e["appid"] for e in executors] == [app], executors
