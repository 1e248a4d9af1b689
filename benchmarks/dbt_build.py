"""`dbt build` of the whole analyst layer (every model and test) on a warehouse, as Dagster runs it.

    .venv/bin/python benchmarks/dbt_build.py [--warehouse data/warehouse.duckdb] [--repeat 2]

Works on a copy of the DuckDB file (the demo's by default: `make demo` writes data/warehouse.duckdb), so the
measured run changes nothing. Prints the source row counts, the wall time of `dbt parse` (dbt's fixed cost: start-up
and reading the project, the baseline) and of each `dbt build`, the ratio build / parse, the models' and tests'
summed execution times from run_results.json, and the five slowest nodes. Target: a build under 60 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from cms_assets.lib.transform import PROJECT_DIR, run_dbt  # noqa: E402
from cms_assets.lib.warehouse.load import Warehouse  # noqa: E402

SOURCES = ("beneficiary_summary", "inpatient_claims", "outpatient_claims", "carrier_claims", "prescription_drug_events")


def _timed(args: list[str], url: str, target: Path) -> tuple[float, dict]:
    started = time.perf_counter()
    done = run_dbt([*args, "--target-path", str(target)], url, "cms", check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"dbt {' '.join(args)} failed:\n{done.stdout[-4000:]}")
    results = target / "run_results.json"
    return seconds, json.loads(results.read_text()) if results.exists() else {}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--warehouse", default="data/warehouse.duckdb")
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    source = Path(args.warehouse)
    if not source.exists():
        raise SystemExit(f"{source} not found: run `make demo` first, or pass --warehouse")
    with tempfile.TemporaryDirectory(prefix="dbt-bench-") as tmp:
        copy = Path(tmp) / "warehouse.duckdb"
        shutil.copy(source, copy)
        url = f"duckdb:///{copy}"
        wh = Warehouse.from_url(url)
        rows = {t: wh.row_count(t) for t in SOURCES}
        wh.close()
        print(f"warehouse {source} (copy), project {PROJECT_DIR}")
        print("source rows: " + ", ".join(f"{t} {n:,}" for t, n in rows.items()) + f"; total {sum(rows.values()):,}")
        parse, _ = _timed(["parse"], url, Path(tmp) / "parse")
        print(f"dbt parse (baseline: dbt's fixed cost): {parse:.1f} s")
        for i in range(1, args.repeat + 1):
            seconds, results = _timed(["build"], url, Path(tmp) / f"build{i}")
            nodes = results.get("results", [])
            models = [r for r in nodes if r["unique_id"].startswith("model.")]
            tests = [r for r in nodes if r["unique_id"].startswith("test.")]
            print(
                f"dbt build #{i}: {seconds:.1f} s wall ({seconds / parse:.2f}x parse); {len(models)} models in "
                f"{sum(r['execution_time'] for r in models):.1f} s, {len(tests)} tests in "
                f"{sum(r['execution_time'] for r in tests):.1f} s; target < 60 s: "
                f"{'met' if seconds < 60 else 'missed'}"
            )
            slowest = sorted(nodes, key=lambda r: -r["execution_time"])[:5]
            print(
                "  slowest: "
                + ", ".join(f"{r['unique_id'].split('.')[-1]} {r['execution_time']:.1f} s" for r in slowest)
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
