"""The beneficiary-year feature table on DuckDB, where no Spark cluster is configured: the one SQL definition
(:mod:`cms_assets.lib.features_sql`) over the five tables' local Parquet files, written as one Parquet file.

Spark local mode costs 1.5-2.6x DuckDB on the same files (``benchmarks/features.py``) and starts a JVM per run;
DuckDB streams the same query with bounded memory (``memory_limit``, spilling to ``temp_dir``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from cms_assets.lib.features_sql import feature_sql, references
from cms_assets.lib.sql_dialect import DUCKDB
from cms_assets.lib.synpuf.tables import TABLES
from cms_assets.lib.terminology import read_reference
from cms_assets.lib.warehouse.backends import sql_literal


def require_columns(files: Mapping[str, Sequence[str]]) -> None:
    """Every table has files and its table's columns (read from the Parquet footers): a clear error naming the
    table and file otherwise, before the query runs."""
    for spec in TABLES.values():
        paths = files.get(spec.name) or []
        if not paths:
            raise FileNotFoundError(f"table {spec.name}: no Parquet files given")
        for path in paths:
            names = set(pq.read_schema(path).names)
            missing = [n for n in spec.schema.names if n not in names]
            if missing:
                raise ValueError(f"table {spec.name} ({path}): lacks columns {missing}")


def write_features(
    files: Mapping[str, Sequence[str]],
    out_file: Path,
    temp_dir: Path,
    memory_limit: str = "4GB",
    threads: int = 2,
    scores: bool = True,
) -> int:
    """Run the feature query over ``files`` (table name -> local Parquet paths) and the CMS-HCC reference tables
    (read from their packages) into ``out_file``; its rows. ``scores=False`` leaves the CMS-HCC columns null: the
    baseline that ``benchmarks/hcc_scoring.py`` measures the scoring's cost against."""

    require_columns(files)
    sources = {
        name: f"read_parquet([{', '.join(sql_literal(p) for p in paths)}], hive_partitioning = false)"
        for name, paths in files.items()
    }
    tables = {name: read_reference(name) for name in references(scores)}
    sources.update({name: f"ref_{name}" for name in tables})
    copy_query(feature_sql(DUCKDB, sources, scores), tables, out_file, temp_dir, memory_limit, threads)
    return pq.ParquetFile(out_file).metadata.num_rows


def copy_query(
    query: str, references: Mapping[str, Any], out_file: Path, temp_dir: Path, memory_limit: str, threads: int
) -> None:
    """Run a feature query over the reference tables (registered as ``ref_<name>``) into one Parquet file, as the
    feature job does (``benchmarks/feature_query_ab.py`` runs two revisions' queries the same way)."""
    import duckdb

    temp_dir.mkdir(parents=True, exist_ok=True)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    config = {"memory_limit": memory_limit, "threads": threads, "temp_directory": str(temp_dir)}
    with duckdb.connect(config=config) as con:
        # Row order means nothing to the feature table; keeping it would cost memory and time.
        con.execute("SET preserve_insertion_order = false")
        for name, table in references.items():
            con.register(f"ref_{name}", table)
        con.execute(f"COPY ({query}) TO {sql_literal(str(out_file))} (FORMAT parquet, COMPRESSION zstd)")
