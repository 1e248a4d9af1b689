"""Publish a directory of files (a Spark output, a saved model) under a storage prefix, replacing the old one, so
that a reader sees the old set or the new one, never a mix (a run killed mid-publish included).

One code path per storage kind:

- **Local**: the new set is written to a hidden sibling directory and swapped in by rename.
- **S3** has no rename and no multi-object transaction, so every publish writes a fresh *version* under
  ``<prefix>/_v-<id>/`` and then one small pointer object, ``<prefix>/_published.json``, naming that version and
  its files. The pointer is the commit: it is a single PUT, so it names the old version or the new one. Older
  versions are deleted after it. A version left by a killed publish is never named, so never read; the next
  publish removes it. Spark, pyarrow and DuckDB skip ``_``-prefixed names, so a reader of the bare prefix never
  picks up a version by accident either.

Readers go through :func:`published_keys` / :func:`current_prefix` (or :func:`fetch_prefix`), which follow the
pointer when there is one and otherwise list the prefix as before (local storage, and S3 data published before
pointers existed).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from cms_assets.lib.storage import Storage

POINTER = "_published.json"
VERSION_DIR = "_v-"


def publish_directory(storage: Storage, local_dir: Path, prefix: str) -> int:
    """Make ``prefix`` hold exactly the files of ``local_dir`` (Spark markers left out); return how many."""
    files = sorted(p for p in local_dir.rglob("*") if p.is_file() and not _is_marker(p.name))
    if not files:
        raise FileNotFoundError(f"nothing to publish in {local_dir}")
    with publishing(storage, prefix) as target:
        dest = storage.local_path(target)
        if dest is not None:
            shutil.copytree(local_dir, dest, ignore=shutil.ignore_patterns("_SUCCESS", ".*.crc", "*.crc"))
        else:
            for path in files:
                storage.put_file(path, f"{target}/{path.relative_to(local_dir).as_posix()}")
    return len(files)


@contextmanager
def publishing(storage: Storage, prefix: str) -> Iterator[str]:
    """Yield a fresh storage key to write the new set under (by any writer: our uploads, Spark through s3a, EMR);
    publish it at ``prefix`` when the block succeeds. A failed block publishes nothing and keeps the old set."""
    local = storage.local_path(prefix)
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        staged = local.with_name(f".{local.name}.new-{uuid.uuid4().hex[:8]}")
        try:
            yield f"{prefix.rsplit('/', 1)[0]}/{staged.name}" if "/" in prefix else staged.name
            if not staged.is_dir():
                raise FileNotFoundError(f"nothing was written for {storage.uri(prefix)}")
            old = local.with_name(f".{local.name}.old-{uuid.uuid4().hex[:8]}")
            if local.exists():
                os.replace(local, old)
            os.replace(staged, local)
            shutil.rmtree(old, ignore_errors=True)
        finally:
            shutil.rmtree(staged, ignore_errors=True)
        return
    version = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}"
    target = f"{prefix}/{VERSION_DIR}{version}"
    try:
        yield target
    except BaseException:
        _quietly_delete(storage, target)
        raise
    commit_version(storage, prefix, target)


def commit_version(storage: Storage, prefix: str, target: str) -> list[str]:
    """S3: write the pointer naming the files now under ``target`` (the commit), then delete every other object
    under ``prefix`` except versions newer than this one (a later publish in progress). Returns the files."""
    files = sorted(o.key for o in storage.list(target) if not _is_marker(o.key.rsplit("/", 1)[-1]))
    if not files:
        raise FileNotFoundError(f"nothing was written for {storage.uri(prefix)} (under {storage.uri(target)})")
    version = target.rsplit("/", 1)[-1]
    storage.write_json(f"{prefix}/{POINTER}", {"version": version, "files": [k[len(prefix) + 1 :] for k in files]})
    for obj in storage.list(prefix):
        first = obj.key[len(prefix) + 1 :].split("/", 1)[0]
        if first == POINTER or first == version or (first.startswith(VERSION_DIR) and first > version):
            continue
        storage.delete_prefix(obj.key)
    return files


def read_pointer(storage: Storage, prefix: str) -> dict | None:
    """The pointer of ``prefix`` (S3), or None when it has none (local storage, or published before pointers)."""
    key = f"{prefix}/{POINTER}"
    if storage.local_path(prefix) is not None or not storage.exists(key):
        return None
    return storage.read_json(key)


def current_prefix(storage: Storage, prefix: str) -> str:
    """Where the published set of ``prefix`` lives: its current version on S3, else ``prefix`` itself."""
    pointer = read_pointer(storage, prefix)
    return f"{prefix}/{pointer['version']}" if pointer else prefix


def published_keys(storage: Storage, prefix: str) -> list[str]:
    """The keys of the set published at ``prefix``, exactly what its pointer names; without a pointer, the objects
    under the prefix minus unpublished versions, the pointer and Spark markers."""
    pointer = read_pointer(storage, prefix)
    if pointer is not None:
        return [f"{prefix}/{name}" for name in pointer["files"]]
    out = []
    for obj in storage.list(prefix):
        parts = obj.key[len(prefix) + 1 :].split("/")
        if parts[0] == POINTER or parts[0].startswith(VERSION_DIR) or _is_marker(parts[-1]):
            continue
        out.append(obj.key)
    return out


def fetch_prefix(storage: Storage, prefix: str, dest: Path) -> Path:
    """Copy the set published at ``prefix`` to ``dest`` (for local Spark reading from S3), keeping keys as paths;
    return the local directory holding it (``dest/<current_prefix>``)."""
    current = current_prefix(storage, prefix)
    for key in published_keys(storage, prefix):
        target = dest / key
        target.parent.mkdir(parents=True, exist_ok=True)
        with storage.open_read(key) as src, open(target, "wb") as out:
            while chunk := src.read(8 << 20):
                out.write(chunk)
    return dest / current


def _quietly_delete(storage: Storage, prefix: str) -> None:
    """Best effort: a version that failed to upload is unreferenced anyway; the next publish removes it."""
    try:
        storage.delete_prefix(prefix)
    except Exception:  # noqa: BLE001, S110 - the original error matters, not this one
        pass


def _is_marker(name: str) -> bool:
    return name == "_SUCCESS" or name.endswith(".crc")
