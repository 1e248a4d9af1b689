"""Download benchmark: our resumable, verifying downloader beside a plain streamed ``requests`` copy.

    .venv/bin/python benchmarks/download.py [--mb 200] [--drops 3]

Serves one zip of ``--mb`` MB (incompressible, stored) through the local CMS mirror on 127.0.0.1 and fetches it
three ways in the same process: (a) the baseline, ``requests.get(stream=True)`` copied to a file, no checks;
(b) ``download_file`` (Range-capable, Content-Length/ETag checks, zip CRC verification, atomic publish);
(c) ``download_file`` while the mirror drops the connection ``--drops`` times mid-file, so it must resume.
Prints seconds, MB/s, the ratio to the baseline and the peak RSS growth (memory must not scale with the file).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import requests

from cms_assets.lib.site.download import download_file
from cms_assets.lib.site.scraper import CmsSite, RemoteFile
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf.names import FileSpec, member_name
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.mirror import CmsMirror, FaultPlan


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _make_zip(root: Path, spec: FileSpec, mb: int) -> int:
    with zipfile.ZipFile(root / spec.zip_name, "w", zipfile.ZIP_STORED) as zf:
        with zf.open(member_name(spec), "w", force_zip64=True) as f:
            block = os.urandom(1 << 20)
            for _ in range(mb):
                f.write(block)
    return (root / spec.zip_name).stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--drops", type=int, default=3)
    args = parser.parse_args()

    spec = FileSpec(Kind.PDE, 9)
    tmp = Path(tempfile.mkdtemp(prefix="cms-download-bench-"))
    try:
        root = tmp / "site"
        root.mkdir()
        size_mb = _make_zip(root, spec, args.mb) / 1e6
        rss0 = _peak_mb()
        with CmsMirror(root) as mirror:
            url = mirror.url_of(spec)
            started = time.perf_counter()
            with requests.get(url, stream=True, timeout=60) as resp, open(tmp / "baseline.zip", "wb") as out:
                for chunk in resp.iter_content(1 << 20):
                    out.write(chunk)
            base = time.perf_counter() - started

            site = CmsSite(mirror.landing_url)
            remote = RemoteFile(spec, url)
            started = time.perf_counter()
            download_file(site, remote, LocalStorage(tmp / "ours"), "x.zip", tmp / "partial-a")
            ours = time.perf_counter() - started

            mirror.faults = FaultPlan(drops=args.drops, drop_after=max(1, args.mb // 4) << 20)
            started = time.perf_counter()
            faulty = download_file(site, remote, LocalStorage(tmp / "faulty"), "x.zip", tmp / "partial-b", backoff=0.05)
            resumed = time.perf_counter() - started
        rss1 = _peak_mb()
        print(f"file: {size_mb:.0f} MB served by the local CMS mirror on 127.0.0.1")
        print(f"baseline requests copy (no checks)   {base:6.2f} s  {size_mb / base:7.1f} MB/s")
        print(
            f"download_file (CRC verify, atomic)   {ours:6.2f} s  {size_mb / ours:7.1f} MB/s  "
            f"{base / ours:.2f}x baseline throughput"
        )
        print(
            f"download_file, {args.drops} drops, resumed   {resumed:6.2f} s  {size_mb / resumed:7.1f} MB/s  "
            f"{base / resumed:.2f}x baseline (resumed={faulty.resumed}, attempts={faulty.attempts})"
        )
        print(f"peak RSS growth over all three: {rss1 - rss0:.0f} MB for a {size_mb:.0f} MB file")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
