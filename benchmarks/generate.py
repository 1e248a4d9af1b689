"""Benchmark the synthetic DE-SynPUF generator: wall time, rows, rows/s, output bytes and peak RSS for one sample.

    .venv/bin/python benchmarks/generate.py --scale 1.0 [--out DIR] [--sample 1] [--seed 0]

Targets at scale 1.0 (Sample 1's size, 11.5 M rows): under 600 s and under 2 GB peak RSS on a 2-core machine.
A baseline run at scale 0.01 in the same process gives the throughput ratio, which shows whether the generator
scales linearly (ratio near or above 1) or slows down with size. Rows and uncompressed bytes are counted afterwards
by streaming every zip member, outside the timed section.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import psutil

from cms_assets.lib.ingest.zipfiles import open_member
from cms_assets.sim.generate import generate_sample

TARGET_SECONDS = 600.0
TARGET_RSS = 2 << 30


class PeakRss:
    """Samples this process's RSS every 20 ms in a thread (ru_maxrss would include the baseline run)."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        proc = psutil.Process()
        while not self._stop.is_set():
            self.peak = max(self.peak, proc.memory_info().rss)
            self._stop.wait(0.02)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def count(paths: list[Path]) -> tuple[int, int, int]:
    """(data rows, uncompressed CSV bytes, zip bytes) over the zips, streaming each member."""
    rows = raw = 0
    for path in paths:
        _, member = open_member(path, max_ratio=1e9)  # our reader: Deflate64 (Sample 11's carrier A) included
        with member:
            while block := member.read(16 << 20):
                rows += block.count(b"\n")
                raw += len(block)
        rows -= 1  # header
    return rows, raw, sum(p.stat().st_size for p in paths)


def run(out: Path, sample: int, scale: float, seed: int) -> dict[str, float]:
    with PeakRss() as rss:
        start = time.perf_counter()
        paths = generate_sample(out, sample, scale=scale, seed=seed)
        seconds = time.perf_counter() - start
    rows, raw, zipped = count(paths)
    return {"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "csv": raw, "zip": zipped, "rss": rss.peak}


def report(label: str, r: dict[str, float]) -> None:
    print(
        f"{label:>10}: {r['seconds']:8.1f} s  {r['rows']:>11,} rows  {r['rows_per_s']:>10,.0f} rows/s  "
        f"CSV {r['csv'] / 1e6:8.1f} MB  zips {r['zip'] / 1e6:7.1f} MB  peak RSS {r['rss'] / 2**20:7.0f} MiB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--out", type=Path, help="keep the zips here (default: a temporary directory, removed)")
    parser.add_argument("--sample", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"cpus: {os.cpu_count()} (shared machine: other work may be running)")
    with tempfile.TemporaryDirectory(prefix="gen-baseline-") as tmp:
        base = run(Path(tmp), args.sample, 0.01, args.seed)
    report("baseline", base)

    out = args.out or Path(tempfile.mkdtemp(prefix="gen-bench-"))
    try:
        main_run = run(out, args.sample, args.scale, args.seed)
    finally:
        if args.out is None:
            shutil.rmtree(out, ignore_errors=True)
    report(f"scale {args.scale:g}", main_run)
    print(f"throughput ratio vs baseline (scale 0.01): {main_run['rows_per_s'] / base['rows_per_s']:.2f}")
    print(f"ru_maxrss (whole process): {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")
    if args.scale == 1.0:
        ok_t = main_run["seconds"] < TARGET_SECONDS
        ok_m = main_run["rss"] < TARGET_RSS
        print(f"target wall time < {TARGET_SECONDS:.0f} s: {'met' if ok_t else 'MISSED'} ({main_run['seconds']:.0f} s)")
        print(f"target peak RSS < 2 GiB: {'met' if ok_m else 'MISSED'} ({main_run['rss'] / 2**30:.2f} GiB)")
    if args.out:
        print(f"zips kept in {out}")


if __name__ == "__main__":
    main()
