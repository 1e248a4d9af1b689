"""Stream CSV rows into a single-member zip exactly as CMS writes them, atomically.

The zip is written to a hidden temporary name in the target directory and renamed into place on success, so a
web server serving the directory never sees a partial zip. Zip entries carry a fixed timestamp, so the same rows
give the same bytes on every run.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.csv as pacsv

#: Fixed entry timestamp (the month the CMS Codebook was published) for byte-identical re-runs.
ZIP_DATE_TIME = (2013, 2, 1, 0, 0, 0)
_CSV_OPTIONS = pacsv.WriteOptions(include_header=False, quoting_style="none", eol="\n")


def header_line(columns: list[str]) -> bytes:
    """CMS's header: every column name double-quoted, comma separated."""
    return (",".join(f'"{name}"' for name in columns) + "\n").encode("ascii")


class CsvZipWriter:
    """Context manager writing ``member`` inside ``path`` (a zip); rows are appended with :meth:`write`."""

    def __init__(self, path: Path, member: str, columns: list[str], compresslevel: int = 6) -> None:
        self.path = path
        self.columns = columns
        self.rows = 0
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
        self._zip.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._member.close()
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
