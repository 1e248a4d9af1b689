"""``cms-assets demo``: the whole platform on a laptop in one command, through a real Dagster instance.

Generates a synthetic CMS site, serves it on 127.0.0.1 (two hosts, like cms.gov), starts ``dagster-daemon`` on the
same DAGSTER_HOME as ``make dev`` (./.dagster), switches ``cms_new_files_sensor`` on through the ``dagster`` CLI and
lets the graph run itself: the sensor downloads, Declarative Automation does the rest. Progress is read from the
instance until every asset of every sample is materialized; then a summary. A second run with unchanged files
launches nothing: the sensor's cursor and the assets' data versions live in the instance.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: Fixed ports for the demo's CMS mirror, shared with `make dev` so its resources point at the same site.
DEMO_PORT = 8765
DEMO_DOWNLOADS_PORT = 8766
#: Short intervals so the demo moves along; the deployed defaults are hourly (sensor) and 30 s (automation).
DEMO_INTERVALS = {"CMS_SENSOR_INTERVAL_SECONDS": "15", "CMS_AUTOMATION_INTERVAL_SECONDS": "5"}


def _say(msg: str) -> None:
    print(f"[cms-assets {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _generate_site(site_dir: Path, samples: list[int], scale: float, seed: int) -> None:
    """Generate once per (samples, scale, seed); reruns reuse the zips so nothing changes on the site."""
    from cms_assets.sim.generate import generate_sample

    stamp_path = site_dir / ".generated.json"
    stamps = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    site_dir.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        want = {"scale": scale, "seed": seed}
        if stamps.get(str(sample)) == want:
            continue
        _say(f"generating sample {sample} at scale {scale}")
        generate_sample(site_dir, sample, scale=scale, seed=seed)
        stamps[str(sample)] = want
        stamp_path.write_text(json.dumps(stamps))


def demo_env(data: Path, landing_url: str) -> dict[str, str]:
    """The environment the daemon (and `make dev`) runs the code location with for the demo's data."""
    return {
        "CMS_ASSETS_DATA": str(data),
        "CMS_SOURCE_URL": landing_url,
        "CMS_WAREHOUSE_URL": f"duckdb:///{data / 'warehouse.duckdb'}",
        **DEMO_INTERVALS,
    }


def run_demo(
    samples: list[int], scale: float, seed: int, data: Path, home: Path, timeout: float = 3600, port: int = DEMO_PORT
) -> int:
    """Serve a synthetic CMS site and let the daemon take it to the report; print progress and a summary.

    ``port`` 0 serves the mirror on free ports (tests); the default is the fixed port ``make dev`` serves too.
    """
    from cms_assets.daemon import LocalPlatform, prepare_home
    from cms_assets.sim.mirror import CmsMirror

    started = time.monotonic()
    data = data.resolve()
    home = prepare_home(home)
    _generate_site(data / "cms_site", samples, scale, seed)
    with CmsMirror(data / "cms_site", port=port, downloads_port=port + 1 if port else 0) as mirror:
        _say(f"local CMS mirror: {mirror.landing_url} (downloads host {mirror.downloads_url})")
        with LocalPlatform(home, demo_env(data, mirror.landing_url)) as platform:
            _say(f"dagster-daemon started (DAGSTER_HOME={home}, log {platform.log_path})")
            platform.start_sensor()
            before = platform.instance.get_runs_count()
            _say("cms_new_files_sensor is on; the sensor downloads, Declarative Automation does the rest")
            state, verdict = settle(platform, timeout - (time.monotonic() - started), _say)
            launched = platform.instance.get_runs_count() - before
            for line in verdict.recovered:
                _say(line)
            if verdict.failed or not state.complete:
                for line in verdict.failed:
                    _say(line)
                if not verdict.failed:
                    _say(f"the graph settled incomplete: {state.line()}")
                _say("see `make dev` -> Runs for the failed runs' logs")
                return 1
            _say(f"done: {launched} run(s) launched by the sensor and the automation in this demo")
            _summary(data, demo_env(data, mirror.landing_url), time.monotonic() - started, home)
    return 0


#: Tags run retries put on a retried run (dagster.yaml ``run_retries``) and on the run that failed.
PARENT_RUN_ID_TAG = "dagster/parent_run_id"
RETRY_NUMBER_TAG = "dagster/retry_number"
WILL_RETRY_TAG = "dagster/will_retry"
#: How long a failed run may wait for run retries to queue its retry before the demo counts it failed.
RETRY_GRACE_SECONDS = 60.0


@dataclass
class Verdict:
    """Failed runs sorted by what their retries did: recovered (a retry succeeded), pending (a retry is queued or
    running, or about to be queued), failed (not retried, or every retry failed); each a line for the console."""

    recovered: list[str] = field(default_factory=list)
    pending: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def settle(platform: Any, timeout: float, say: Callable[[str], None]) -> tuple[Any, Verdict]:
    """Wait until the graph settles, and keep waiting while a failed run has a retry queued or running (run
    retries re-launch a run whose process died); then sort the failures by what their retries did."""
    deadline = time.monotonic() + timeout
    reported: set[str] = set()
    while True:
        state = platform.wait_until_settled(timeout=max(deadline - time.monotonic(), 1.0), quiet_seconds=20, say=say)
        verdict = triage(platform.instance, state.failed)
        for line in verdict.pending:
            if line not in reported:
                say(line)
                reported.add(line)
        if not verdict.pending and (verdict.failed or state.complete or not state.failed):
            return state, verdict
        if time.monotonic() >= deadline:
            raise TimeoutError(f"not settled after {timeout:.0f}s: {state.line()}; " + "; ".join(verdict.pending))
        time.sleep(3.0)


def triage(instance: Any, failed_run_ids: list[str], now: float | None = None) -> Verdict:
    """Follow each failed run through its retries (``dagster/parent_run_id``): recovered, pending or failed."""
    import dagster as dg

    verdict = Verdict()
    failed = set(failed_run_ids)
    now = time.time() if now is None else now
    for run_id in failed_run_ids:
        run = instance.get_run_by_id(run_id)
        if run is None or run.tags.get(PARENT_RUN_ID_TAG) in failed:
            continue  # a failed retry: told with the run it retried
        said: list[str] = []
        while True:
            what = _what_broke(instance, run)
            retries = instance.get_runs(dg.RunsFilter(tags={PARENT_RUN_ID_TAG: run.run_id}), limit=1)
            if not retries:
                will = run.tags.get(WILL_RETRY_TAG)
                ended = _ended_at(instance, run.run_id) or now
                if will == "true" or (will is None and now - ended < RETRY_GRACE_SECONDS):
                    verdict.pending.append(" ".join([*said, f"{what}; its retry is about to be queued"]))
                else:
                    verdict.failed.append(" ".join([*said, f"{what}; not retried"]))
                break
            retry = retries[0]
            number = retry.tags.get(RETRY_NUMBER_TAG, "?")
            if retry.status == dg.DagsterRunStatus.SUCCESS:
                verdict.recovered.append(" ".join([*said, f"{what}; retry {retry.run_id} (#{number}) succeeded"]))
                break
            if retry.status != dg.DagsterRunStatus.FAILURE:
                state = retry.status.value.lower()
                verdict.pending.append(" ".join([*said, f"{what}; retry {retry.run_id} (#{number}) {state}"]))
                break
            said.append(f"{what}; retry {retry.run_id} (#{number}) failed too:")
            run = retry
    return verdict


def _what_broke(instance: Any, run: Any) -> str:
    """``run X's process died (...)`` when the run worker was killed or crashed (no step failed: run monitoring
    marked it failed from outside), else ``run X failed: <step>: <error>``."""
    died = _process_died(instance, run.run_id)
    if died is not None:
        return f"run {run.run_id}'s process died ({died})"
    return f"run {run.run_id} failed: {_failure(instance, run.run_id)}"


def _process_died(instance: Any, run_id: str) -> str | None:
    """Why a run's process died, or None when a step (or the run itself) reported its own error."""
    from dagster import DagsterEventType

    if instance.all_logs(run_id, of_type=DagsterEventType.STEP_FAILURE):
        return None
    for entry in instance.all_logs(run_id, of_type=DagsterEventType.RUN_FAILURE):
        event = entry.dagster_event
        data = event.event_specific_data if event else None
        if data is not None and getattr(data, "error", None) is not None:
            return None  # the run raised an error of its own
        message = (event.message if event else "") or ""
        gone = re.search(r"run worker process \d+ is gone", message)
        if gone:
            return f"killed: {gone[0]}; run monitoring marked the run failed"
        return "killed"
    return None


def _ended_at(instance: Any, run_id: str) -> float | None:
    record = instance.get_run_record_by_id(run_id)
    end = getattr(record, "end_time", None) if record is not None else None
    return float(end) if end else None


def _failure(instance: Any, run_id: str) -> str:
    """The failed step and what broke it (the innermost error's message), for the console."""
    from dagster import DagsterEventType

    for entry in instance.all_logs(run_id, of_type={DagsterEventType.STEP_FAILURE, DagsterEventType.RUN_FAILURE}):
        event = entry.dagster_event
        if not event:
            continue
        error = getattr(event.event_specific_data, "error", None)
        while error is not None and error.cause is not None:
            error = error.cause
        what = error.message.strip() if error is not None else (event.message or "")
        return f"{event.step_key or 'run'}: {what[:600]}" if what else f"{event.step_key or 'run'} failed"
    return "(no failure message)"


def _summary(data: Path, env: dict[str, str], seconds: float, home: Path) -> None:
    from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
    from cms_assets.defs.wiring import resources_for
    from cms_assets.lib import layout
    from cms_assets.lib.ml.artifacts import read_latest

    resources = resources_for("local", env)
    storage = resources["storage"].get()
    warehouse = resources["warehouse"]
    wh = warehouse.get()
    try:
        print("\n== cms_assets demo summary ==")
        print(f"{'table':<28}{'rows':>12}")
        for table in WAREHOUSE_SAMPLE_TABLES:
            print(f"{table:<28}{wh.row_count(table):>12,}")
        model = read_latest(storage)
        metrics = wh.query(
            "SELECT MODEL_NAME, SPLIT, METRIC, VALUE FROM "
            f"{warehouse.schema_name}.model_metrics WHERE MODEL_VERSION = '{model['version']}' "
            "AND SPLIT = 'temporal' AND METRIC IN ('r2', 'mae', 'top10_capture', 'top_decile_lift') "
            "ORDER BY MODEL_NAME, METRIC"
        ).to_pylist()
    finally:
        wh.close()
    print(f"\nmodel {model['version']} (selected: {model['selected']}), temporal holdout 2009 -> 2010:")
    by_model: dict[str, dict[str, float]] = {}
    for row in metrics:
        by_model.setdefault(row["MODEL_NAME"], {})[row["METRIC"]] = row["VALUE"]
    for name, vals in by_model.items():
        cells = "  ".join(f"{k}={v:,.3f}" for k, v in sorted(vals.items()))
        print(f"  {'*' if name == model['selected'] else ' '} {name:<22}{cells}")
    reports = sorted(o.key for o in storage.list(layout.REPORTS) if o.key.endswith(".html"))
    print(f"\nwarehouse: {warehouse.url}")
    print(f"report:    {storage.uri(reports[-1]) if reports else '(none)'}")
    print(f"data:      {data}")
    print(f"UI:        make dev   (DAGSTER_HOME={home}, serves this demo's CMS site) -> http://127.0.0.1:3000")
    print(f"total:     {seconds:.0f}s")
