"""Storage behaves the same on a local directory and on a real S3 endpoint (SeaweedFS)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from cms_assets.lib.storage import LocalStorage, S3Storage, Storage, storage_from_url


def test_put_list_size_read(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 1000)
    storage.put_file(src, "raw/sample=01/a.zip")
    storage.write_bytes("raw/sample=01/b.zip", b"hello")
    storage.write_bytes("raw/sample=02/c.zip", b"!")

    assert storage.exists("raw/sample=01/a.zip")
    assert not storage.exists("raw/sample=01/missing.zip")
    assert storage.size("raw/sample=01/a.zip") == 1000
    assert storage.size("raw/sample=01/missing.zip") is None
    assert [(o.key, o.size) for o in storage.list("raw/sample=01")] == [
        ("raw/sample=01/a.zip", 1000),
        ("raw/sample=01/b.zip", 5),
    ]
    assert [o.key for o in storage.list()] == ["raw/sample=01/a.zip", "raw/sample=01/b.zip", "raw/sample=02/c.zip"]
    assert storage.list("nothing/here") == []
    assert storage.read_bytes("raw/sample=01/b.zip") == b"hello"
    with storage.open_read("raw/sample=01/a.zip") as f:
        f.seek(990)
        assert f.read() == b"x" * 10


def test_list_and_delete_respect_folder_boundaries(storage: Storage) -> None:
    """Deleting ``tables/carrier`` must not touch ``tables/carrier_claims`` (S3 prefixes are plain strings)."""
    storage.write_bytes("tables/carrier/sample=01/part-0.parquet", b"1")
    storage.write_bytes("tables/carrier_claims/sample=01/part-0.parquet", b"22")
    assert [o.key for o in storage.list("tables/carrier")] == ["tables/carrier/sample=01/part-0.parquet"]
    assert storage.delete_prefix("tables/carrier") == 1
    assert [o.key for o in storage.list("tables")] == ["tables/carrier_claims/sample=01/part-0.parquet"]
    assert storage.delete_prefix("tables/nothing") == 0


def test_json_round_trip(storage: Storage) -> None:
    storage.write_json("raw/sample=01/_manifest.json", {"b": 2, "a": [1, "x"]})
    assert storage.read_json("raw/sample=01/_manifest.json") == {"a": [1, "x"], "b": 2}


def test_writer_failure_publishes_nothing_and_keeps_previous(storage: Storage) -> None:
    storage.write_bytes("models/m.bin", b"old")
    with pytest.raises(RuntimeError, match="boom"):
        with storage.writer("models/m.bin") as path:
            path.write_bytes(b"new but half-written")
            raise RuntimeError("boom")
    assert storage.read_bytes("models/m.bin") == b"old"
    with pytest.raises(RuntimeError):
        with storage.writer("models/fresh.bin") as path:
            path.write_bytes(b"partial")
            raise RuntimeError("boom")
    assert not storage.exists("models/fresh.bin")
    assert [o.key for o in storage.list()] == ["models/m.bin"]  # no temp or staging leftovers


def test_writer_requires_output(storage: Storage) -> None:
    with pytest.raises(FileNotFoundError, match="nothing was written"):
        with storage.writer("models/empty.bin"):
            pass
    assert not storage.exists("models/empty.bin")


def test_writer_replaces_atomically(storage: Storage) -> None:
    storage.write_bytes("k.txt", b"v1")
    with storage.writer("k.txt") as path:
        path.write_bytes(b"v2")
        assert storage.read_bytes("k.txt") == b"v1"  # not visible until the block ends
        assert [o.key for o in storage.list()] == ["k.txt"]  # nor is the staged file
    assert storage.read_bytes("k.txt") == b"v2"


def test_keys_cannot_escape_the_root(storage: Storage) -> None:
    with pytest.raises(ValueError, match="escapes"):
        storage.write_bytes("../outside.txt", b"x")
    with pytest.raises(ValueError, match="escapes"):
        storage.exists("a/../../outside.txt")


def test_arrow_fs_reads_and_writes_parquet(storage: Storage) -> None:
    table = pa.table({"id": ["0001", "0002"], "amount": pa.array([1, 2], pa.int16())})
    for sample in (1, 2):
        with storage.writer(f"tables/t/sample={sample:02d}/part-0.parquet") as path:
            pq.write_table(table, path)
    fs, root = storage.arrow_fs()
    assert pq.read_table(f"{root}/tables/t/sample=01/part-0.parquet", filesystem=fs).equals(table)
    dataset = ds.dataset(f"{root}/tables/t", filesystem=fs, format="parquet", partitioning="hive")
    got = dataset.to_table().sort_by([("sample", "ascending"), ("id", "ascending")])
    assert got.column("id").to_pylist() == ["0001", "0002", "0001", "0002"]
    assert got.column("sample").to_pylist() == [1, 1, 2, 2]


def test_storage_from_url(tmp_path: Path) -> None:
    local = storage_from_url(str(tmp_path / "data"))
    assert isinstance(local, LocalStorage) and local.root == (tmp_path / "data").resolve()
    s3 = storage_from_url("s3://bucket/some/prefix", endpoint_url="http://127.0.0.1:1")
    assert isinstance(s3, S3Storage) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    assert s3.uri("raw/x.zip") == "s3://bucket/some/prefix/raw/x.zip"
    assert "secret" not in repr(S3Storage("b", secret_access_key="secret"))
