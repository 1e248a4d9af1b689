"""What a remote zip holds, read over HTTP byte ranges without downloading it: its CSV member's name and first IDs.

CMS's sample pages sometimes link a file under a wrong name (Sample 1's page links a zip named as Sample 20's 2010
beneficiary file that holds Sample 1's). The URL may lie; the member name and the IDs inside say which sample a
file holds. :class:`RangeFile` makes a URL a seekable file (a few ranged GETs: the zip's central directory at the
end, then the member's first compressed bytes), so :mod:`cms_assets.lib.ingest.zipfiles` reads it exactly as it
reads a local zip, every compression method included. A server may ignore ``Range`` (RFC 9110 allows it) and answer
200 with the whole body: each read then streams from the start and skips to the offset (slower, still correct).
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import requests

from cms_assets.lib.ingest.zipfiles import CorruptZipError, open_member
from cms_assets.lib.site.client import HttpClient, SiteError
from cms_assets.lib.synpuf.names import FileSpec, parse_name

BLOCK = 256 << 10
#: How many IDs of a candidate file are compared, and how many CSV bytes of the reference may be read to do it.
SAMPLE_IDS = 50
MAX_REFERENCE_BYTES = 8 << 20
#: Share of the candidate's IDs that must belong to the sample (2010's beneficiaries are 2008's, minus none).
MIN_SHARED = 0.9


class RangeFile(io.RawIOBase):
    """A read-only, seekable view of a URL through ``Range`` requests; a server that ignores the range (200, the
    whole body) is read from the start up to the wanted bytes instead."""

    def __init__(self, site: HttpClient, url: str) -> None:
        super().__init__()
        self.site = site
        self.url = url
        self.name = url
        self.size = site.head(url).size or 0
        self._pos = 0
        #: Whether the server answered a ranged GET with the whole body (then every read streams from byte 0).
        self.ranges_ignored = False

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        n = min(len(buffer), self.size - self._pos)
        if n <= 0:
            return 0
        headers = {"Range": f"bytes={self._pos}-{self._pos + n - 1}", "Accept-Encoding": "identity"}
        with self.site.request("GET", self.url, headers=headers, stream=True) as resp:
            if resp.status_code == 206:
                data = resp.raw.read(n, decode_content=False)
            elif resp.status_code == 200:
                self.ranges_ignored = True
                data = _slice_of_whole_body(resp, self._pos, n)
            else:
                raise SiteError(f"GET {self.url} with a byte range answered HTTP {resp.status_code}")
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)


def _slice_of_whole_body(resp: requests.Response, start: int, n: int) -> bytes:
    """Bytes [start, start + n) of a 200 reply carrying the whole file: the bytes before are read and dropped."""
    skip, out = start, bytearray()
    while len(out) < n:
        chunk = resp.raw.read(min(BLOCK, skip) if skip else min(BLOCK, n - len(out)), decode_content=False)
        if not chunk:
            break
        if skip:
            skip -= len(chunk)
        else:
            out += chunk
    return bytes(out)


@contextmanager
def remote_member(site: HttpClient, url: str) -> Iterator[tuple[str, io.BufferedReader]]:
    """The member name of the zip at ``url`` and a stream of its CSV (read lazily over byte ranges)."""
    with io.BufferedReader(RangeFile(site, url), buffer_size=BLOCK) as raw:
        member, stream = open_member(raw)  # type: ignore[arg-type]
        with stream:
            yield member.name, stream  # type: ignore[misc]


def _ids(stream: io.BufferedReader, limit: int, max_bytes: int, upto: str | None = None) -> list[str]:
    """DESYNPUF_IDs (first column) of the first data lines: ``limit`` of them, or all up to ``upto``."""
    stream.readline()  # header
    ids: list[str] = []
    read = 0
    for line in stream:
        read += len(line)
        value = line.split(b",", 1)[0].decode("ascii", "replace").strip()
        if upto is not None and value > upto:
            break
        ids.append(value)
        if (upto is None and len(ids) >= limit) or read > max_bytes:
            break
    return ids


def holds(site: HttpClient, url: str, spec: FileSpec, reference_urls: str | Sequence[str]) -> tuple[bool, str]:
    """Whether the zip at ``url`` is ``spec``'s file whatever its name: its member names ``spec`` (``" - Copy.csv"``
    too) and most of its first IDs appear in the same sample's file at ``reference_urls`` (its links, tried in turn
    when one is dead; CMS's files are sorted by DESYNPUF_ID, so only the reference's first lines up to the
    candidate's last sampled ID are read). Returns the verdict and why, for logs and errors."""
    references = [reference_urls] if isinstance(reference_urls, str) else list(reference_urls)
    try:
        with remote_member(site, url) as (member, stream):
            try:
                named = parse_name(member)
            except ValueError:
                return False, f"its member {member!r} is not a DE-SynPUF file name"
            if named != spec:
                return False, f"its member {member!r} is {named.zip_name}'s file, not {spec.zip_name}'s"
            ids = _ids(stream, SAMPLE_IDS, MAX_REFERENCE_BYTES)
    except (CorruptZipError, SiteError) as e:
        return False, f"it could not be read: {e}"
    if not ids:
        return False, f"its member {member!r} holds no rows"
    dead: list[str] = []
    for reference_url in references:
        try:
            with remote_member(site, reference_url) as (_, reference):
                known = set(_ids(reference, 0, MAX_REFERENCE_BYTES, upto=max(ids)))
            break
        except (CorruptZipError, SiteError) as e:
            dead.append(f"{reference_url}: {e}")
    else:
        return False, f"its IDs could not be compared: the reference file could not be read ({'; '.join(dead)})"
    shared = sum(i in known for i in ids) / len(ids)
    if shared < MIN_SHARED:
        return False, f"only {shared:.0%} of its first {len(ids)} IDs are in {reference_url}"
    return True, f"its member {member!r} and {shared:.0%} of its first {len(ids)} IDs are sample {spec.sample}'s"
