"""The insight report: built from a small real warehouse, its links checked, and rendered by headless Chromium."""

from __future__ import annotations

import datetime as dt
import math
import struct
from html.parser import HTMLParser
from pathlib import Path

import pyarrow.compute as pc
import pytest

from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.warehouse.charts import Series, n_label
from cms_assets.lib.warehouse.load import Warehouse, partition_keys
from cms_assets.lib.warehouse.report import MartsMissing, ReportResult, build_report
from cms_assets.lib.warehouse.report_sections import count
from cms_assets_tests.fixtures.browser import Browser
from cms_assets_tests.lib.warehouse_data import STATES, build_marts, metrics, write_sample

REPO = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


class _Images(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.srcs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.srcs.append(dict(attrs)["src"] or "")


REPORT_STATES = [5, 10, 33]  # few states, so per-state cells reach n >= 11 on a small warehouse
CHARTS = {
    "cost_by_year", "cost_by_state", "cost_by_age_sex", "cost_by_race", "utilization", "part_d",
    "readmissions_by_year", "readmissions_by_state", "readmissions_by_drg", "ed_visits", "risk_by_year",
    "risk_by_state", "top_ccs", "top_diagnoses",
    "top_hcpcs", "top_ndc", "chronic_prevalence", "chronic_cost", "high_cost_holdout", "high_cost_current",
    "model_metrics", "model_lift", "model_calibration", "risk_model_comparison",
}  # fmt: skip
# Without the feature table there are no risk scores either (the feature query computes them).
NO_ML_CHARTS = CHARTS - {
    "high_cost_holdout", "high_cost_current", "model_metrics", "model_lift", "model_calibration",
    "risk_model_comparison", "risk_by_year", "risk_by_state",
}  # fmt: skip


def _fill(
    wh: Warehouse,
    storage: LocalStorage,
    samples: tuple[int, ...],
    ml: bool,
    n: int = 300,
    states: list[int] = REPORT_STATES,
    url: str = "",
) -> dict[int, dict]:
    """Load random samples into the warehouse and build the dbt marts on it (``url``: the warehouse's URL)."""
    wh.ensure_schema()
    data = {}
    for s in samples:
        data[s] = write_sample(storage, s, n=n, version="v1" if ml else None, states=states)
        for table in data[s]:
            wh.load_partition(table, s, storage, partition_keys(storage, table, s))
    if ml:
        wh.replace_rows("model_metrics", {"MODEL_VERSION": "v1"}, metrics("v1", dt.datetime(2026, 1, 1, tzinfo=dt.UTC)))
    build_marts(wh, url or wh.backend.describe())
    return data


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


def _names(result: ReportResult) -> set[str]:
    return {k.rsplit("/", 1)[1].removesuffix(".png") for k in result.png_keys}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, LocalStorage, dict[int, dict]]:
    tmp = tmp_path_factory.mktemp("report")
    storage = LocalStorage(tmp / "data")
    wh = Warehouse.from_url(f"duckdb:///{tmp}/wh.duckdb")
    data = _fill(wh, storage, (1, 2), ml=True)
    return wh, storage, data


@pytest.fixture
def full(built: tuple[Warehouse, LocalStorage, dict[int, dict]]) -> tuple[Warehouse, LocalStorage]:
    return built[0], built[1]


def test_report_has_every_chart_and_valid_links(full: tuple[Warehouse, LocalStorage]) -> None:
    wh, storage = full
    result = build_report(wh, storage, "reports/insight_report")
    assert result.html_key == f"reports/insight_report/history/{result.run}/index.html"
    assert _names(result) == CHARTS and result.charts == len(CHARTS)
    page = _check_links(storage, result)
    assert "not yet materialized" not in page
    for title in ("Cost per member month by year and setting", "Utilization per 1,000", "Top 20 ICD-9 diagnoses",
                  "Part D drug cost", "high-cost cohort on the holdout", "Decile lift", "Calibration",
                  "30-day all-cause readmissions by year", "Emergency-department visits per 1,000",
                  "Top 20 diagnosis categories (AHRQ CCS)",
                  "CMS-HCC V22 risk scores and risk-adjusted PMPM"):  # fmt: skip
        assert title in page
    # diagnoses carry their CMS names and CCS categories, not bare codes
    assert "Unspecified essential hypertension" in page and "98 Essential hypertension" in page
    assert "fewer than 11 beneficiaries" in page and "CMS cell-size convention" in page
    assert "beneficiary_summary: samples 1, 2" in page and "predictions by model v1" in page
    width, height = _png_size(result.thumbnail_png)
    assert 100 < width <= 450 and 50 < height <= 300


def test_cohort_section_shows_the_true_holdout_share(built: tuple[Warehouse, LocalStorage, dict[int, dict]]) -> None:
    wh, storage, data = built
    actual = {
        (r["DESYNPUF_ID"], r["YEAR"]): r["NEXT_YEAR_COST"] or 0.0
        for d in data.values()
        for r in d["beneficiary_features"].to_pylist()
    }
    holdout = [r for d in data.values() for r in d["cost_predictions"].to_pylist() if r["SCOPE"] == "holdout"]
    flagged = sum(actual[(r["DESYNPUF_ID"], r["YEAR"])] for r in holdout if r["HIGH_COST"])
    share = flagged / sum(actual[(r["DESYNPUF_ID"], r["YEAR"])] for r in holdout)
    assert 0.1 < share < 1
    page = _check_links(storage, build_report(wh, storage, "reports/cohort"))
    assert f"accounted for {100 * share:.1f}% of their actual 2010 cost" in page
    assert "2009 features scored by the model trained on 2008 -&gt; 2009" in page
    assert "no actual cost is shown" in page  # the current cohort: 2011 is not in the data


@pytest.fixture(scope="module")
def no_ml(tmp_path_factory: pytest.TempPathFactory) -> tuple[Warehouse, LocalStorage, dict[int, dict]]:
    """Two samples without a model, 80 beneficiaries each spread over 52 states: every state under 11."""
    tmp = tmp_path_factory.mktemp("report_no_ml")
    storage = LocalStorage(tmp / "data")
    wh = Warehouse.from_url(f"duckdb:///{tmp}/wh.duckdb")
    return wh, storage, _fill(wh, storage, (1, 2), ml=False, n=80, states=STATES)


def test_small_cells_are_suppressed(no_ml: tuple[Warehouse, LocalStorage, dict[int, dict]]) -> None:
    """Spread over 52 states, 160 beneficiaries leave every state under 11: the state chart shows none of them."""
    wh, storage, data = no_ml
    states = set()
    for sample in data.values():
        bene = sample["beneficiary_summary"]
        states |= set(bene.filter(pc.equal(bene["YEAR"], 2009))["SP_STATE_CODE"].to_pylist())
    page = _check_links(storage, build_report(wh, storage, "reports/small"))
    assert f"{len(states)} states with fewer than 11 beneficiaries suppressed" in page
    shown = Series("x", [5.0, 6.0, None], [11, 10, 40]).shown()
    assert shown[0] == 5.0 and math.isnan(shown[1]) and math.isnan(shown[2])
    assert (n_label("CA", 10), n_label("CA", 11), count(10), count(1234)) == ("CA (n<11)", "CA (n=11)", "<11", "1,234")


def test_runs_are_kept_with_a_latest_pointer(no_ml: tuple[Warehouse, LocalStorage, dict[int, dict]]) -> None:
    wh, storage, _ = no_ml
    first = build_report(wh, storage, "reports/r")
    second = build_report(wh, storage, "reports/r")
    assert first.run != second.run and sorted([first.run, second.run]) == [first.run, second.run]
    for result in (first, second):
        _check_links(storage, result)  # the first run's page and charts survive the second
    assert storage.read_json("reports/r/latest.json")["html_key"] == second.html_key
    redirect = storage.read_bytes(second.latest_key).decode()
    assert f'url=history/{second.run}/index.html"' in redirect


def test_missing_predictions_and_metrics_are_announced(
    no_ml: tuple[Warehouse, LocalStorage, dict[int, dict]],
) -> None:
    wh, storage, _ = no_ml
    result = build_report(wh, storage, "reports/missing")
    page = _check_links(storage, result)
    # every state and every drug under 11 beneficiaries here: those two charts have nothing they may show
    assert _names(result) == NO_ML_CHARTS - {"readmissions_by_state", "top_ndc"}
    # holdout cohort, current cohort, model metrics, risk scores, vs CMS-HCC
    assert page.count("not yet materialized") == 5
    assert "no risk scores: they come with the feature table" in page


def test_empty_warehouse_still_gets_a_page(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data")
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    wh = Warehouse.from_url(url)
    wh.ensure_schema()
    with pytest.raises(MartsMissing, match="cms_marts lacks financial_pmpm, .*materialize the marts group"):
        build_report(wh, storage)  # no dbt run yet: a clear error, not a page of SQL errors
    build_marts(wh, url)
    result = build_report(wh, storage)
    page = _check_links(storage, result)
    # cost, utilization, Part D, readmissions, ED visits, risk, four top-code sections, two cohorts, model metrics
    assert result.charts == 0 and page.count("not yet materialized") == 14
    assert _png_size(result.thumbnail_png)[0] > 0


def test_report_from_postgres(postgres_db_url: str, tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "data")
    wh = Warehouse.from_url(postgres_db_url)
    _fill(wh, storage, (1, 2), ml=True, url=postgres_db_url)
    result = build_report(wh, storage)
    assert _names(result) == CHARTS
    assert "not yet materialized" not in _check_links(storage, result)


def test_report_renders_in_headless_chromium(full: tuple[Warehouse, LocalStorage], browser: Browser) -> None:
    """A full-page screenshot for a person to read (test-artifacts/insight_report.png): every chart, titled, with n."""
    from PIL import Image

    wh, storage = full
    result = build_report(wh, storage)
    out = REPO / "test-artifacts" / "insight_report.png"
    tall = Browser(browser.binary, virtual_time_ms=5000, window=f"1100,{700 * len(CHARTS) + 1500}")
    tall.screenshot(storage.local_path(result.latest_key).as_uri(), out, timeout=180)  # through the redirect
    with Image.open(out) as img:
        assert img.size[0] == 1100
        colours = img.convert("RGB").getcolors(maxcolors=1_000_000)
    assert colours is not None and len(colours) > 50  # text and charts, not a blank or single-colour page
    dom = tall.dump_dom(storage.local_path(result.latest_key).as_uri())
    assert dom.count("<img") == len(CHARTS) and dom.count("<h2>") == dom.count("<section>") >= len(CHARTS)
