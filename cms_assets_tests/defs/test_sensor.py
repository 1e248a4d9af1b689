"""cms_new_files_sensor over real HTTP against the local CMS mirror: new samples, changed files, no change."""

import json
import shutil
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import pytest

from cms_assets.defs.ingest.sensor import cms_new_files_sensor, weekly_cms_refresh
from cms_assets.defs.resources import CmsSiteResource
from cms_assets.lib.generate import generate_sample
from cms_assets.lib.site.mirror import CmsMirror
from cms_assets.lib.synpuf.names import FileSpec, Kind


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    generate_sample(tmp_path, 1, scale=0.001, seed=1)
    return tmp_path


def _evaluate(instance: dg.DagsterInstance, url: str, cursor: str | None) -> dg.SensorResult:
    resources = {"cms_site": CmsSiteResource(landing_url=url, retries=1)}
    with dg.build_sensor_context(instance=instance, cursor=cursor, resources=resources) as context:
        result = cms_new_files_sensor(context)
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
        assert json.loads(changed.cursor)["sample_02"] == json.loads(second.cursor)["sample_02"]


def test_weekly_schedule_requests_every_known_sample() -> None:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions("cms_sample", ["sample_01", "sample_03"])
        when = datetime(2026, 11, 23, 6, tzinfo=UTC)
        with dg.build_schedule_context(instance=instance, scheduled_execution_time=when) as context:
            requests = weekly_cms_refresh(context)
    assert [r.partition_key for r in requests] == ["sample_01", "sample_03"]
    assert len({r.run_key for r in requests}) == 2
