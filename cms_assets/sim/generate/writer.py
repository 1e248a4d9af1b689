"""Stream CSV rows into a single-member zip exactly as CMS writes them, atomically.

The zip is written to a hidden temporary name in the target directory and renamed into place on success, so a
web server serving the directory never sees a partial zip. Zip entries carry a fixed timestamp, so the same rows
give the same bytes on every run.

``deflate64=True`` writes the member with Deflate64 (zip method 9), as Windows' built-in compressor and 7-Zip do for
large files (the likely reason downloaders must unzip Sample 11's carrier A by hand). Python's zipfile cannot
write method 9, so :class:`Deflate64Member` lays out the zip records itself (APPNOTE 6.3: local header with a
zip64 extra field patched once the sizes are known, central directory, zip64 end records) around the output of
``inflate64.Deflater``, the Deflate64 encoder py7zr uses.
"""

from __future__ import annotations

import os
import struct
import zipfile
import zlib
from pathlib import Path
from types import TracebackType
from typing import IO

import inflate64
import pyarrow as pa
import pyarrow.csv as pacsv

#: Fixed entry timestamp (the month the CMS Codebook was published) for byte-identical re-runs.
ZIP_DATE_TIME = (2013, 2, 1, 0, 0, 0)
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none", eol="\n")


def header_line(columns: list[str]) -> bytes:
    """CMS's header: every column name double-quoted, comma separated."""
    return (",".join(f'"{name}"' for name in columns) + "\n").encode("ascii")


ZIP_DEFLATE64 = 9
_ZIP64_VERSION = 45  # "version needed": zip64 (4.5) covers Deflate64 (2.1)
_U32 = 0xFFFFFFFF


def _dos_time(date_time: tuple[int, int, int, int, int, int]) -> tuple[int, int]:
    y, mo, d, h, mi, sec = date_time
    return (h << 11) | (mi << 5) | (sec // 2), ((y - 1980) << 9) | (mo << 5) | d


class Deflate64Member:
    """A single-member zip whose member is Deflate64-compressed, written as a stream: ``write`` then ``close``."""

    def __init__(self, out: IO[bytes], member: str) -> None:
        self._out = out
        self._name = member.encode("ascii")
        self._deflater = inflate64.Deflater()
        self._crc = 0
        self._size = 0
        self._compressed = 0
        self._out.write(self._local_header(0, 0, 0))

    def _local_header(self, crc: int, compressed: int, size: int) -> bytes:
        time, date = _dos_time(ZIP_DATE_TIME)
        head = struct.pack(
            "<4s5H3L2H", b"PK\x03\x04", _ZIP64_VERSION, 0, ZIP_DEFLATE64, time, date, crc, _U32, _U32,
            len(self._name), 20,
        )  # fmt: skip
        return head + self._name + struct.pack("<2H2Q", 1, 16, size, compressed)

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._emit(self._deflater.deflate(data))

    def _emit(self, chunk: bytes) -> None:
        self._out.write(chunk)
        self._compressed += len(chunk)

    def close(self) -> None:
        self._emit(self._deflater.flush())
        end = self._out.tell()
        self._out.seek(0)
        self._out.write(self._local_header(self._crc, self._compressed, self._size))  # same length: patch
        self._out.seek(end)
        time, date = _dos_time(ZIP_DATE_TIME)
        central = struct.pack(
            "<4s6H3L5H2L", b"PK\x01\x02", (3 << 8) | _ZIP64_VERSION, _ZIP64_VERSION, 0, ZIP_DEFLATE64, time, date,
            self._crc, _U32, _U32, len(self._name), 28, 0, 0, 0, 0o644 << 16, _U32,
        ) + self._name + struct.pack("<2H3Q", 1, 24, self._size, self._compressed, 0)  # fmt: skip
        self._out.write(central)
        eocd64 = end + len(central)
        self._out.write(
            struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, _ZIP64_VERSION, _ZIP64_VERSION, 0, 0, 1, 1, len(central), end)
        )
        self._out.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd64, 1))
        self._out.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, _U32, _U32, 0))
        self._out.close()


class CsvZipWriter:
    """Context manager writing ``member`` inside ``path`` (a zip); rows are appended with :meth:`write`."""

    def __init__(
        self, path: Path, member: str, columns: list[str], compresslevel: int = 6, deflate64: bool = False
    ) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self._zip: zipfile.ZipFile | None = None
        self._member: IO[bytes] | Deflate64Member
        if deflate64:
            self._member = Deflate64Member(open(self.tmp, "wb"), member)
        else:
            info = zipfile.ZipInfo(member, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            self._zip = zipfile.ZipFile(self.tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=compresslevel)
            info._compresslevel = compresslevel  # ZipFile.open("w") takes the level from the ZipInfo
            self._member = self._zip.open(info, "w", force_zip64=True)
        self._member.write(header_line(columns))

    def write(self, table: pa.Table) -> None:
        """Append rows; ``table`` must have exactly this file's columns, in order."""
        if table.column_names != self.columns:
            raise ValueError(f"{self.path.name}: columns differ from the file's header")
        if table.num_rows == 0:
            return
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink, _CSV_OPTIONS)
        self._member.write(sink.getvalue())
        self.rows += table.num_rows

    def close(self) -> Path:
        self._member.close()
        if self._zip is not None:
            self._zip.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._member.close()
            if self._zip is not None:
                self._zip.close()
        finally:
            self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> CsvZipWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
