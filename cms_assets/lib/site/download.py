"""Resumable, verified downloads of CMS zips into storage.

A zip is streamed (1 MiB chunks) to ``<partial_dir>/<zip>.part`` with a sidecar recording the URL, ETag and size
the partial belongs to. A dropped connection or a timeout is retried with exponential backoff and RESUMED with
``Range: bytes=<len>-`` + ``If-Range: <etag>``; the server's 200 (file changed, or ranges unsupported) restarts
from zero. Only a file whose size matches, whose ETag did not change and which passes ``verify_zip`` (CRCs, the
expected CSV member) is published, atomically, with ``Storage.put_file``; anything else raises
:class:`DownloadError` naming the file and URL and leaves the previous object untouched.

Per sample, a manifest (url, etag, last_modified, size, sha256 per zip) lets re-runs skip unchanged files.

Failures name what broke: a redirect loop names the file and the URL (and is not retried); a full disk names the
file and the path being written, once (:class:`DiskFullError`); a transfer slower than
:attr:`TransferLimits.min_bytes_per_second` over a window (a server trickling bytes never trips the per-read
timeout) is cut and retried, and a file not complete within :attr:`TransferLimits.deadline_seconds` fails; the
partial is kept either way, so the next run resumes where this one stopped.
"""

from __future__ import annotations

import errno
import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any

import requests
import urllib3.exceptions

from cms_assets.lib import layout
from cms_assets.lib.site.client import RETRY_STATUSES, HttpClient, RedirectLoopError, SiteError
from cms_assets.lib.site.scraper import RemoteFile
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.versions import sha256_of

CHUNK = 1024 * 1024
MANIFEST_VERSION = 1
#: What a flaky network looks like from requests/urllib3 while a body streams.
TRANSIENT = (requests.RequestException, urllib3.exceptions.HTTPError, ConnectionError, TimeoutError)


class DownloadError(RuntimeError):
    """A file could not be downloaded and verified (names the file and URL); nothing was published."""


class DiskFullError(DownloadError):
    """No space left on the device holding ``path`` (the partial download or the storage object)."""

    def __init__(self, zip_name: str, path: str | Path, doing: str) -> None:
        self.zip_name, self.path = zip_name, str(path)
        super().__init__(
            f"{zip_name}: no space left on device while {doing} {self.path} (nothing published; free space there "
            "and re-run: the download resumes)"
        )


class _Transient(Exception):
    """An attempt failed in a way a retry may fix (truncated body, dropped connection, timeout, 5xx, a stall)."""


@dataclass(frozen=True)
class TransferLimits:
    """When a slow transfer counts as failed. ``min_bytes_per_second`` over each ``window_seconds``: below it the
    connection is cut and the attempt retried (resuming); ``deadline_seconds``: the most one file may take over all
    its attempts (None: no limit)."""

    min_bytes_per_second: float = 10 * 1024
    window_seconds: float = 60.0
    deadline_seconds: float | None = None


def _disk_full(e: OSError) -> bool:
    return e.errno == errno.ENOSPC or "No space left on device" in str(e)


@dataclass
class DownloadResult:
    """What happened to one file; ``sha256`` is the published object's digest (from the manifest when skipped)."""

    spec: FileSpec
    key: str
    url: str
    size: int
    etag: str | None
    last_modified: str | None
    seconds: float
    skipped: bool
    resumed: bool
    attempts: int
    sha256: str | None = None

    def manifest_entry(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "url": self.url,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "size": self.size,
            "sha256": self.sha256,
        }


def _verify(path: Path, spec: FileSpec) -> None:
    """CRCs, sizes, one CSV member with the expected name (raises CorruptZipError, a ValueError)."""
    from cms_assets.lib.ingest.zipfiles import verify_zip

    verify_zip(path, spec)


@dataclass
class _Target:
    """The validators the bytes being downloaded belong to (updated when the server sends a new version)."""

    url: str
    etag: str | None
    size: int | None
    last_modified: str | None


@dataclass
class _Partial:
    """A ``.part`` file and its sidecar: which URL/ETag/size the partial bytes belong to."""

    part: Path
    sidecar: Path

    @classmethod
    def for_spec(cls, partial_dir: Path, spec: FileSpec) -> _Partial:
        partial_dir.mkdir(parents=True, exist_ok=True)
        return cls(partial_dir / f"{spec.zip_name}.part", partial_dir / f"{spec.zip_name}.part.json")

    def resume_offset(self, target: _Target) -> int:
        """Bytes to resume from: only when the partial belongs to this exact URL, strong ETag and size."""
        try:
            meta = json.loads(self.sidecar.read_text())
            have = self.part.stat().st_size
        except (OSError, ValueError):
            meta, have = None, 0
        same = isinstance(meta, dict) and all(meta.get(k) == getattr(target, k) for k in ("url", "etag", "size"))
        strong = target.etag is not None and not target.etag.startswith("W/")
        if not (same and strong) or (target.size is not None and have > target.size):
            self.reset(target)
            return 0
        return have

    def reset(self, target: _Target) -> None:
        self.part.write_bytes(b"")
        tmp = self.sidecar.with_name(self.sidecar.name + ".tmp")
        tmp.write_text(json.dumps(asdict(target)))
        os.replace(tmp, self.sidecar)

    def discard(self) -> None:
        self.part.unlink(missing_ok=True)
        self.sidecar.unlink(missing_ok=True)


def download_file(
    site: HttpClient,
    remote: RemoteFile,
    storage: Storage,
    key: str,
    partial_dir: Path,
    previous: dict | None = None,
    max_attempts: int = 5,
    backoff: float = 0.5,
    limits: TransferLimits = TransferLimits(),
) -> DownloadResult:
    """Download one zip into storage at key, resuming a partial; skip it when ``previous`` (its manifest entry)
    has the same ETag and size and the object exists."""
    started = time.monotonic()
    spec = remote.spec
    try:
        url, info = site.head_first(remote.urls)  # a page may link a file twice, the first link dead
    except SiteError as e:
        raise DownloadError(f"{spec.zip_name}: {e}") from e
    if url != remote.url:
        remote = replace(remote, url=url, alternates=())
    try:
        return _download(
            site, remote, storage, key, partial_dir, previous, max_attempts, backoff, limits, started, info
        )
    except OSError as e:
        if not _disk_full(e):
            raise
        where = getattr(e, "filename", None) or str(_Partial.for_spec(partial_dir, spec).part)
        raise DiskFullError(spec.zip_name, where, "writing") from e


def _download(
    site: HttpClient,
    remote: RemoteFile,
    storage: Storage,
    key: str,
    partial_dir: Path,
    previous: dict | None,
    max_attempts: int,
    backoff: float,
    limits: TransferLimits,
    started: float,
    info: Any,
) -> DownloadResult:
    spec, url = remote.spec, remote.url
    if (
        previous
        and info.etag
        and previous.get("etag") == info.etag
        and previous.get("size") == info.size
        and storage.size(key) == info.size
    ):
        return DownloadResult(
            spec, key, url, info.size or 0, info.etag, info.last_modified, time.monotonic() - started,
            skipped=True, resumed=False, attempts=0, sha256=previous.get("sha256"),
        )  # fmt: skip
    partial = _Partial.for_spec(partial_dir, spec)
    target = _Target(url, info.etag, info.size, info.last_modified)
    resumed = False
    deadline = None if limits.deadline_seconds is None else started + limits.deadline_seconds
    for attempt in range(1, max_attempts + 1):
        try:
            resumed = _fetch(site, spec, partial, partial.resume_offset(target), target, limits, deadline) or resumed
            break
        except _Transient as e:
            if deadline is not None and time.monotonic() >= deadline:
                raise _past_deadline(spec, url, partial, target, limits) from e
            if attempt == max_attempts:
                raise DownloadError(
                    f"{spec.zip_name}: download from {url} incomplete after {max_attempts} attempts "
                    f"(nothing published): {e}"
                ) from e
            time.sleep(backoff * 2 ** (attempt - 1))
    try:
        _verify(partial.part, spec)
    except ValueError as e:
        partial.discard()  # resuming a corrupt file would only give another corrupt file
        raise DownloadError(f"{spec.zip_name}: downloaded from {url} but failed verification: {e}") from e
    digest = sha256_of(partial.part)
    try:
        storage.put_file(partial.part, key)
    except OSError as e:
        if not _disk_full(e):
            raise
        raise DiskFullError(spec.zip_name, storage.uri(key), "publishing to") from e
    partial.discard()
    return DownloadResult(
        spec, key, url, target.size or 0, target.etag, target.last_modified, time.monotonic() - started,
        skipped=False, resumed=resumed, attempts=attempt, sha256=digest,
    )  # fmt: skip


def _past_deadline(
    spec: FileSpec, url: str, partial: _Partial, target: _Target, limits: TransferLimits
) -> DownloadError:
    have = partial.part.stat().st_size if partial.part.exists() else 0
    total = f"{target.size:,}" if target.size is not None else "?"
    return DownloadError(
        f"{spec.zip_name}: {url} not complete within the {limits.deadline_seconds:g}s deadline ({have:,} of {total} "
        f"bytes; nothing published; the partial {partial.part} is kept and the next run resumes)"
    )


def _fetch(
    site: HttpClient,
    spec: FileSpec,
    partial: _Partial,
    offset: int,
    target: _Target,
    limits: TransferLimits = TransferLimits(),
    deadline: float | None = None,
) -> bool:
    """One attempt: GET (ranged with If-Range when resuming) appending to the partial; True if it resumed.

    A 200 means the server sends the whole (possibly new) file: the target's validators are updated and the
    partial restarts from zero. Raises _Transient when the body ends short, the network fails or the file
    changed mid-resume.
    """
    headers: dict[str, str] = {}
    if offset and target.etag:
        if target.size is not None and offset >= target.size:
            offset = target.size - 1  # already whole: re-fetch the last byte to confirm the validator
        headers = {"Range": f"bytes={offset}-", "If-Range": target.etag}
    headers["Accept-Encoding"] = "identity"  # byte offsets must be offsets into the file itself
    try:
        resp = site.request("GET", target.url, headers=headers, stream=True)
    except RedirectLoopError as e:
        raise DownloadError(f"{spec.zip_name}: {e} (nothing published)") from e
    except SiteError as e:
        raise _Transient(str(e)) from e
    with resp:
        status = resp.status_code
        if status == 206 and "Range" in headers:
            total = _content_range_total(resp, offset)
            etag = resp.headers.get("ETag")
            if (etag is not None and etag != target.etag) or (target.size is not None and total != target.size):
                partial.reset(target)
                raise _Transient("the file changed on the server while resuming; restarting")
            resumed = True
        elif status == 200:
            length = resp.headers.get("Content-Length")
            target.etag = resp.headers.get("ETag")
            target.last_modified = resp.headers.get("Last-Modified")
            target.size = int(length) if length and length.isdigit() else None
            partial.reset(target)
            offset, resumed = 0, False
        elif status == 416 or status in RETRY_STATUSES:
            if status == 416:
                partial.reset(target)
            raise _Transient(f"GET {target.url} answered HTTP {status}")
        else:
            raise DownloadError(f"{spec.zip_name}: GET {target.url} answered HTTP {status} (nothing published)")
        ctype = resp.headers.get("Content-Type", "").split(";", 1)[0].strip().lower()
        if ctype in ("text/html", "application/xhtml+xml"):
            raise DownloadError(_html_reply(spec, target.url, resp))
        encoding = resp.headers.get("Content-Encoding", "identity").lower()
        if encoding != "identity":  # byte ranges and sizes would then refer to the encoded stream
            raise DownloadError(f"{spec.zip_name}: {target.url} sent Content-Encoding {encoding}; cannot resume")
        with open(partial.part, "r+b") as out:
            out.seek(offset)
            out.truncate()
            _copy(resp, out, limits, deadline)
    have = partial.part.stat().st_size
    if target.size is None:
        raise DownloadError(f"{spec.zip_name}: {target.url} sent no Content-Length, so completeness is unknowable")
    if have != target.size:
        raise _Transient(f"got {have:,} of {target.size:,} bytes")
    return resumed


def _html_reply(spec: FileSpec, url: str, resp: requests.Response) -> str:
    """The message for a zip link that answers with an HTML page (an error or login page served with 200)."""
    from cms_assets.lib.ingest.zipfiles import SNIFF, html_summary

    try:
        head = resp.raw.read(SNIFF, decode_content=True) or b""
    except TRANSIENT:
        head = b""
    return (
        f"{spec.zip_name}: {url} answered HTTP {resp.status_code} with an HTML page, not a zip "
        f"(Content-Type {resp.headers.get('Content-Type')}, {html_summary(head)}): likely an error or login page; "
        "nothing published"
    )


def _copy(
    resp: requests.Response, out: IO[bytes], limits: TransferLimits = TransferLimits(), deadline: float | None = None
) -> None:
    """Stream the body in chunks of at most 1 MiB, writing each as it arrives (``read1``), so a dropped
    connection loses nothing already received. Only network failures and stalls (not disk errors) count as
    transient; each chunk is written and flushed before the next is read, so a stalled attempt keeps its bytes."""
    window_start, window_bytes = time.monotonic(), 0
    while True:
        try:
            chunk = resp.raw.read1(CHUNK, decode_content=False)
        except TRANSIENT as e:
            raise _Transient(f"connection lost: {e}") from e
        if not chunk:
            return
        out.write(chunk)
        window_bytes += len(chunk)
        now = time.monotonic()
        if deadline is not None and now >= deadline:
            out.flush()
            raise _Transient("the per-file deadline passed mid-transfer")
        if now - window_start >= limits.window_seconds:
            rate = window_bytes / (now - window_start)
            if rate < limits.min_bytes_per_second:
                out.flush()
                raise _Transient(
                    f"stalled: {rate:,.0f} bytes/s over {now - window_start:.0f}s, below the minimum "
                    f"{limits.min_bytes_per_second:,.0f} bytes/s"
                )
            window_start, window_bytes = now, 0


def _content_range_total(resp: requests.Response, offset: int) -> int | None:
    value = resp.headers.get("Content-Range", "")
    try:
        unit, _, rest = value.partition(" ")
        span, _, total = rest.partition("/")
        start = int(span.split("-", 1)[0])
    except ValueError as e:
        raise _Transient(f"bad Content-Range {value!r}") from e
    if unit != "bytes" or start != offset:
        raise _Transient(f"asked for bytes from {offset}, got Content-Range {value!r}")
    return int(total) if total.isdigit() else None


def raw_location(storage: Storage, sample: int) -> str:
    """Where one sample's zips and manifest are published."""
    return storage.uri(layout.raw_manifest(sample).rsplit("/", 1)[0])


def read_manifest(storage: Storage, sample: int) -> dict[str, Any]:
    """The sample's manifest, or an empty one when there is none yet."""
    key = layout.raw_manifest(sample)
    return storage.read_json(key) if storage.exists(key) else {"version": MANIFEST_VERSION, "files": {}}


def download_sample(
    site: HttpClient,
    files: list[RemoteFile],
    storage: Storage,
    sample: int,
    partial_dir: Path,
    max_workers: int = 2,
    log: Callable[[str], None] | None = None,
    limits: TransferLimits = TransferLimits(),
) -> list[DownloadResult]:
    """Download a sample's zips (a small thread pool: polite), then write its manifest atomically.

    Every file is attempted even when one fails; a failure raises DownloadError listing every failed file and
    leaves the manifest as it was.
    """
    say = log or (lambda _msg: None)
    foreign = [f.spec.zip_name for f in files if f.spec.sample != sample]
    if foreign:
        raise ValueError(f"files of another sample passed for sample {sample}: {', '.join(foreign)}")
    previous = read_manifest(storage, sample).get("files", {})

    def one(remote: RemoteFile) -> DownloadResult:
        name = remote.spec.zip_name
        if remote.note:
            say(f"{name}: {remote.note}")
        result = download_file(
            site, remote, storage, layout.raw_zip(sample, name), Path(partial_dir), previous.get(name), limits=limits
        )
        how = "unchanged, skipped" if result.skipped else ("resumed" if result.resumed else "downloaded")
        say(f"{name}: {how} ({result.size:,} bytes, {result.seconds:.1f}s, {result.attempts} attempt(s))")
        return result

    with ThreadPoolExecutor(max_workers=max(1, max_workers), thread_name_prefix="cms-download") as pool:
        futures = [pool.submit(one, f) for f in files]
    results: list[DownloadResult] = []
    errors: list[BaseException] = []
    for fut in futures:
        try:
            results.append(fut.result())
        except Exception as e:  # collected so one bad file does not hide the others
            errors.append(e)
    full = [e for e in errors if isinstance(e, DiskFullError)]
    if full:  # one message for the device, not one "[Errno 28]" per file
        others = [str(e) for e in errors if not isinstance(e, DiskFullError)]
        raise DownloadError(
            f"sample {sample}: no space left on device writing {full[0].path} ({', '.join(e.zip_name for e in full)} "
            "not downloaded; nothing published; free space and re-run: downloads resume)"
            + (f"; also: {'; '.join(others)}" if others else "")
        ) from full[0]
    if errors:
        raise DownloadError(
            f"sample {sample}: {len(errors)} of {len(files)} files failed: " + "; ".join(map(str, errors))
        ) from errors[0]
    manifest = {
        "version": MANIFEST_VERSION,
        "sample": sample,
        "files": {r.spec.zip_name: r.manifest_entry() for r in results},
    }
    storage.write_json(layout.raw_manifest(sample), manifest)
    return results
