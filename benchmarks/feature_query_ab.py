"""Benchmark: the feature query before and after a change, in one process, on one sample's tables (DuckDB).

    .venv/bin/python benchmarks/feature_query_ab.py --tables-root DIR/tables --sample 1 --before REV [--repeat 3]

"Before" is the query text that the listed modules (default: ``lib/features_sql.py`` and ``lib/hcc_sql.py``) build
at git revision REV, "after" the working tree's. Both run the same way as the feature job (a COPY to Parquet, the
same memory limit, threads and reference tables), in alternating order over ``--repeat`` rounds, so neither gets the
warmer cache every time. Prints wall and CPU seconds of each and the ratio, and checks that both wrote the same rows
(a change that makes the query faster must not change its answer).
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
MODULES = ["cms_assets/lib/hcc_sql.py", "cms_assets/lib/features_sql.py"]


def query_builder_at(rev: str, paths: list[str]) -> Callable[..., str]:
    """``feature_sql`` as the modules at ``paths`` (in import order, the last one defining it) read at ``rev``."""
    names = [p.removesuffix(".py").replace("/", ".") for p in paths]
    saved = {n: sys.modules.get(n) for n in names}
    try:
        module = None
        for path, name in zip(paths, names, strict=True):
            source = subprocess.run(
                ["git", "show", f"{rev}:{path}"], cwd=REPO, check=True, capture_output=True, text=True
            ).stdout
            module = types.ModuleType(name)
            module.__file__ = f"{rev}:{path}"
            sys.modules[name] = module  # the next module imports this one
            exec(compile(source, module.__file__, "exec"), module.__dict__)
        assert module is not None
        # with the dialects read at ``rev`` too, the query is built in that revision's spelling
        dialects = sys.modules["cms_assets.lib.sql_dialect"] if "cms_assets.lib.sql_dialect" in names else None
        build = module.feature_sql
        if dialects is None:
            return build
        return lambda dialect, sources: build(getattr(dialects, dialect.name.upper()), sources)
    finally:
        for name, previous in saved.items():
            if previous is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = previous


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables-root", required=True)
    parser.add_argument("--sample", type=int, default=1)
    parser.add_argument("--before", required=True, help="git revision of the 'before' query")
    parser.add_argument("--modules", nargs="+", default=MODULES, help="module paths read at --before, import order")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duckdb-memory", default="4GB")
    args = parser.parse_args()
    import duckdb
    import pyarrow.parquet as pq

    from cms_assets.lib import layout
    from cms_assets.lib.features_duckdb import copy_query
    from cms_assets.lib.features_sql import feature_sql, references
    from cms_assets.lib.sql_dialect import DUCKDB
    from cms_assets.lib.synpuf.tables import TABLE_NAMES
    from cms_assets.lib.terminology import read_reference
    from cms_assets.lib.warehouse.backends import sql_literal

    root = Path(args.tables_root).resolve()
    sources = {
        t: f"read_parquet({sql_literal(str(root.parent / layout.table_file(t, args.sample)))})" for t in TABLE_NAMES
    }
    tables = {name: read_reference(name) for name in references()}
    sources.update({name: f"ref_{name}" for name in tables})
    builders = {"before": query_builder_at(args.before, args.modules), "after": feature_sql}
    queries = {label: build(DUCKDB, sources) for label, build in builders.items()}
    print(f"before = {args.before}:{' + '.join(args.modules)}; after = the working tree; sample {args.sample}")
    if queries["before"] == queries["after"]:
        sys.exit("the two revisions build the same query: nothing to compare")
    work = Path(tempfile.mkdtemp(prefix="bench-features-ab-"))
    wall: dict[str, list[float]] = {"before": [], "after": []}
    cpu: dict[str, list[float]] = {"before": [], "after": []}
    try:
        for i in range(args.repeat):
            for label in ("before", "after") if i % 2 == 0 else ("after", "before"):
                out = work / f"{label}.parquet"
                t0, c0 = time.perf_counter(), cpu_seconds()
                copy_query(queries[label], tables, out, work / "tmp", args.duckdb_memory, args.threads)
                wall[label].append(time.perf_counter() - t0)
                cpu[label].append(cpu_seconds() - c0)
                print(f"round {i + 1}: {label:<6} {wall[label][-1]:7.2f} s wall, {cpu[label][-1]:7.2f} s CPU")
        con = duckdb.connect()
        a, b = (f"read_parquet({sql_literal(str(work / f'{label}.parquet'))})" for label in ("before", "after"))
        # The columns both revisions write are compared; a column only one writes is named. Sums of doubles may
        # differ in the last bits between any two runs (parallel aggregation order).
        schemas = {label: pq.read_schema(work / f"{label}.parquet") for label in ("before", "after")}
        for label, other in (("before", "after"), ("after", "before")):
            if only := [n for n in schemas[label].names if n not in schemas[other].names]:
                print(f"columns only {label} writes (not compared): {', '.join(only)}")
        shared = [f for f in schemas["after"] if f.name in schemas["before"].names]
        columns = ", ".join(f"round({f.name}, 6)" if f.type == "double" else f.name for f in shared)
        rows = con.execute(f"select count(*) from {a}").fetchone()[0]
        differ = con.execute(
            f"select count(*) from ((select {columns} from {a} except all select {columns} from {b}) "
            f"union all (select {columns} from {b} except all select {columns} from {a}))"
        ).fetchone()[0]
        before, after = statistics.median(wall["before"]), statistics.median(wall["after"])
        cpu_b, cpu_a = statistics.median(cpu["before"]), statistics.median(cpu["after"])
        print(f"before {before:7.2f} s wall, {cpu_b:7.2f} s CPU (median of {args.repeat})")
        print(f"after  {after:7.2f} s wall, {cpu_a:7.2f} s CPU")
        print(f"after / before: wall {after / before:.3f}, CPU {cpu_a / cpu_b:.3f}")
        print(f"rows {rows:,}; rows that differ between the two outputs: {differ:,}")
        if differ:
            sys.exit("the two queries disagree")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
