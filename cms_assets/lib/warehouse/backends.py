"""The three warehouse backends: how each one connects, runs a transaction and bulk-loads Parquet.

The load logic itself (checks, delete + insert, row counts) is shared in :mod:`.load`; a backend only supplies
its fastest bulk path: DuckDB scans the Parquet itself, PostgreSQL streams a binary ``COPY FROM STDIN`` encoded
from the Parquet files' record batches by pgpq, Redshift ``COPY``s from S3 into a temporary staging table.
"""

from __future__ import annotations

import io
import logging
import queue
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import closing, contextmanager, suppress
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import URL, Dialect

from cms_assets.lib.storage import S3Storage
from cms_assets.lib.warehouse.schema import column_arrow_type, dialect_for, warehouse_table
from cms_assets.lib.warehouse.sources import Columns, Source

log = logging.getLogger(__name__)


def sql_literal(value: object) -> str:
    """A SQL literal for the few value kinds a load filters on (sample numbers, model versions, paths)."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"only int and str values can be used as load filters, got {value!r}")
    return str(int(value)) if isinstance(value, int) else "'" + value.replace("'", "''") + "'"


def batch_rows(columns: int) -> int:
    """Rows per streamed batch: about 2M cells, so memory stays bounded whatever the file or table width."""
    return max(1024, min(65536, 2_000_000 // max(1, columns)))


class Tx(ABC):
    """An open transaction: statements run inside it and become visible only when it commits."""

    @abstractmethod
    def execute(self, sql: str) -> int:
        """Run one statement; return the affected row count when the driver reports one (else -1)."""

    @abstractmethod
    def scalar(self, sql: str) -> Any: ...


class Backend(ABC):
    """One warehouse engine. ``positional_load`` is true when its bulk load maps Parquet columns by position."""

    name: str
    positional_load = False

    def __init__(self, schema: str) -> None:
        self.schema = schema
        self.dialect: Dialect = dialect_for(self.name)

    def quote(self, identifier: str) -> str:
        return self.dialect.identifier_preparer.quote(identifier)

    def qualified(self, table: str) -> str:
        return f"{self.quote(self.schema)}.{self.quote(table)}"

    @abstractmethod
    def transaction(self) -> Any:
        """Context manager yielding a :class:`Tx`; commits on success, rolls back on any exception."""

    @abstractmethod
    def query(self, sql: str) -> pa.Table: ...

    def table_columns(self, table: str) -> list[str]:
        """The table's columns in order, as the database spells them (Redshift folds them to lower case)."""
        sql = (
            "SELECT column_name FROM information_schema.columns "
            f"WHERE table_schema = {sql_literal(self.schema)} AND table_name = {sql_literal(table)} "
            "ORDER BY ordinal_position"
        )
        return [str(v) for v in self.query(sql).column(0).to_pylist()]

    def check_source(self, source: Source) -> None:
        """Refuse, before connecting, a source this backend cannot load."""
        return None

    def serialize_ddl(self, tx: Tx) -> None:
        """Make concurrent CREATE ... IF NOT EXISTS safe (DuckDB's file lock already serializes writers)."""
        return None

    def stage(self, tx: Tx, table: str, columns: Columns, source: Source) -> str | None:
        """Bring the data next to the target before the old rows are deleted (Redshift); None = stream later."""
        return None

    @abstractmethod
    def insert(self, tx: Tx, table: str, columns: Columns, source: Source, staged: str | None) -> tuple[int, str]:
        """Insert the source rows into the table; return (rows inserted, method used)."""

    def redact(self, text: str) -> str:
        return text

    def describe(self) -> str:
        return self.name

    def close(self) -> None:
        return None


# --------------------------------------------------------------------------------------------------- DuckDB


def duckdb_error() -> type[Exception]:
    import duckdb

    return duckdb.Error


class _DuckTx(Tx):
    def __init__(self, con: Any) -> None:
        self.con = con

    def execute(self, sql: str) -> int:
        rows = self.con.execute(sql).fetchall()
        return int(rows[0][0]) if len(rows) == 1 and len(rows[0]) == 1 and isinstance(rows[0][0], int) else -1

    def scalar(self, sql: str) -> Any:
        return self.con.execute(sql).fetchone()[0]


class DuckDBBackend(Backend):
    """A DuckDB file. A connection is opened per operation so separate processes (Dagster runs) can take turns."""

    name = "duckdb"

    def __init__(self, path: str, schema: str, lock_timeout: float = 120.0, memory_limit: str = "1GB") -> None:
        super().__init__(schema)
        self.path = path
        self.lock_timeout = lock_timeout
        # DuckDB defaults to 80% of RAM per process; loads stream and spill fine within a modest, fixed budget.
        self.config = {"memory_limit": memory_limit}
        self._memory: Any = None  # ":memory:" can only live in one kept connection

    def describe(self) -> str:
        return f"duckdb:///{self.path}"

    @contextmanager
    def _connect(self) -> Iterator[Any]:
        import duckdb

        if self.path == ":memory:":
            self._memory = self._memory or duckdb.connect(":memory:", config=self.config)
            yield self._memory
            return
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        deadline = time.monotonic() + self.lock_timeout
        while True:
            try:
                con = duckdb.connect(self.path, config=self.config)
                break
            except duckdb.IOException as e:  # another process holds the file lock: wait our turn
                if "lock" not in str(e).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._connect() as con:
            con.execute("BEGIN TRANSACTION")
            try:
                yield _DuckTx(con)
            except BaseException:
                with suppress(duckdb_error()):  # keep the original error if the rollback fails too
                    con.execute("ROLLBACK")
                raise
            con.execute("COMMIT")

    def query(self, sql: str) -> pa.Table:
        with self._connect() as con:
            return con.sql(sql).to_arrow_table()

    def insert(self, tx: Tx, table: str, columns: Columns, source: Source, staged: str | None) -> tuple[int, str]:
        assert isinstance(tx, _DuckTx)
        target = ", ".join(self.quote(c) for c in columns.target)
        select = ", ".join(self.quote(c) for c in columns.source)
        paths = source.local_paths()
        if paths is not None:  # DuckDB reads local Parquet itself, in parallel and streaming
            files = "[" + ", ".join(sql_literal(p) for p in paths) + "]"
            # No hive partitioning: a sample=NN folder must not silently overwrite the file's own sample column.
            scan = f"read_parquet({files}, hive_partitioning = false)"
            # Row order within a load means nothing to a warehouse table; keeping it costs DuckDB about a quarter
            # of the load (carrier claims, 4.7 M rows x 143 columns: 82 s kept, 65 s not). This connection only.
            tx.con.execute("SET preserve_insertion_order = false")
            sql = f"INSERT INTO {self.qualified(table)} ({target}) SELECT {select} FROM {scan}"
            return tx.execute(sql), "duckdb read_parquet"
        view = "cms_load_source"  # S3 or in-memory: scan a pyarrow dataset (httpfs cannot be installed offline)
        tx.con.register(view, source.arrow_scannable())
        try:
            sql = f"INSERT INTO {self.qualified(table)} ({target}) SELECT {select} FROM {view}"
            return tx.execute(sql), "duckdb arrow scan"
        finally:
            tx.con.unregister(view)


# ----------------------------------------------------------------------------------------------- PostgreSQL


class _BinaryCopyStream(io.RawIOBase):
    """A file object producing PostgreSQL's binary COPY format from record batches (pgpq's Arrow encoder), so COPY
    streams with no text round trip. Each column is cast to the Arrow type whose binary encoding is the table
    column's type (:func:`~cms_assets.lib.warehouse.schema.column_arrow_type`): binary COPY takes no implicit casts.

    Reading and encoding run on a thread, ``ahead`` encoded batches ahead of what COPY has sent, so the client's
    Parquet decoding overlaps with the server's parsing (pyarrow releases the GIL, psycopg2 too while it sends);
    memory stays bounded at ``ahead`` batches. :meth:`close` stops the thread, also when COPY failed midway."""

    def __init__(self, batches: Iterator[pa.RecordBatch], types: list[pa.DataType], ahead: int = 2) -> None:
        from pgpq import ArrowToPostgresBinaryEncoder

        self._batches = batches
        self._schema = pa.schema([pa.field(f"c{i}", t) for i, t in enumerate(types)])
        self._encoder = ArrowToPostgresBinaryEncoder(self._schema)
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._data = b""
        self._pos = 0
        self._done = False
        self._thread = threading.Thread(target=self._produce, name="pg-binary-copy", daemon=True)
        self._thread.start()

    def readable(self) -> bool:
        return True

    def _produce(self) -> None:
        try:
            self._put(self._encoder.write_header())
            for batch in self._batches:
                if self._stop.is_set():
                    return
                columns = [col.cast(field.type) for col, field in zip(batch.columns, self._schema, strict=True)]
                self._put(self._encoder.write_batch(pa.record_batch(columns, schema=self._schema)))
            self._put(self._encoder.finish())
            self._put(None)
        except BaseException as e:  # handed to the reader, which raises it inside COPY (the load rolls back)
            self._put(e)

    def _put(self, item: bytes | BaseException | None) -> None:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.2)
                return
            except queue.Full:
                continue

    def read(self, size: int = -1) -> bytes:  # type: ignore[override]
        while self._pos >= len(self._data):
            if self._done:
                return b""
            item = self._queue.get()
            if item is None or isinstance(item, BaseException):
                self._done = True
                if item is None:
                    return b""
                raise item
            self._data, self._pos = item, 0
        end = len(self._data) if size is None or size < 0 else self._pos + size
        chunk = self._data[self._pos : end]
        self._pos += len(chunk)
        return chunk

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        super().close()


class _PgTx(Tx):
    def __init__(self, raw: Any) -> None:
        self.raw = raw
        self.cursor = raw.cursor()

    def execute(self, sql: str) -> int:
        self.cursor.execute(sql)
        return int(self.cursor.rowcount)

    def scalar(self, sql: str) -> Any:
        self.cursor.execute(sql)
        return self.cursor.fetchone()[0]


class PostgresBackend(Backend):
    """PostgreSQL through psycopg2; the URL's password never leaves the engine (see :meth:`redact`)."""

    name = "postgresql"

    def __init__(self, url: URL, schema: str) -> None:
        super().__init__(schema)
        self.url = url
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        self._secrets = [s for s in (url.password,) if s]

    def describe(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def close(self) -> None:
        self.engine.dispose()

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(str(secret), "***")
        return text

    @contextmanager
    def transaction(self) -> Iterator[Tx]:
        raw = self.engine.raw_connection()
        try:
            tx = _PgTx(raw)
            try:
                yield tx
            except BaseException:
                try:
                    raw.rollback()
                except Exception:  # the connection died (killed server side): the server rolled back already
                    raw.invalidate()
                raise
            raw.commit()
        finally:
            raw.close()

    def serialize_ddl(self, tx: Tx) -> None:
        # Two sessions creating the same table at once can fail on pg_type's unique index: take turns.
        tx.execute("SELECT pg_advisory_xact_lock(4242001)")

    def query(self, sql: str) -> pa.Table:
        with self.transaction() as tx:
            assert isinstance(tx, _PgTx)
            tx.cursor.execute(sql)
            names = [d[0] for d in tx.cursor.description]
            rows = tx.cursor.fetchall()
        return pa.table({n: pa.array([r[i] for r in rows]) for i, n in enumerate(names)})

    def insert(self, tx: Tx, table: str, columns: Columns, source: Source, staged: str | None) -> tuple[int, str]:
        assert isinstance(tx, _PgTx)
        cols = ", ".join(self.quote(c) for c in columns.target)
        sql = f"COPY {self.qualified(table)} ({cols}) FROM STDIN WITH (FORMAT binary)"
        schema = warehouse_table(table).arrow_schema
        types = [column_arrow_type(schema.field(c).type) for c in columns.target]
        with closing(_BinaryCopyStream(source.batches(columns.source, batch_rows(len(columns.source))), types)) as f:
            tx.cursor.copy_expert(sql, f, size=1 << 20)
        return int(tx.cursor.rowcount), "postgresql binary copy from stdin"


# ------------------------------------------------------------------------------------------------- Redshift


class RedshiftBackend(PostgresBackend):
    """Amazon Redshift: ``COPY ... FORMAT AS PARQUET`` from S3 with an IAM role, via a temporary staging table."""

    name = "redshift"
    positional_load = True  # COPY maps Parquet columns to table columns by position

    def __init__(self, url: URL, schema: str, iam_role: str | None) -> None:
        super().__init__(url, schema)
        self.iam_role = iam_role
        self._secrets += [iam_role] if iam_role else []

    def staging_name(self, table: str) -> str:
        return f"{table}_staging"  # a temp table: session private, so concurrent loads cannot collide

    def copy_statements(self, table: str, source_uri: str, manifest: bool = False) -> list[str]:
        """The staging statements: an empty temp table shaped like the target, then COPY into it."""
        if not self.iam_role:
            raise ValueError("a Redshift load needs iam_role (the role Redshift assumes to read the bucket)")
        staging = self.quote(self.staging_name(table))
        return [
            f"CREATE TEMP TABLE {staging} (LIKE {self.qualified(table)})",
            f"COPY {staging} FROM {sql_literal(source_uri)} IAM_ROLE {sql_literal(self.iam_role)} "
            f"FORMAT AS PARQUET{' MANIFEST' if manifest else ''}",
        ]

    def publish_statements(self, table: str) -> list[str]:
        staging = self.quote(self.staging_name(table))
        return [f"INSERT INTO {self.qualified(table)} SELECT * FROM {staging}", f"DROP TABLE {staging}"]

    def serialize_ddl(self, tx: Tx) -> None:
        return None  # Redshift has no advisory locks; it serializes catalog changes itself

    def check_source(self, source: Source) -> None:
        if source.storage is not None and not isinstance(source.storage, S3Storage):
            raise ValueError(f"Redshift loads Parquet from S3, but these files are in {source.storage!r}")
        if source.storage is not None and not self.iam_role:
            raise ValueError("a Redshift load needs iam_role (the role Redshift assumes to read the bucket)")

    def stage(self, tx: Tx, table: str, columns: Columns, source: Source) -> str | None:
        if source.storage is None:
            return None  # small in-memory rows (model metrics) are inserted directly
        uri, manifest = source.s3_location()
        for sql in self.copy_statements(table, uri, manifest):
            log.info("redshift: %s", self.redact(sql))
            tx.execute(sql)
        return self.staging_name(table)

    def insert(self, tx: Tx, table: str, columns: Columns, source: Source, staged: str | None) -> tuple[int, str]:
        if staged is None:
            return self._insert_values(tx, table, columns, source), "redshift insert values"
        insert_sql, drop_sql = self.publish_statements(table)
        rows = tx.execute(insert_sql)
        tx.execute(drop_sql)
        return rows, "redshift copy parquet"

    def _insert_values(self, tx: Tx, table: str, columns: Columns, source: Source) -> int:
        from psycopg2.extras import execute_values

        assert isinstance(tx, _PgTx)
        cols = ", ".join(self.quote(c) for c in columns.target)
        rows = 0
        for batch in source.batches(columns.source, 1000):
            values = [tuple(r[c] for c in columns.source) for r in batch.to_pylist()]
            execute_values(tx.cursor, f"INSERT INTO {self.qualified(table)} ({cols}) VALUES %s", values)
            rows += len(values)
        return rows
