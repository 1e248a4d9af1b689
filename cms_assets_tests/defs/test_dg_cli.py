"""The dg CLI loads the project from pyproject's [tool.dg]: `dg check defs` passes and `dg list defs` shows the
same graph, checks, jobs, sensors and resources as the definitions the code server loads."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from cms_assets.daemon import ROOT, _bin
from cms_assets.definitions import build_definitions


def _dg(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "CMS_ASSETS_DATA": str(tmp_path / "data"), "DAGSTER_HOME": str(tmp_path)}
    env.pop("CMS_ASSETS_DEPLOYMENT", None)
    return subprocess.run([_bin("dg"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_dg_check_defs(tmp_path: Path) -> None:
    done = _dg("check", "defs", tmp_path=tmp_path)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "All definitions loaded successfully" in done.stdout + done.stderr


@pytest.mark.parametrize("broken", ["CMS_GBT_TREES"])
def test_dg_check_defs_names_a_bad_setting(tmp_path: Path, broken: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(broken, "many")
    done = _dg("check", "defs", tmp_path=tmp_path)
    assert done.returncode != 0 and f"{broken} must be a positive whole number, got 'many'" in done.stdout + done.stderr


def test_dg_list_defs_matches_the_definitions(tmp_path: Path) -> None:
    done = _dg("list", "defs", "--json", tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    listed = json.loads(done.stdout)
    defs = build_definitions("local", {"CMS_ASSETS_DATA": str(tmp_path / "data")})
    specs = {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}
    assert {a["asset_key"] for a in listed["assets"]} == set(specs)
    assert {a["asset_key"]: sorted(a["kinds"]) for a in listed["assets"]} == {
        k: sorted(s.kinds) for k, s in specs.items()
    }
    assert {s["name"] for s in listed["sensors"]} == {"cms_new_files_sensor", "cms_automation"}
    resources = {"storage", "cms_site", "spark", "warehouse", "model_size", "tables_io", "spark_io", "dbt"}
    assert {r["name"] for r in listed["resources"]} == resources
    assert len(listed["asset_checks"]) == len(list(defs.resolve_asset_graph().asset_check_keys))
