"""The cost model end to end on a generated sample (generator + converter -> features -> train -> predict), and
the metrics on numbers worked out by hand."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest

from cms_assets.lib.ml.schemas import PREDICTION_SCHEMA
from cms_assets.lib.spark.features import build_features, read_tables, write_features
from cms_assets.lib.spark.model import (
    BASELINES,
    METRICS,
    ML_MODELS,
    evaluate,
    load_model,
    predict,
    save_model,
    train_cost_model,
)


@pytest.fixture(scope="module")
def features(spark, generated_root, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("features") / "sample=01")
    write_features(build_features(read_tables(spark, str(generated_root), 1)), out)
    return spark.read.parquet(out)


@pytest.fixture(scope="module")
def result(features):
    return train_cost_model(features, seed=42)


def test_every_metric_present_and_finite(result) -> None:
    got = {(m["MODEL_NAME"], m["SPLIT"], m["METRIC"]): m["VALUE"] for m in result.metrics}
    want = {(n, s, m) for n in ML_MODELS + BASELINES for s in ("temporal", "random") for m in METRICS}
    assert set(got) == want and len(result.metrics) == len(want)
    assert all(math.isfinite(v) for v in got.values()), {k: v for k, v in got.items() if not math.isfinite(v)}
    assert {m["MODEL_NAME"] for m in result.metrics if m["SELECTED"]} == {result.selected}
    assert result.train_rows > 1000 and result.valid_rows > 1000 and result.seconds > 0


def test_selected_model_beats_both_baselines_on_the_temporal_holdout(result) -> None:
    r2 = {m["MODEL_NAME"]: m["VALUE"] for m in result.metrics if m["SPLIT"] == "temporal" and m["METRIC"] == "r2"}
    assert result.selected in ML_MODELS, r2
    assert r2[result.selected] == max(r2.values())
    assert r2[result.selected] > r2["baseline_mean"] and r2[result.selected] > r2["baseline_last_year"], r2


def test_chart_and_importances(result) -> None:
    assert result.chart_png.startswith(b"\x89PNG\r\n\x1a\n") and len(result.chart_png) > 10_000
    assert result.importances and abs(sum(v for _, v in result.importances) - 1.0) < 1e-6
    names = [n for n, _ in result.importances]
    assert len(names) == len(set(names)) and "STATE" in names  # one-hot columns folded back to their feature


def test_saved_model_predicts_latest_year_per_beneficiary(spark, result, features, tmp_path) -> None:
    from pyspark.sql import functions as F

    save_model(result, str(tmp_path / "model"), "v-test")
    info = spark.read.text(str(tmp_path / "model" / "info")).first()["value"]
    assert '"selected": "' + result.selected in info
    scored = predict(load_model(str(tmp_path / "model")), features, "v-test").cache()
    arrow = scored.toArrow()
    assert [(f.name, f.type) for f in arrow.schema] == [(f.name, f.type) for f in PREDICTION_SCHEMA]
    latest = features.groupBy("DESYNPUF_ID").agg(F.max("YEAR").alias("YEAR"))
    assert scored.count() == latest.count() == scored.select("DESYNPUF_ID").distinct().count()
    assert scored.join(latest, ["DESYNPUF_ID", "YEAR"], "left_anti").count() == 0
    n = arrow.num_rows
    assert sum(arrow["HIGH_COST"].to_pylist()) == math.ceil(0.1 * n)
    pct = arrow["PREDICTED_PERCENTILE"].to_pylist()
    assert min(pct) == 0.0 and max(pct) == 100.0
    assert set(arrow["MODEL_VERSION"].to_pylist()) == {"v-test"}
    # The loaded model scores exactly as the one in memory.
    again = predict(result.model, features, "v-test")
    assert scored.exceptAll(again).count() == 0
    # The high-cost flag marks the highest predictions.
    high = scored.where("HIGH_COST = 1").agg(F.min("PREDICTED_NEXT_YEAR_COST")).first()[0]
    low = scored.where("HIGH_COST = 0").agg(F.max("PREDICTED_NEXT_YEAR_COST")).first()[0]
    assert high >= low
    scored.unpersist()


def test_metrics_by_hand(spark) -> None:
    # Ten beneficiaries; actual a, predicted p. Errors e = a - p: 0,0,0,0,0,0,0,0,-10,+10.
    actual = [0, 0, 0, 0, 0, 0, 0, 0, 100, 900]
    predicted = [0, 0, 0, 0, 0, 0, 0, 0, 110, 890]
    rows = [(f"{i:016X}", float(a), float(p)) for i, (a, p) in enumerate(zip(actual, predicted, strict=True))]
    df = spark.createDataFrame(rows, "DESYNPUF_ID string, NEXT_YEAR_COST double, prediction double")
    got = evaluate(df, 10)
    # mean a = 100; var_pop = (8 * 100^2 + 0^2 + 800^2) / 10 = (80000 + 640000) / 10 = 72000; sse = 200
    assert got["r2"] == pytest.approx(1 - 200 / (10 * 72000))
    assert got["rmse"] == pytest.approx(math.sqrt(200 / 10))
    assert got["mae"] == pytest.approx(20 / 10)
    # top 10% = ceil(1) row: the highest prediction (890) whose actual is 900, of a total 1000.
    assert got["top10_capture"] == pytest.approx(900 / 1000)


def test_training_needs_both_years(spark, features) -> None:
    with pytest.raises(ValueError, match="temporal split is empty"):
        train_cost_model(features.where("YEAR = 2008"))
    assert pa.types.is_float64(PREDICTION_SCHEMA.field("PREDICTED_NEXT_YEAR_COST").type)
