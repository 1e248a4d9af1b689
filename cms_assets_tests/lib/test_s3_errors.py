"""A wrong S3 secret against a real endpoint (SeaweedFS): every failing storage operation names the endpoint, the
bucket and the key, and never the secret."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from cms_assets.lib.storage import S3Storage, S3StorageError
from cms_assets_tests.fixtures.s3 import S3Server

WRONG_SECRET = "not-the-secret-0123456789"


def test_wrong_secret_names_endpoint_bucket_and_key(s3_server: S3Server, tmp_path: Path) -> None:
    good = s3_server.make_storage("cms")
    good.write_bytes("tables/x/sample=01/part-0.parquet", b"data")
    bad = S3Storage(
        good.bucket, "cms", endpoint_url=s3_server.endpoint_url, access_key_id=s3_server.access_key,
        secret_access_key=WRONG_SECRET,
    )  # fmt: skip
    src = tmp_path / "f.bin"
    src.write_bytes(b"x")
    key = "tables/x/sample=01/part-0.parquet"
    operations = {
        "HeadObject": lambda: bad.exists(key),
        "ListObjectsV2": lambda: bad.list("tables/x"),
        "PutObject": lambda: bad.put_file(src, key),
        "GetObject": lambda: bad.get_file(key, tmp_path / "out.bin"),
        "GetObject ": lambda: bad.read_bytes(key),
    }
    for operation, call in operations.items():
        with pytest.raises(S3StorageError) as raised:
            call()
        message = str(raised.value)
        assert operation.strip() in message, message
        assert s3_server.endpoint_url in message and repr(good.bucket) in message, message
        where = "cms/tables/x" if operation == "ListObjectsV2" else f"cms/{key}"
        assert repr(where) in message, message
        assert re.search(r"403|Forbidden|AccessDenied|ACCESS_DENIED|SignatureDoesNotMatch", message), message  # why
        assert WRONG_SECRET not in message and s3_server.secret_key not in message
    assert good.read_bytes(key) == b"data"  # the object is untouched
