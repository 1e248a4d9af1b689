"""The insight report: a static HTML page with matplotlib charts of the dbt marts and the model's evidence.

The page links PNG files written next to it rather than embedding data URIs: the page stays small, every chart is
also usable on its own, and a static S3 website or a local folder serves both alike. Each run is kept:
``<prefix>/history/<run>/index.html`` with its charts, then ``<prefix>/latest.json`` and ``<prefix>/index.html`` (a
redirect) point at the newest; charts are written before their page and the pointers last, so a reader never sees
a page pointing at charts not yet written. Sections whose inputs are missing say "not yet materialized". Cells of
fewer than 11 beneficiaries are suppressed (CMS cell-size convention), which the page says.
"""

from __future__ import annotations

import datetime as dt
import html
import io
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cms_assets.lib import layout
from cms_assets.lib.storage import Storage
from cms_assets.lib.transform import layer_schema
from cms_assets.lib.warehouse.charts import MIN_CELL
from cms_assets.lib.warehouse.report_model import cohort_sections, model_sections
from cms_assets.lib.warehouse.report_sections import (
    Section,
    code_sections,
    comparison_section,
    condition_sections,
    cost_sections,
    ed_section,
    part_d_section,
    readmission_sections,
    risk_section,
    rows,
    utilization_section,
)

#: The marts the report reads (dbt models of cms_assets/transform/models/marts).
MARTS = (
    "financial_pmpm",
    "utilization",
    "chronic_conditions",
    "readmissions",
    "ed_visits",
    "diagnosis_categories",
    "diagnosis_codes",
    "top_hcpcs",
    "top_ndc",
    "high_cost_cohort",
    "model_metrics_latest",
    "risk_adjusted_pmpm",
    "risk_model_comparison",
)


class MartsMissing(RuntimeError):
    """The dbt marts the report reads are not in the warehouse yet."""


def _check_marts(wh: Warehouse, m: str) -> None:
    found = {
        r["table_name"]
        for r in rows(wh, f"select table_name from information_schema.tables where table_schema = '{m}'")
    }
    missing = [t for t in MARTS if t not in found]
    if missing:
        raise MartsMissing(
            f"the report reads the dbt marts, and {m} lacks {', '.join(missing)}: materialize the marts group "
            "(dbt models) first"
        )


if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from cms_assets.lib.warehouse.load import Warehouse


@dataclass(frozen=True)
class ReportResult:
    html_key: str  # this run's page, under <prefix>/history/<run>/
    png_keys: list[str]
    thumbnail_png: bytes = field(repr=False)  # a small PNG of the first chart, e.g. for Dagster metadata
    charts: int = 0
    run: str = ""
    latest_key: str = ""  # <prefix>/index.html, redirecting to the newest run


def _render(section: Section, dpi: int = 100) -> bytes:
    from matplotlib.figure import Figure  # Agg through Figure.savefig: no pyplot global state

    fig = Figure(figsize=section.size, layout="constrained")
    assert section.chart is not None
    section.chart(fig)
    fig.suptitle(section.title, fontsize=12)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None})
    return buf.getvalue()


def _placeholder() -> Section:
    """A chart-shaped note for the thumbnail of a report that has no data yet."""

    def note(fig: Figure) -> None:
        ax = fig.subplots()
        ax.text(0.5, 0.5, "no data loaded yet", ha="center", va="center", fontsize=28, color="#a33")
        ax.set_axis_off()

    return Section("CMS DE-SynPUF insight report", "", note, name="placeholder")


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


def _coverage(wh: Warehouse, s: str, m: str) -> str:
    """Which samples each source covers and which model version scored the predictions."""
    parts = []
    for table in ("beneficiary_summary", "carrier_claims", "cost_predictions"):
        found = [int(r["sample"]) for r in rows(wh, f"SELECT DISTINCT sample FROM {s}.{table} ORDER BY sample")]
        parts.append(f"{table}: samples {', '.join(map(str, found)) or 'none'}")
    versions = [r["v"] for r in rows(wh, f'SELECT DISTINCT "MODEL_VERSION" AS v FROM {s}.cost_predictions ORDER BY 1')]
    metrics = [r["v"] for r in rows(wh, f"SELECT DISTINCT model_version AS v FROM {m}.model_metrics_latest")]
    parts.append(
        f"predictions by model {', '.join(versions) or 'none'}; metrics of model {', '.join(metrics) or 'none'}"
    )
    return "; ".join(parts) + "."


def _page(wh: Warehouse, sections: list[Section], generated: str, coverage: str) -> str:
    parts = []
    for sec in sections:
        if sec.chart is None:
            body = f'<p class="missing">{html.escape(sec.text)}</p>'
        else:
            body = f"<p>{html.escape(sec.text)}</p>"
            body += f'<img src="{html.escape(sec.name)}.png" alt="{html.escape(sec.title)}">'
        parts.append(f"<section><h2>{html.escape(sec.title)}</h2>{body}{_html_table(sec.table)}</section>")
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>CMS DE-SynPUF insight report</title><style>{_CSS}</style></head><body>"
        "<h1>CMS DE-SynPUF insight report</h1>"
        f'<p class="note">Generated {html.escape(generated)} from {html.escape(repr(wh))}. Covers '
        f"{html.escape(coverage)} DE-SynPUF is synthetic Medicare data (CMS): the figures demonstrate the pipeline "
        "and are not clinical or actuarial evidence.</p>"
        f'<p class="note">Small cells: following the CMS cell-size convention for public tables, no chart or table '
        f"shows a cell of fewer than {MIN_CELL} beneficiaries; such cells are suppressed (shown as "
        f'"n&lt;{MIN_CELL}" or left out, and counted in the section text).</p>' + "".join(parts) + "</body></html>"
    )


def _run_name(storage: Storage, key_prefix: str, now: dt.datetime) -> str:
    """A sortable, unused run folder name: 20261201T183000Z, with -2, -3... if that second is taken."""
    base = now.strftime("%Y%m%dT%H%M%SZ")
    name, i = base, 1
    while storage.exists(f"{key_prefix}/history/{name}/index.html"):
        i += 1
        name = f"{base}-{i}"
    return name


def _redirect(run: str) -> str:
    target = f"history/{run}/index.html"
    return (
        f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="refresh" content="0; url='
        f'{target}"><title>CMS DE-SynPUF insight report</title></head><body><p>Latest report: <a href="{target}">'
        f"{run}</a>; earlier runs under history/.</p></body></html>"
    )


def build_report(wh: Warehouse, storage: Storage, key_prefix: str = layout.REPORTS) -> ReportResult:
    """Query the marts, draw the charts, publish this run's PNGs and page, then move the latest pointers."""
    s, m = wh.schema, layer_schema(wh.schema, "marts")
    _check_marts(wh, m)
    costs, ref = cost_sections(wh, m)
    sections = [
        *costs,
        utilization_section(wh, m),
        part_d_section(wh, m),
        *readmission_sections(wh, m),
        ed_section(wh, m),
        *risk_section(wh, m, ref),
        comparison_section(wh, m),
        *code_sections(wh, m, ref),
        *condition_sections(wh, m, ref),
        *cohort_sections(wh, m),
        *model_sections(wh, m),
    ]
    now = dt.datetime.now(dt.UTC)
    run = _run_name(storage, key_prefix, now)
    folder = f"{key_prefix}/history/{run}"
    charted = [sec for sec in sections if sec.chart is not None]
    png_keys = []
    for sec in charted:
        key = f"{folder}/{sec.name}.png"
        storage.write_bytes(key, _render(sec))
        png_keys.append(key)
    thumbnail = _render(charted[0] if charted else _placeholder(), dpi=32)
    html_key = f"{folder}/index.html"
    page = _page(wh, sections, now.strftime("%Y-%m-%d %H:%M UTC"), _coverage(wh, s, m))
    storage.write_bytes(html_key, page.encode())
    storage.write_json(f"{key_prefix}/latest.json", {"run": run, "html_key": html_key, "charts": len(png_keys)})
    latest_key = f"{key_prefix}/index.html"
    storage.write_bytes(latest_key, _redirect(run).encode())
    return ReportResult(html_key, png_keys, thumbnail, len(png_keys), run, latest_key)
