"""The Dagster UI end to end: the real webserver on workspace.yaml, rendered by headless Chromium.

Screenshots land in test-artifacts/ui/ (gitignored) so a human, or CI, can look at what the test saw.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from cms_assets_tests.fixtures.browser import Browser
from cms_assets_tests.fixtures.procs import free_port, stop_group

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "ui"
BIN = Path(sys.executable).parent
PIPELINE_KEYS = ("raw_cms_zips", "beneficiary_summary", "carrier_claims", "beneficiary_features", "cost_model")
ALL_KEYS = (*PIPELINE_KEYS, "insight_report")

WORKSPACE_QUERY = """
{ workspaceOrError { __typename ... on Workspace { locationEntries { name loadStatus
    locationOrLoadError { __typename ... on PythonError { message stack }
      ... on RepositoryLocation { repositories { assetNodes { assetKey { path } } } } } } } } }
"""


@dataclass(frozen=True)
class Webserver:
    url: str
    location: str
    asset_keys: frozenset[str]


def _graphql(url: str, query: str) -> dict:
    req = urllib.request.Request(
        f"{url}/graphql", data=json.dumps({"query": query}).encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        body = json.load(resp)
    assert "errors" not in body, body["errors"]
    return body["data"]


def _loaded_location(url: str) -> tuple[str, frozenset[str]] | None:
    """(location name, asset keys) once the code location has loaded; a load error fails with its traceback."""
    entries = _graphql(url, WORKSPACE_QUERY)["workspaceOrError"]["locationEntries"]
    if not entries or entries[0]["loadStatus"] != "LOADED":
        return None
    loc = entries[0]["locationOrLoadError"]
    if loc["__typename"] == "PythonError":
        raise AssertionError(f"code location failed to load: {loc['message']}\n{''.join(loc['stack'])}")
    keys = {"/".join(n["assetKey"]["path"]) for repo in loc["repositories"] for n in repo["assetNodes"]}
    return entries[0]["name"], frozenset(keys)


def _wait_for_webserver(url: str, proc: subprocess.Popen, log: Path, timeout: float = 180) -> tuple[str, frozenset]:
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise AssertionError(f"dagster-webserver exited with {proc.returncode}:\n{log.read_text()[-4000:]}")
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=5):
                pass
            loaded = _loaded_location(url)
            if loaded:
                return loaded
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"webserver or code location not ready after {timeout}s:\n{log.read_text()[-4000:]}")
        time.sleep(1)


@contextmanager
def running_webserver(home: Path, env: dict[str, str], log: Path, daemon: bool = True) -> Iterator[Webserver]:
    """`dg dev` as `make dev` runs it (webserver and daemon, the project from pyproject's [tool.dg]), on a free
    port, for ``home``; ``daemon=False``: the webserver alone, on workspace.yaml (nothing may run)."""
    env = {**os.environ, **env, "DAGSTER_HOME": str(home), "CMS_ASSETS_DEPLOYMENT": "local"}
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    cmd = [str(BIN / "dg"), "dev", "--host", "127.0.0.1", "--port", str(port)]
    if not daemon:
        cmd = [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(ROOT / "workspace.yaml")]
    with log.open("w") as fh:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        location, keys = _wait_for_webserver(url, proc, log)
        # What "Skip" on the first-visit community dialog does; otherwise the dialog covers every screenshot.
        assert _graphql(url, "mutation { setNuxSeen }")["setNuxSeen"] is True
        yield Webserver(url, location, keys)
    finally:
        stop_group(proc)


@pytest.fixture(scope="module")
def webserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Webserver]:
    """The webserver with a throw-away DAGSTER_HOME."""
    tmp = tmp_path_factory.mktemp("ui")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    with running_webserver(home, {"CMS_ASSETS_DATA": str(tmp / "data")}, tmp / "webserver.log") as server:
        yield server


def assert_real_screenshot(png: Path) -> None:
    """A rendered page, not a blank page or a lone spinner: big enough and with many distinct colours."""
    from PIL import Image

    assert png.stat().st_size > 20_000, f"{png} is only {png.stat().st_size} bytes"
    with Image.open(png) as img:
        assert img.size == (1600, 1000)
        colours = img.convert("RGB").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 50, f"{png} has only {len(colours)} colours"


def test_code_location_serves_every_asset(webserver: Webserver) -> None:
    missing = set(ALL_KEYS) - webserver.asset_keys
    assert not missing, f"assets missing from the loaded code location: {sorted(missing)}"


def test_asset_catalog_lists_the_pipeline(webserver: Webserver, browser: Browser) -> None:
    # The catalog renders only the rows in view; with the dbt layer it holds about 60 keys, so look through a tall
    # window rather than a laptop's.
    tall = browser.with_window("1600,5000")
    dom = tall.dump_dom(f"{webserver.url}/assets")
    missing = [key for key in ALL_KEYS if key not in dom]
    assert not missing, f"/assets rendered without {missing}"
    assert "Something went wrong" not in dom


def test_asset_page_shows_definition_and_lineage(webserver: Webserver, browser: Browser) -> None:
    url = f"{webserver.url}/assets/carrier_claims"
    dom = browser.dump_dom(url)
    for text in ("carrier_claims", "raw_cms_zips", "beneficiary_summary", "beneficiary_features", "Definition"):
        assert text in dom, f"/assets/carrier_claims rendered without {text!r}"
    assert "Something went wrong" not in dom
    assert_real_screenshot(browser.screenshot(url, ARTIFACTS / "asset_carrier_claims.png"))


def test_lineage_graphs_render(webserver: Webserver, browser: Browser) -> None:
    group_url = f"{webserver.url}/locations/{webserver.location}/asset-groups/tables"
    dom = browser.dump_dom(group_url)
    for key in ("raw_cms_zips", "beneficiary_summary", "carrier_claims", "inpatient_claims"):
        assert key in dom, f"tables group graph rendered without {key!r}"
    assert_real_screenshot(browser.screenshot(group_url, ARTIFACTS / "lineage_tables.png"))

    global_url = f"{webserver.url}/asset-groups"
    dom = browser.dump_dom(global_url)
    for group in ("ingest", "tables", "ml", "warehouse"):
        assert group in dom, f"global lineage rendered without group {group!r}"
    assert_real_screenshot(browser.screenshot(global_url, ARTIFACTS / "lineage_global.png"))
