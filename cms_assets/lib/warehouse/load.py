"""Loading Parquet partitions into the warehouse: one code path, atomic and idempotent per (table, sample).

Every load runs in one transaction: (stage,) delete the partition's old rows, bulk-insert the new ones, then
compare the rows now in the partition with the Parquet row count from the file footers. Any mismatch or error
rolls back, so readers see either the old partition or the new one, never a mix; re-running a load yields the
same rows. The Parquet schema is checked against the live table's columns before anything is touched.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from cms_assets.lib import layout
from cms_assets.lib.publish import published_keys
from cms_assets.lib.storage import Storage
from cms_assets.lib.warehouse.backends import (
    Backend,
    DuckDBBackend,
    PostgresBackend,
    RedshiftBackend,
    sql_literal,
)
from cms_assets.lib.warehouse.schema import (
    DEFAULT_SCHEMA,
    WAREHOUSE_TABLES,
    WarehouseTable,
    added_columns,
    ddl,
    sql_type,
    warehouse_table,
)
from cms_assets.lib.warehouse.sources import ArrowSource, Columns, LoadError, ParquetSource, Source

log = logging.getLogger(__name__)

DEFAULT_URL = "duckdb:///data/warehouse.duckdb"


@dataclass(frozen=True)
class LoadResult:
    table: str
    sample: int | None
    rows: int
    seconds: float
    method: str


def partition_keys(storage: Storage, table: str, sample: int) -> list[str]:
    """The Parquet files of one table partition: ``part-0.parquet`` or a Spark output folder's part files."""
    folder = layout.partition_dir(table, sample)
    keys = [  # what the folder's publish pointer names (lib/publish.py), never an unpublished version
        k
        for k in published_keys(storage, folder)
        if k.endswith(".parquet") and not k.rsplit("/", 1)[-1].startswith(("_", "."))
    ]
    if not keys:
        raise FileNotFoundError(f"no Parquet files for {table} sample {sample} under {storage.uri(folder)}")
    return keys


# ------------------------------------------------------------------------------------------------------ checks


def _sql_name(field: pa.Field) -> str:
    try:
        return str(sql_type(field.name, field.type).compile(dialect=postgresql.dialect()))
    except TypeError:
        return f"unsupported {field.type}"


def check_columns(wt: WarehouseTable, db_columns: list[str], source: Source, positional: bool, where: str) -> Columns:
    """Match every Parquet file's columns to the table's; raise a LoadError naming the differences."""
    if not db_columns:
        raise LoadError(f"{where}: the warehouse table does not exist; run ensure_schema() first")
    expected = {f.name.lower(): f for f in wt.arrow_schema}
    db_lower = [c.lower() for c in db_columns]
    first: list[str] = []
    for label, schema in source.schemas():
        lower = [n.lower() for n in schema.names]
        problems = []
        missing = [c for c in db_columns if c.lower() not in lower]
        unexpected = [n for n in schema.names if n.lower() not in db_lower]
        if missing:
            problems.append("missing columns " + ", ".join(missing))
        if unexpected:
            problems.append("unexpected columns " + ", ".join(unexpected))
        for field in schema:
            want = expected.get(field.name.lower())
            if want is not None and _sql_name(field) != _sql_name(want):
                problems.append(
                    f"column {field.name} is {field.type} ({_sql_name(field)}), "
                    f"the warehouse expects {want.type} ({_sql_name(want)})"
                )
        if not problems and positional and lower != db_lower:
            problems.append("columns are in a different order than the table's (this bulk load maps by position)")
        if problems:
            raise LoadError(f"{where}: Parquet {label} does not match the warehouse table: " + "; ".join(problems))
        first = first or schema.names
    by_lower = {n.lower(): n for n in first}
    return Columns(source=[by_lower[c] for c in db_lower], target=list(db_columns))


# --------------------------------------------------------------------------------------------------- warehouse


class Warehouse:
    """The warehouse on one backend (DuckDB file, PostgreSQL or Redshift) in one schema.

    ``checkpoint`` is called with the step name ("staged", "deleted", "inserted") inside the load transaction; it
    exists so tests can interrupt a load mid-way and prove the previous rows survive.
    """

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.checkpoint: Callable[[str], None] | None = None

    @classmethod
    def from_url(
        cls,
        url: str = DEFAULT_URL,
        *,
        schema: str = DEFAULT_SCHEMA,
        password: str | None = None,
        iam_role: str | None = None,
    ) -> Warehouse:
        """``duckdb:///path.duckdb[?memory_limit=4GB]``, ``postgresql://...`` or ``redshift+psycopg2://...``.

        Secrets (password, IAM role) can be passed as arguments so they never need to be in the URL.
        """
        if url.startswith("duckdb:"):
            if not url.startswith("duckdb:///"):
                raise ValueError(f"a DuckDB URL looks like duckdb:///relative/path.duckdb, got {url!r}")
            path, _, query = url[len("duckdb:///") :].partition("?")
            options = dict(parse_qsl(query, strict_parsing=bool(query)))
            unknown = set(options) - {"memory_limit"}
            if unknown:
                raise ValueError(f"unknown DuckDB URL option(s) {', '.join(sorted(unknown))}; known: memory_limit")
            return cls(DuckDBBackend(path or ":memory:", schema, **options))
        try:
            parsed = sa.make_url(url)
        except Exception:
            raise ValueError("could not parse the warehouse URL (not shown: it may hold a password)") from None
        if password is not None:
            parsed = parsed.set(password=password)
        backend_name = parsed.get_backend_name()
        driver = parsed.drivername.partition("+")[2]
        if driver not in ("psycopg2", "") and backend_name in ("redshift", "postgresql"):
            raise ValueError(f"the warehouse loads through psycopg2 (COPY ... FROM STDIN); got {parsed.drivername!r}")
        if backend_name in ("redshift", "postgresql"):
            parsed = parsed.set(drivername=f"{backend_name}+psycopg2")  # SQLAlchemy 2.1 would pick psycopg 3
        if backend_name == "redshift":
            return cls(RedshiftBackend(parsed, schema, iam_role))
        if backend_name == "postgresql":
            return cls(PostgresBackend(parsed, schema))
        raise ValueError(f"unsupported warehouse {parsed.render_as_string(hide_password=True)!r}")

    def __repr__(self) -> str:
        return f"Warehouse({self.backend.describe()!r}, schema={self.schema!r})"

    __str__ = __repr__

    @property
    def schema(self) -> str:
        return self.backend.schema

    @property
    def dialect(self) -> str:
        return self.backend.name

    def close(self) -> None:
        """Release pooled connections (the warehouse stays usable: connections reopen on demand)."""
        self.backend.close()

    def ensure_schema(self) -> None:
        """Create the schema and every table if missing, and add the columns a newer release gave a table; safe to
        run any number of times. On a backend whose bulk load maps columns by position (Redshift) an added column
        would sit after the others, so none is added there: the load names the difference instead."""
        with self.backend.transaction() as tx:
            self.backend.serialize_ddl(tx)  # parallel runs may all call this on a fresh warehouse
            for sql in ddl(self.backend.name, self.schema):
                tx.execute(sql)
        if self.backend.positional_load:
            return
        for name in WAREHOUSE_TABLES:
            alters = added_columns(self.backend.name, self.schema, name, self.backend.table_columns(name))
            if alters:
                with self.backend.transaction() as tx:
                    self.backend.serialize_ddl(tx)
                    for sql in alters:  # IF NOT EXISTS: parallel runs of an upgraded release may all get here
                        log.info("warehouse: %s", sql)
                        tx.execute(sql)

    def query(self, sql: str) -> pa.Table:
        return self.backend.query(sql)

    def row_count(self, table: str, sample: int | None = None) -> int:
        wt = warehouse_table(table)
        sql = f"SELECT COUNT(*) FROM {self.backend.qualified(wt.name)}"
        if sample is not None:
            if wt.partition_column is None:
                raise ValueError(f"{table} is not partitioned by sample")
            sql += f" WHERE {self.backend.quote(wt.partition_column)} = {sql_literal(int(sample))}"
        return int(self.query(sql).column(0)[0].as_py())

    def load_partition(self, table: str, sample: int, storage: Storage, keys: list[str]) -> LoadResult:
        """Replace one sample of a table with the rows of the Parquet files at ``keys``."""
        wt = warehouse_table(table)
        if wt.partition_column is None:
            raise ValueError(f"{table} is not partitioned by sample; use replace_rows")
        return self._replace(wt, {wt.partition_column: int(sample)}, ParquetSource(storage, keys))

    def replace_rows(
        self, table: str, where: dict[str, int | str], source: pa.Table | Storage, keys: list[str] | None = None
    ) -> LoadResult:
        """Replace the rows matching ``where`` (e.g. ``{"MODEL_VERSION": v}``) with an Arrow table or Parquet keys."""
        wt = warehouse_table(table)
        if isinstance(source, pa.Table):
            return self._replace(wt, where, ArrowSource(source))
        return self._replace(wt, where, ParquetSource(source, keys or []))

    def replace_table(self, table: str, rows: pa.Table) -> LoadResult:
        """Replace every row of an unpartitioned table (a reference table) in one transaction."""
        wt = warehouse_table(table)
        if wt.partition_column is not None:
            raise ValueError(f"{table} is partitioned by {wt.partition_column}; use load_partition")
        return self._replace(wt, {}, ArrowSource(rows), whole_table=True)

    def _replace(
        self, wt: WarehouseTable, where: dict[str, int | str], source: Source, whole_table: bool = False
    ) -> LoadResult:
        if not where and not whole_table:
            raise ValueError("a replace needs at least one column = value condition")
        unknown = [c for c in where if c not in wt.arrow_schema.names]
        if unknown:
            raise ValueError(f"{wt.name} has no column(s) {', '.join(unknown)}")
        b = self.backend
        partition = ", ".join(f"{c}={v}" for c, v in where.items()) or "all rows"
        context = f"load of {self.schema}.{wt.name} ({partition})"
        started = time.perf_counter()
        try:
            b.check_source(source)
        except ValueError as e:
            raise LoadError(f"{context} from {source.label}: {e}") from None
        try:
            db_columns = b.table_columns(wt.name)
            columns = check_columns(wt, db_columns, source, b.positional_load, context)
            db_name = {c.lower(): c for c in db_columns}
            cond = " AND ".join(f"{b.quote(db_name[c.lower()])} = {sql_literal(v)}" for c, v in where.items())
            cond = cond or "1 = 1"  # a whole-table replace
            target = b.qualified(wt.name)
            expected = source.row_count()
            with b.transaction() as tx:
                staged = b.stage(tx, wt.name, columns, source)
                self._step("staged")
                tx.execute(f"DELETE FROM {target} WHERE {cond}")
                self._step("deleted")
                inserted, method = b.insert(tx, wt.name, columns, source, staged)
                self._step("inserted")
                present = int(tx.scalar(f"SELECT COUNT(*) FROM {target} WHERE {cond}"))
                if (inserted >= 0 and inserted != expected) or present != expected:
                    raise LoadError(
                        f"{context} from {source.label}: Parquet metadata says {expected} rows but {inserted} were "
                        f"inserted and {present} now match {partition} (rows for another partition in the file?); "
                        "rolled back, previous rows kept"
                    )
        except LoadError:
            raise
        except Exception as e:
            raise LoadError(
                f"{context} from {source.label} failed; nothing was committed (previous rows kept): "
                f"{type(e).__name__}: {b.redact(str(e)).strip()}"
            ) from e
        seconds = time.perf_counter() - started
        log.info("%s: %d rows in %.2fs via %s", context, expected, seconds, method)
        sample = where.get("sample")
        return LoadResult(wt.name, int(sample) if sample is not None else None, expected, seconds, method)

    def _step(self, name: str) -> None:
        if self.checkpoint is not None:
            self.checkpoint(name)
