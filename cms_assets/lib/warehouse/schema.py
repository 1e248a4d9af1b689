"""The one warehouse definition: SQLAlchemy tables derived from the Arrow schemas, compiled per backend.

The Arrow schemas (``TABLES[kind].schema`` and the ML contract in ``cms_assets.lib.ml.schemas``) are the source of
truth; this module only maps their types to SQL, so the Parquet files, Spark and the warehouse cannot drift apart.
Redshift needs string lengths and benefits from distribution/sort keys and column encodings; those are attached
as ``redshift_*`` dialect options that the PostgreSQL compiler (also used for DuckDB) simply ignores.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.schema import CreateIndex, CreateSchema, CreateTable

from cms_assets.lib.ml.schemas import FEATURE_SCHEMA, METRICS_SCHEMA, PREDICTION_SCHEMA
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.lib.terminology import REFERENCE_TABLES

DEFAULT_SCHEMA = "cms"
SAMPLE = "sample"
DIALECTS = ("redshift", "postgresql", "duckdb")

# VARCHAR lengths in bytes (Redshift's unit), from the Codebook's formats with headroom; first match wins.
_STRING_LENGTHS: list[tuple[str, int]] = [
    (r"DESYNPUF_ID", 16),  # 16 hex characters
    (r"(CLM|PDE)_ID", 20),  # 14-15 digit numbers
    (r".*_NPI(_\d+)?|TAX_NUM_\d+", 16),  # 10-digit NPIs, tax numbers
    (r".*ICD9.*|HCPCS_CD_\d+", 8),  # ICD-9 codes without the dot (<= 5), HCPCS (5)
    (r"PRVDR_NUM", 10),  # e.g. 0506GC
    (r"PROD_SRVC_ID", 16),  # 11-digit NDC
    (r"CLM_DRG_CD|LINE_PRCSG_IND_CD_\d+", 4),  # "000", "OTH"; "A", "O", "N"
    (r"BENE_ESRD_IND", 1),  # "0" or "Y"
    (r"SP_STATE_CODE|PLAN_CVRG_MOS_NUM", 2),  # "03", "00".."12"
    (r"BENE_COUNTY_CD", 3),  # "090"
    (r"MODEL_VERSION|MODEL_NAME", 64),
    (r"SPLIT|METRIC", 32),
    (r"SCOPE", 16),
    (r"ICD10_CODE", 8),
    (r"CCS_LIST", 65535),  # "CCS49,CCS49,CCS98": up to 8 bytes per distinct code of a year; Redshift's maximum
]
_DEFAULT_STRING_LENGTH = 256


@dataclass(frozen=True)
class WarehouseTable:
    """One warehouse table: its Arrow schema, how it is partitioned for loads and its Redshift layout."""

    name: str
    arrow_schema: pa.Schema
    partition_column: str | None  # "sample" for per-sample loads; None for whole-table replaces
    sortkey: tuple[str, ...]


WAREHOUSE_TABLES: dict[str, WarehouseTable] = {
    **{
        spec.name: WarehouseTable(
            spec.name,
            spec.schema,
            SAMPLE,
            (SAMPLE, "YEAR", "DESYNPUF_ID") if kind is Kind.BENEFICIARY else (SAMPLE, "DESYNPUF_ID"),
        )
        for kind, spec in TABLES.items()
    },
    "beneficiary_features": WarehouseTable("beneficiary_features", FEATURE_SCHEMA, SAMPLE, (SAMPLE, "YEAR")),
    "cost_predictions": WarehouseTable("cost_predictions", PREDICTION_SCHEMA, SAMPLE, (SAMPLE, "YEAR")),
    "model_metrics": WarehouseTable("model_metrics", METRICS_SCHEMA, None, ("MODEL_VERSION",)),
    # Reference tables (cms_assets.lib.terminology), replaced whole when the package version changes.
    **{r.name: WarehouseTable(r.name, r.schema, None, r.sortkey) for r in REFERENCE_TABLES.values()},
}


def warehouse_table(name: str) -> WarehouseTable:
    """Look a table up by name, with a clear error for unknown names."""
    try:
        return WAREHOUSE_TABLES[name]
    except KeyError:
        raise KeyError(f"unknown warehouse table {name!r}; known: {', '.join(WAREHOUSE_TABLES)}") from None


def string_length(column: str) -> int:
    for pattern, n in _STRING_LENGTHS:
        if re.fullmatch(pattern, column):
            return n
    return _DEFAULT_STRING_LENGTH


def column_arrow_type(arrow_type: pa.DataType) -> pa.DataType:
    """The Arrow type a warehouse column holds for ``arrow_type``: Redshift has no 1-byte integer and PostgreSQL no
    unsigned ones, so small integers widen to int16 and unsigned ones to the next signed width; floats are float64.
    It is also the type PostgreSQL's binary COPY is fed in (binary COPY takes no implicit casts)."""
    t = arrow_type
    if pa.types.is_int8(t) or pa.types.is_uint8(t):
        return pa.int16()
    if pa.types.is_uint16(t):
        return pa.int32()
    if pa.types.is_uint32(t):
        return pa.int64()
    if pa.types.is_floating(t):
        return pa.float64()
    if pa.types.is_large_string(t):
        return pa.string()
    if pa.types.is_date(t):
        return pa.date32()
    return t


_SIMPLE_SQL_TYPES: dict[pa.DataType, type[sa.types.TypeEngine]] = {
    pa.int16(): sa.SmallInteger,
    pa.int32(): sa.Integer,
    pa.int64(): sa.BigInteger,
    pa.float64(): sa.Double,
    pa.bool_(): sa.Boolean,
    pa.date32(): sa.Date,
}


def sql_type(column: str, arrow_type: pa.DataType) -> sa.types.TypeEngine:
    """The portable SQL type of the column :func:`column_arrow_type` gives ``arrow_type``."""
    t = column_arrow_type(arrow_type)
    if pa.types.is_string(t):
        return sa.String(string_length(column))
    if pa.types.is_decimal(t):
        return sa.Numeric(t.precision, t.scale)
    if t in _SIMPLE_SQL_TYPES:
        return _SIMPLE_SQL_TYPES[t]()
    if pa.types.is_timestamp(t):
        return sa.DateTime(timezone=t.tz is not None)
    raise TypeError(f"column {column!r}: no warehouse type for Arrow type {arrow_type}")


def build_metadata(schema: str = DEFAULT_SCHEMA) -> sa.MetaData:
    """All warehouse tables in one MetaData, with Redshift distribution, sort keys and encodings."""
    md = sa.MetaData(schema=schema)
    for wt in WAREHOUSE_TABLES.values():
        names = wt.arrow_schema.names
        columns = [
            sa.Column(
                f.name,
                sql_type(f.name, f.type),
                nullable=f.nullable and f.name != wt.partition_column,
                # Redshift advice: leave the leading sort key column raw so zone maps stay effective.
                redshift_encode="raw" if f.name == wt.sortkey[0] else "zstd",
            )
            for f in wt.arrow_schema
        ]
        dist = (
            {"redshift_diststyle": "KEY", "redshift_distkey": "DESYNPUF_ID"}
            if "DESYNPUF_ID" in names
            else {"redshift_diststyle": "ALL"}  # small dimension-like table: a copy on every node
        )
        table = sa.Table(wt.name, md, *columns, redshift_sortkey=wt.sortkey, **dist)
        if wt.partition_column:
            # PostgreSQL only (Redshift has no indexes; DuckDB's zone maps serve): makes per-sample DELETEs cheap.
            sa.Index(f"ix_{wt.name}_{wt.partition_column}", table.c[wt.partition_column], info={"only": "postgresql"})
    return md


def dialect_for(name: str) -> Dialect:
    """A SQLAlchemy dialect to compile for; DuckDB speaks PostgreSQL DDL."""
    if name == "redshift":
        from sqlalchemy_redshift.dialect import RedshiftDialect_psycopg2

        return RedshiftDialect_psycopg2()
    if name in ("postgresql", "duckdb"):
        return postgresql.dialect()
    raise ValueError(f"unknown dialect {name!r}; expected one of {', '.join(DIALECTS)}")


def ddl(dialect: str, schema: str = DEFAULT_SCHEMA) -> list[str]:
    """Idempotent DDL (CREATE ... IF NOT EXISTS) for the whole warehouse, one statement per string."""
    d = dialect_for(dialect)
    md = build_metadata(schema)
    out = [_tidy(CreateSchema(schema, if_not_exists=True).compile(dialect=d))]
    for table in md.tables.values():
        out.append(_tidy(CreateTable(table, if_not_exists=True).compile(dialect=d)))
        for index in table.indexes:
            if index.info.get("only", dialect) == dialect:
                out.append(_tidy(CreateIndex(index, if_not_exists=True).compile(dialect=d)))
    return out


def added_columns(dialect: str, schema: str, table: str, existing: list[str]) -> list[str]:
    """ALTER TABLE statements that add the columns a newer release gave ``table`` to a warehouse that has only
    ``existing`` (the rows already there get nulls until their partition is reloaded). A new column that may not be
    null cannot be added to existing rows: that is an error naming it."""
    d = dialect_for(dialect)
    sa_table = build_metadata(schema).tables[f"{schema}.{table}"]
    have = {c.lower() for c in existing}
    prep = d.identifier_preparer
    out = []
    for column in sa_table.columns:
        if column.name.lower() in have:
            continue
        if not column.nullable:
            raise ValueError(f"{schema}.{table} lacks the NOT NULL column {column.name}: it cannot be added to rows")
        out.append(
            f"ALTER TABLE {prep.quote(schema)}.{prep.quote(table)} "
            f"ADD COLUMN IF NOT EXISTS {prep.quote(column.name)} {column.type.compile(dialect=d)}"
        )
    return out


def _tidy(compiled: object) -> str:
    """SQLAlchemy's DDL without trailing blanks, so statements are stable to compare and pleasant to read."""
    return "\n".join(line.rstrip() for line in str(compiled).strip().splitlines())
