"""Benchmark: the user's path at scale. N generated samples served by the CMS mirror, a fresh Dagster instance, the
real ``dagster-daemon``, the sensor switched on as a user would, and Declarative Automation doing the rest.

    .venv/bin/python benchmarks/daemon_scale.py --samples 20 --scale 1.0 --work /big/disk/bench
    .venv/bin/python benchmarks/daemon_scale.py --samples 2 --scale 0.01 --work /tmp/bench   # a quick check
    # 4 samples, then a 5th arriving (its zips linked into DIR beforehand), sensor ticking every minute:
    .venv/bin/python benchmarks/daemon_scale.py --samples 4 --scale 1.0 --work W --sensor-interval 60 --then-change DIR
    # the same with at most 2 runs at once instead of the local deployment's 4:
    .venv/bin/python benchmarks/daemon_scale.py --samples 4 --scale 1.0 --work W --max-concurrent-runs 2

Generation is done beforehand and not counted (cached in ``WORK/site-<scale>-<seed>``, as ``full_scale.py`` does).
Everything else is read from the instance's own records once the graph has settled:

- zips to report: from the sensor switched on to the last ``insight_report`` materialization (and from the first
  download step's start);
- per stage (the steps of every run, classified by what they build): steps, step seconds summed, and the stage's
  span from its first step's start to its last step's end;
- runs launched (by the sensor, by the automation), their queue waits, how often the model was trained, the report
  rendered and a partition re-checked instead of rebuilt (``unchanged_since_run``);
- CPU seconds of the whole process tree (the daemon, its code servers, every run worker and Spark JVM, reaped ones
  included) and of the machine (``/proc/stat``, for a cross-check on an otherwise idle machine); peak RSS of the
  tree sampled every 0.2 s; the data directory's size.

The automation runs on the local deployment's default intervals (``--automation-interval``, 30 s): what a user
gets, not a tuned demo.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from full_scale import PeakRss, _say_to, dir_bytes, generate_site, tree_cpu_seconds  # noqa: E402

#: Step key -> stage; anything else is "other" (named in the output).
_TABLE_STEPS = {"beneficiary_summary", "carrier_claims", "inpatient_claims", "outpatient_claims",
                "prescription_drug_events"}  # fmt: skip


def stage_of(step_key: str) -> str:
    if step_key == "raw_cms_zips":
        return "download"
    if step_key in _TABLE_STEPS:
        return "tables"
    if step_key.startswith("warehouse__"):
        return "warehouse loads"
    if step_key.startswith("terminology"):
        return "terminology"
    named = {"beneficiary_features": "features", "cost_model": "model", "cost_predictions": "predictions",
             "analytics": "dbt build", "insight_report": "report"}  # fmt: skip
    return named.get(step_key, f"other ({step_key})")


def machine_busy_seconds() -> float:
    """CPU seconds spent by the whole machine (all cores) outside idle and iowait, since boot."""
    fields = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def read_instance(instance: Any, switched_on: float) -> dict[str, Any]:
    """Runs, steps and materializations of the benchmark's instance from ``switched_on`` (a timestamp) on,
    summarized; times are seconds after it."""
    import dagster as dg
    from dagster import DagsterEventType

    runs, steps = [], defaultdict(list)
    for record in instance.get_run_records():
        run = record.dagster_run
        created = record.create_timestamp.timestamp()
        if created < switched_on:
            continue
        runs.append({
            "run_id": run.run_id, "status": run.status.value, "partition": run.tags.get("dagster/partition"),
            "by": run.tags.get("dagster/sensor_name", "user"), "created": created - switched_on,
            "queued_s": (record.start_time or created) - created,
            "seconds": (record.end_time or 0) - (record.start_time or 0) if record.start_time else None,
        })  # fmt: skip
        starts: dict[str, float] = {}
        kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE}
        for entry in instance.all_logs(run.run_id, of_type=kinds):
            if entry.dagster_event.event_type == DagsterEventType.STEP_START:
                starts[entry.step_key] = entry.timestamp
            elif entry.step_key in starts:
                begun = starts.pop(entry.step_key)
                steps[stage_of(entry.step_key)].append((begun - switched_on, entry.timestamp - switched_on))
    stages = {
        name: {"steps": len(spans), "step_seconds": round(sum(e - s for s, e in spans), 1),
               "first_start": round(min(s for s, _ in spans), 1), "last_end": round(max(e for _, e in spans), 1)}
        for name, spans in sorted(steps.items(), key=lambda kv: min(s for s, _ in kv[1]))
    }  # fmt: skip

    def materializations(key: str) -> list[Any]:
        flt = dg.AssetRecordsFilter(asset_key=dg.AssetKey.from_user_string(key))
        return [r for r in instance.fetch_materializations(flt, limit=10_000).records if r.timestamp >= switched_on]

    reports = materializations("insight_report")
    rechecked = 0
    for key in instance.get_asset_keys():
        for rec in materializations(key.to_user_string()):
            rechecked += "unchanged_since_run" in rec.asset_materialization.metadata
    by: dict[str, int] = defaultdict(int)
    for run in runs:
        by[run["by"]] += 1
    return {
        "runs": runs,
        "runs_launched": dict(by),
        "runs_failed": [r["run_id"] for r in runs if r["status"] == "FAILURE"],
        "stages": stages,
        "models_trained": len(materializations("cost_model")),
        "reports_rendered": len(reports),
        "rechecked_not_rebuilt": rechecked,
        "last_report_s": round(max(r.timestamp for r in reports) - switched_on, 1) if reports else None,
        "first_download_s": stages.get("download", {}).get("first_start"),
    }


def serve_dir(site: Path, served: Path, samples: int) -> None:
    """Hard links to samples 1..N's zips in ``served``: the mirror serves exactly those, and files can later be
    replaced there (a changed file on the site) without touching the cached site."""
    from cms_assets.lib.synpuf.names import files_for_sample

    served.mkdir(parents=True, exist_ok=True)
    for n in range(1, samples + 1):
        for spec in files_for_sample(n):
            target = served / spec.zip_name
            if not target.exists():
                os.link(site / spec.zip_name, target)


def change_files(served: Path, changed: Path) -> list[str]:
    """Put the zips in ``changed`` on the site (atomic renames): CMS publishing a new sample, or republishing one."""
    names = sorted(p.name for p in changed.glob("*.zip"))
    for name in names:
        tmp = served / f".{name}.new"
        os.link(changed / name, tmp)
        os.replace(tmp, served / name)
    return names


def wait_for(instance: Any, key: str, after: float, timeout: float, failed_since: float | None = None) -> float:
    """Seconds from ``after`` until ``key`` has a materialization newer than it; stops on a failed run."""
    import dagster as dg

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        records = instance.fetch_materializations(dg.AssetKey.from_user_string(key), limit=1).records
        if records and records[0].timestamp > after:
            return records[0].timestamp - after
        if failed_since is not None:
            failed = instance.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.FAILURE]), limit=5)
            if any(r.run_id and instance.get_run_record_by_id(r.run_id).create_timestamp.timestamp() > failed_since
                   for r in failed):  # fmt: skip
                raise RuntimeError(f"a run failed before {key} was rebuilt")
        time.sleep(2.0)
    raise TimeoutError(f"{key} not materialized within {timeout:.0f}s")


def run(
    samples: int, scale: float, seed: int, work: Path, automation_interval: int, sensor_interval: int,
    changed: Path | None, say: Any, json_out: Path | None = None, max_runs: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    from cms_assets.daemon import LocalPlatform, prepare_home
    from cms_assets.demo import demo_env, settle
    from cms_assets.sim.mirror import CmsMirror

    site = work / f"site-{scale:g}-{seed}"
    gen = generate_site(site, list(range(1, samples + 1)), scale, seed)
    say(f"samples 1..{samples} at scale {scale:g} ready in {site} ({gen:.0f}s of generation, not counted)")
    data = work / f"daemon-{samples}x{scale:g}-{time.strftime('%Y%m%d-%H%M%S')}"
    serve_dir(site, data / "served", samples)
    home = prepare_home(data / ".dagster")
    max_runs = limit_runs(home / "dagster.yaml", max_runs)
    say(f"up to {max_runs} runs at once")
    busy0, cpu0 = machine_busy_seconds(), tree_cpu_seconds()
    with CmsMirror(data / "served") as mirror:
        env = {
            **demo_env(data, mirror.landing_url),
            "CMS_SENSOR_INTERVAL_SECONDS": str(sensor_interval),
            "CMS_AUTOMATION_INTERVAL_SECONDS": str(automation_interval),
            "CMS_ASSETS_SCRATCH": str(data / ".scratch"),
        }
        with PeakRss() as peak, LocalPlatform(home, env) as platform:
            started = time.monotonic()
            switched_on = time.time()
            platform.start_sensor()
            say(f"sensor on (DAGSTER_HOME={home}); the daemon takes it from here")
            state, verdict = settle(platform, 4 * 3600, say)
            wall = time.monotonic() - started
            cpu = tree_cpu_seconds() - cpu0  # before the daemon stops: its live children count
            busy = machine_busy_seconds() - busy0
            rss, in_use = peak.peak, peak.machine_peak - peak.machine_base
            summary = read_instance(platform.instance, switched_on)
            result = {
                "samples": samples, "scale": scale, "seed": seed, "data": str(data),
                "complete": state.complete, "failed": verdict.failed, "recovered": verdict.recovered,
                "settled_s": round(wall, 1), "cpu_s_tree": round(cpu, 1), "cpu_s_machine": round(busy, 1),
                "peak_rss_mb": round(rss / 2**20), "peak_machine_mb": round(in_use / 2**20),
                "disk_mb": round(dir_bytes(data, skip=(".scratch", "served")) / 2**20),
                "automation_interval_s": automation_interval, "sensor_interval_s": sensor_interval,
                "max_concurrent_runs": max_runs, **summary,
            }  # fmt: skip
            for line in report(result):  # printed (and saved) now: the freshness phase may take long
                say(line)
            if json_out is not None:
                json_out.write_text(json.dumps(result, indent=2))
            if changed is not None and state.complete:
                result["freshness"] = freshness(platform, data / "served", changed, say)
                for line in freshness_lines(result["freshness"]):
                    say(line)
    return result


def limit_runs(config: Path, runs: int | None) -> int:
    """Set ``max_concurrent_runs`` in the benchmark instance's ``dagster.yaml`` (None: keep the deployment's); return
    the limit in force."""
    text = config.read_text()
    found = re.search(r"^(\s*max_concurrent_runs:\s*)(\d+)\s*$", text, flags=re.MULTILINE)
    if found is None:
        raise ValueError(f"{config} sets no max_concurrent_runs")
    if runs is None:
        return int(found.group(2))
    config.write_text(text[: found.start(2)] + str(runs) + text[found.end(2) :])
    return runs


def freshness(platform: Any, served: Path, changed: Path, say: Any) -> dict[str, Any]:
    """CMS publishes a new sample or republishes one (zips put on the site); the time until the report shows it."""
    from cms_assets.demo import settle

    names = change_files(served, changed)
    at = time.time()
    say(f"put {len(names)} zips on the site ({names[0]} ...); waiting for the sensor's next tick")
    found = wait_for(platform.instance, "raw_cms_zips", at, 2 * 3600)
    say(f"the sensor downloaded them {found:.0f} s later; waiting for the report")
    # Every asset is already materialized, so "settled" alone could be seen between two runs: wait for the report.
    wait_for(platform.instance, "insight_report", at + found, 4 * 3600, failed_since=at)
    state, verdict = settle(platform, 4 * 3600, say)
    after = read_instance(platform.instance, at)
    report, download = after["last_report_s"], after["first_download_s"]
    return {
        "files": names, "complete": state.complete, "failed": verdict.failed, "sensor_found_s": round(found, 1),
        "report_s": report, "report_from_download_s": round(report - download, 1) if report and download else None,
        "models_trained": after["models_trained"], "reports_rendered": after["reports_rendered"],
        "runs_launched": after["runs_launched"], "stages": after["stages"],
    }  # fmt: skip


def report(result: dict[str, Any]) -> list[str]:
    """The figures a person reads."""
    lines = [
        f"{result['samples']} samples at scale {result['scale']:g}: complete={result['complete']}, "
        f"failed runs {len(result['runs_failed'])} (retried and recovered: {len(result['recovered'])})",
        "zips to report: no report rendered (a run failed: see the runs below)"
        if result["last_report_s"] is None
        else f"zips to report: {result['last_report_s']:,.0f} s = {result['last_report_s'] / 60:.1f} min from the "
        f"sensor switched on ({result['last_report_s'] - (result['first_download_s'] or 0):,.0f} s from the first "
        "download)",
        f"settled (nothing running, 20 s quiet): {result['settled_s']:,.0f} s",
        f"CPU: {result['cpu_s_tree']:,.0f} s process tree, {result['cpu_s_machine']:,.0f} s whole machine "
        f"({result['cpu_s_machine'] / max(result['settled_s'], 1):.2f} cores busy on average)",
        f"peak RSS (process tree, shared pages counted per process) {result['peak_rss_mb']:,} MB; machine memory "
        f"in use at peak {result['peak_machine_mb']:,} MB above the start; disk {result['disk_mb']:,} MB",
        f"runs launched: {result['runs_launched']} (up to {result['max_concurrent_runs']} at once); model "
        f"trained {result['models_trained']}x, report rendered {result['reports_rendered']}x, partitions re-checked "
        f"instead of rebuilt: {result['rechecked_not_rebuilt']}",
        f"{'stage':<18}{'steps':>6}{'step s':>10}{'first start':>13}{'last end':>10}",
    ]
    for name, s in result["stages"].items():
        lines.append(f"{name:<18}{s['steps']:>6}{s['step_seconds']:>10,.1f}{s['first_start']:>13,.1f}"
                     f"{s['last_end']:>10,.1f}")  # fmt: skip
    waits = sorted(r["queued_s"] for r in result["runs"])
    if waits:
        lines.append(f"run queue wait: median {waits[len(waits) // 2]:.1f} s, max {waits[-1]:.1f} s")
    return lines


def freshness_lines(fresh: dict[str, Any]) -> list[str]:
    lines = [
        f"one sample published ({len(fresh['files'])} zips): report {fresh['report_s']:,.0f} s after the files "
        f"appeared, {fresh['report_from_download_s']:,.0f} s after its download started (the sensor found it "
        f"after {fresh['sensor_found_s']:,.0f} s); model trained {fresh['models_trained']}x, runs "
        f"{fresh['runs_launched']}"
    ]
    for name, st in fresh["stages"].items():
        lines.append(f"  {name:<16}{st['steps']:>6}{st['step_seconds']:>10,.1f}{st['first_start']:>13,.1f}"
                     f"{st['last_end']:>10,.1f}")  # fmt: skip
    return lines


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, required=True, help="directory for the site and the run")
    parser.add_argument("--automation-interval", type=int, default=30, help="the local deployment's default")
    parser.add_argument("--sensor-interval", type=int, default=3600, help="default: the deployed hourly tick")
    parser.add_argument(
        "--then-change",
        type=Path,
        help="a directory of zips to put on the site after the wave: a new sample's (serve one sample fewer with "
        "--samples) or a republished one's (they replace the site's files); the time until the report shows them is "
        "measured",
    )
    parser.add_argument(
        "--max-concurrent-runs", type=int, help="the instance's run limit (default: the local deployment's, 4)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure (and every run) here")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    # SIGTERM (a `kill`) unwinds like Ctrl-C, so the daemon's process group, run workers included, is stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with _say_to(args.work / "daemon_scale.log") as say:
        result = run(
            args.samples, args.scale, args.seed, args.work.resolve(), args.automation_interval,
            args.sensor_interval, args.then_change, say, args.json, args.max_concurrent_runs,
        )  # fmt: skip
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
