"""Zip safety for CMS downloads: one CSV member with an expected name, no path tricks, no bombs, no lies.

``zipfile`` checks the CRC but trusts the declared size: it silently cuts an entry that inflates beyond its
header, and a crafted entry can inflate without bound. So the member is inflated here directly from its local
header, counting every byte out against the declared size and the CRC, with bounded memory whatever the zip claims.

Methods: stored, deflate (zlib) and Deflate64 (method 9, which Windows' compressor and 7-Zip use for large files
and Python's zipfile cannot read; the likely reason Sample 11's carrier A "needs a manual unzip"). Deflate64 is
inflated with ``inflate64`` (the maintained C extension py7zr uses; an object API like zlib's, no monkey-patching
of zipfile as ``zipfile-deflate64`` does). Its ``inflate`` has no output limit, so it is fed at most
:data:`DEFLATE64_INPUT` compressed bytes at a time: the output per call is then bounded (Deflate64 expands at most
about 1:1032 even for a crafted stream), and the declared-size and ratio checks apply as for deflate.
"""

from __future__ import annotations

import io
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import inflate64

from cms_assets.lib.synpuf.names import FileSpec

CHUNK = 1 << 20
#: Compressed bytes per read: few enough requests when the zip is a ranged S3 stream, still bounded memory.
READ_CHUNK = 4 << 20
ZIP_DEFLATE64 = 9
#: Compressed bytes per ``inflate64`` call: at most ~16 MiB out even for a crafted stream, ~100 KiB for a CSV.
DEFLATE64_INPUT = 16 << 10
METHODS = {zipfile.ZIP_STORED: "stored", zipfile.ZIP_DEFLATED: "deflate", ZIP_DEFLATE64: "Deflate64"}
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # zipfile.structFileHeader
_LOCAL_SIG = b"PK\x03\x04"
#: Errors the zip machinery raises on damaged input; all become CorruptZipError.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, zlib.error, struct.error, OSError)


class CorruptZipError(ValueError):
    """A zip that is damaged, unsafe or not the expected CMS file; the message names the zip and the problem."""


@dataclass(frozen=True)
class ZipMember:
    name: str
    file_size: int
    compress_size: int
    crc: int


def _label(source: str | Path | IO[bytes]) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", None) or "<stream>")


def accepted_member_names(spec: FileSpec) -> set[str]:
    """``<base>.csv`` or the ``<base> - Copy.csv`` some CMS zips hold."""
    return {spec.csv_name, f"{spec.base} - Copy.csv"}


def _check_member(label: str, zf: zipfile.ZipFile, spec: FileSpec | None, max_ratio: float) -> zipfile.ZipInfo:
    infos = zf.infolist()
    if len(infos) != 1:
        names = ", ".join(i.filename for i in infos[:5]) or "none"
        raise CorruptZipError(f"{label}: expected exactly one member, found {len(infos)} ({names})")
    info = infos[0]
    name = info.orig_filename
    if name.startswith("/") or "\\" in name or "/" in name or name[1:2] == ":" or name in ("", ".", ".."):
        raise CorruptZipError(f"{label}: unsafe member name {name!r} (absolute, parent or nested path)")
    if not name.lower().endswith(".csv"):
        raise CorruptZipError(f"{label}: member {name!r} is not a CSV")
    if spec is not None and name not in accepted_member_names(spec):
        raise CorruptZipError(f"{label}: member {name!r} is not {spec.csv_name!r} (or its ' - Copy.csv' twin)")
    if info.flag_bits & 0x1:
        raise CorruptZipError(f"{label}: member {name!r} is encrypted")
    if info.compress_type not in METHODS:
        raise CorruptZipError(
            f"{label}: member {name!r} uses unsupported compression method {info.compress_type} "
            f"(supported: {', '.join(f'{k} {v}' for k, v in METHODS.items())})"
        )
    if info.file_size > max(info.compress_size, 1) * max_ratio:
        raise CorruptZipError(
            f"{label}: member {name!r} declares {info.file_size} bytes from {info.compress_size} compressed "
            f"(ratio above {max_ratio:g}): refusing a possible zip bomb"
        )
    return info


class _MemberReader(io.RawIOBase):
    """Inflate one member, failing loudly on overflow, truncation or CRC mismatch (memory bounded by reads)."""

    def __init__(self, label: str, fileobj: IO[bytes], info: zipfile.ZipInfo, owns: IO[bytes] | None) -> None:
        super().__init__()
        self._label = f"{label}!{info.orig_filename}"
        self._f = fileobj
        self._owns = owns
        self._info = info
        self._left = info.compress_size
        self._inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
        self._inflater64 = inflate64.Inflater() if info.compress_type == ZIP_DEFLATE64 else None
        self._pending = b""  # compressed input not consumed yet
        self._out = b""  # Deflate64 output not handed out yet
        self._crc = 0
        self._seen = 0
        self._done = False
        self._seek_data()

    def _seek_data(self) -> None:
        try:
            self._f.seek(self._info.header_offset)
            head = _LOCAL_HEADER.unpack(self._f.read(_LOCAL_HEADER.size))
        except _ZIP_ERRORS as e:
            raise CorruptZipError(f"{self._label}: unreadable local header: {e}") from e
        if head[0] != _LOCAL_SIG:
            raise CorruptZipError(f"{self._label}: bad local header signature")
        raw_name = self._f.read(head[10])
        local_name = raw_name.decode("utf-8" if head[3] & 0x800 else "cp437", errors="replace")
        if local_name != self._info.orig_filename:
            raise CorruptZipError(f"{self._label}: local header names {local_name!r}, the directory another")
        self._f.seek(head[11], io.SEEK_CUR)

    @property
    def name(self) -> str:
        return self._label

    def readable(self) -> bool:
        return True

    def _read_compressed(self) -> bytes:
        data = self._f.read(min(READ_CHUNK, self._left)) if self._left > 0 else b""
        if self._left > 0 and not data:
            raise CorruptZipError(f"{self._label}: truncated: the file ends {self._left} compressed bytes early")
        self._left -= len(data)
        return data

    def _inflate(self, want: int) -> bytes:
        """Up to ``want`` bytes of member data; b'' only at the end of the compressed data."""
        if self._inflater64 is not None:
            return self._inflate64(want)
        if self._inflater is None:
            return self._stored(want)
        while True:
            if not self._pending:
                if self._inflater.eof:
                    return b""
                self._pending = self._read_compressed()
                if not self._pending:
                    raise CorruptZipError(f"{self._label}: truncated: the deflate stream does not end")
            try:
                out = self._inflater.decompress(self._pending, want)
            except zlib.error as e:
                raise CorruptZipError(f"{self._label}: damaged data after {self._seen} bytes: {e}") from e
            self._pending = b"" if self._inflater.eof else self._inflater.unconsumed_tail
            if out:
                return out

    def _inflate64(self, want: int) -> bytes:
        """Like :meth:`_inflate` for Deflate64, whose output per call is bounded by feeding small inputs."""
        assert self._inflater64 is not None
        while not self._out:
            if self._inflater64.eof:
                return b""
            if not self._pending:
                self._pending = self._read_compressed()
                if not self._pending:
                    raise CorruptZipError(f"{self._label}: truncated: the Deflate64 stream does not end")
            feed, self._pending = self._pending[:DEFLATE64_INPUT], self._pending[DEFLATE64_INPUT:]
            try:
                self._out = self._inflater64.inflate(feed)
            except (ValueError, RuntimeError, EOFError) as e:
                raise CorruptZipError(f"{self._label}: damaged Deflate64 data after {self._seen} bytes: {e}") from e
        out, self._out = self._out[:want], self._out[want:]
        return out

    def _stored(self, want: int) -> bytes:
        data = self._f.read(min(want, self._left))
        if self._left > 0 and not data:
            raise CorruptZipError(f"{self._label}: truncated: the file ends {self._left} bytes early")
        self._left -= len(data)
        return data

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        want = len(buffer)
        if self._done or want == 0:
            return 0
        try:
            out = self._inflate(want)
        except _ZIP_ERRORS as e:
            raise CorruptZipError(f"{self._label}: damaged data after {self._seen} bytes: {e}") from e
        n = len(out)
        self._seen += n
        if self._seen > self._info.file_size:
            raise CorruptZipError(
                f"{self._label}: holds more than the declared {self._info.file_size} bytes (read {self._seen})"
            )
        self._crc = zlib.crc32(out, self._crc)
        if n == 0:
            self._finish()
            return 0
        buffer[:n] = out
        return n

    def _finish(self) -> None:
        self._done = True
        if self._seen != self._info.file_size:
            raise CorruptZipError(
                f"{self._label}: truncated: read {self._seen} of {self._info.file_size} declared bytes"
            )
        if self._crc != self._info.CRC:
            raise CorruptZipError(f"{self._label}: CRC mismatch ({self._crc:08x} != {self._info.CRC:08x})")

    def close(self) -> None:
        if not self.closed and self._owns is not None:
            self._owns.close()
        super().close()


def _open_zip(label: str, source: str | Path | IO[bytes]) -> tuple[zipfile.ZipFile, IO[bytes], IO[bytes] | None]:
    owns = open(source, "rb") if isinstance(source, (str, Path)) else None
    fileobj: IO[bytes] = owns if owns is not None else source  # type: ignore[assignment]
    try:
        return zipfile.ZipFile(fileobj), fileobj, owns
    except _ZIP_ERRORS as e:
        try:
            why = why_not_a_zip(fileobj, label, e)
        finally:
            if owns is not None:
                owns.close()
        raise CorruptZipError(why) from e


_HTML_STARTS = (b"<!doctype", b"<html", b"<head", b"<body", b"<?xml", b"<!--")
_EOCD_SIZE = 22  # end of central directory record, without a comment
_CENTRAL_SIZE = 46  # central directory entry, without name and extra fields
SNIFF = 4096


def looks_like_html(head: bytes) -> bool:
    """Whether bytes that should start a zip start an HTML (or XML) page instead: an error or login page."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return text.startswith(_HTML_STARTS) or (text.startswith(b"<") and b"<html" in text[:SNIFF])


def html_summary(head: bytes) -> str:
    """``starts '<!DOCTYPE html>...', title 'Sign in'`` for a message."""
    first = head.lstrip(b"\xef\xbb\xbf \t\r\n")[:40].decode("utf-8", "replace").split("\n", 1)[0]
    m = re.search(rb"<title[^>]*>(.*?)</title>", head, re.IGNORECASE | re.DOTALL)
    title = " ".join(m[1].decode("utf-8", "replace").split())[:80] if m else ""
    return f"starts {first!r}" + (f", title {title!r}" if title else "")


def why_not_a_zip(fileobj: IO[bytes], label: str, error: BaseException) -> str:
    """What a file that zipfile cannot open really is, for the message: empty, an HTML page (an error or login page
    saved in the zip's place), a zip cut short (a truncated download: how much is missing), or other bytes."""
    try:
        size = fileobj.seek(0, io.SEEK_END)
        fileobj.seek(0)
        head = fileobj.read(SNIFF)
    except (OSError, ValueError):
        return f"{label}: not a readable zip: {error}"
    if size == 0:
        return f"{label}: not a readable zip: empty (0 bytes): the download produced nothing; download it again"
    if looks_like_html(head):
        return (
            f"{label}: not a readable zip: it is an HTML page ({size:,} bytes, {html_summary(head)}), likely an error "
            "or login page saved in the zip's place; download the file again from its link"
        )
    if head.startswith(_LOCAL_SIG):
        return (
            f"{label}: not a readable zip: cut short: {_missing(head, size)}; a truncated download: download it again"
        )
    return f"{label}: not a readable zip ({size:,} bytes, starts {head[:16]!r}): {error}"


def _missing(head: bytes, size: int) -> str:
    """How much of a zip whose end is missing must be missing, from its first local header."""
    base = f"{size:,} bytes, and the zip's end (its central directory) is missing"
    try:
        fields = _LOCAL_HEADER.unpack(head[: _LOCAL_HEADER.size])
    except struct.error:
        return base
    flags, compress_size, name_len, extra_len = fields[3], fields[8], fields[10], fields[11]
    if flags & 0x8 or compress_size == 0xFFFFFFFF:  # sizes in a data descriptor or a zip64 extra field
        return base
    raw_name = head[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_len]
    name = raw_name.decode("utf-8" if flags & 0x800 else "cp437", errors="replace")
    member_end = _LOCAL_HEADER.size + name_len + extra_len + compress_size
    needed = member_end + _CENTRAL_SIZE + name_len + _EOCD_SIZE
    if needed <= size:
        return base
    return (
        f"{size:,} bytes of at least {needed:,}: its member {name!r} alone declares {compress_size:,} compressed "
        f"bytes and the zip's end (its central directory) is missing, so at least {needed - size:,} bytes "
        f"({(needed - size) / needed:.0%}) are missing"
    )


def open_member(
    source: str | Path | IO[bytes], spec: FileSpec | None = None, max_ratio: float = 200.0
) -> tuple[ZipMember, IO[bytes]]:
    """Open the single CSV member for streaming; reading it raises CorruptZipError on any inconsistency.

    ``source`` is a path or a seekable binary file (e.g. ``Storage.open_read``). Closing the returned stream
    closes the file when a path was given.
    """
    label = _label(source)
    zf, fileobj, owns = _open_zip(label, source)
    try:
        info = _check_member(label, zf, spec, max_ratio)
        raw = _MemberReader(label, fileobj, info, owns)
    except BaseException:
        if owns is not None:
            owns.close()
        raise
    member = ZipMember(info.orig_filename, info.file_size, info.compress_size, info.CRC)
    return member, io.BufferedReader(raw, buffer_size=CHUNK)  # type: ignore[return-value]


def verify_zip(path: str | Path | IO[bytes], spec: FileSpec | None = None, max_ratio: float = 200.0) -> ZipMember:
    """Check a downloaded zip end to end (names, sizes, CRC) by reading its member in chunks; return its facts."""
    member, stream = open_member(path, spec, max_ratio)
    with stream:
        while stream.read(CHUNK):
            pass
    return member
