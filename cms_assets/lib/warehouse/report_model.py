"""The model half of the insight report: the high-cost cohort (holdout and current) and the model's evidence.

The cohort is judged where its outcome is known: the temporal holdout (2009 features scored by the model trained on
2008 -> 2009, against actual 2010 cost). The current cohort (latest-year features) is shown with its predictions
only: its next year is not in DE-SynPUF, and an absent actual is not a zero.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cms_assets.lib.ml.schemas import BASELINES, CURRENT, HOLDOUT
from cms_assets.lib.warehouse.charts import COLORS, MIN_CELL, Series, bars, suppressed
from cms_assets.lib.warehouse.report_sections import Section, count, money, rows, state_label

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from cms_assets.lib.warehouse.load import Warehouse

HEADLINE = ["r2", "mae", "rmse", "top10_capture", "top_decile_lift", "rows"]


def _cohort(wh: Warehouse, s: str, scope: str) -> list[dict[str, Any]]:
    return rows(
        wh,
        "SELECT state_code, MIN(feature_year) AS year, SUM(scored) AS n, SUM(high_cost) AS hc, "
        "SUM(predicted_cost_high_cost) AS predicted, SUM(actual_cost_high_cost) AS actual, "
        f"SUM(actual_cost_all) AS actual_all FROM {s}.high_cost_cohort WHERE scope = '{scope}' "
        "GROUP BY state_code",
    )


def cohort_share(wh: Warehouse, s: str) -> dict[str, float] | None:
    """Holdout cohort totals: scored, flagged, flagged share of actual next-year cost, mean predicted and actual."""
    data = _cohort(wh, s, HOLDOUT)
    n, hc = sum(r["n"] for r in data), sum(r["hc"] or 0 for r in data)
    if not n or not hc:
        return None
    actual = sum(r["actual"] or 0 for r in data)
    total = sum(r["actual_all"] or 0 for r in data)
    return {
        "year": min(r["year"] for r in data),
        "scored": n,
        "flagged": hc,
        "share": actual / total if total else 0.0,
        "predicted_mean": sum(r["predicted"] or 0 for r in data) / hc,
        "actual_mean": actual / hc,
    }


def _state_chart(top: list[dict[str, Any]], with_actual: bool, ylabel: str):
    def chart(fig: Figure) -> None:
        ax = fig.subplots()
        cats = [state_label(r["state_code"]) for r in top]
        n = [r["hc"] for r in top]
        series = [Series("predicted", [(r["predicted"] or 0) / r["hc"] for r in top], n)]
        if with_actual:
            series.append(Series("actual", [(r["actual"] or 0) / r["hc"] for r in top], n))
        bars(ax, cats, series, ylabel)
        ax.tick_params(axis="x", labelrotation=90)

    return chart


def cohort_sections(wh: Warehouse, s: str) -> list[Section]:
    out = []
    total = cohort_share(wh, s)
    title = "Predicted high-cost cohort on the holdout: predicted vs actual next-year cost"
    if total is None:
        out.append(Section(title, "not yet materialized: no holdout predictions (or features) in the warehouse."))
    else:
        data = [r for r in _cohort(wh, s, HOLDOUT) if not suppressed(r["hc"])]
        top = sorted(data, key=lambda r: -r["hc"])[:20]
        y = int(total["year"])
        text = (
            f"{y} features scored by the model trained on {y - 1} -> {y} (a temporal holdout), against actual {y + 1} "
            f"cost. The predicted top 10% ({int(total['flagged']):,} of {int(total['scored']):,} beneficiaries) "
            f"accounted for {100 * total['share']:.1f}% of their actual {y + 1} cost (10% if ranked at random); "
            f"predicted {money(total['predicted_mean'])} vs actual {money(total['actual_mean'])} per flagged "
            f"beneficiary. Bars: the 20 states with most flagged beneficiaries, n = flagged beneficiaries; states "
            f"with fewer than {MIN_CELL} suppressed."
        )
        chart = _state_chart(top, True, f"{y + 1} cost per flagged beneficiary ($)") if top else None
        out.append(Section(title, text, chart, name="high_cost_holdout"))
    current = _cohort(wh, s, CURRENT)
    title = "Current high-cost cohort: predicted next-year cost"
    if not any(r["hc"] for r in current):
        out.append(Section(title, "not yet materialized: no current predictions in the warehouse."))
        return out
    years = rows(
        wh,
        f"SELECT feature_year AS y, SUM(scored) AS n FROM {s}.high_cost_cohort WHERE scope = '{CURRENT}' "
        "GROUP BY feature_year ORDER BY 2 DESC, 1 DESC",
    )
    y = int(years[0]["y"])  # the usual latest year (a few beneficiaries leave the data earlier)
    shown = sorted([r for r in current if not suppressed(r["hc"])], key=lambda r: -r["hc"])[:20]
    hc, scored = sum(r["hc"] or 0 for r in current), sum(r["n"] for r in current)
    text = (
        f"Each beneficiary's latest feature year (mostly {y}) scored for the next: {int(hc):,} of {int(scored):,} "
        f"flagged. {y + 1} is not in DE-SynPUF, so no actual cost is shown. n = flagged beneficiaries per state; "
        f"states with fewer than {MIN_CELL} suppressed."
    )
    chart = _state_chart(shown, False, f"predicted {y + 1} cost per flagged beneficiary ($)") if shown else None
    out.append(Section(title, text, chart, name="high_cost_current"))
    return out


def _metric_cells(data: list[dict[str, Any]]) -> dict[tuple[str, str, str], float]:
    return {(r["model_name"], r["split"], r["metric"]): r["metric_value"] for r in data}


def model_sections(wh: Warehouse, s: str) -> list[Section]:
    title = "Model metrics (latest version)"
    data = rows(wh, f"SELECT * FROM {s}.model_metrics_latest ORDER BY model_name, split, metric")
    if not data:
        return [Section(title, "not yet materialized: no model metrics in the warehouse yet.")]
    version = data[0]["model_version"]
    cell = _metric_cells(data)
    models = sorted({r["model_name"] for r in data})
    selected = next((r["model_name"] for r in data if r["selected"]), models[0])
    splits = sorted({r["split"] for r in data}, reverse=True)  # temporal first
    n = cell.get((selected, "temporal", "rows"))
    n_text = f"n = {int(n):,} beneficiaries scored on the temporal holdout" if n else "n not recorded"

    def headline(fig: Figure) -> None:
        left, right = fig.subplots(1, 2)
        for ax, metric, label in ((left, "r2", "R2 (next-year cost, $)"), (right, "top10_capture",
                                  "top-10% capture (share of next-year cost)")):  # fmt: skip
            series = [Series(sp, [cell.get((m, sp, metric)) for m in models]) for sp in splits]
            bars(ax, [m + (" *" if m == selected else "") for m in models], series, label, annotate_n=False)
            ax.set_title(label, fontsize=9)
            ax.tick_params(axis="x", labelrotation=30)

    compared = [selected, *[b for b in BASELINES if b in models and b != selected]]

    def lift(fig: Figure) -> None:
        ax = fig.subplots()
        deciles = [str(d) for d in range(1, 11)]
        series = [
            Series(m, [cell.get((m, "temporal", f"decile_{d:02d}_cost_share")) for d in range(1, 11)]) for m in compared
        ]
        bars(ax, deciles, series, "share of actual next-year cost", annotate_n=False)
        ax.axhline(0.1, color="grey", linewidth=1, linestyle="--", label="random (10%)")
        ax.set_xlabel("predicted decile (1 = highest predicted)")
        ax.legend(frameon=False, fontsize=8)

    def calibration(fig: Figure) -> None:
        ax = fig.subplots()
        high = 1.0
        for i, m in enumerate(compared):
            pred = [cell.get((m, "temporal", f"decile_{d:02d}_mean_predicted")) for d in range(1, 11)]
            act = [cell.get((m, "temporal", f"decile_{d:02d}_mean_actual")) for d in range(1, 11)]
            pts = [(a, p) for a, p in zip(act, pred, strict=True) if a is not None and p is not None]
            if not pts:
                continue
            ax.plot([a for a, _ in pts], [p for _, p in pts], marker="o", color=COLORS[i % len(COLORS)], label=m)
            high = max(high, *[v for pt in pts for v in pt])
        ax.plot([0, high], [0, high], color="grey", linewidth=1, linestyle="--", label="perfect calibration")
        ax.set_xlabel("mean actual next-year cost per decile ($)")
        ax.set_ylabel("mean predicted next-year cost per decile ($)")
        ax.legend(frameon=False, fontsize=8)
        ax.grid(alpha=0.3)

    table = [
        {
            "Model": m + (" (selected)" if m == selected else ""),
            "Split": sp,
            **{k: _fmt(k, cell.get((m, sp, k))) for k in HEADLINE},
        }
        for m in models
        for sp in splits
    ]
    return [
        Section(
            f"{title}: {version}",
            f"Selected by temporal R2 (*). {n_text}. R2 and top-10% capture on separate axes; all in the table.",
            headline,
            table,
            "model_metrics",
            size=(12, 5),
        ),
        Section(
            "Decile lift: share of next-year cost by predicted decile",
            f"Temporal holdout, {selected} (selected) against the baselines; {n_text}, about a tenth per decile.",
            lift,
            name="model_lift",
        ),
        Section(
            "Calibration: mean predicted vs mean actual next-year cost per predicted decile",
            f"Temporal holdout; points on the diagonal are calibrated; {n_text}.",
            calibration,
            name="model_calibration",
            size=(8, 6),
        ),
    ]


def _fmt(metric: str, v: float | None) -> str:
    if v is None:
        return "-"
    if metric == "rows":
        return count(v)
    return f"{v:,.0f}" if metric in ("mae", "rmse") else f"{v:.3f}"
