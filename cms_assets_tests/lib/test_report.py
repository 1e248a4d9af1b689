"""The insight report: built from a small real warehouse, its links checked, and rendered by headless Chromium."""

from __future__ import annotations

import datetime as dt
import shutil
import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.warehouse.load import Warehouse, partition_keys
from cms_assets.lib.warehouse.report import ReportResult, build_report
from cms_assets_tests.lib.warehouse_data import metrics, write_sample

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.srcs.append(dict(attrs)["src"] or "")


def _fill(wh: Warehouse, storage: LocalStorage, samples: tuple[int, ...], ml: bool) -> None:
    wh.ensure_schema()
    for s in samples:
        for table in write_sample(storage, s, n=80, version="v1" if ml else None):
            wh.load_partition(table, s, storage, partition_keys(storage, table, s))
    if ml:
        wh.replace_rows("model_metrics", {"MODEL_VERSION": "v1"}, metrics("v1", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == PNG_MAGIC
    return struct.unpack(">II", data[16:24])


def _check_links(storage: LocalStorage, result: ReportResult) -> str:
    """Every <img> of the page must resolve to a PNG written next to it; return the page text."""
    page = storage.read_bytes(result.html_key).decode()
    parser = _Images()
    parser.feed(page)
    folder = result.html_key.rsplit("/", 1)[0]
    assert sorted(f"{folder}/{src}" for src in parser.srcs) == sorted(result.png_keys)
    for key in result.png_keys:
        assert storage.read_bytes(key)[:8] == PNG_MAGIC
    return page


@pytest.fixture
def full(tmp_path: Path) -> tuple[Warehouse, LocalStorage]:
    storage = LocalStorage(tmp_path / "data")
    wh = Warehouse.from_url(f"duckdb:///{tmp_path}/wh.duckdb")
    _fill(wh, storage, (1, 2), ml=True)
    return wh, storage


def test_report_has_every_chart_and_valid_links(full: tuple[Warehouse, LocalStorage]) -> None:
    wh, storage = full
    result = build_report(wh, storage, "reports/insight_report")
    assert result.html_key == "reports/insight_report/index.html"
    assert result.charts == len(result.png_keys) == 8
    page = _check_links(storage, result)
    assert "not yet materialized" not in page
    for title in ("per beneficiary by year", "Chronic condition prevalence", "high-cost cohort", "Model metrics"):
        assert title in page
    width, height = _png_size(result.thumbnail_png)
    assert 100 < width <= 400 and 50 < height <= 300


def test_missing_predictions_and_metrics_are_announced(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data")
    wh = Warehouse.from_url(f"duckdb:///{tmp_path}/wh.duckdb")
    storage.write_bytes("reports/r/old_chart.png", PNG_MAGIC)  # left over from an earlier report
    _fill(wh, storage, (1,), ml=False)
    result = build_report(wh, storage, "reports/r")
    page = _check_links(storage, result)
    assert result.charts == 6
    assert page.count("not yet materialized") == 2
    assert not storage.exists("reports/r/old_chart.png")


def test_empty_warehouse_still_gets_a_page(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data")
    wh = Warehouse.from_url(f"duckdb:///{tmp_path}/wh.duckdb")
    result = build_report(wh, storage)
    page = _check_links(storage, result)
    assert result.charts == 0 and page.count("not yet materialized") == 3
    assert _png_size(result.thumbnail_png)[0] > 0


def test_report_from_postgres(postgres_db_url: str, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data")
    wh = Warehouse.from_url(postgres_db_url)
    _fill(wh, storage, (1,), ml=True)
    result = build_report(wh, storage)
    assert result.charts == 8
    assert "not yet materialized" not in _check_links(storage, result)


@pytest.mark.skipif(CHROMIUM is None, reason="headless Chromium is not installed (apt-get install chromium)")
def test_report_renders_in_headless_chromium(full: tuple[Warehouse, LocalStorage], tmp_path: Path) -> None:
    from PIL import Image

    wh, storage = full
    result = build_report(wh, storage)
    page = storage.local_path(result.html_key)
    out = REPO / "test-artifacts" / "insight_report.png"
    out.parent.mkdir(exist_ok=True)
    out.unlink(missing_ok=True)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        f"--screenshot={out}",
        "--window-size=1280,2000",
    ]
    proc = subprocess.run([CHROMIUM, *flags, page.as_uri()], capture_output=True, text=True, timeout=180)
    assert out.exists(), proc.stderr[-2000:]
    with Image.open(out) as img:
        assert img.size == (1280, 2000)
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text and charts, not a blank or single-colour page
