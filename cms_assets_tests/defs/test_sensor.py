"""cms_new_files_sensor over real HTTP against the local CMS mirror: new samples, changed files, no change."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.defs.ingest.sensor import build_cms_sensor, weekly_cms_refresh
from cms_assets.defs.resources import CmsSiteResource, StorageResource
from cms_assets.lib.synpuf.names import FileSpec, Kind
from cms_assets.sim.generate import generate_sample
from cms_assets.sim.mirror import CmsMirror


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    generate_sample(tmp_path, 1, scale=0.001, seed=1)
    return tmp_path


def _evaluate(instance: dg.DagsterInstance, url: str, cursor: str | None) -> dg.SensorResult:
    resources = {"cms_site": CmsSiteResource(landing_url=url, retries=1)}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = build_cms_sensor()(context)
    for request in result.dynamic_partitions_requests or []:
        instance.add_dynamic_partitions(request.partitions_def_name, list(request.partition_keys))
    return result


def test_sensor_new_sample_changed_file_and_quiet(site_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    instance = dg.DagsterInstance.ephemeral()
    with CmsMirror(site_dir) as mirror:
        first = _evaluate(instance, mirror.landing_url, None)
        assert [r.partition_key for r in first.run_requests] == ["sample_01"]
        assert first.run_requests[0].tags["cms/reason"] == "new"
        assert instance.get_dynamic_partitions("cms_sample") == ["sample_01"]

        quiet = _evaluate(instance, mirror.landing_url, first.cursor)
        assert quiet.run_requests == [] and not quiet.dynamic_partitions_requests

        generate_sample(site_dir, 2, scale=0.001, seed=1)  # a new sample appears on the site
        second = _evaluate(instance, mirror.landing_url, quiet.cursor)
        assert [r.partition_key for r in second.run_requests] == ["sample_02"]
        assert sorted(instance.get_dynamic_partitions("cms_sample")) == ["sample_01", "sample_02"]

        other = tmp_path_factory.mktemp("regen")
        generate_sample(other, 1, scale=0.001, seed=99)  # CMS republishes one file of sample 1
        name = FileSpec(Kind.PDE, 1).zip_name
        shutil.copyfile(other / name, site_dir / name)
        changed = _evaluate(instance, mirror.landing_url, second.cursor)
        assert [r.partition_key for r in changed.run_requests] == ["sample_01"]
        assert changed.run_requests[0].tags["cms/reason"] == "changed"
        assert changed.run_requests[0].run_key != first.run_requests[0].run_key
        assert _entries(changed.cursor)["sample_02"] == _entries(second.cursor)["sample_02"]


def _entries(cursor: str | None) -> dict:
    return json.loads(cursor or "{}")["samples"]


def test_broken_sample_page_is_skipped_and_reported(site_dir: Path) -> None:
    """Sample 2's page lacks a file: sample 1 still proceeds; sample 2 stays out of the cursor until it is fixed."""
    generate_sample(site_dir, 2, scale=0.001, seed=1)
    instance = dg.DagsterInstance.ephemeral()
    with CmsMirror(site_dir) as mirror:
        first = _evaluate(instance, mirror.landing_url, None)
        assert sorted(r.partition_key for r in first.run_requests) == ["sample_01", "sample_02"]
        missing = site_dir / FileSpec(Kind.PDE, 2).zip_name
        aside = site_dir.parent / f"{missing.name}.aside"
        missing.rename(aside)  # the page now lacks the file; renaming back keeps its ETag and Last-Modified
        broken = _evaluate(instance, mirror.landing_url, first.cursor)
        assert broken.run_requests == []
        assert _entries(broken.cursor)["sample_02"] == _entries(first.cursor)["sample_02"]
        [observation] = broken.asset_events
        assert observation.partition == "sample_02"
        assert "MissingFilesError" in observation.metadata["sample_page_error"].value
        aside.rename(missing)
        fixed = _evaluate(instance, mirror.landing_url, broken.cursor)
        assert fixed.run_requests == []  # same files as before the page broke: nothing to download


def test_failed_download_is_requested_again_bounded(site_dir: Path) -> None:
    """A requested download that failed is requested again, at most MAX_ATTEMPTS times for the same files."""
    from cms_assets.defs.ingest.raw_zips import raw_cms_zips
    from cms_assets.defs.ingest.sensor import MAX_ATTEMPTS

    with dg.instance_for_test() as instance, CmsMirror(site_dir) as mirror:
        cursor = None
        keys = []
        for _ in range(MAX_ATTEMPTS + 1):
            result = _evaluate(instance, mirror.landing_url, cursor)
            cursor = result.cursor
            if not result.run_requests:
                break
            [request] = result.run_requests
            keys.append(request.run_key)
            failed = dg.materialize(  # the site is unreachable for this run: connection refused
                [raw_cms_zips],
                partition_key=request.partition_key,
                instance=instance,
                resources={
                    "cms_site": CmsSiteResource(landing_url="http://127.0.0.1:9/", retries=0),
                    "storage": StorageResource(url=str(site_dir.parent / "data")),
                },
                tags={"dagster/run_key": request.run_key},
                raise_on_error=False,
            )
            assert not failed.success
        assert len(keys) == MAX_ATTEMPTS and len(set(keys)) == MAX_ATTEMPTS
        assert _entries(cursor)["sample_01"]["attempts"] == MAX_ATTEMPTS


def test_weekly_schedule_requests_every_known_sample() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cms_sample", ["sample_01", "sample_03"])
        when = datetime(2026, 11, 23, 6, tzinfo=UTC)
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=when) as context:
            requests = weekly_cms_refresh(context)
    assert [r.partition_key for r in requests] == ["sample_01", "sample_03"]
    assert len({r.run_key for r in requests}) == 2
