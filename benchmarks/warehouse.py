"""Warehouse load throughput and memory: the bulk path of each backend against the plain bulk path of the same
engine (DuckDB ``INSERT ... SELECT * FROM read_parquet`` with default settings; PostgreSQL ``COPY FROM STDIN`` of a
CSV file of the same rows written beforehand) and against a naive row-by-row INSERT.

Scale 1.0 = the size of one CMS sample (Sample 1) for the two tables measured: beneficiary_summary (343,644
rows, 34 columns) and carrier_claims (4,741,335 rows, 143 columns). Data is random but typed exactly like the
Parquet tables and written in 100k-row chunks. PostgreSQL is a throw-away embedded server on 127.0.0.1.

    .venv/bin/python benchmarks/warehouse.py --scale 0.01 [--backends duckdb,postgresql]

Printed per (backend, table): rows, seconds, rows/s of ``Warehouse.load_partition`` (which includes the schema
check, delete, insert and the row-count check in one transaction), the same for a reload (idempotent replace),
the plain bulk path's seconds on the same rows into a table of the same shape and the ratio (ours / plain
throughput; the target is >= 0.8x), the naive baseline's rows/s (executemany INSERT of Python tuples, on the first
rows only) and that ratio, and the peak resident-memory growth of this process during the load next to the table's
in-memory Arrow size. ``--duckdb-memory 1GB,4GB`` repeats the DuckDB rows per ``memory_limit``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import psutil
import pyarrow as pa
import pyarrow.parquet as pq

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cms_assets.lib import layout  # noqa: E402
from cms_assets.lib.storage import LocalStorage  # noqa: E402
from cms_assets.lib.synpuf.tables import TABLES, Kind  # noqa: E402
from cms_assets.lib.warehouse.load import Warehouse  # noqa: E402
from cms_assets_tests.lib.warehouse_data import random_table  # noqa: E402

ROWS_AT_SCALE_1 = {"beneficiary_summary": 343_644, "carrier_claims": 4_741_335}
BASELINE_ROWS = 2000
CHUNK = 100_000


def write_table(storage: LocalStorage, table: str, rows: int) -> tuple[str, int]:
    """Write ``rows`` random rows of a table as sample 1 in chunks; return the key and the Arrow bytes written."""
    spec = TABLES[Kind.BENEFICIARY if table == "beneficiary_summary" else Kind.CARRIER]
    key = layout.table_file(table, 1)
    path = storage.local_path(key)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    nbytes = 0
    with pq.ParquetWriter(path, spec.schema) as writer:
        for start in range(0, rows, CHUNK):
            m = min(CHUNK, rows - start)
            fixed = {"sample": pa.array(np.ones(m, np.int16))}
            if "YEAR" in spec.schema.names:
                fixed["YEAR"] = pa.array(rng.choice([2008, 2009, 2010], m).astype(np.int16))
            chunk = random_table(spec.schema, m, rng, fixed)
            nbytes += chunk.nbytes
            writer.write_table(chunk)
    return key, nbytes


class PeakRss:
    """Samples this process's resident memory every 20 ms; ``growth`` is the peak minus the starting value."""

    def __enter__(self) -> PeakRss:
        self._proc = psutil.Process()
        self.start = self.peak = self._proc.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._proc.memory_info().rss)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.start


def naive_rows_per_second(wh: Warehouse, table: str, storage: LocalStorage, key: str) -> float:
    """Baseline: executemany INSERT of Python tuples (what a hand-written loader does), as sample 99."""
    with storage.open_read(key) as f:
        first = next(pq.ParquetFile(f).iter_batches(batch_size=BASELINE_ROWS))
    data = pa.Table.from_batches([first])
    data = data.set_column(data.schema.get_field_index("sample"), "sample", pa.array(np.full(len(data), 99, np.int16)))
    rows = [tuple(r.values()) for r in data.to_pylist()]
    cols = ", ".join(wh.backend.quote(c) for c in data.schema.names)
    target = wh.backend.qualified(table)
    started = time.perf_counter()
    if wh.dialect == "duckdb":
        import duckdb

        con = duckdb.connect(wh.backend.path)
        con.executemany(f"INSERT INTO {target} ({cols}) VALUES ({', '.join('?' * len(data.schema))})", rows)
        seconds = time.perf_counter() - started
        con.execute(f"DELETE FROM {target} WHERE sample = 99")
        con.close()
    else:
        raw = wh.backend.engine.raw_connection()
        cur = raw.cursor()
        cur.executemany(f"INSERT INTO {target} ({cols}) VALUES ({', '.join(['%s'] * len(data.schema))})", rows)
        raw.commit()
        seconds = time.perf_counter() - started
        cur.execute(f"DELETE FROM {target} WHERE sample = 99")
        raw.commit()
        raw.close()
    return len(rows) / seconds


def plain_seconds(wh: Warehouse, table: str, storage: LocalStorage, key: str, tmp: Path) -> float:
    """Baseline: the engine's own bulk path, nothing else: DuckDB's ``INSERT ... read_parquet`` with default
    settings into a fresh file; PostgreSQL's ``COPY FROM STDIN`` of a CSV written beforehand (not timed)."""
    path = str(storage.local_path(key))
    if wh.dialect == "duckdb":
        import duckdb

        con = duckdb.connect(str(tmp / "plain.duckdb"))
        con.execute(f"CREATE OR REPLACE TABLE plain AS SELECT * FROM read_parquet('{path}') LIMIT 0")
        started = time.perf_counter()
        con.execute(f"INSERT INTO plain SELECT * FROM read_parquet('{path}')")
        seconds = time.perf_counter() - started
        con.execute("DROP TABLE plain")
        con.close()
        return seconds
    import pyarrow.csv as pacsv

    csv = tmp / f"{table}.csv"
    with pacsv.CSVWriter(csv, pq.read_schema(path), write_options=pacsv.WriteOptions(include_header=False)) as w:
        for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK):
            w.write_batch(batch)
    raw = wh.backend.engine.raw_connection()
    cur = raw.cursor()
    cur.execute(f"DROP TABLE IF EXISTS plain_{table}")
    cur.execute(f"CREATE TABLE plain_{table} (LIKE {wh.backend.qualified(table)})")
    raw.commit()
    started = time.perf_counter()
    with csv.open("rb") as f:
        cur.copy_expert(f"COPY plain_{table} FROM STDIN WITH (FORMAT csv)", f, size=1 << 20)
    raw.commit()
    seconds = time.perf_counter() - started
    cur.execute(f"DROP TABLE plain_{table}")
    raw.commit()
    raw.close()
    csv.unlink()
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=0.01)
    ap.add_argument("--backends", default="duckdb,postgresql")
    ap.add_argument("--duckdb-memory", default="", help="DuckDB memory_limit values to compare, e.g. 1GB,4GB")
    args = ap.parse_args()
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="cms-wh-bench-")))
        storage = LocalStorage(tmp / "data")
        keys = {}
        for table, full in ROWS_AT_SCALE_1.items():
            started = time.perf_counter()
            keys[table] = write_table(storage, table, max(BASELINE_ROWS, int(full * args.scale)))
            size = storage.size(keys[table][0]) or 0
            print(f"generated {table}: {size / 1e6:.1f} MB Parquet in {time.perf_counter() - started:.1f}s")
        urls = {"duckdb": f"duckdb:///{tmp}/bench.duckdb"}
        for limit in filter(None, args.duckdb_memory.split(",")):
            urls[f"duckdb {limit}"] = f"duckdb:///{tmp}/bench-{limit}.duckdb?memory_limit={limit}"
        if "postgresql" in args.backends:
            from cms_assets_tests.fixtures.postgres import running_postgres

            urls["postgresql"] = stack.enter_context(running_postgres())
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        print(f"scale {args.scale}; load average at the start {load} (a busy machine makes the figures indicative)")
        print("backend     table                   rows   load s   rows/s  reload s  plain s  ratio", end="")
        print("  naive rows/s  ratio  peak RSS+ / Arrow")
        backends = args.backends.split(",")
        if "duckdb" in backends:
            backends[backends.index("duckdb") + 1 : backends.index("duckdb") + 1] = [u for u in urls if " " in u]
        for backend in backends:
            wh = Warehouse.from_url(urls[backend])
            wh.ensure_schema()
            for table, (key, arrow_bytes) in keys.items():
                with PeakRss() as mem:
                    first = wh.load_partition(table, 1, storage, [key])
                again = wh.load_partition(table, 1, storage, [key])
                assert wh.row_count(table, 1) == first.rows == again.rows
                plain = plain_seconds(wh, table, storage, key, tmp)
                naive = naive_rows_per_second(wh, table, storage, key)
                bulk = first.rows / first.seconds
                print(
                    f"{backend:<11} {table:<18} {first.rows:>9,} {first.seconds:>8.2f} {bulk:>8,.0f} "
                    f"{again.seconds:>9.2f} {plain:>8.2f} {plain / first.seconds:>5.2f}x "
                    f"{naive:>13,.0f} {bulk / naive:>6.1f}x {mem.growth / 1e6:>7.0f} MB / {arrow_bytes / 1e6:,.0f} MB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
