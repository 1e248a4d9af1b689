"""Streaming Parquet writes: record batches in, one zstd Parquet file out, memory bounded by a few batches.

The one writer of Parquet files from Arrow data; where the file goes and how it is published atomically is the
caller's (a storage staging path, see :meth:`cms_assets.lib.storage.Storage.writer`).
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

ArrowData = pa.RecordBatchReader | Iterable[pa.RecordBatch | pa.Table]


class DiskFullError(OSError):
    """No space left writing a file; the message names the file (the caller names what it was for)."""


def write_parquet(data: ArrowData, path: Path, schema: pa.Schema | None = None) -> int:
    """Write ``data`` to ``path`` one row group per batch (or table); return the rows written.

    ``schema`` is required for data that may be empty (no batch to take it from); a reader brings its own."""
    if isinstance(data, pa.RecordBatchReader):
        schema = schema or data.schema
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for chunk in data:
            table = chunk if isinstance(chunk, pa.Table) else pa.Table.from_batches([chunk])
            if writer is None:
                writer = pq.ParquetWriter(path, schema or table.schema, compression="zstd")
            writer.write_table(table, row_group_size=max(table.num_rows, 1))
            rows += table.num_rows
        if writer is None:
            if schema is None:
                raise ValueError(f"no batches and no schema to write {path}")
            writer = pq.ParquetWriter(path, schema, compression="zstd")
        writer.close()
    except BaseException as e:
        if writer is not None:
            _close_quietly(writer)
        if isinstance(e, OSError) and (e.errno == errno.ENOSPC or "No space left on device" in str(e)):
            raise DiskFullError(errno.ENOSPC, f"no space left on device writing {path}") from e
        raise
    return rows


def _close_quietly(writer: pq.ParquetWriter) -> None:
    try:
        writer.close()
    except OSError:
        pass
