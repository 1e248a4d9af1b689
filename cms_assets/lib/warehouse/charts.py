"""Chart building blocks of the insight report: bars that carry their n and hide cells too small to publish.

CMS cell-size convention for public tables: no cell describing fewer than 11 beneficiaries is shown. A suppressed
bar is left out and its category says "n<11"; the section text counts what was suppressed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes

MIN_CELL = 11
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]


def suppressed(n: float | None) -> bool:
    """True for a cell of fewer than MIN_CELL beneficiaries (or an unknown count)."""
    return n is None or n < MIN_CELL


def n_label(label: str, n: float | None) -> str:
    """``label (n=1,234)``, or ``label (n<11)`` for a suppressed cell."""
    return f"{label} (n<{MIN_CELL})" if suppressed(n) else f"{label} (n={int(n or 0):,})"


def compact(v: float) -> str:
    """Axis numbers that stay short: 1,500 -> 1.5k, 2,000,000 -> 2M, 0.25 -> 0.25."""
    a = abs(v)
    if a >= 1e6:
        return f"{v / 1e6:g}M"
    if a >= 1e4:
        return f"{v / 1e3:g}k"
    return f"{v:,.0f}" if a >= 100 or v == int(v) else f"{v:g}"


@dataclass
class Series:
    """One bar series: its values and the beneficiaries behind each (None: not a beneficiary count, never hidden)."""

    label: str
    values: list[float | None]
    n: list[float | None] | None = None

    def shown(self) -> list[float]:
        """Values with suppressed and missing cells as NaN (matplotlib draws no bar)."""
        out = []
        for i, v in enumerate(self.values):
            hidden = v is None or (self.n is not None and suppressed(self.n[i]))
            out.append(math.nan if hidden else float(v or 0.0))
        return out


def bars(
    ax: Axes,
    categories: Sequence[str],
    series: Sequence[Series],
    value_label: str,
    horizontal: bool = False,
    annotate_n: bool = True,
) -> None:
    """Side-by-side bars, one group per category; each bar with a beneficiary count is annotated with its n."""
    k = max(1, len(series))
    width = 0.8 / k
    for i, s in enumerate(series):
        pos = [c + (i - (k - 1) / 2) * width for c in range(len(categories))]
        shown = s.shown()
        color = COLORS[i % len(COLORS)]
        drawn = (
            ax.barh(pos, shown, height=width, label=s.label, color=color)
            if horizontal
            else ax.bar(pos, shown, width=width, label=s.label, color=color)
        )
        if annotate_n and s.n is not None:
            labels = ["" if math.isnan(v) else f"n={int(n or 0):,}" for v, n in zip(shown, s.n, strict=True)]
            ax.bar_label(drawn, labels=labels, fontsize=7, padding=2, rotation=0 if horizontal else 90)
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    value_axis = ax.xaxis if horizontal else ax.yaxis
    value_axis.set_major_locator(MaxNLocator(6))
    value_axis.set_major_formatter(FuncFormatter(lambda v, _: compact(v)))
    if horizontal:
        ax.set_yticks(range(len(categories)), categories, fontsize=8)
        ax.set_xlabel(value_label)
        ax.invert_yaxis()
        ax.margins(x=0.15)
    else:
        ax.set_xticks(range(len(categories)), categories, fontsize=8)
        ax.set_ylabel(value_label)
        ax.margins(y=0.2)
    if len(series) > 1:
        ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="x" if horizontal else "y", alpha=0.3)
