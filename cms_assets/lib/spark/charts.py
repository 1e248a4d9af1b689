"""The model chart: predicted vs actual next-year cost (log axes) beside the top feature importances."""

from __future__ import annotations

import io


def cost_chart(
    points: list[tuple[float, float]], importances: list[tuple[str, float]], title: str, top: int = 15
) -> bytes:
    """PNG bytes. ``points`` are (actual, predicted) pairs, already a bounded sample; costs are shifted by $1 so
    that zero-cost beneficiaries still show on log axes."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12, 5), dpi=100)
    scatter, bars = fig.subplots(1, 2)
    actual = [max(a, 0.0) + 1 for a, _ in points]
    predicted = [max(p, 0.0) + 1 for _, p in points]
    scatter.scatter(actual, predicted, s=4, alpha=0.4)
    high = max([*actual, *predicted, 10.0])
    scatter.plot([1, high], [1, high], color="grey", linewidth=1)
    scatter.set_xscale("log")
    scatter.set_yscale("log")
    scatter.set_xlabel("actual next-year cost + $1")
    scatter.set_ylabel("predicted next-year cost + $1")
    scatter.set_title(f"{title} ({len(points)} sampled beneficiaries)")
    shown = importances[:top][::-1]
    bars.barh([n for n, _ in shown], [v for _, v in shown])
    bars.set_xlabel("importance (share)")
    bars.set_title("top feature importances")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
