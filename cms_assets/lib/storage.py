"""One storage abstraction for a local directory or an S3 bucket/prefix (any S3 endpoint: AWS, SeaweedFS, MinIO).

Keys are '/'-separated paths relative to the root, e.g. ``raw/sample=01/DE1_0_...zip`` or
``tables/carrier_claims/sample=01/part-0.parquet``. Every write is atomic: a local write goes to a temporary file
in the same directory and is renamed into place; an S3 write is staged in a local temporary file and uploaded
(multipart for large objects), so the object only appears when the upload completes. A failed write leaves
nothing behind and never replaces the previous version.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow.fs as pafs


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int


class Storage(ABC):
    """Where raw zips, Parquet tables, models and reports live."""

    @abstractmethod
    def uri(self, key: str = "") -> str:
        """Absolute location of a key: a local path or ``s3://bucket/prefix/key``."""

    @abstractmethod
    def exists(self, key: str) -> bool: ...

    @abstractmethod
    def size(self, key: str) -> int | None:
        """Size in bytes, or None when the key does not exist."""

    @abstractmethod
    def list(self, prefix: str = "") -> list[ObjectInfo]:
        """Objects under a prefix (recursively), sorted by key."""

    @abstractmethod
    def open_read(self, key: str) -> IO[bytes]:
        """A readable, seekable binary file (local) or stream (S3)."""

    @abstractmethod
    def put_file(self, local_path: Path, key: str) -> None:
        """Publish a local file at key atomically."""

    @abstractmethod
    def delete_prefix(self, prefix: str) -> int:
        """Delete everything under prefix; return the number of objects deleted."""

    @abstractmethod
    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the root path within it, for pyarrow.dataset and pyarrow.parquet."""

    @contextmanager
    def writer(self, key: str, suffix: str = "") -> Iterator[Path]:
        """Yield a local temporary path to write; publish it at key atomically when the block succeeds."""
        with self.staging_dir() as tmp:
            path = tmp / (Path(key).name + suffix)
            yield path
            if not path.exists():
                raise FileNotFoundError(f"nothing was written for {self.uri(key)}")
            self.put_file(path, key)

    @contextmanager
    def staging_dir(self) -> Iterator[Path]:
        """A private temporary directory, removed afterwards, on the same filesystem as the data when local."""
        tmp = Path(tempfile.mkdtemp(prefix="cms-stage-", dir=self._staging_parent()))
        try:
            yield tmp
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def _staging_parent(self) -> str | None:
        return None

    def local_path(self, key: str) -> Path | None:
        """The local path of a key when this storage is a local directory, else None."""
        return None

    def read_bytes(self, key: str) -> bytes:
        with self.open_read(key) as f:
            return f.read()

    def write_bytes(self, key: str, data: bytes) -> None:
        with self.writer(key) as path:
            path.write_bytes(data)

    def read_json(self, key: str) -> Any:
        return json.loads(self.read_bytes(key))

    def write_json(self, key: str, value: Any) -> None:
        self.write_bytes(key, json.dumps(value, indent=2, sort_keys=True, default=str).encode())


class LocalStorage(Storage):
    """A local directory (the default: ``./data``)."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root).expanduser().resolve()

    def __repr__(self) -> str:
        return f"LocalStorage({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if path != self.root and self.root not in path.parents:
            raise ValueError(f"key escapes the storage root: {key!r}")
        return path

    def local_path(self, key: str) -> Path:
        return self._path(key)

    def uri(self, key: str = "") -> str:
        return str(self._path(key)) if key else str(self.root)

    def exists(self, key: str) -> bool:
        return self._path(key).exists()

    def size(self, key: str) -> int | None:
        p = self._path(key)
        return p.stat().st_size if p.is_file() else None

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        base = self._path(prefix) if prefix else self.root
        if base.is_file():
            return [ObjectInfo(prefix, base.stat().st_size)]
        if not base.is_dir():
            return []
        out = [
            ObjectInfo(p.relative_to(self.root).as_posix(), p.stat().st_size)
            for p in base.rglob("*")
            if p.is_file() and not p.name.startswith(".cms-tmp-") and p.relative_to(self.root).parts[0] != ".staging"
        ]
        return sorted(out, key=lambda o: o.key)

    def open_read(self, key: str) -> IO[bytes]:
        return open(self._path(key), "rb")

    def _staging_parent(self) -> str:
        parent = self.root / ".staging"
        parent.mkdir(parents=True, exist_ok=True)
        return str(parent)

    def put_file(self, local_path: Path, key: str) -> None:
        dest = self._path(key)
        with atomic_path(dest) as tmp:
            shutil.copyfile(local_path, tmp) if not _same_fs(local_path, dest.parent) else os.replace(local_path, tmp)

    def delete_prefix(self, prefix: str) -> int:
        objects = self.list(prefix)
        for o in objects:
            self._path(o.key).unlink(missing_ok=True)
        base = self._path(prefix) if prefix else None
        if base is not None and base.is_dir():
            shutil.rmtree(base, ignore_errors=True)
        return len(objects)

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        return pafs.LocalFileSystem(), str(self.root)


@contextmanager
def atomic_path(dest: Path) -> Iterator[Path]:
    """A temporary path beside ``dest``, renamed onto it when the block succeeds and removed when it fails: a
    reader sees the old file or the new one, never a part."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _same_fs(a: Path, b: Path) -> bool:
    try:
        return os.stat(a).st_dev == os.stat(b).st_dev
    except OSError:
        return False


class S3Storage(Storage):
    """An S3 bucket and prefix; ``endpoint_url`` points at SeaweedFS/MinIO, None means AWS."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.endpoint_url = endpoint_url
        self.region = region or "us-east-1"
        self._access_key_id = access_key_id
        self._secret_access_key = secret_access_key
        self._client: Any = None

    def __repr__(self) -> str:  # never show credentials
        return f"S3Storage(bucket={self.bucket!r}, prefix={self.prefix!r}, endpoint_url={self.endpoint_url!r})"

    @property
    def client(self) -> Any:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "s3",
                endpoint_url=self.endpoint_url,
                region_name=self.region,
                aws_access_key_id=self._access_key_id,
                aws_secret_access_key=self._secret_access_key,
                config=Config(retries={"max_attempts": 5, "mode": "standard"}, s3={"addressing_style": "path"}),
            )
        return self._client

    def _key(self, key: str) -> str:
        if ".." in key.split("/"):
            raise ValueError(f"key escapes the storage root: {key!r}")
        return f"{self.prefix}/{key}" if self.prefix else key

    def uri(self, key: str = "") -> str:
        return f"s3://{self.bucket}/{self._key(key)}" if key or self.prefix else f"s3://{self.bucket}"

    def exists(self, key: str) -> bool:
        return self.size(key) is not None

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        with self._named("HeadObject", key):
            try:
                return int(self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"])
            except ClientError as e:
                if e.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                    return None
                raise

    def list(self, prefix: str = "") -> list[ObjectInfo]:
        full = self._key(prefix) if prefix else (f"{self.prefix}/" if self.prefix else "")
        strip = len(self.prefix) + 1 if self.prefix else 0
        out: list[ObjectInfo] = []
        with self._named("ListObjectsV2", prefix):
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=full):
                for obj in page.get("Contents", []):
                    # S3 prefixes are plain strings: keep "tables/carrier/..." but not "tables/carrier_claims/..."
                    if prefix and not (obj["Key"] == full or obj["Key"].startswith(full.rstrip("/") + "/")):
                        continue
                    out.append(ObjectInfo(obj["Key"][strip:], int(obj["Size"])))
        return sorted(out, key=lambda o: o.key)

    def open_read(self, key: str) -> IO[bytes]:
        fs, root = self.arrow_fs()
        with self._named("GetObject", key):
            return fs.open_input_file(f"{root}/{key}")  # seekable, ranged reads

    def put_file(self, local_path: Path, key: str) -> None:
        from boto3.s3.transfer import TransferConfig

        # upload_file switches to multipart above the threshold and completes (publishes) only on success.
        with self._named("PutObject", key):
            self.client.upload_file(
                str(local_path),
                self.bucket,
                self._key(key),
                Config=TransferConfig(multipart_threshold=64 * 1024 * 1024, multipart_chunksize=64 * 1024 * 1024),
            )

    def get_file(self, key: str, local_path: Path) -> None:
        with self._named("GetObject", key):
            self.client.download_file(self.bucket, self._key(key), str(local_path))

    def delete_prefix(self, prefix: str) -> int:
        objects = self.list(prefix)
        with self._named("DeleteObjects", prefix):
            for i in range(0, len(objects), 1000):
                batch = [{"Key": self._key(o.key)} for o in objects[i : i + 1000]]
                self.client.delete_objects(Bucket=self.bucket, Delete={"Objects": batch, "Quiet": True})
        return len(objects)

    @contextmanager
    def _named(self, operation: str, key: str) -> Iterator[None]:
        """Re-raise an S3 failure as S3StorageError naming the endpoint, bucket and key: botocore's own message
        ("(403) ... HeadObject: Forbidden") says none of them. Credentials are never part of the message."""
        try:
            yield
        except (FileNotFoundError, S3StorageError):
            raise
        except Exception as e:
            if not _is_s3_failure(e):
                raise
            endpoint = self.endpoint_url or f"AWS S3 ({self.region})"
            raise S3StorageError(
                f"S3 {operation} failed for bucket {self.bucket!r}, key {self._key(key)!r} at endpoint {endpoint}: {e}"
            ) from e

    def arrow_fs(self) -> tuple[pafs.FileSystem, str]:
        creds = self.client._request_signer._credentials  # resolved by boto3's chain (env, profile, role)
        frozen = creds.get_frozen_credentials() if creds else None
        kwargs: dict[str, Any] = {"region": self.region}
        if frozen:
            kwargs.update(access_key=frozen.access_key, secret_key=frozen.secret_key, session_token=frozen.token)
        if self.endpoint_url:
            scheme, _, host = self.endpoint_url.partition("://")
            kwargs.update(endpoint_override=host, scheme=scheme)
        root = f"{self.bucket}/{self.prefix}" if self.prefix else self.bucket
        return pafs.S3FileSystem(**kwargs), root


class S3StorageError(OSError):
    """An S3 request failed; the message names the endpoint, bucket and key."""


def _is_s3_failure(error: BaseException) -> bool:
    """botocore/boto3 errors (403, 5xx, connection refused, a failed upload) and pyarrow's S3 I/O errors."""
    from boto3.exceptions import Boto3Error
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(error, ClientError | BotoCoreError | Boto3Error | OSError)


def storage_from_url(url: str, **s3_options: Any) -> Storage:
    """``s3://bucket/prefix`` gives S3Storage (extra options: endpoint_url, region, keys); anything else a path."""
    if url.startswith("s3://"):
        bucket, _, prefix = url[5:].partition("/")
        return S3Storage(bucket, prefix, **s3_options)
    return LocalStorage(url)
