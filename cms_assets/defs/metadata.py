"""Small helpers that turn Arrow schemas and tables into Dagster metadata (schema, preview)."""

from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq


def column_schema(schema: pa.Schema, docs: Callable[[str], str] | Mapping[str, tuple[Any, str]]) -> dg.TableSchema:
    """The catalog's column list: name, Arrow type and what the column means (the codebook's ``describe`` or
    one of our ``*_DOCS`` tables of (type, description))."""
    describe = docs if callable(docs) else (lambda name: docs[name][1])
    return dg.TableSchema(columns=[dg.TableColumn(f.name, str(f.type), description=describe(f.name)) for f in schema])


def preview(table: pa.Table, rows: int = 5, max_columns: int = 12) -> dg.MetadataValue:
    """A markdown table of the first rows and columns: enough to eyeball types and values in the UI."""
    head = table.slice(0, rows)
    cols = head.column_names[:max_columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for row in head.select(cols).to_pylist():
        lines.append("| " + " | ".join("" if row[c] is None else str(row[c]) for c in cols) + " |")
    if len(head.column_names) > max_columns:
        lines.append(f"\n({len(head.column_names) - max_columns} more columns)")
    return dg.MetadataValue.md("\n".join(lines))


def parquet_preview(source: object, rows: int = 5) -> dg.MetadataValue:
    """Preview from the first row group only, so it costs nothing on big files."""
    pf = pq.ParquetFile(source)
    return preview(pf.read_row_group(0) if pf.num_row_groups else pf.schema_arrow.empty_table(), rows)
