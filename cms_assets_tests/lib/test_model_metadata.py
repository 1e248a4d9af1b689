"""The cost model's UI figures: headline numbers rounded for people, one table, and a lift chart small enough for
the Dagster UI to show inline (it hides markdown of 1,000 characters or more behind "[Show Markdown]")."""

from __future__ import annotations

import base64
import io
import math

import pytest
from PIL import Image

from cms_assets.lib.ml.artifacts import decile_shares, headline, metric_table
from cms_assets.lib.ml.inline_chart import UI_INLINE_LIMIT, lift_markdown

SHARES = {"gbt_log": [0.31, 0.17, 0.12, 0.1, 0.08, 0.07, 0.05, 0.04, 0.03, 0.03], "baseline_mean": [0.1] * 10}
METRICS = [
    {"MODEL_NAME": name, "SPLIT": split, "METRIC": metric, "VALUE": value}
    for name, r2 in (("gbt_log", 0.123456789), ("baseline_mean", -0.0001))
    for split in ("temporal", "random")
    for metric, value in (
        ("r2", r2), ("mae", 3210.987), ("rmse", 9876.5), ("top10_capture", SHARES[name][0]),
        ("top_decile_lift", SHARES[name][0] / 0.1), ("rows", 12345.0),
        *[(f"decile_{d:02d}_cost_share", s) for d, s in enumerate(SHARES[name], start=1)],
    )
]  # fmt: skip


def test_headline_is_the_selected_models_temporal_figures_rounded() -> None:
    assert headline(METRICS, "gbt_log") == {
        "temporal_r2": 0.123, "temporal_mae": 3211.0, "top10_capture": 0.31, "top_decile_lift": 3.1,
    }  # fmt: skip
    assert math.isnan(headline(METRICS, "linear")["temporal_r2"])  # a model without metrics: NaN, not 0


def test_metric_table_has_one_row_per_model_and_split_selected_first() -> None:
    rows = metric_table(METRICS, "gbt_log")
    assert [(r["model"], r["split"]) for r in rows] == [
        ("gbt_log (selected)", "temporal"), ("gbt_log (selected)", "random"),
        ("baseline_mean", "temporal"), ("baseline_mean", "random"),
    ]  # fmt: skip
    assert rows[0] == {
        "model": "gbt_log (selected)", "split": "temporal", "r2": 0.123, "mae": 3211.0, "rmse": 9876.0,
        "top10_capture": 0.31, "top_decile_lift": 3.1, "rows": 12345.0,
    }  # fmt: skip
    assert decile_shares(METRICS, "gbt_log") == SHARES["gbt_log"]


def test_lift_chart_fits_inline_and_is_a_png() -> None:
    md = lift_markdown(["gbt_log", "baseline_mean"], [SHARES["gbt_log"], SHARES["baseline_mean"]])
    assert len(md) < UI_INLINE_LIMIT
    assert "blue: gbt_log, orange: baseline_mean" in md and "gbt_log 31%" in md
    png = base64.b64decode(md.split("base64,")[1].rstrip(")"))
    with Image.open(io.BytesIO(png)) as img:
        assert img.format == "PNG" and img.size == (260, 120)
        assert len(img.convert("RGB").getcolors()) >= 3  # background, two series (and the 10% line)


def test_lift_markdown_refuses_to_outgrow_the_inline_limit() -> None:
    with pytest.raises(ValueError, match="shows only < 1000 inline"):
        lift_markdown(["x" * 900], [SHARES["gbt_log"]])
