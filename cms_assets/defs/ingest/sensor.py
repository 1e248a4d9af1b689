"""cms_new_files_sensor and the weekly schedule: notice new or changed CMS files and refresh those samples."""

import hashlib
import json

import dagster as dg

from cms_assets.defs.jobs import sample_refresh_job
from cms_assets.defs.partitions import cms_sample
from cms_assets.defs.resources import CmsSiteResource
from cms_assets.lib.synpuf.names import partition_key


def fingerprint(files: dict[str, dict[str, object]]) -> str:
    """A stable digest of a sample's file states (ETag, Last-Modified, size), used as the run key."""
    return hashlib.sha256(json.dumps(files, sort_keys=True).encode()).hexdigest()[:16]


def scan_site(cms_site: CmsSiteResource) -> dict[str, dict[str, dict[str, object]]]:
    """Every listed sample's 8 files with their HTTP validators: {partition: {zip: {etag, last_modified, size}}}."""
    site = cms_site.client()
    try:
        state: dict[str, dict[str, dict[str, object]]] = {}
        for page in site.samples():
            files = {}
            for remote in site.files(page):
                info = site.head(remote.url)
                files[remote.spec.zip_name] = {
                    "etag": info.etag,
                    "last_modified": info.last_modified,
                    "size": info.size,
                }
            state[partition_key(page.sample)] = files
        return state
    finally:
        site.close()


@dg.sensor(
    job=sample_refresh_job,
    minimum_interval_seconds=3600,
    default_status=dg.DefaultSensorStatus.STOPPED,
    description="Scrapes the CMS site; adds new samples as partitions; runs new or changed samples.",
)
def cms_new_files_sensor(context: dg.SensorEvaluationContext, cms_site: CmsSiteResource) -> dg.SensorResult:
    """Compare each file's ETag/Last-Modified/size with the cursor and request runs for what is new or changed."""
    previous: dict[str, str] = json.loads(context.cursor) if context.cursor else {}
    state = scan_site(cms_site)
    current = {pk: fingerprint(files) for pk, files in state.items()}
    known = set(context.instance.get_dynamic_partitions(cms_sample.name)) if context.instance else set()
    new_partitions = sorted(pk for pk in current if pk not in known)
    changed = sorted(pk for pk, fp in current.items() if previous.get(pk) != fp)
    runs = [
        dg.RunRequest(partition_key=pk, run_key=f"{pk}:{current[pk]}", tags={"cms/reason": _reason(pk, previous)})
        for pk in changed
    ]
    context.log.info(f"{len(current)} samples listed; new partitions {new_partitions}; runs for {changed}")
    return dg.SensorResult(
        run_requests=runs,
        dynamic_partitions_requests=[cms_sample.build_add_request(new_partitions)] if new_partitions else [],
        cursor=json.dumps(current, sort_keys=True),
    )


def _reason(pk: str, previous: dict[str, str]) -> str:
    return "changed" if pk in previous else "new"


@dg.schedule(
    job=sample_refresh_job,
    cron_schedule="0 6 * * 1",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Weekly refresh of every known sample (unchanged files are skipped by ETag and size).",
)
def weekly_cms_refresh(context: dg.ScheduleEvaluationContext) -> list[dg.RunRequest]:
    """The alternative to the sensor for users who prefer a fixed cadence."""
    keys = context.instance.get_dynamic_partitions(cms_sample.name)
    stamp = context.scheduled_execution_time.strftime("%Y-%m-%d")
    return [dg.RunRequest(partition_key=pk, run_key=f"{pk}:weekly:{stamp}") for pk in keys]
