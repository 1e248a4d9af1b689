"""Ingest benchmark: our streaming converter beside plain pyarrow and pandas, per file type, plus a whole sample.

    .venv/bin/python benchmarks/ingest.py --scale 1.0 [--workdir DIR] [--sample 1]

Generates (or reuses) one sample with the project's generator, then converts each table three ways, every run
in a fresh subprocess so its peak RSS (``ru_maxrss``) is its own:
- ours: ``convert_table`` (zip member streamed, typed, dates checked, one zstd Parquet file per table);
- pyarrow: ``pyarrow.csv.read_csv`` of the same zip member (type inference) + ``pq.write_table`` (zstd);
- pandas2020: ``pandas.read_csv(dtype=str)`` of the zip + ``DataFrame.to_parquet`` (zstd) with Python str objects,
  the 2020 route (without dtype=str, code columns mixing "V8281" and digits make to_parquet fail);
- pandas: the same with pandas 3's Arrow-backed strings (for information; no target).
Ratios are throughput ratios (ours / baseline): > 1 means ours is faster. Pandas reads at most
``--pandas-max-rows`` rows per file (the full carrier file does not fit in a shared machine's memory that way);
its rate is computed on the rows it read.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cms_assets.lib.synpuf.names import files_for_sample  # noqa: E402
from cms_assets.lib.synpuf.tables import TABLES, Kind, table_for  # noqa: E402

METHODS = ("ours", "pyarrow", "pandas", "pandas2020")
#: Throughput targets (ours / baseline); modern pandas 3 is shown for information only.
TARGETS = {"pyarrow": 0.8, "pandas2020": 3.0}


def _member_size(path: Path) -> int:
    with zipfile.ZipFile(path) as z:
        return z.infolist()[0].file_size


def _sources(raw: Path, sample: int, kind: Kind) -> list[tuple]:
    return [(s, raw / s.zip_name) for s in files_for_sample(sample) if s.kind is kind]


# ---- child side: one method on one table, prints a JSON line ----


def _run_ours(table_name: str, raw: Path, sample: int, out: Path, _: int) -> int:
    from cms_assets.lib.ingest.convert import convert_table

    table = table_for(table_name)
    return convert_table(table, _sources(raw, sample, table.kind), sample, out / "part-0.parquet").rows


def _run_pyarrow(table_name: str, raw: Path, sample: int, out: Path, _: int) -> int:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    rows = 0
    for i, (_, path) in enumerate(_sources(raw, sample, table_for(table_name).kind)):
        with zipfile.ZipFile(path) as z, z.open(z.infolist()[0]) as f:
            table = pacsv.read_csv(f)
        pq.write_table(table, out / f"part-{i}.parquet", compression="zstd")
        rows += table.num_rows
        del table
    return rows


def _run_pandas2020(table_name: str, raw: Path, sample: int, out: Path, max_rows: int) -> int:
    """pandas as in 2020: ``dtype=str`` meant Python str objects (pandas 3 now uses Arrow-backed strings)."""
    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pd.set_option("future.infer_string", False)
    return _run_pandas(table_name, raw, sample, out, max_rows)


def _run_pandas(table_name: str, raw: Path, sample: int, out: Path, max_rows: int) -> int:
    import pandas as pd

    rows = 0
    for i, (_, path) in enumerate(_sources(raw, sample, table_for(table_name).kind)):
        df = pd.read_csv(path, nrows=max_rows or None, dtype=str)  # codes mix digits and letters
        df.to_parquet(out / f"part-{i}.parquet", compression="zstd")
        rows += len(df)
        del df
    return rows


def _run_sample(_: str, raw: Path, sample: int, out: Path, __: int) -> int:
    from cms_assets.lib.ingest.convert import convert_table

    return sum(
        convert_table(t, _sources(raw, sample, t.kind), sample, out / f"{t.name}.parquet").rows for t in TABLES.values()
    )


RUNNERS = {
    "ours": _run_ours,
    "pyarrow": _run_pyarrow,
    "pandas": _run_pandas,
    "pandas2020": _run_pandas2020,
    "sample": _run_sample,
}


#: Imported before the clock starts, so each method is timed on its work, not on its imports.
WARM_IMPORTS = {
    "ours": ["cms_assets.lib.ingest.convert", "pyarrow.compute", "numpy"],
    "sample": ["cms_assets.lib.ingest.convert", "pyarrow.compute", "numpy"],
    "pyarrow": ["pyarrow.csv", "pyarrow.parquet"],
    "pandas": ["pandas", "pyarrow.parquet"],
    "pandas2020": ["pandas", "pyarrow.parquet"],
}


def child(method: str, table: str, raw: Path, sample: int, max_rows: int) -> None:
    for module in WARM_IMPORTS[method]:
        importlib.import_module(module)
    with tempfile.TemporaryDirectory(prefix="cms-bench-out-", dir=raw.parent) as out:
        started = time.perf_counter()
        rows = RUNNERS[method](table, raw, sample, Path(out), max_rows)
        seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(json.dumps({"rows": rows, "seconds": seconds, "peak_rss_mb": peak_mb}))


# ---- parent side ----


def run(method: str, table: str, raw: Path, sample: int, max_rows: int, repeat: int = 1) -> dict:
    """Best of ``repeat`` fresh-process runs (the machine is shared, so the minimum is the least noisy)."""
    return min((_run_once(method, table, raw, sample, max_rows) for _ in range(repeat)), key=lambda r: r["seconds"])


def _run_once(method: str, table: str, raw: Path, sample: int, max_rows: int) -> dict:
    cmd = [sys.executable, __file__, "--child", method, "--table", table, "--raw", str(raw)]
    cmd += ["--sample", str(sample), "--pandas-max-rows", str(max_rows)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{method} on {table} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ensure_sample(raw: Path, sample: int, scale: float, seed: int) -> float:
    specs = files_for_sample(sample)
    if all((raw / s.zip_name).exists() for s in specs):
        print(f"reusing sample {sample} in {raw}")
        return 0.0
    from cms_assets.sim.generate import generate_sample

    started = time.perf_counter()
    generate_sample(raw, sample, scale=scale, seed=seed)
    seconds = time.perf_counter() - started
    print(f"generated sample {sample} at scale {scale} in {seconds:.1f} s into {raw}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--sample", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workdir", type=Path, default=None, help="default: $TMPDIR/cms-bench-ingest-<scale>")
    ap.add_argument("--tables", default=",".join(t.name for t in TABLES.values()))
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per table and method")
    ap.add_argument("--pandas-max-rows", type=int, default=500_000, help="0 = no limit")
    ap.add_argument("--child", choices=[*METHODS, "sample"], help=argparse.SUPPRESS)
    ap.add_argument("--table", help=argparse.SUPPRESS)
    ap.add_argument("--raw", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args.table, args.raw, args.sample, args.pandas_max_rows)
        return

    workdir = args.workdir or Path(tempfile.gettempdir()) / f"cms-bench-ingest-{args.scale:g}"
    raw = workdir / "raw"
    ensure_sample(raw, args.sample, args.scale, args.seed)
    print(f"machine: {os.cpu_count()} cores (shared); python {sys.version.split()[0]}")
    header = f"{'table':<26}{'method':<11}{'rows':>11}{'MB in':>9}{'s':>8}{'rows/s':>11}{'MB/s':>8}{'RSS MB':>8}  ratio"
    print(header)
    failures = []
    for name in args.tables.split(","):
        table = table_for(name)
        mb_total = sum(_member_size(p) for _, p in _sources(raw, args.sample, table.kind)) / 1e6
        results = {}
        for method in args.methods.split(","):
            r = run(method, name, raw, args.sample, args.pandas_max_rows, args.repeat)
            rows_total = run_rows = r["rows"]
            if method.startswith("pandas"):
                rows_total = results.get("ours", {}).get("rows") or run_rows
            mb = mb_total * run_rows / rows_total if rows_total else mb_total  # pandas may read a prefix only
            r.update(rows_per_s=run_rows / r["seconds"], mb_per_s=mb / r["seconds"], mb=mb)
            results[method] = r
            ratio = ""
            if method != "ours" and "ours" in results:
                speedup = results["ours"]["rows_per_s"] / r["rows_per_s"]
                ratio = f"ours {speedup:.2f}x"
                if method in TARGETS:
                    ok = speedup >= TARGETS[method]
                    ratio += f" (target >= {TARGETS[method]}x) {'ok' if ok else 'MISSED'}"
                    if not ok:
                        failures.append(f"{name}: vs {method} {speedup:.2f}x")
            print(
                f"{name:<26}{method:<11}{run_rows:>11,}{mb:>9.1f}{r['seconds']:>8.2f}{r['rows_per_s']:>11,.0f}"
                f"{r['mb_per_s']:>8.1f}{r['peak_rss_mb']:>8.0f}  {ratio}"
            )
        if table.kind is Kind.CARRIER and "ours" in results and results["ours"]["peak_rss_mb"] >= 1536:
            failures.append(f"carrier peak RSS {results['ours']['peak_rss_mb']:.0f} MB >= 1536 MB")
    whole = run("sample", "", raw, args.sample, 0)
    mb_all = sum(_member_size(raw / s.zip_name) for s in files_for_sample(args.sample)) / 1e6
    print(
        f"whole sample {args.sample} (ours, 5 tables, one process): {whole['rows']:,} rows, {mb_all:.0f} MB CSV in "
        f"{whole['seconds']:.1f} s ({mb_all / whole['seconds']:.1f} MB/s), peak RSS {whole['peak_rss_mb']:.0f} MB "
        f"(target < 180 s: {'ok' if whole['seconds'] < 180 else 'MISSED'})"
    )
    if whole["seconds"] >= 180:
        failures.append(f"whole sample {whole['seconds']:.0f} s >= 180 s")
    print("targets: all met" if not failures else "targets missed: " + "; ".join(failures))


if __name__ == "__main__":
    main()
