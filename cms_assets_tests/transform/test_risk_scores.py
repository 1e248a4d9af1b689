"""The CMS-HCC risk marts (risk_scores, risk_adjusted_pmpm, risk_model_comparison) on the hccpy-proven scores.

A DuckDB warehouse gets the ~1,300 random and hand-made beneficiary-years of :mod:`hcc_cases`, their claims, and
their feature rows as the feature job's DuckDB path builds them (with the CMS-HCC scores that
lib/test_features_hcc.py proves equal to hccpy). dbt builds only the risk models and their parents (with their
tests), once for the module. risk_scores must carry every scored beneficiary-year's score unchanged beside the
beneficiary file's state, member months and payments; risk_adjusted_pmpm is checked against the same figures
computed here in Python, and risk_model_comparison (every candidate of the latest cost model, CMS-HCC among them,
beside RTI's anchors) against two versions' model metrics. On the same claims (many codes per beneficiary-year,
several in one CCS category), the diagnosis marts must count each beneficiary once per code and per category.
"""

from __future__ import annotations

import datetime as dt
import random
import time
from pathlib import Path
from typing import Any

import pytest

from cms_assets.lib import terminology
from cms_assets.lib.transform import layer_schema, run_dbt
from cms_assets.lib.warehouse.load import Warehouse
from cms_assets_tests.transform.handmade import arrow_rows
from cms_assets_tests.transform.hcc_cases import (
    SEED,
    YEARS,
    Drawn,
    age_on_february_1,
    draw_cases,
    feature_rows,
)

SCHEMA = "cms"
MARTS = layer_schema(SCHEMA, "marts")


def build_warehouse(url: str, workdir: Path) -> Drawn:
    """Write the random and hand-made rows, their feature rows, holdout predictions for the last year and two
    versions' model metrics; return what was drawn per beneficiary-year (birth date, sex, codes)."""
    benes, claim_rows, drawn = draw_cases(random.Random(SEED))
    features = feature_rows(workdir, benes, claim_rows)
    predictions = [
        {
            "DESYNPUF_ID": bene,
            "YEAR": year,
            "PREDICTED_NEXT_YEAR_COST": 1000.0,
            "MODEL_VERSION": "v2",
            "SCOPE": "holdout",
        }
        for bene, year in sorted(drawn)
        if year == YEARS[-1]
    ]
    wh = Warehouse.from_url(url, schema=SCHEMA)
    try:
        wh.ensure_schema()
        wh.replace_rows("beneficiary_summary", {"sample": 1}, arrow_rows("beneficiary_summary", benes))
        wh.replace_rows("beneficiary_features", {"sample": 1}, arrow_rows("beneficiary_features", features))
        wh.replace_rows("cost_predictions", {"sample": 1}, arrow_rows("cost_predictions", predictions))
        for table, rows in claim_rows.items():
            wh.replace_rows(table, {"sample": 1}, arrow_rows(table, rows))
        for version, rows in metric_rows().items():
            wh.replace_rows("model_metrics", {"MODEL_VERSION": version}, arrow_rows("model_metrics", rows))
        for name, reference in terminology.REFERENCE_TABLES.items():
            wh.replace_table(name, reference.read())
    finally:
        wh.close()
    return drawn


#: The latest version's temporal metrics per candidate: rows, r2, mae, top10_capture, top_decile_lift.
LATEST = {
    "gbt_log": (660, 0.041, 4100.0, 0.262, 2.58),
    "linear": (660, 0.012, 4300.0, 0.241, 2.37),
    "baseline_mean": (660, -0.004, 4500.0, 0.098, 0.96),
    "cms_hcc": (660, -0.021, 4450.0, 0.251, 2.47),
    "demographics_only": (660, -0.013, 4480.0, 0.137, 1.35),
}


def metric_rows() -> dict[str, list[dict[str, Any]]]:
    """An older version (v1) and the latest (v2, gbt_log selected), each with temporal and random-split metrics."""
    names = ["rows", "r2", "mae", "top10_capture", "top_decile_lift"]
    out: dict[str, list[dict[str, Any]]] = {}
    for version, day, shift in [("v1", 1, 0.5), ("v2", 2, 0.0)]:
        at = dt.datetime(2026, 1, day, tzinfo=dt.UTC)
        out[version] = [
            {"MODEL_VERSION": version, "MODEL_NAME": name, "SPLIT": split, "METRIC": metric, "VALUE": value + shift,
             "SELECTED": name == "gbt_log", "TRAINED_AT": at}
            for name, values in LATEST.items()
            for split in ("temporal", "random")
            for metric, value in zip(names, values if split == "temporal" else [v * 2 for v in values], strict=True)
        ]  # fmt: skip
    return out


class Built:
    def __init__(self, url: str, drawn: dict[tuple[str, int], dict[str, Any]], seconds: float) -> None:
        self.url, self.drawn, self.seconds = url, drawn, seconds

    def rows(self, sql: str) -> list[dict[str, Any]]:
        wh = Warehouse.from_url(self.url, schema=SCHEMA)
        try:
            return wh.query(sql).to_pylist()
        finally:
            wh.close()


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    workdir: Path = tmp_path_factory.mktemp("risk_scores")
    url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
    drawn = build_warehouse(url, workdir)
    started = time.perf_counter()
    args = ["build", "--select", "+risk_scores", "+risk_adjusted_pmpm", "+risk_model_comparison",
            "+diagnosis_codes", "+diagnosis_categories",
            "--indirect-selection", "cautious",
            "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")]  # fmt: skip
    result = run_dbt(args, url, SCHEMA, check=False)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    print(f"dbt build of the risk and diagnosis marts on {len(drawn)} beneficiary-years: {seconds:.1f}s")
    return Built(url, drawn, seconds)


def test_scores_come_from_the_features(built: Built) -> None:
    """Every scored beneficiary-year once, its score and lists as the feature job computed them, beside the
    beneficiary file's demographics, state, member months and Part A/B payments."""
    scores = {(r["desynpuf_id"], r["year"]): r for r in built.rows(f"select * from {MARTS}.risk_scores")}
    features = {(r["DESYNPUF_ID"], r["YEAR"]): r for r in built.rows('select * from cms."beneficiary_features"')}
    assert set(scores) == set(built.drawn) == set(features) and len(scores) >= 1000
    member = {
        (r["desynpuf_id"], r["year"]): r
        for r in built.rows(
            "select desynpuf_id, year, state_code, member_months, medreimb_total "
            f"from {layer_schema(SCHEMA, 'intermediate')}.int_member_months"
        )
    }
    columns = ["demographic_score", "disease_score", "interaction_score", "risk_score", "hcc_count", "hcc_list"]
    for key, s in scores.items():
        f, d, m = features[key], built.drawn[key], member[key]
        age = age_on_february_1(d["birth"], key[1])
        assert (s["age"], s["sex"], s["segment"]) == (
            age, "M" if d["sex"] == 1 else "F", "CNA" if age >= 65 else "CND"
        ), key  # fmt: skip
        assert [s[c] for c in columns] == [f[c.upper()] for c in columns], key
        assert s["interaction_list"] == f["HCC_INTERACTIONS"], key
        assert (s["state_code"], s["member_months"], s["paid_amount"]) == (
            m["state_code"], m["member_months"], m["medreimb_total"]
        ), key  # fmt: skip
    assert {s["segment"] for s in scores.values()} == {"CNA", "CND"}
    assert sum(s["interaction_list"] != "" for s in scores.values()) > 50


def test_risk_adjusted_pmpm(built: Built) -> None:
    scores = built.rows(f"select year, state_code, member_months, paid_amount, risk_score from {MARTS}.risk_scores")
    cells = {
        (r["year"], r["dimension"], r["dimension_value"]): r
        for r in built.rows(f"select * from {MARTS}.risk_adjusted_pmpm")
    }
    for year in YEARS:
        for dimension, value in [("all", "all"), ("state", "05")]:
            sel = [
                s for s in scores
                if s["year"] == year and s["member_months"] > 0 and (value == "all" or s["state_code"] == value)
            ]  # fmt: skip
            months = sum(s["member_months"] for s in sel)
            paid = sum(float(s["paid_amount"]) for s in sel)
            weighted = sum(s["risk_score"] * s["member_months"] for s in sel) / months
            ordered = sorted(s["risk_score"] for s in sel)
            c = cells[(year, dimension, value)]
            assert (c["beneficiaries"], c["member_months"]) == (len(sel), months)
            assert c["mean_risk_score"] == pytest.approx(sum(ordered) / len(ordered))
            assert c["p50_risk_score"] == pytest.approx(
                (ordered[(len(ordered) - 1) // 2] + ordered[len(ordered) // 2]) / 2
            )
            assert c["weighted_mean_risk_score"] == pytest.approx(weighted)
            assert c["pmpm"] == pytest.approx(paid / months)
            assert c["risk_adjusted_pmpm"] == pytest.approx(paid / months / weighted)
            assert c["is_small_cell"] == 0


def test_model_comparison_shows_every_candidate_of_the_latest_model(built: Built) -> None:
    """One row per candidate of the latest version's temporal split (not the older version's, not the random
    split's), the selected one flagged, beside the RTI 2011 anchors."""
    got = {r["candidate"]: r for r in built.rows(f"select * from {MARTS}.risk_model_comparison")}
    ours = {k: r for k, r in got.items() if r["source"] == "DE-SynPUF (this warehouse)"}
    assert set(ours) == set(LATEST)
    for name, (n, r2, mae, share, lift) in LATEST.items():
        row = ours[name]
        assert (row["n"], row["holdout_year"], row["model_version"]) == (n, YEARS[-1], "v2"), name
        assert (row["r2"], row["mae"], row["top_decile_cost_share"], row["top_decile_lift"]) == pytest.approx(
            (r2, mae, share, lift)
        ), name
        assert row["is_selected"] == (name == "gbt_log")
    anchors = {k: r for k, r in got.items() if r["source"] == "RTI 2011 (real Medicare)"}
    assert anchors["CMS-HCC V21"]["r2"] == 0.125 and anchors["CMS-HCC"]["top_decile_cost_share"] == 0.304
    assert anchors["demographic-only"]["top_decile_cost_share"] == 0.154 and anchors["CMS-HCC V12"]["n"] is None
    assert not any(r["is_selected"] for r in anchors.values())


def test_diagnosis_marts_count_each_beneficiary_once(built: Built) -> None:
    """beneficiaries and mentions of diagnosis_codes and diagnosis_categories equal a distinct count over the
    claim grain, for every year and code or category (several codes of one beneficiary in one category count once)."""
    schemas = {layer: layer_schema(SCHEMA, layer) for layer in ("staging", "intermediate", "marts")}
    direct = f"""
        select d.year, {{key}} as k, count(distinct d.desynpuf_id) as beneficiaries, count(*) as mentions
        from {schemas["intermediate"]}.int_diagnoses_long d
        left join {schemas["staging"]}.stg_ccs_categories c on d.icd9_code = c.icd9_code
        group by d.year, {{key}}"""
    codes_per_category = built.rows(
        f"select max(n) as n from (select d.year, d.desynpuf_id, c.ccs_category, count(distinct d.icd9_code) as n "
        f"from {schemas['intermediate']}.int_diagnoses_long d "
        f"join {schemas['staging']}.stg_ccs_categories c on d.icd9_code = c.icd9_code "
        f"group by d.year, d.desynpuf_id, c.ccs_category) t"
    )
    assert codes_per_category[0]["n"] > 1  # the case a count of codes would get wrong
    for mart, key, column in [("diagnosis_codes", "d.icd9_code", "icd9_code"),
                              ("diagnosis_categories", "coalesce(c.ccs_category, 0)", "ccs_category")]:  # fmt: skip
        want = {(r["year"], r["k"]): (r["beneficiaries"], r["mentions"]) for r in built.rows(direct.format(key=key))}
        got = {
            (r["year"], r[column]): (r["beneficiaries"], r["mentions"])
            for r in built.rows(f"select year, {column}, beneficiaries, mentions from {schemas['marts']}.{mart}")
        }
        assert got == want, mart
