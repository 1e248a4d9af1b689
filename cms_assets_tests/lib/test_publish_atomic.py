"""A Spark output publish on S3 (SeaweedFS) killed with SIGKILL at its boundaries: after the new files are uploaded
(before the pointer moves) and after the pointer moved (before the old files are deleted). Every reader (the IO
managers' key listing, a Spark read through the staged copy, the warehouse load and its row-count check) then sees
exactly the old rows or exactly the new ones, never both; the next publish leaves one version behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cms_assets.defs.io_managers import SparkIOManager
from cms_assets.defs.resources import SparkResource, StorageResource
from cms_assets.lib import layout
from cms_assets.lib.publish import POINTER, VERSION_DIR, fetch_prefix, publish_directory, published_keys
from cms_assets.lib.storage import S3Storage
from cms_assets.lib.warehouse.checks import parquet_rows_of, rows_match_parquet
from cms_assets.lib.warehouse.load import Warehouse, partition_keys
from cms_assets_tests.fixtures.s3 import S3Server
from cms_assets_tests.lib.warehouse_data import beneficiaries, features

PREFIX = layout.features_dir(1)

# Runs publish_directory in its own process and SIGKILLs that process at one boundary of the real code path.
KILLER = textwrap.dedent(
    """
    import os, signal, sys
    from pathlib import Path
    from cms_assets.lib.publish import POINTER, publish_directory
    from cms_assets.lib.storage import S3Storage

    endpoint, bucket, prefix, local_dir, target, at = sys.argv[1:7]

    class Dying(S3Storage):
        def write_json(self, key, value):
            if at == "after_upload" and key.endswith(POINTER):
                os.kill(os.getpid(), signal.SIGKILL)  # every new file uploaded, the pointer not yet written
            super().write_json(key, value)

        def delete_prefix(self, key):
            if at == "after_pointer":
                os.kill(os.getpid(), signal.SIGKILL)  # the pointer written, the old files not yet deleted
            return super().delete_prefix(key)

    store = Dying(bucket, prefix, endpoint_url=endpoint, access_key_id=os.environ["KEY_ID"],
                  secret_access_key=os.environ["SECRET"])
    publish_directory(store, Path(local_dir), target)
    print("published: the kill never came")
    """
)


def _spark_output(directory: Path, table: pa.Table, tag: str) -> Path:
    """A directory shaped like a Spark write: two part files (names unique per write) and a _SUCCESS marker."""
    directory.mkdir(parents=True)
    half = table.num_rows // 2
    pq.write_table(table.slice(0, half), directory / f"part-00000-{tag}.c000.snappy.parquet")
    pq.write_table(table.slice(half), directory / f"part-00001-{tag}.c000.snappy.parquet")
    (directory / "_SUCCESS").write_bytes(b"")
    return directory


def _publish_killed(server: S3Server, store: S3Storage, local_dir: Path, at: str) -> None:
    env = {**os.environ, "KEY_ID": server.access_key, "SECRET": server.secret_key}
    args = [server.endpoint_url, store.bucket, store.prefix, str(local_dir), PREFIX, at]
    done = subprocess.run([sys.executable, "-c", KILLER, *args], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, (done.returncode, done.stdout, done.stderr[-2000:])


def _readers(store: S3Storage, io: SparkIOManager, spark: Any, tmp_path: Path, wh_name: str) -> dict[str, int]:
    """Rows of sample 1's features as each reader sees them."""
    keys = io.parquet_keys("beneficiary_features", "sample_01")
    staged = fetch_prefix(store, PREFIX, tmp_path / f"fetch-{wh_name}")
    wh = Warehouse.from_url(f"duckdb:///{tmp_path / wh_name}.duckdb")
    try:
        wh.ensure_schema()
        loaded = wh.load_partition("beneficiary_features", 1, store, partition_keys(store, "beneficiary_features", 1))
        check = rows_match_parquet(wh, "beneficiary_features", 1, store, keys)
        assert check.passed, check.description
        warehouse_rows = wh.row_count("beneficiary_features", 1)
    finally:
        wh.close()
    try:
        spark_rows = io.read([PREFIX]).count()
    finally:
        io.teardown_after_execution(None)  # type: ignore[arg-type]
    return {
        "io_manager_keys": parquet_rows_of(store, keys),
        "staged_copy": pq.ParquetDataset(str(staged)).read().num_rows,
        "spark": spark_rows,
        "warehouse_load": loaded.rows,
        "warehouse_table": warehouse_rows,
    }


@pytest.mark.parametrize(
    ("at", "legacy_old", "sees"),
    [("after_upload", False, "old"), ("after_upload", True, "old"), ("after_pointer", False, "new")],
)
def test_a_publish_killed_midway_shows_old_or_new_never_both(
    s3_server: S3Server, spark: Any, tmp_path: Path, at: str, legacy_old: bool, sees: str
) -> None:
    store = s3_server.make_storage("cms")
    old, new = features(beneficiaries(1, 40, seed=1)), features(beneficiaries(1, 55, seed=2))
    assert old.num_rows != new.num_rows
    old_dir = _spark_output(tmp_path / "old", old, "old")
    if legacy_old:  # published flat, as before pointers existed (and as EMR/Spark Connect wrote in place)
        for path in old_dir.iterdir():
            store.put_file(path, f"{PREFIX}/{path.name}")
    else:
        publish_directory(store, old_dir, PREFIX)
    new_dir = _spark_output(tmp_path / "new", new, "new")

    _publish_killed(s3_server, store, new_dir, at)
    left = [o.key for o in store.list(PREFIX)]
    uploaded = [k for k in left if f"/{VERSION_DIR}" in k and "-new." in k]
    assert len(uploaded) == 2, left  # the kill came after every new file was uploaded

    io = SparkIOManager(
        storage=StorageResource(
            url=f"s3://{store.bucket}/{store.prefix}", s3_endpoint_url=s3_server.endpoint_url,
            aws_access_key_id=s3_server.access_key, aws_secret_access_key=s3_server.secret_key,
            scratch_dir=str(tmp_path / "scratch"),
        ),
        spark=SparkResource(),
    )  # fmt: skip
    expected = (old if sees == "old" else new).num_rows
    seen = _readers(store, io, spark, tmp_path, "killed")
    assert seen == dict.fromkeys(seen, expected), (seen, {"old": old.num_rows, "new": new.num_rows})

    # the retry publishes the new set; one version (and the pointer) is all that is left
    retry_dir = _spark_output(tmp_path / "retry", new, "retry")
    publish_directory(store, retry_dir, PREFIX)
    seen = _readers(store, io, spark, tmp_path, "retried")
    assert seen == dict.fromkeys(seen, new.num_rows), seen
    left = [o.key[len(PREFIX) + 1 :] for o in store.list(PREFIX)]
    assert {k.split("/")[0] for k in left if k != POINTER} == {store.read_json(f"{PREFIX}/{POINTER}")["version"]}
    assert sorted(k.rsplit("/", 1)[-1] for k in published_keys(store, PREFIX)) == [
        "part-00000-retry.c000.snappy.parquet",
        "part-00001-retry.c000.snappy.parquet",
    ]
