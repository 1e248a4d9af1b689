"""Publish a directory of files (a Spark output, a saved model) under a storage prefix, replacing the old one.

Local storage swaps directories by rename, so readers see the old or the new set, never a mix. S3 has no rename:
the new files are uploaded first (each upload atomic), then the objects of the old set are deleted.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from cms_assets.lib.storage import Storage


def publish_directory(storage: Storage, local_dir: Path, prefix: str) -> int:
    """Make ``prefix`` hold exactly the files of ``local_dir``; return the number of files published."""
    files = sorted(p for p in local_dir.rglob("*") if p.is_file() and not _is_marker(p))
    if not files:
        raise FileNotFoundError(f"nothing to publish in {local_dir}")
    dest = storage.local_path(prefix)
    if dest is not None:
        dest.parent.mkdir(parents=True, exist_ok=True)
        staged = dest.with_name(f".{dest.name}.new-{uuid.uuid4().hex[:8]}")
        shutil.copytree(local_dir, staged, ignore=shutil.ignore_patterns("_SUCCESS", ".*.crc", "*.crc"))
        old = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex[:8]}")
        if dest.exists():
            os.replace(dest, old)
        os.replace(staged, dest)
        shutil.rmtree(old, ignore_errors=True)
        return len(files)
    before = {o.key for o in storage.list(prefix)}
    published = set()
    for path in files:
        key = f"{prefix}/{path.relative_to(local_dir).as_posix()}"
        storage.put_file(path, key)
        published.add(key)
    for key in before - published:
        storage.delete_prefix(key)
    return len(files)


def fetch_prefix(storage: Storage, prefix: str, dest: Path) -> Path:
    """Copy every object under ``prefix`` to ``dest`` (for local Spark reading from S3); return dest/prefix."""
    for obj in storage.list(prefix):
        target = dest / obj.key
        target.parent.mkdir(parents=True, exist_ok=True)
        with storage.open_read(obj.key) as src, open(target, "wb") as out:
            while chunk := src.read(8 << 20):
                out.write(chunk)
    return dest / prefix


def _is_marker(path: Path) -> bool:
    return path.name == "_SUCCESS" or path.name.endswith(".crc")
