"""Content digests for Dagster data versions: the same bytes give the same version, so unchanged files upstream
mark nothing stale and trigger nothing downstream."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path

CHUNK = 8 << 20


def sha256_of(path: Path) -> str:
    """SHA-256 of a local file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return h.hexdigest()


def combined(digests: Mapping[str, str | None]) -> str:
    """One short version for a set of named digests (order-independent); a missing digest is an error."""
    missing = sorted(name for name, d in digests.items() if not d)
    if missing:
        raise ValueError(f"no digest for {', '.join(missing)}")
    h = hashlib.sha256()
    for name in sorted(digests):
        h.update(f"{name}={digests[name]}\n".encode())
    return h.hexdigest()[:24]
