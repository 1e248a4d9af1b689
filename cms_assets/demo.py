"""``cms-assets demo``: the whole platform on a laptop in one command.

Generates a synthetic CMS site, serves it on 127.0.0.1 (two hosts, like cms.gov), lets the sensor discover it,
then materializes the graph stage by stage through the same jobs ``dagster dev`` shows, into a persistent
DAGSTER_HOME (./.dagster) so the UI afterwards shows the same runs, and ends with a summary.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# Step-level INFO on the console (downloads, rows, the selected model); the DEBUG event stream stays in the UI.
_QUIET = {"loggers": {"console": {"config": {"log_level": "INFO"}}}}


def _say(msg: str) -> None:
    print(f"[cms-assets {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _stage(title: str, fn: Callable[[], Any]) -> Any:
    _say(f"{title} ...")
    started = time.monotonic()
    result = fn()
    _say(f"{title}: done in {time.monotonic() - started:.1f}s")
    return result


def _prepare_home(home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    template = Path(__file__).resolve().parent.parent / "dagster.yaml"
    if not config.exists() and template.exists():
        shutil.copyfile(template, config)
    os.environ["DAGSTER_HOME"] = str(home.resolve())


def _generate_site(site_dir: Path, samples: list[int], scale: float, seed: int) -> None:
    """Generate once per (samples, scale, seed); reruns reuse the zips so downloads are skipped by ETag."""
    from cms_assets.lib.generate import generate_sample

    stamp_path = site_dir / ".generated.json"
    stamps = json.loads(stamp_path.read_text()) if stamp_path.exists() else {}
    site_dir.mkdir(parents=True, exist_ok=True)
    for sample in samples:
        want = {"scale": scale, "seed": seed}
        if stamps.get(str(sample)) == want:
            continue
        generate_sample(site_dir, sample, scale=scale, seed=seed)
        stamps[str(sample)] = want
        stamp_path.write_text(json.dumps(stamps))


def run_demo(samples: list[int], scale: float, seed: int, data: Path, home: Path) -> int:
    """Run every stage of the platform against a locally served synthetic CMS site; print a summary."""
    import dagster as dg

    from cms_assets.definitions import build_definitions
    from cms_assets.defs.ingest.sensor import cms_new_files_sensor
    from cms_assets.lib.site.mirror import CmsMirror
    from cms_assets.lib.synpuf.names import partition_key

    started = time.monotonic()
    data = data.resolve()
    _prepare_home(home)
    site_dir = data / "cms_site"
    _stage(f"generating samples {samples} at scale {scale}", lambda: _generate_site(site_dir, samples, scale, seed))
    with CmsMirror(site_dir) as mirror:
        _say(f"local CMS mirror: {mirror.landing_url} (downloads host {mirror.downloads_url})")
        env = {
            **os.environ,
            "CMS_ASSETS_DATA": str(data),
            "CMS_SOURCE_URL": mirror.landing_url,
            "CMS_WAREHOUSE_URL": f"duckdb:///{data / 'warehouse.duckdb'}",
        }
        defs = build_definitions("local", env)
        instance = dg.DagsterInstance.get()
        keys = [partition_key(s) for s in samples]

        def sense() -> list[str]:
            with dg.build_sensor_context(instance=instance, resources=defs.resources, cursor=None) as ctx:
                result = cms_new_files_sensor(ctx)
            for req in result.dynamic_partitions_requests or []:
                instance.add_dynamic_partitions(req.partitions_def_name, list(req.partition_keys))
            return [r.partition_key for r in result.run_requests]

        found = _stage("sensor: scanning the CMS site", sense)
        _say(f"sensor requested runs for {found}")
        missing = sorted(set(keys) - set(instance.get_dynamic_partitions("cms_sample")))
        if missing:
            raise SystemExit(f"the sensor did not discover {missing} on {mirror.landing_url}")

        def run(job: str, partition: str | None = None) -> None:
            result = defs.resolve_job_def(job).execute_in_process(
                instance=instance, partition_key=partition, run_config=_QUIET
            )
            if not result.success:
                raise SystemExit(f"{job} {partition or ''} failed: see `make dev` -> Runs ({result.run_id})")

        for pk in keys:
            _stage(f"{pk}: raw zips -> five tables -> features", lambda pk=pk: run("sample_refresh_job", pk))
    _stage("cost model (Spark ML)", lambda: run("model_job"))
    for pk in keys:
        _stage(f"{pk}: predictions", lambda pk=pk: run("scoring_job", pk))
        _stage(f"{pk}: warehouse loads", lambda pk=pk: run("warehouse_job", pk))
    _stage("model metrics, BI views, insight report", lambda: run("reporting_job"))
    _summary(defs, data, time.monotonic() - started)
    return 0


def _summary(defs: Any, data: Path, seconds: float) -> None:
    from cms_assets.defs.ml.model import latest_model
    from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
    from cms_assets.lib import layout

    storage = defs.resources["storage"].get()
    warehouse = defs.resources["warehouse"]
    wh = warehouse.get()
    print("\n== cms_assets demo summary ==")
    print(f"{'table':<28}{'rows':>12}")
    for table in WAREHOUSE_SAMPLE_TABLES:
        print(f"{table:<28}{wh.row_count(table):>12,}")
    model = latest_model(storage)
    metrics = wh.query(
        "SELECT MODEL_NAME, SPLIT, METRIC, VALUE FROM "
        f"{warehouse.schema_name}.model_metrics WHERE MODEL_VERSION = '{model['version']}' AND SPLIT = 'temporal' "
        "ORDER BY MODEL_NAME, METRIC"
    ).to_pylist()
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
    print(f"UI:        make dev   (DAGSTER_HOME={os.environ.get('DAGSTER_HOME')}) -> http://127.0.0.1:3000")
    print(f"total:     {seconds:.0f}s")
