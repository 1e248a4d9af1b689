"""A chart small enough to show inline in the Dagster UI: decile lift as a palette PNG inside short markdown.

Dagster's UI (1.13) renders a markdown metadata value in place only when it is under 1,000 characters; longer ones
hide behind "[Show Markdown]". There is no image metadata type, and a browser will not load file:// or private S3
images into the UI, so the chart travels as a data URI: a text-free bar chart quantized to four colours is about
350 base64 characters, leaving the words (title, legend, scale) to the markdown around it.
"""

from __future__ import annotations

import base64
import io
import math

UI_INLINE_LIMIT = 1000
COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c"]
_NAMES = ["blue", "orange", "green"]


def lift_png(series: list[list[float]], width: float = 2.6, height: float = 1.2) -> bytes:
    """Grouped bars of decile cost shares (one series per model) and a line at 10% (random ranking)."""
    from matplotlib.figure import Figure
    from PIL import Image

    fig = Figure(figsize=(width, height), dpi=100)
    ax = fig.add_axes((0.01, 0.03, 0.98, 0.94))
    k = len(series)
    w = 0.8 / max(1, k)
    for i, shares in enumerate(series):
        pos = [d + (i - (k - 1) / 2) * w for d in range(1, 11)]
        ax.bar(pos, [0.0 if math.isnan(v) else max(v, 0.0) for v in shares], width=w, color=COLORS[i % len(COLORS)])
    ax.axhline(0.1, color="black", linewidth=0.8)
    ax.set_xlim(0.4, 10.6)
    ax.set_axis_off()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    img = Image.open(io.BytesIO(buf.getvalue())).convert("RGB").quantize(colors=4)
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=True)
    return out.getvalue()


def lift_markdown(models: list[str], shares: list[list[float]]) -> str:
    """Markdown with the lift chart inline, its legend and the top-decile figures; under UI_INLINE_LIMIT."""
    png = base64.b64encode(lift_png(shares[: len(COLORS)])).decode()
    legend = ", ".join(f"{c}: {m}" for c, m in zip(_NAMES, models, strict=False))
    top = ", ".join(f"{m} {s[0]:.0%}" for m, s in zip(models, shares, strict=False) if not math.isnan(s[0]))
    md = (
        f"**Share of next-year cost by predicted decile** (temporal holdout; deciles 1-10, highest predicted "
        f"first; line = 10%, random). {legend}. Top decile: {top}.\n\n![decile lift](data:image/png;base64,{png})"
    )
    if len(md) >= UI_INLINE_LIMIT:
        raise ValueError(f"lift chart markdown is {len(md)} characters; the UI shows only < {UI_INLINE_LIMIT} inline")
    return md
