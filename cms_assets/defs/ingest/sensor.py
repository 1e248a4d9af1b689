"""cms_new_files_sensor (built by :func:`build_cms_sensor` where the definitions are assembled, with the
deployment's interval) and the weekly schedule: notice new or changed CMS files and download those samples.

The sensor only downloads (``sample_refresh_job`` = ``raw_cms_zips``); Declarative Automation takes the sample
from there to the report. Its cursor holds, per sample, the fingerprint of the files it last requested and the
run key of that request, so:
- a sample moves in the cursor only when a run was requested for it;
- a broken sample page is logged, recorded on that sample's ``raw_cms_zips`` (an observation the UI shows) and
  skipped, while the other samples proceed;
- a requested download that failed is requested again, at most ``MAX_ATTEMPTS`` times per fingerprint.
"""

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from cms_assets.defs import jobs  # the module, not the job: defs/ autoloading would find the job here too
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import CmsSiteResource
from cms_assets.lib.synpuf.names import partition_key

#: Requests per sample and fingerprint: the first plus two retries of a failed download.
MAX_ATTEMPTS = 3
CURSOR_VERSION = 2
_FAILED = {dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def fingerprint(files: dict[str, dict[str, object]]) -> str:
    """A stable digest of a sample's file states (ETag, Last-Modified, size), used in the run key."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class SiteScan:
    """What one look at the site found: file states per listed sample, and the pages that could not be read."""

    files: dict[str, dict[str, dict[str, object]]] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)


def scan_site(cms_site: CmsSiteResource) -> SiteScan:
    """Every listed sample's 8 files with their HTTP validators; a failing sample page is recorded, not raised.

    A landing page that cannot be read still raises: then nothing is known and nothing must change.
    """
    site = cms_site.client()
    scan = SiteScan()
    try:
        for page in site.samples():
            pk = partition_key(page.sample)
            try:
                scan.files[pk] = {
                    remote.spec.zip_name: _validators(site.head_first(remote.urls)[1]) for remote in site.files(page)
                }
            except Exception as e:  # one broken page must not stop the discovery of the others
                scan.errors[pk] = f"{type(e).__name__}: {e}"
        return scan
    finally:
        site.close()


def _validators(info: Any) -> dict[str, object]:
    return {"etag": info.etag, "last_modified": info.last_modified, "size": info.size}


def _read_cursor(raw: str | None) -> dict[str, dict[str, Any]]:
    """Per-sample entries {fp, run_key, attempts}; a version-1 cursor (pk -> fp) is upgraded in place."""
    if not raw:
        return {}
    data = json.loads(raw)
    if data.get("version") == CURSOR_VERSION:
        return data["samples"]
    return {pk: {"fp": fp, "run_key": None, "attempts": 1} for pk, fp in data.items()}


def _last_run_failed(instance: dg.DagsterInstance | None, run_key: str | None) -> bool:
    if instance is None or not run_key:
        return False
    runs = instance.get_runs(filters=dg.RunsFilter(tags={"dagster/run_key": run_key}), limit=1)
    return bool(runs) and runs[0].status in _FAILED


CMS_SENSOR = "cms_new_files_sensor"


def build_cms_sensor(minimum_interval_seconds: int = 3600) -> dg.SensorDefinition:
    """The sensor, with its polling interval chosen where the definitions are built (not at import)."""

    @dg.sensor(
        name=CMS_SENSOR,
        job=jobs.sample_refresh_job,
        minimum_interval_seconds=minimum_interval_seconds,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Scrapes the CMS site; adds new samples as partitions; downloads new or changed samples "
        "(automation does the rest).",
    )
    def cms_new_files_sensor(context: dg.SensorEvaluationContext, cms_site: CmsSiteResource) -> dg.SensorResult:
        """Compare each file's ETag/Last-Modified/size with the cursor; request downloads for what is new or
        changed, and again (bounded) for a download that failed."""
        cursor = _read_cursor(context.cursor)
        scan = scan_site(cms_site)
        known = set(context.instance.get_dynamic_partitions(cms_sample.name)) if context.instance else set()
        runs: list[dg.RunRequest] = []
        for pk, files in sorted(scan.files.items()):
            fp, entry = fingerprint(files), cursor.get(pk)
            if entry is None or entry["fp"] != fp:
                attempt, reason = 1, "new" if entry is None else "changed"
            elif entry["attempts"] < MAX_ATTEMPTS and _last_run_failed(context.instance, entry["run_key"]):
                attempt, reason = entry["attempts"] + 1, "retry"
            else:
                continue
            run_key = f"{pk}:{fp}:{attempt}"
            runs.append(dg.RunRequest(partition_key=pk, run_key=run_key, tags={"cms/reason": reason}))
            cursor[pk] = {"fp": fp, "run_key": run_key, "attempts": attempt}
        for pk, error in sorted(scan.errors.items()):
            context.log.warning(f"{pk}: sample page skipped this tick: {error}")
        new_partitions = sorted(pk for pk in scan.files if pk not in known)
        context.log.info(
            f"{len(scan.files)} samples read, {len(scan.errors)} pages broken {sorted(scan.errors)}; "
            f"new partitions {new_partitions}; downloads for {[r.partition_key for r in runs]}"
        )
        return dg.SensorResult(
            run_requests=runs,
            dynamic_partitions_requests=[cms_sample.build_add_request(new_partitions)] if new_partitions else [],
            asset_events=[
                dg.AssetObservation(
                    "raw_cms_zips", partition=pk, metadata={"sample_page_error": error, "skipped": True}
                )
                for pk, error in sorted(scan.errors.items())
                if pk in known
            ],
            cursor=json.dumps({"version": CURSOR_VERSION, "samples": cursor}, sort_keys=True),
        )

    return cms_new_files_sensor


@dg.schedule(
    job=jobs.sample_refresh_job,
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly re-download of every known sample (unchanged files are skipped by ETag and size, and "
    "unchanged content triggers nothing downstream).",
)
def weekly_cms_refresh(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """The alternative to the sensor for users who prefer a fixed cadence."""
    keys = context.instance.get_dynamic_partitions(cms_sample.name)
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(partition_key=pk, run_key=f"{pk}:weekly:{stamp}") for pk in keys]
