"""The cost model end to end on a generated sample (generator + converter -> features -> train -> predict), and
the metrics on numbers worked out by hand."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from cms_assets.lib.ml.schemas import PREDICTION_SCHEMA
from cms_assets.lib.spark.features import build_features, read_tables, write_features
from cms_assets.lib.spark.model import (
    BASELINES,
    CODE_LISTS,
    DECILE_METRICS,
    GBT_PARAMS,
    LABEL,
    METRICS,
    ML_MODELS,
    RISK,
    RISK_INPUTS,
    SCORE_BASELINES,
    _fit,
    evaluate,
    fit_sample,
    gbt_params,
    importances,
    load_model,
    predict,
    prepare,
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
    want = {(n, s, m) for n in ML_MODELS + BASELINES for s in ("temporal", "random") for m in METRICS + DECILE_METRICS}
    assert set(got) == want and len(result.metrics) == len(want)
    assert all(math.isfinite(v) for v in got.values()), {k: v for k, v in got.items() if not math.isfinite(v)}
    assert {m["MODEL_NAME"] for m in result.metrics if m["SELECTED"]} == {result.selected}
    assert result.train_rows > 1000 and result.valid_rows > 1000 and result.seconds > 0
    for name in ML_MODELS + BASELINES:
        shares = [got[(name, "temporal", f"decile_{d:02d}_cost_share")] for d in range(1, 11)]
        assert sum(shares) == pytest.approx(1.0) and shares[0] == got[(name, "temporal", "top10_capture")]
        assert got[(name, "temporal", "rows")] == result.valid_rows


def test_selected_model_beats_both_baselines_on_the_temporal_holdout(result) -> None:
    r2 = {m["MODEL_NAME"]: m["VALUE"] for m in result.metrics if m["SPLIT"] == "temporal" and m["METRIC"] == "r2"}
    assert result.selected in ML_MODELS, r2
    assert r2[result.selected] == max(r2.values())
    assert r2[result.selected] > r2["baseline_mean"] and r2[result.selected] > r2["baseline_last_year"], r2


def test_score_baselines_pay_the_way_cms_does(features) -> None:
    """cms_hcc = RISK_SCORE x (mean next-year cost / mean RISK_SCORE) of the fit rows; demographics_only the same
    with DEMOGRAPHIC_SCORE."""
    labelled = prepare(features).where(f"{LABEL} IS NOT NULL AND YEAR = 2008")
    rows = labelled.select(LABEL, "RISK_SCORE", "DEMOGRAPHIC_SCORE", "HCC_LIST").collect()
    assert sum(r["HCC_LIST"] != "" for r in rows) > len(rows) / 4  # the generated sample has HCCs to learn from
    for name, score in SCORE_BASELINES.items():
        per_unit = sum(r[LABEL] for r in rows) / sum(r[score] for r in rows)
        scored = _fit(name, labelled, 42, GBT_PARAMS).transform(labelled).select(score, "prediction").collect()
        assert all(r["prediction"] == pytest.approx(r[score] * per_unit, rel=1e-9) for r in scored), name


def test_gbt_size_sets_the_trees_and_their_depth(features) -> None:
    labelled = prepare(features).where(f"{LABEL} IS NOT NULL")
    gbt = _fit("gbt", labelled, 42, gbt_params(trees=3, depth=2)).stages[-2]
    assert (gbt.getNumTrees, gbt.getOrDefault("maxDepth")) == (3, 2)
    assert gbt_params()["maxIter"] == GBT_PARAMS["maxIter"]
    with pytest.raises(ValueError, match="trees must be >= 1"):
        gbt_params(trees=0)


def test_fit_set_sampled_down_to_the_cap_by_beneficiary_and_the_same_on_every_run(features) -> None:
    labelled = prepare(features).where(f"{LABEL} IS NOT NULL AND YEAR = 2008")
    n = labelled.count()
    assert fit_sample(labelled, n, None, 42) is labelled and fit_sample(labelled, n, n, 42) is labelled
    drawn = fit_sample(labelled, n, n // 4, 42)
    rows = drawn.count()
    assert 0.8 * n / 4 < rows < 1.2 * n / 4, (rows, n)  # a hash sample: about the cap, not exactly
    ids = sorted(r[0] for r in drawn.select("DESYNPUF_ID").collect())
    assert ids == sorted(r[0] for r in fit_sample(labelled, n, n // 4, 42).select("DESYNPUF_ID").collect())
    assert ids != sorted(r[0] for r in fit_sample(labelled, n, n // 4, 7).select("DESYNPUF_ID").collect())


def test_capped_training_fits_on_the_sample_and_still_validates_on_every_held_out_row(features, result) -> None:
    capped = train_cost_model(features, seed=42, gbt=gbt_params(trees=3, depth=2), max_fit_rows=result.train_rows // 3)
    assert result.fit_rows == result.train_rows  # the module's sample is below the default cap
    assert capped.train_rows == result.train_rows and capped.valid_rows == result.valid_rows
    assert 0.2 * result.train_rows < capped.fit_rows < 0.45 * result.train_rows
    rows = {(m["MODEL_NAME"], m["SPLIT"]): m["VALUE"] for m in capped.metrics if m["METRIC"] == "rows"}
    assert rows[(capped.selected, "temporal")] == result.valid_rows


def test_chart_and_importances(result) -> None:
    assert result.chart_png.startswith(b"\x89PNG\r\n\x1a\n") and len(result.chart_png) > 10_000
    assert result.importances and abs(sum(v for _, v in result.importances) - 1.0) < 1e-6
    names = [n for n, _ in result.importances]
    assert len(names) == len(set(names)) and "STATE" in names  # one-hot columns folded back to their feature


def test_risk_candidates_take_the_hcc_flags_and_ccs_counts(result, features) -> None:
    """The *_hcc_ccs candidates' inputs: each HCC of HCC_LIST as 1, each CCS category of the vocabulary counted as
    often as CCS_LIST lists it, the CMS-HCC scores; their importances name the codes (HCC85, CCS108)."""
    from collections import Counter

    model = result.candidates[f"gbt_log{RISK}"]
    vocabularies = {s.getOutputCol(): s.vocabulary for s in model.stages if hasattr(s, "vocabulary")}
    hcc, ccs = (CODE_LISTS[c][0] for c in ("HCC_LIST", "CCS_LIST"))
    assert len(vocabularies[ccs]) == CODE_LISTS["CCS_LIST"][2] and set(vocabularies[hcc]) > {"HCC85", "HCC19"}
    rows = model.transform(prepare(features)).where("YEAR = 2009").select("HCC_LIST", "CCS_LIST", hcc, ccs).collect()
    for r in rows:
        flags = {vocabularies[hcc][i]: v for i, v in zip(r[hcc].indices, r[hcc].values, strict=True)}
        assert flags == {h: 1.0 for h in r["HCC_LIST"].split(",") if h}, r
        listed = Counter(c for c in r["CCS_LIST"].split(",") if c in vocabularies[ccs])
        counts = {vocabularies[ccs][i]: v for i, v in zip(r[ccs].indices, r[ccs].values, strict=True)}
        assert counts == {c: float(n) for c, n in listed.items()}, r
    assert sum(bool(r["HCC_LIST"]) for r in rows) > len(rows) / 4
    labelled = prepare(features).where(f"{LABEL} IS NOT NULL AND YEAR = 2008")
    names = [n for n, _ in importances(model, model.transform(labelled), labelled)]
    assert set(RISK_INPUTS) <= set(names) and any(n.startswith("HCC") and n[3:].isdigit() for n in names)
    assert any(n.startswith("CCS") for n in names) and not any(n.startswith(f"{ccs}_") for n in names)


def test_saved_model_predicts_current_and_holdout_scopes(spark, result, features, tmp_path) -> None:
    from pyspark.sql import functions as F

    save_model(result, str(tmp_path / "model"), "v-test")
    info = spark.read.text(str(tmp_path / "model" / "info")).first()["value"]
    assert '"selected": "' + result.selected in info
    scored = predict(load_model(str(tmp_path / "model")), features, "v-test").cache()
    arrow = scored.toArrow()
    assert [(f.name, f.type) for f in arrow.schema] == [(f.name, f.type) for f in PREDICTION_SCHEMA]
    assert set(arrow["SCOPE"].to_pylist()) == {"current", "holdout"}
    current = scored.where("SCOPE = 'current'")
    latest = features.groupBy("DESYNPUF_ID").agg(F.max("YEAR").alias("YEAR"))
    assert current.count() == latest.count() == current.select("DESYNPUF_ID").distinct().count()
    assert current.join(latest, ["DESYNPUF_ID", "YEAR"], "left_anti").count() == 0
    # The holdout: every 2009 row whose 2010 cost is known, and nothing else.
    holdout = scored.where("SCOPE = 'holdout'").select("DESYNPUF_ID", "YEAR")
    labelled = features.where("YEAR = 2009 AND NEXT_YEAR_COST IS NOT NULL").select("DESYNPUF_ID", "YEAR")
    assert holdout.count() == labelled.count() > 1000 and holdout.exceptAll(labelled).count() == 0
    for scope in ("current", "holdout"):
        part = arrow.filter(pc.equal(arrow["SCOPE"], scope))
        assert sum(part["HIGH_COST"].to_pylist()) == math.ceil(0.1 * part.num_rows)
        pct = part["PREDICTED_PERCENTILE"].to_pylist()
        assert min(pct) == 0.0 and max(pct) == 100.0
        # The high-cost flag marks the highest predictions of its scope.
        high = scored.where(f"SCOPE = '{scope}' AND HIGH_COST = 1").agg(F.min("PREDICTED_NEXT_YEAR_COST")).first()[0]
        low = scored.where(f"SCOPE = '{scope}' AND HIGH_COST = 0").agg(F.max("PREDICTED_NEXT_YEAR_COST")).first()[0]
        assert high >= low
    assert set(arrow["MODEL_VERSION"].to_pylist()) == {"v-test"}
    # The loaded model scores exactly as the one in memory.
    again = predict(result.model, features, "v-test")
    assert scored.exceptAll(again).count() == 0
    scored.unpersist()


def test_metrics_by_hand(spark) -> None:
    # Ten beneficiaries; actual a, predicted p. Errors e = a - p: 0,0,0,0,0,0,0,0,-10,+10.
    actual = [0, 0, 0, 0, 0, 0, 0, 0, 100, 900]
    predicted = [0, 0, 0, 0, 0, 0, 0, 0, 110, 890]
    rows = [(f"{i:016X}", float(a), float(p)) for i, (a, p) in enumerate(zip(actual, predicted, strict=True))]
    df = spark.createDataFrame(rows, "DESYNPUF_ID string, NEXT_YEAR_COST double, prediction double")
    got = evaluate(df)
    # mean a = 100; var_pop = (8 * 100^2 + 0^2 + 800^2) / 10 = (80000 + 640000) / 10 = 72000; sse = 200
    assert got["r2"] == pytest.approx(1 - 200 / (10 * 72000))
    assert got["rmse"] == pytest.approx(math.sqrt(200 / 10))
    assert got["mae"] == pytest.approx(20 / 10)
    # top 10% = ceil(1) row: the highest prediction (890) whose actual is 900, of a total 1000.
    assert got["top10_capture"] == pytest.approx(900 / 1000)
    assert got["top_decile_lift"] == pytest.approx(9.0) and got["rows"] == 10


def test_deciles_by_hand(spark) -> None:
    # 25 beneficiaries, predicted p = 1..25, actual 10 p: NTILE(10) gives deciles 1-5 three rows, 6-10 two rows.
    rows = [(f"{p:016X}", 10.0 * p, float(p)) for p in range(1, 26)]
    df = spark.createDataFrame(rows, "DESYNPUF_ID string, NEXT_YEAR_COST double, prediction double")
    got = evaluate(df)
    total = 10 * 325
    # decile 1 = p 25, 24, 23; decile 6 = p 10, 9; decile 10 = p 2, 1
    assert got["decile_01_cost_share"] == pytest.approx(720 / total) == got["top10_capture"]
    assert got["decile_01_mean_predicted"] == pytest.approx(24) and got["decile_01_mean_actual"] == pytest.approx(240)
    assert got["decile_06_cost_share"] == pytest.approx(190 / total)
    assert got["decile_06_mean_predicted"] == pytest.approx(9.5)
    assert got["decile_10_cost_share"] == pytest.approx(30 / total)
    assert got["decile_10_mean_actual"] == pytest.approx(15)
    assert got["top_decile_lift"] == pytest.approx((720 / total) / (3 / 25))
    assert sum(got[f"decile_{d:02d}_cost_share"] for d in range(1, 11)) == pytest.approx(1.0)


def test_training_needs_both_years(spark, features) -> None:
    with pytest.raises(ValueError, match="temporal split is empty"):
        train_cost_model(features.where("YEAR = 2008"))
    assert pa.types.is_float64(PREDICTION_SCHEMA.field("PREDICTED_NEXT_YEAR_COST").type)
