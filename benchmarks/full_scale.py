"""Benchmark: the whole DE-SynPUF, zips to report, through the project's own Dagster jobs on a real instance.

    .venv/bin/python benchmarks/full_scale.py --samples 20 --scale 1.0 --work /big/disk/bench
    .venv/bin/python benchmarks/full_scale.py --curve 1,2,5,20 --scale 0.25 --work /big/disk/bench
    .venv/bin/python benchmarks/full_scale.py --samples 2 --scale 0.02 --work /tmp/bench   # a quick check

The CMS files are generated first (cached in ``WORK/site-<scale>-<seed>``, not timed), served by the local CMS
mirror, found by the sensor, then every stage runs as the job a user's sensor and automation launch
(``execute_in_process`` on a persistent sqlite ``DagsterInstance`` in the run's directory):

    ingest       ingest_job per sample: download the 8 zips from the mirror, convert to the five tables
    features     features_job per sample (Spark)
    model        model_job once, over every sample's features (Spark ML)
    predictions  scoring_job per sample
    warehouse    warehouse_job per sample (DuckDB file: tables, features, predictions)
    report       reporting_job once: model metrics, BI views, HTML report

Per stage: wall seconds; CPU seconds of the process tree (steadier than wall time when others load the
machine); rows and rows/s, counted from the Parquet footers or the warehouse (ingest: the five tables' rows;
features: the table rows it aggregates; model: the feature rows; predictions: one per beneficiary; warehouse
and report: the rows in the warehouse's sample tables); the peak RSS of this process and its children (Spark's
JVM, Python workers) sampled every 0.2 s; and the data directory's size after it. ``--curve`` repeats the whole
run for each sample count in a fresh directory, so the growth of each stage with the number of samples is
measured, not extrapolated. ``--model-curve 1,2,5,20`` measures the one stage that grows with the number of
samples in one run (the model, trained over all of them) on the finished run: ``model_job`` again on the first N
samples' features for each N, largest last, so the final model is the one over every sample.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

from cms_assets.lib import layout

_INFO_ONLY = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


@dataclass
class Stage:
    samples: int
    stage: str
    seconds: float
    cpu_seconds: float
    rows: int
    peak_rss_mb: float
    disk_mb: float

    @property
    def rows_per_s(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0


class PeakRss:
    """Peak resident memory of this process and all its descendants, sampled on a background thread."""

    def __init__(self, interval: float = 0.2) -> None:
        self.interval, self.peak = interval, 0
        # The tree's RSS counts shared pages once per process; the machine's memory in use (total - available)
        # above what was in use at the start is the footprint without that double count (on an idle machine).
        self.machine_base = self.machine_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        me = psutil.Process()
        total = 0
        for proc in [me, *me.children(recursive=True)]:
            try:
                total += proc.memory_info().rss
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._tree_rss())
            self.machine_peak = max(self.machine_peak, _in_use())
            self._stop.wait(self.interval)

    def __enter__(self) -> PeakRss:
        self.peak = self._tree_rss()
        self.machine_base = self.machine_peak = _in_use()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._tree_rss())


def _in_use() -> int:
    memory = psutil.virtual_memory()
    return memory.total - memory.available


def tree_cpu_seconds() -> float:
    """User + system CPU seconds of this process and its live descendants, each with the children it has reaped
    (a daemon's run workers, a run worker's Spark JVM). On a shared machine this moves far less with other
    people's load than wall time does."""
    me = psutil.Process()
    total = 0.0
    for proc in [me, *me.children(recursive=True)]:
        try:
            times = proc.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        total += times.user + times.system + times.children_user + times.children_system
    return total


def dir_bytes(root: Path, skip: tuple[str, ...] = ()) -> int:
    """Bytes of the files under ``root``, leaving out top-level entries named in ``skip``."""
    total = 0
    for entry in root.iterdir() if root.exists() else []:
        if entry.name in skip:
            continue
        if entry.is_file():
            total += entry.stat().st_size
        else:
            total += sum(p.stat().st_size for p in entry.rglob("*") if p.is_file())
    return total


def parquet_rows(root: Path) -> int:
    """Rows in every Parquet file under ``root``, from the footers (nothing is read but metadata)."""
    return sum(pq.ParquetFile(p).metadata.num_rows for p in root.rglob("*.parquet")) if root.exists() else 0


def generate_site(site: Path, samples: list[int], scale: float, seed: int) -> float:
    """The CMS zips of ``samples`` (each generated once per site directory); returns the seconds spent."""
    from cms_assets.sim.generate import generate_sample

    started = time.monotonic()
    site.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        done = site / f".sample-{sample:02d}.done"
        if not done.exists():
            generate_sample(site, sample, scale=scale, seed=seed)
            done.touch()
    return time.monotonic() - started


class Pipeline:
    """One run's data directory, Dagster instance and definitions, pointed at a served CMS mirror."""

    def __init__(self, data: Path, landing_url: str) -> None:
        import dagster as dg

        from cms_assets.definitions import build_definitions

        self.data = data
        self.curve_samples = 0  # samples of the model_curve run being measured
        (data / ".dagster").mkdir(parents=True, exist_ok=True)
        self.instance = dg.DagsterInstance.local_temp(
            str(data / ".dagster"), overrides={"telemetry": {"enabled": False}}
        )
        env = {
            **os.environ,
            "CMS_ASSETS_DATA": str(data),
            "CMS_SOURCE_URL": landing_url,
            "CMS_WAREHOUSE_URL": f"duckdb:///{data / 'warehouse.duckdb'}",
            "CMS_ASSETS_SCRATCH": str(data / ".scratch"),
        }
        env.pop("CMS_SPARK_REMOTE", None)
        self.defs = build_definitions("local", env)

    def discover(self) -> list[str]:
        """Evaluate the sensor once and register the sample partitions it asks for, as the daemon would."""
        import dagster as dg

        from cms_assets.defs.ingest.sensor import cms_new_files_sensor

        with dg.build_sensor_context(instance=self.instance, resources=self.defs.resources) as ctx:
            result = cms_new_files_sensor(ctx)
        for request in result.dynamic_partitions_requests or []:
            self.instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
        return sorted(self.instance.get_dynamic_partitions("cms_sample"))

    def run(self, job: str, partition: str | None = None, config: dict[str, Any] | None = None) -> None:
        run_config = {**_INFO_ONLY, **({"ops": config} if config else {})}
        result = self.defs.resolve_job_def(job).execute_in_process(
            instance=self.instance, partition_key=partition, run_config=run_config, raise_on_error=False
        )
        if not result.success:
            raise SystemExit(f"{job} {partition or ''} failed (run {result.run_id} in {self.data / '.dagster'})")

    def warehouse_rows(self) -> int:
        from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES

        warehouse = self.defs.resources["warehouse"].get()
        return sum(warehouse.row_count(t) for t in WAREHOUSE_SAMPLE_TABLES)


def _rows(pipe: Pipeline, stage: str) -> int:
    data = pipe.data
    return {
        "ingest": lambda: parquet_rows(data / layout.TABLES),
        "features": lambda: parquet_rows(data / layout.TABLES),  # the claim and beneficiary rows it aggregates
        "model": lambda: parquet_rows(data / layout.FEATURES),  # the rows it trained and validated on
        "model_curve": lambda: parquet_rows_of(data, pipe.curve_samples),
        "predictions": lambda: parquet_rows(data / layout.PREDICTIONS),
        "warehouse": pipe.warehouse_rows,
        "report": pipe.warehouse_rows,  # the rows the views and the report read
    }[stage]()


def _measure(pipe: Pipeline, samples: int, stage: str, runs: list[tuple[str, str | None, dict | None]]) -> Stage:
    started, cpu = time.monotonic(), tree_cpu_seconds()
    with PeakRss() as peak:
        for job, key, config in runs:
            pipe.run(job, key, config)
    seconds, cpu = time.monotonic() - started, tree_cpu_seconds() - cpu
    mb = dir_bytes(pipe.data, skip=(".dagster", ".scratch")) / 2**20
    rss = round(peak.peak / 2**20)
    return Stage(samples, stage, round(seconds, 2), round(cpu, 1), _rows(pipe, stage), rss, round(mb, 1))


def run_pipeline(
    samples: int, site: Path, data: Path, say: Callable[[str], None], model_curve: list[int] | None = None
) -> list[Stage]:
    """Every stage for samples 1..``samples`` into a fresh ``data``, measured; the site must hold those zips."""
    from cms_assets.sim.mirror import CmsMirror

    if data.exists() and any(data.iterdir()):
        raise SystemExit(f"{data} is not empty: the benchmark needs a fresh data directory per run")
    out: list[Stage] = []
    with CmsMirror(site) as mirror:
        pipe = Pipeline(data, mirror.landing_url)
        found = pipe.discover()
        keys = found[:samples]
        if len(keys) < samples:
            raise SystemExit(f"the sensor found {found} on {mirror.landing_url}, fewer than {samples} samples")
        plan: list[tuple[str, list[tuple[str, str | None, dict | None]]]] = [
            ("ingest", [("ingest_job", k, None) for k in keys]),
            ("features", [("features_job", k, None) for k in keys]),
            ("model", [("model_job", None, None)]),
            ("predictions", [("scoring_job", k, None) for k in keys]),
            ("warehouse", [("warehouse_job", k, None) for k in keys]),
            ("report", [("reporting_job", None, None)]),
        ]
        for stage, runs in plan:
            out.append(_measure(pipe, samples, stage, runs))
            say(_line(out[-1]))
        for n in sorted(c for c in model_curve or [] if c <= samples):
            config = {"cost_model": {"config": {"samples": list(range(1, n + 1))}}}
            pipe.curve_samples = n
            out.append(_measure(pipe, n, "model_curve", [("model_job", None, config)]))
            say(_line(out[-1]))
    return out


def parquet_rows_of(data: Path, samples: int) -> int:
    """Feature rows of samples 1..``samples``: what a model over them trains and validates on."""
    return sum(parquet_rows(data / layout.features_dir(s)) for s in range(1, samples + 1))


def per_sample_runs(instance_dir: Path, at: list[int]) -> list[str]:
    """Wall seconds of each per-sample job's run for the samples in ``at`` (and the mean over all samples), from
    the run's own Dagster instance: whether a sample costs more when more samples are already in."""
    import dagster as dg

    instance = dg.DagsterInstance.local_temp(str(instance_dir))
    seconds: dict[str, dict[int, float]] = {}
    for record in instance.get_run_records():
        run, key = record.dagster_run, record.dagster_run.tags.get("dagster/partition")
        if key and record.start_time and record.end_time:
            sample = int(key.removeprefix("sample_"))
            seconds.setdefault(run.job_name, {})[sample] = record.end_time - record.start_time
    lines = [f"{'job':<16}" + "".join(f"{f'sample {n}':>11}" for n in at) + "       mean"]
    for job, by in sorted(seconds.items()):
        cells = "".join(f"{by[n]:>10.1f}s" if n in by else f"{'-':>11}" for n in at)
        lines.append(f"{job:<16}{cells}{sum(by.values()) / len(by):>10.1f}s")
    return lines


def _line(s: Stage) -> str:
    return (
        f"{s.samples:>3} samples {s.stage:<12}{s.seconds:>9.1f}s (cpu {s.cpu_seconds:>8.1f}s) {s.rows:>13,} rows"
        f" {s.rows_per_s:>11,.0f} rows/s"
        f"  peak RSS {s.peak_rss_mb:>7,.0f} MB  disk {s.disk_mb:>9,.1f} MB"
    )


def growth(stages: list[Stage]) -> list[str]:
    """Per stage: seconds at each sample count and seconds per sample relative to the smallest count."""
    counts = sorted({s.samples for s in stages})
    by = {(s.samples, s.stage): s.seconds for s in stages}
    lines = [f"{'stage':<12}" + "".join(f"{n:>9}" for n in counts) + "   s/sample vs smallest"]
    for stage in dict.fromkeys(s.stage for s in stages):
        secs = [by[(n, stage)] for n in counts]
        base = secs[0] / counts[0] if secs[0] else 0.0
        rel = "  ".join(f"{(t / n) / base:.2f}" if base else "-" for n, t in zip(counts, secs, strict=True))
        lines.append(f"{stage:<12}" + "".join(f"{t:>9.1f}" for t in secs) + f"   {rel}")
    totals = [sum(by[(n, st)] for st in dict.fromkeys(s.stage for s in stages)) for n in counts]
    lines.append(f"{'total':<12}" + "".join(f"{t:>9.1f}" for t in totals))
    return lines


@contextmanager
def _say_to(path: Path | None) -> Iterator[Callable[[str], None]]:
    log = path.open("a") if path else None

    def say(msg: str) -> None:
        line = f"[{time.strftime('%H:%M:%S')}] {msg}"
        print(line, flush=True)
        if log:
            log.write(line + "\n")
            log.flush()

    try:
        yield say
    finally:
        if log:
            log.close()


def _counts(text: str) -> list[int]:
    counts = sorted({int(p) for p in text.split(",")})
    if not counts or counts[0] < 1 or counts[-1] > 20:
        raise argparse.ArgumentTypeError(f"sample counts must be within 1..20, got {text!r}")
    return counts


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20, help="samples 1..N in one run (default 20)")
    parser.add_argument("--curve", type=_counts, help="sample counts for the growth curve, e.g. 1,2,5,20")
    parser.add_argument("--model-curve", type=_counts, help="sample counts to re-train the model on, e.g. 1,2,5,20")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = the real CMS sample size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, help="directory for the site and one dir per run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--runs-of", type=Path, help="only print the per-sample run times of a finished run dir")
    args = parser.parse_args(argv)
    if args.runs_of:
        print("\n".join(per_sample_runs(args.runs_of / ".dagster", [1, 2, 5, 20])))
        return {}
    if args.work is None:
        parser.error("--work is required")
    counts = args.curve or _counts(str(args.samples))
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    site = work / f"site-{args.scale:g}-{args.seed}"
    stages: list[Stage] = []
    with _say_to(work / "full_scale.log") as say:
        gen = generate_site(site, list(range(1, counts[-1] + 1)), args.scale, args.seed)
        say(f"generated samples 1..{counts[-1]} at scale {args.scale:g} in {gen:.1f}s (not counted)")
        for n in counts:
            run_dir = work / f"run-{args.scale:g}-{n:02d}-{time.strftime('%Y%m%dT%H%M%S')}"
            started = time.monotonic()
            stages += run_pipeline(n, site, run_dir, say, args.model_curve)
            say(f"{n} samples: zips to report in {time.monotonic() - started:.1f}s")
            for line in per_sample_runs(run_dir / ".dagster", [k for k in (1, 2, 5, 20) if k <= n]):
                say(line)
        if len(counts) > 1:
            for line in growth([s for s in stages if s.stage != "model_curve"]):
                say(line)
        curve = [s for s in stages if s.stage == "model_curve"]
        for s in curve:
            say(
                f"model over {s.samples:>2} samples: {s.seconds:7.1f}s, {s.seconds / curve[0].seconds:.2f}x the first"
                f" for {s.samples / curve[0].samples:.0f}x the samples"
            )
    peak = max(s.peak_rss_mb for s in stages)
    result = {
        "scale": args.scale,
        "cpus": os.cpu_count(),
        "stages": [{**asdict(s), "rows_per_s": round(s.rows_per_s)} for s in stages],
        "total_seconds": {
            n: round(sum(s.seconds for s in stages if s.samples == n and s.stage != "model_curve"), 1) for n in counts
        },
        "peak_rss_mb": peak,
    }
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
