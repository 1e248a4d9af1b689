"""Features built through Spark Connect equal the local-mode result.

A real Spark Connect server (the SparkConnectServer class shipped in pyspark's jars) runs on a free loopback port;
the client runs in a subprocess, because one Python process holds one kind of session.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from cms_assets.lib.spark.features import build_features, read_tables
from cms_assets_tests.fixtures.procs import free_port, listening, stop_group


@pytest.fixture(scope="module")
def connect_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    import pyspark

    port = free_port()
    spark_home = Path(pyspark.__file__).parent
    log = tmp_path_factory.mktemp("connect") / "server.log"
    command = [
        str(spark_home / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name", "cms-assets-connect-test", "--driver-memory", "1g",
        "--conf", f"spark.connect.grpc.binding.port={port}",
        "--conf", "spark.connect.grpc.binding.address=127.0.0.1",
        "--conf", "spark.driver.host=127.0.0.1", "--conf", "spark.driver.bindAddress=127.0.0.1",
        "--conf", "spark.ui.enabled=false", "--conf", "spark.sql.shuffle.partitions=4",
        "spark-internal",
    ]  # fmt: skip
    env = {**os.environ, "SPARK_HOME": str(spark_home)}
    with log.open("wb") as out:
        server = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not listening(port):
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"Spark Connect server did not start on port {port}:\n{log.read_text()[-3000:]}")
            time.sleep(0.5)
        yield f"sc://127.0.0.1:{port}"
    finally:
        stop_group(server)


CLIENT = textwrap.dedent(
    """
    import json, sys
    from cms_assets.lib.spark.features import build_features, read_tables, write_features
    from cms_assets.lib.spark.session import get_spark, stop_spark

    url, tables_root, out = sys.argv[1:4]
    spark = get_spark(remote=url, conf={"spark.sql.shuffle.partitions": "3", "spark.driver.memory": "9g"})
    rows = write_features(build_features(read_tables(spark, tables_root, 1)), out)
    print(json.dumps({"rows": rows, "connect": type(spark).__module__,
                      "partitions": spark.conf.get("spark.sql.shuffle.partitions")}))
    stop_spark()
    """
)


def test_features_through_spark_connect_equal_local(
    spark, connect_url: str, small_generated_root: Path, tmp_path: Path
) -> None:
    out = tmp_path / "connect_features"
    done = subprocess.run(
        [sys.executable, "-c", CLIENT, connect_url, str(small_generated_root), str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["connect"].startswith("pyspark.sql.connect")
    assert report["partitions"] == "3"  # runtime SQL settings reach the server; JVM ones (driver memory) do not
    remote = spark.read.parquet(str(out))
    local = build_features(read_tables(spark, str(small_generated_root), 1))
    assert report["rows"] == remote.count() == local.count() > 1000
    assert [(f.name, f.dataType) for f in remote.schema] == [(f.name, f.dataType) for f in local.schema]
    assert remote.exceptAll(local).count() == 0 and local.exceptAll(remote).count() == 0
