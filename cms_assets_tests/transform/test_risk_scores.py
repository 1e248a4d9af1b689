"""The CMS-HCC risk marts (risk_scores, risk_adjusted_pmpm, risk_model_comparison) on the hccpy-proven scores.

A DuckDB warehouse gets the ~1,300 random and hand-made beneficiary-years of :mod:`hcc_cases`, their claims, and
their feature rows as the feature job's DuckDB path builds them (with the CMS-HCC scores that
lib/test_features_hcc.py proves equal to hccpy). dbt builds only the risk models and their parents (with their
tests), once for the module. risk_scores must carry every scored beneficiary-year's score unchanged beside the
beneficiary file's state, member months and payments; risk_adjusted_pmpm and risk_model_comparison (the cost model
beside CMS-HCC and a demographics-only model, on a drawn next-year cost and holdout predictions) are checked against
the same figures computed here in Python. On the same claims (many codes per beneficiary-year, several in one CCS
category), the diagnosis marts must count each beneficiary once per code and per category.
"""

from __future__ import annotations

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
    """Write the random and hand-made rows, their feature rows (the next-year cost replaced by a drawn one) and
    holdout predictions; return what was drawn per beneficiary-year (birth date, sex, codes)."""
    rng = random.Random(SEED)
    benes, claim_rows, drawn = draw_cases(rng)
    costs, predictions = model_rows(rng, drawn)
    features = [
        r | {"NEXT_YEAR_COST": costs[(r["DESYNPUF_ID"], r["YEAR"])]} for r in feature_rows(workdir, benes, claim_rows)
    ]
    wh = Warehouse.from_url(url, schema=SCHEMA)
    try:
        wh.ensure_schema()
        wh.replace_rows("beneficiary_summary", {"sample": 1}, arrow_rows("beneficiary_summary", benes))
        wh.replace_rows("beneficiary_features", {"sample": 1}, arrow_rows("beneficiary_features", features))
        wh.replace_rows("cost_predictions", {"sample": 1}, arrow_rows("cost_predictions", predictions))
        for table, rows in claim_rows.items():
            wh.replace_rows(table, {"sample": 1}, arrow_rows(table, rows))
        for name, reference in terminology.REFERENCE_TABLES.items():
            wh.replace_table(name, reference.read())
    finally:
        wh.close()
    return drawn


def model_rows(rng: random.Random, drawn: Drawn) -> tuple[dict[tuple[str, int], float], list[dict[str, Any]]]:
    """A next-year cost for every beneficiary-year (rising with its codes, noisy) and, for the last year, the cost
    model's holdout prediction (the cost plus noise; ties on purpose, to pin the decile order)."""
    costs, predictions = {}, []
    for (bene, year), d in sorted(drawn.items()):
        cost = float(round(rng.lognormvariate(7 + 0.15 * len(d["codes"]), 1.2)))
        costs[(bene, year)] = cost
        if year == YEARS[-1]:
            guess = float(round(cost * rng.uniform(0.3, 1.7), -2))
            predictions.append({"DESYNPUF_ID": bene, "YEAR": year, "PREDICTED_NEXT_YEAR_COST": guess,
                                "MODEL_VERSION": "v1", "SCOPE": "holdout"})  # fmt: skip
    return costs, predictions


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


def _metrics(pairs: list[tuple[tuple[int, str], float, float]]) -> dict[str, float]:
    """r2, mae, top-decile cost share and lift of (order key, actual, predicted) rows, decile 1 the ceil(10%) highest
    predicted (ties by the order key), as the cost model's evaluate and the mart define them."""
    n = len(pairs)
    actual = [a for _, a, _ in pairs]
    mean = sum(actual) / n
    sse = sum((a - p) ** 2 for _, a, p in pairs)
    top = sorted(pairs, key=lambda r: (-r[2], r[0]))[: -(-n // 10)]
    share = sum(a for _, a, _ in top) / sum(actual)
    return {
        "r2": 1 - sse / sum((a - mean) ** 2 for a in actual),
        "mae": sum(abs(a - p) for _, a, p in pairs) / n,
        "top_decile_cost_share": share,
        "top_decile_lift": share / (len(top) / n),
    }


def test_model_comparison_against_python(built: Built) -> None:
    scores = {(r["desynpuf_id"], r["year"]): r for r in built.rows(f"select * from {MARTS}.risk_scores")}
    cost = {
        (r["DESYNPUF_ID"], r["YEAR"]): r["NEXT_YEAR_COST"]
        for r in built.rows('select * from cms."beneficiary_features"')
    }
    predicted = {
        r["DESYNPUF_ID"]: r["PREDICTED_NEXT_YEAR_COST"] for r in built.rows('select * from cms."cost_predictions"')
    }
    train, last = [k for k in cost if k[1] == YEARS[0] and k in scores], YEARS[-1]
    per_score = sum(cost[k] for k in train) / sum(scores[k]["risk_score"] for k in train)
    per_demographic = sum(cost[k] for k in train) / sum(scores[k]["demographic_score"] for k in train)
    holdout = [(1, b) for b, y in cost if y == last and b in predicted and (b, y) in scores]
    expected = {
        "cost_model": _metrics([(k, cost[(k[1], last)], predicted[k[1]]) for k in holdout]),
        "cms_hcc": _metrics([(k, cost[(k[1], last)], scores[(k[1], last)]["risk_score"] * per_score) for k in holdout]),
        "demographics_only": _metrics(
            [(k, cost[(k[1], last)], scores[(k[1], last)]["demographic_score"] * per_demographic) for k in holdout]
        ),
    }
    got = {r["candidate"]: r for r in built.rows(f"select * from {MARTS}.risk_model_comparison")}
    assert len(holdout) > 500
    for candidate, figures in expected.items():
        row = got[candidate]
        assert (row["source"], row["n"], row["holdout_year"]) == ("DE-SynPUF (this warehouse)", len(holdout), last)
        for metric, value in figures.items():
            assert row[metric] == pytest.approx(value, rel=1e-9), (candidate, metric)
    assert got["cms_hcc"]["top_decile_cost_share"] > got["demographics_only"]["top_decile_cost_share"]
    anchors = {r["candidate"]: r for r in got.values() if r["source"] == "RTI 2011 (real Medicare)"}
    assert anchors["CMS-HCC V21"]["r2"] == 0.125 and anchors["CMS-HCC"]["top_decile_cost_share"] == 0.304
    assert anchors["demographic-only"]["top_decile_cost_share"] == 0.154 and anchors["CMS-HCC V12"]["n"] is None


def test_diagnosis_marts_count_each_beneficiary_once(built: Built) -> None:
    """beneficiaries and mentions of diagnosis_codes and diagnosis_categories equal a distinct count over the
    claim-grain view, for every year and code or category (the marts sum per beneficiary first, then count)."""
    schemas = {layer: layer_schema(SCHEMA, layer) for layer in ("staging", "intermediate", "marts")}
    direct = f"""
        select d.year, {{key}} as k, count(distinct d.desynpuf_id) as beneficiaries, count(*) as mentions
        from {schemas["intermediate"]}.int_diagnoses_long d
        left join {schemas["staging"]}.stg_ccs_categories c on d.icd9_code = c.icd9_code
        group by d.year, {{key}}"""
    codes_per_category = built.rows(
        f"select max(n) as n from (select d.year, d.desynpuf_id, c.ccs_category, count(*) as n "
        f"from {schemas['intermediate']}.int_beneficiary_diagnoses d "
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
