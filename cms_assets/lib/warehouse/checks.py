"""Checks on a warehouse load, as plain functions: what the warehouse holds for a sample equals its Parquet."""

from __future__ import annotations

from typing import Any

import pyarrow.parquet as pq

from cms_assets.lib.ingest.checks import CheckOutcome
from cms_assets.lib.storage import Storage


def parquet_rows_of(storage: Storage, keys: list[str]) -> int:
    """Rows in the given Parquet objects, from their footers (no data read). ``keys`` are what the load read: the
    files a partition's publish pointer names (lib/publish.py ``published_keys``), never a listing of the folder,
    which after an interrupted publish may also hold an unpublished version; each key is counted once."""
    total = 0
    for key in dict.fromkeys(keys):
        with storage.open_read(key) as f:
            total += pq.ParquetFile(f).metadata.num_rows
    return total


def rows_match_parquet(warehouse: Any, table: str, sample: int, storage: Storage, keys: list[str]) -> CheckOutcome:
    """The warehouse holds exactly the sample's Parquet rows for this table (no loss, no duplicates)."""
    expected = parquet_rows_of(storage, keys)
    loaded = warehouse.row_count(table, sample)
    meta = {"warehouse_rows": loaded, "parquet_rows": expected, "parquet_files": len(keys)}
    return CheckOutcome(
        loaded == expected, f"{table} sample {sample}: {loaded:,} rows loaded, {expected:,} in Parquet", meta
    )
