"""The insight report: a static HTML page with matplotlib charts of the BI views and the model metrics.

The page links PNG files written next to it (``<prefix>/index.html`` and ``<prefix>/<chart>.png``) rather than
embedding data URIs: the page stays small, every chart is also usable on its own, and a static S3 website or a
local folder serves both alike. Charts are written first and the page last, so a reader never sees a page that
points at charts not yet written. Sections whose inputs are missing say "not yet materialized" instead of failing.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cms_assets.lib import layout
from cms_assets.lib.storage import Storage

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from cms_assets.lib.warehouse.load import Warehouse

#: SSA state codes used by SP_STATE_CODE (CMS DE-SynPUF Codebook); 54 groups all others.
SSA_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
    "OK OR PA PR RI SC SD TN TX UT VT VI VA WA WV WI WY"
).split()
STATE_LABELS = {i + 1: s for i, s in enumerate(SSA_STATES)} | {54: "Other"}
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


@dataclass(frozen=True)
class ReportResult:
    html_key: str
    png_keys: list[str]
    thumbnail_png: bytes = field(repr=False)  # a small PNG of the first chart, e.g. for Dagster metadata
    charts: int = 0


@dataclass
class _Section:
    title: str
    text: str
    chart: Callable[[Axes], None] | None = None  # None: the inputs are not yet materialized
    table: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""


def _rows(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    """Query rows with decimals as floats (the charts need numbers, not exact cents)."""
    return [{k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in wh.query(sql).to_pylist()]


def _money(v: float | None) -> str:
    return "-" if v is None else f"${v:,.0f}"


def _grouped_bars(
    ax: Axes, categories: list[str], series: dict[str, list[float]], ylabel: str, horizontal: bool = False
) -> None:
    """Side-by-side bars: one group per category, one bar per series."""
    n = max(1, len(series))
    width = 0.8 / n
    for i, (label, values) in enumerate(series.items()):
        pos = [c + (i - (n - 1) / 2) * width for c in range(len(categories))]
        if horizontal:
            ax.barh(pos, values, height=width, label=label, color=_COLORS[i % len(_COLORS)])
        else:
            ax.bar(pos, values, width=width, label=label, color=_COLORS[i % len(_COLORS)])
    if horizontal:
        ax.set_yticks(range(len(categories)), categories)
        ax.set_xlabel(ylabel)
        ax.invert_yaxis()
    else:
        ax.set_xticks(range(len(categories)), categories)
        ax.set_ylabel(ylabel)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)


def _cost_sections(wh: Warehouse, s: str) -> list[_Section]:
    years = _rows(
        wh,
        f"SELECT year, SUM(beneficiaries) AS beneficiaries, SUM(medreimb_ip) AS ip, SUM(medreimb_op) AS op, "
        f"SUM(medreimb_car) AS car, SUM(medreimb_total) AS total FROM {s}.v_cost_by_state GROUP BY year ORDER BY year",
    )
    if not years:
        note = "not yet materialized: the warehouse has no beneficiary_summary rows."
        return [_Section("Medicare reimbursement", note)]
    latest = max(r["year"] for r in years)
    states = _rows(
        wh,
        f"SELECT state_code, SUM(beneficiaries) AS n, SUM(medreimb_total) AS total FROM {s}.v_cost_by_state "
        f"WHERE year = {int(latest)} GROUP BY state_code",
    )
    states.sort(key=lambda r: -r["total"] / r["n"])
    age_sex = _rows(
        wh,
        f"SELECT age_band, sex, SUM(beneficiaries) AS n, SUM(medreimb_total) AS total FROM {s}.v_cost_by_age_sex "
        f"WHERE year = {int(latest)} GROUP BY age_band, sex",
    )
    race = _rows(
        wh,
        f"SELECT year, race, SUM(beneficiaries) AS n, SUM(medreimb_total) AS total FROM {s}.v_cost_by_race "
        "GROUP BY year, race ORDER BY year, race",
    )

    def by_year(ax: Axes) -> None:
        cats = [str(r["year"]) for r in years]
        bottom = [0.0] * len(years)
        for i, (key, label) in enumerate((("ip", "inpatient"), ("op", "outpatient"), ("car", "carrier"))):
            vals = [r[key] / r["beneficiaries"] for r in years]
            ax.bar(cats, vals, bottom=bottom, label=label, color=_COLORS[i])
            bottom = [b + v for b, v in zip(bottom, vals, strict=True)]
        ax.set_ylabel("Medicare reimbursement per beneficiary ($)")
        ax.legend(frameon=False)
        ax.grid(axis="y", alpha=0.3)

    def by_state(ax: Axes) -> None:
        top = states[:25]
        labels = [STATE_LABELS.get(int(r["state_code"]), str(r["state_code"])) for r in top]
        _grouped_bars(ax, labels, {str(latest): [r["total"] / r["n"] for r in top]}, "per beneficiary ($)", True)

    def by_age_sex(ax: Axes) -> None:
        bands = [b for b in ("<65", "65-74", "75-84", "85+", "unknown") if any(r["age_band"] == b for r in age_sex)]
        cell = {(r["age_band"], r["sex"]): r["total"] / r["n"] for r in age_sex}
        series = {sex: [cell.get((b, sex), 0.0) for b in bands] for sex in ("female", "male")}
        _grouped_bars(ax, bands, series, "per beneficiary ($)")

    def by_race(ax: Axes) -> None:
        races = sorted({r["race"] for r in race})
        cell = {(r["year"], r["race"]): r["total"] / r["n"] for r in race}
        series = {str(y["year"]): [cell.get((y["year"], x), 0.0) for x in races] for y in years}
        _grouped_bars(ax, races, series, "per beneficiary ($)")

    table = [
        {
            "Year": r["year"],
            "Beneficiaries": f"{int(r['beneficiaries']):,}",
            "Medicare reimbursement": _money(r["total"]),
            "Per beneficiary": _money(r["total"] / r["beneficiaries"]),
        }
        for r in years
    ]
    return [
        _Section(
            "Medicare reimbursement per beneficiary by year",
            "Inpatient, outpatient and carrier reimbursement (MEDREIMB_*) of the beneficiary summary files.",
            by_year,
            table,
            name="cost_by_year",
        ),
        _Section(
            f"Highest-cost states, {latest}",
            "Per-beneficiary reimbursement, top 25 SSA state codes.",
            by_state,
            name="cost_by_state",
        ),
        _Section(
            f"Cost by age band and sex, {latest}", "Age on 1 January of the year.", by_age_sex, name="cost_by_age_sex"
        ),
        _Section("Cost by race and year", "BENE_RACE_CD: white, black, other, hispanic.", by_race, name="cost_by_race"),
    ]


def _condition_sections(wh: Warehouse, s: str) -> list[_Section]:
    rows = _rows(wh, f"SELECT * FROM {s}.v_chronic_conditions ORDER BY condition, year")
    if not rows:
        return []
    names = sorted({r["condition_name"] for r in rows})
    years = sorted({r["year"] for r in rows})
    latest = years[-1]
    cell = {(r["condition_name"], r["year"]): r for r in rows}

    def prevalence(ax: Axes) -> None:
        series = {str(y): [100 * cell[(n, y)]["prevalence"] for n in names] for y in years}
        _grouped_bars(ax, names, series, "beneficiaries with the condition (%)", horizontal=True)

    def cost(ax: Axes) -> None:
        series = {
            "with the condition": [cell[(n, latest)]["per_capita_with"] or 0.0 for n in names],
            "without": [cell[(n, latest)]["per_capita_without"] or 0.0 for n in names],
        }
        _grouped_bars(ax, names, series, f"reimbursement per beneficiary, {latest} ($)", horizontal=True)

    return [
        _Section(
            "Chronic condition prevalence by year",
            "SP_* flags (1 = yes) of the beneficiary files.",
            prevalence,
            name="chronic_prevalence",
        ),
        _Section(
            f"Cost with and without each condition, {latest}",
            "Per-beneficiary reimbursement.",
            cost,
            name="chronic_cost",
        ),
    ]


def _cohort_section(wh: Warehouse, s: str) -> _Section:
    title = "Predicted high-cost cohort by state"
    rows = _rows(
        wh,
        f"SELECT state_code, SUM(high_cost) AS hc, SUM(predicted_cost_high_cost) AS predicted, "
        f"SUM(actual_cost_high_cost) AS actual, SUM(actual_cost_all) AS actual_all FROM {s}.v_high_cost_by_state "
        "GROUP BY state_code",
    )
    rows = [r for r in rows if r["hc"]]
    if not rows:
        return _Section(title, "not yet materialized: no cost predictions (or features) in the warehouse yet.")
    rows.sort(key=lambda r: -r["hc"])
    top = rows[:20]

    def chart(ax: Axes) -> None:
        labels = [STATE_LABELS.get(int(r["state_code"]), "?") if r["state_code"] else "?" for r in top]
        series = {
            "predicted": [(r["predicted"] or 0) / r["hc"] for r in top],
            "actual": [(r["actual"] or 0) / r["hc"] for r in top],
        }
        _grouped_bars(ax, labels, series, "next-year cost per high-cost beneficiary ($)")
        ax.tick_params(axis="x", labelrotation=90)

    captured = sum(r["actual"] or 0 for r in rows) / max(1e-9, sum(r["actual_all"] or 0 for r in rows))
    text = (
        f"Top 10% predicted next-year cost, the 20 states with most such beneficiaries. The cohort accounts for "
        f"{100 * captured:.1f}% of the actual next-year cost of all scored beneficiaries."
    )
    return _Section(title, text, chart, name="high_cost_cohort")


def _metrics_section(wh: Warehouse, s: str) -> _Section:
    title = "Model metrics (latest version)"
    rows = _rows(wh, f"SELECT * FROM {s}.v_model_metrics_latest ORDER BY metric, model_name, split")
    if not rows:
        return _Section(title, "not yet materialized: no model metrics in the warehouse yet.")
    version = rows[0]["model_version"]
    metrics = sorted({r["metric"] for r in rows if r["metric"] != "mae" and r["metric"] != "rmse"}) or sorted(
        {r["metric"] for r in rows}
    )
    models = sorted({r["model_name"] for r in rows})
    splits = sorted({r["split"] for r in rows})

    def chart(ax: Axes) -> None:
        cell = {(r["model_name"], r["split"], r["metric"]): r["metric_value"] for r in rows}
        cats = [f"{m}\n{sp}" for m in models for sp in splits]
        series = {met: [cell.get((m, sp, met)) or 0.0 for m in models for sp in splits] for met in metrics}
        _grouped_bars(ax, cats, series, "value")
        ax.tick_params(axis="x", labelsize=7)

    table = [
        {
            "Model": r["model_name"] + (" (selected)" if r["selected"] else ""),
            "Split": r["split"],
            "Metric": r["metric"],
            "Value": f"{r['metric_value']:.4g}",
        }
        for r in rows
    ]
    return _Section(
        f"{title}: {version}", "Unitless metrics charted; all metrics in the table.", chart, table, "model_metrics"
    )


def _render(section: _Section, dpi: int = 100) -> bytes:
    from matplotlib.figure import Figure  # Agg through Figure.savefig: no pyplot global state

    fig = Figure(figsize=(9, 5), layout="constrained")
    ax = fig.subplots()
    assert section.chart is not None
    section.chart(ax)
    ax.set_title(section.title, fontsize=11)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _placeholder() -> _Section:
    """A chart-shaped note for the thumbnail of a report that has no data yet."""

    def note(ax: Axes) -> None:
        ax.text(0.5, 0.5, "no data loaded yet", ha="center", va="center", fontsize=28, color="#a33")
        ax.set_axis_off()

    return _Section("CMS DE-SynPUF insight report", "", note, name="placeholder")


def _html_table(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    head = "".join(f"<th>{html.escape(str(k))}</th>" for k in rows[0])
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1000px;color:#222}"
    "section{margin:2rem 0}img{max-width:100%;border:1px solid #ddd}"
    "table{border-collapse:collapse;margin:.5rem 0}td,th{border:1px solid #ccc;padding:.2rem .6rem;text-align:right}"
    ".missing{color:#a33;font-style:italic}.note{color:#666;font-size:.9rem}"
)


def _page(wh: Warehouse, sections: list[_Section], generated: str) -> str:
    parts = []
    for sec in sections:
        body = f"<p>{html.escape(sec.text)}</p>"
        if sec.chart is None:
            body = f'<p class="missing">{html.escape(sec.text)}</p>'
        else:
            body += f'<img src="{html.escape(sec.name)}.png" alt="{html.escape(sec.title)}">'
        parts.append(f"<section><h2>{html.escape(sec.title)}</h2>{body}{_html_table(sec.table)}</section>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>CMS DE-SynPUF insight report</title><style>{_CSS}</style></head><body>"
        "<h1>CMS DE-SynPUF insight report</h1>"
        f'<p class="note">Generated {html.escape(generated)} from {html.escape(repr(wh))}. DE-SynPUF is synthetic '
        "Medicare data (CMS): the figures demonstrate the pipeline and are not clinical or actuarial evidence.</p>"
        + "".join(parts)
        + "</body></html>"
    )


def build_report(wh: Warehouse, storage: Storage, key_prefix: str = layout.REPORTS) -> ReportResult:
    """Query the views, draw the charts, publish PNGs then ``index.html`` under ``key_prefix``."""
    wh.ensure_schema()
    wh.create_views()  # idempotent; the report must never read views older than the code
    s = wh.schema
    sections = [*_cost_sections(wh, s), *_condition_sections(wh, s), _cohort_section(wh, s), _metrics_section(wh, s)]
    charted = [sec for sec in sections if sec.chart is not None]
    png_keys = []
    for sec in charted:
        key = f"{key_prefix}/{sec.name}.png"
        storage.write_bytes(key, _render(sec))
        png_keys.append(key)
    thumbnail = _render(charted[0] if charted else _placeholder(), dpi=32)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    html_key = f"{key_prefix}/index.html"
    storage.write_bytes(html_key, _page(wh, sections, generated).encode())
    for stale in storage.list(key_prefix + "/"):  # charts of an earlier, longer report
        if stale.key.endswith(".png") and stale.key not in png_keys:
            storage.delete_prefix(stale.key)
    return ReportResult(html_key, png_keys, thumbnail, len(png_keys))
