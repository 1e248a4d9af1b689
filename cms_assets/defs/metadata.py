"""Small helpers that turn Arrow schemas and tables into Dagster metadata (schema, preview)."""

from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from cms_assets.lib.storage import Storage


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


def features_summary(store: Storage, prefix: str) -> dict[str, object]:
    """Label coverage, mean cost and a preview of a published feature directory (read with pyarrow, small)."""
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    fs, root = store.arrow_fs()
    table = ds.dataset(f"{root}/{prefix}", filesystem=fs, format="parquet").to_table(
        columns=["DESYNPUF_ID", "YEAR", "AGE", "CC_COUNT", "TOTAL_PAYMENT", "NEXT_YEAR_COST"]
    )
    labelled = table.num_rows - table["NEXT_YEAR_COST"].null_count
    return {
        "labelled_rows": labelled,
        "mean_total_payment": round(float(pc.mean(table["TOTAL_PAYMENT"]).as_py() or 0.0), 2),
        "mean_next_year_cost": round(float(pc.mean(table["NEXT_YEAR_COST"]).as_py() or 0.0), 2),
        "preview": preview(table),
    }


def parquet_rows(store: Storage, prefix: str) -> int:
    """Rows in the Parquet files under ``prefix``, from their footers: what was published, whoever wrote it."""
    total = 0
    for obj in store.list(prefix):
        if obj.key.endswith(".parquet"):
            with store.open_read(obj.key) as f:
                total += pq.ParquetFile(f).metadata.num_rows
    return total
