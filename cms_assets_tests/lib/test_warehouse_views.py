"""The BI views on a hand-made warehouse (three beneficiaries, a few claims), against figures worked out by hand,
on a real DuckDB file and a real PostgreSQL server."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pytest

from cms_assets.lib import layout
from cms_assets.lib.ml.schemas import FEATURE_SCHEMA, PREDICTION_SCHEMA
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf.columns import CARRIER_LINES
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.lib.warehouse.load import Warehouse, partition_keys
from cms_assets.lib.warehouse.views import view_statements
from cms_assets_tests.lib.warehouse_data import random_table, write_parquet

D = dt.date
M = Decimal


def _bene(id_: str, year: int, hi: int, smi: int, plan: int, ip: int, op: int, car: int, **dims: Any) -> dict:
    return {
        "DESYNPUF_ID": id_, "YEAR": year, "BENE_HI_CVRAGE_TOT_MONS": hi, "BENE_SMI_CVRAGE_TOT_MONS": smi,
        "PLAN_CVRG_MOS_NUM": f"{plan:02d}", "MEDREIMB_IP": M(ip), "MEDREIMB_OP": M(op), "MEDREIMB_CAR": M(car), **dims,
    }  # fmt: skip


A = {"BENE_BIRTH_DT": D(1940, 1, 1), "BENE_SEX_IDENT_CD": 1, "BENE_RACE_CD": 1, "SP_STATE_CODE": "05"}  # 69 in 2009
B = {"BENE_BIRTH_DT": D(1930, 6, 1), "BENE_SEX_IDENT_CD": 2, "BENE_RACE_CD": 2, "SP_STATE_CODE": "05"}  # 78 in 2009
C = {"BENE_BIRTH_DT": D(1950, 3, 1), "BENE_SEX_IDENT_CD": 2, "BENE_RACE_CD": 1, "SP_STATE_CODE": "10"}  # 58 in 2009
BENE = [
    _bene("A", 2009, 12, 12, 12, 1200, 300, 600, **A),
    _bene("B", 2009, 6, 0, 0, 0, 60, 0, **B),
    _bene("C", 2009, 0, 3, 6, 0, 0, 90, **C),
    _bene("A", 2010, 12, 12, 12, 300, 0, 0, **A),
]
# Inpatient: A's first stay has an interim claim (no discharge date) and a final one; A's second stay ends in 2010.
IP = [
    {"DESYNPUF_ID": "A", "CLM_ID": "1", "CLM_ADMSN_DT": D(2009, 3, 1), "CLM_THRU_DT": D(2009, 3, 5),
     "NCH_BENE_DSCHRG_DT": None, "ICD9_DGNS_CD_1": "4280", "CLM_PMT_AMT": M(1000)},
    {"DESYNPUF_ID": "A", "CLM_ID": "2", "CLM_ADMSN_DT": D(2009, 3, 1), "CLM_THRU_DT": D(2009, 3, 11),
     "NCH_BENE_DSCHRG_DT": D(2009, 3, 11), "ICD9_DGNS_CD_1": "4280", "CLM_PMT_AMT": M(200)},
    {"DESYNPUF_ID": "B", "CLM_ID": "3", "CLM_ADMSN_DT": D(2009, 7, 1), "CLM_THRU_DT": D(2009, 7, 4),
     "NCH_BENE_DSCHRG_DT": D(2009, 7, 4), "ICD9_DGNS_CD_1": "V5869", "CLM_PMT_AMT": M(500)},
    {"DESYNPUF_ID": "A", "CLM_ID": "4", "CLM_ADMSN_DT": D(2009, 12, 28), "CLM_THRU_DT": D(2010, 1, 2),
     "NCH_BENE_DSCHRG_DT": D(2010, 1, 2), "ICD9_DGNS_CD_1": "486", "CLM_PMT_AMT": M(300)},
]  # fmt: skip
# Outpatient: one visit of A in two segments, one of C.
OP = [
    {"DESYNPUF_ID": "A", "CLM_ID": "5", "SEGMENT": 1, "CLM_THRU_DT": D(2009, 2, 1), "ICD9_DGNS_CD_1": "4019",
     "CLM_PMT_AMT": M(100)},
    {"DESYNPUF_ID": "A", "CLM_ID": "5", "SEGMENT": 2, "CLM_THRU_DT": D(2009, 2, 3), "ICD9_DGNS_CD_1": "4019",
     "CLM_PMT_AMT": M(50)},
    {"DESYNPUF_ID": "C", "CLM_ID": "6", "SEGMENT": 1, "CLM_THRU_DT": D(2009, 5, 1), "ICD9_DGNS_CD_1": "25000",
     "CLM_PMT_AMT": M(80)},
]  # fmt: skip
_NO_LINES = {
    **{f"{p}_{i}": None for p in ("HCPCS_CD", "LINE_ICD9_DGNS_CD") for i in range(1, CARRIER_LINES + 1)},
    **{f"LINE_NCH_PMT_AMT_{i}": M(0) for i in range(1, CARRIER_LINES + 1)},
}
CAR = [
    {**_NO_LINES, "DESYNPUF_ID": "A", "CLM_ID": "7", "CLM_THRU_DT": D(2009, 4, 1),
     "LINE_ICD9_DGNS_CD_1": "4019", "HCPCS_CD_1": "99213", "LINE_NCH_PMT_AMT_1": M(70),
     "LINE_ICD9_DGNS_CD_2": "4280", "HCPCS_CD_2": "99214", "LINE_NCH_PMT_AMT_2": M(90)},
    {**_NO_LINES, "DESYNPUF_ID": "B", "CLM_ID": "8", "CLM_THRU_DT": D(2009, 8, 1),
     "LINE_ICD9_DGNS_CD_1": "4019", "HCPCS_CD_1": "99213", "LINE_NCH_PMT_AMT_1": M(40)},
]  # fmt: skip
PDE = [
    {"DESYNPUF_ID": "A", "PDE_ID": "9", "SRVC_DT": D(2009, 1, 10), "PROD_SRVC_ID": "00093", "TOT_RX_CST_AMT": M(30),
     "PTNT_PAY_AMT": M(5)},
    {"DESYNPUF_ID": "A", "PDE_ID": "10", "SRVC_DT": D(2009, 2, 10), "PROD_SRVC_ID": "00093", "TOT_RX_CST_AMT": M(30),
     "PTNT_PAY_AMT": M(5)},
    {"DESYNPUF_ID": "C", "PDE_ID": "11", "SRVC_DT": D(2009, 3, 1), "PROD_SRVC_ID": "00378", "TOT_RX_CST_AMT": M(100),
     "PTNT_PAY_AMT": M(5)},
]  # fmt: skip
# Scores: the holdout (2009 features, 2010 known) flags A; the current scope (2010 features) flags A too.
FEATURES = [
    {"DESYNPUF_ID": "A", "YEAR": 2009, "STATE": 5, "NEXT_YEAR_COST": 300.0},
    {"DESYNPUF_ID": "B", "YEAR": 2009, "STATE": 5, "NEXT_YEAR_COST": 0.0},
    {"DESYNPUF_ID": "C", "YEAR": 2009, "STATE": 10, "NEXT_YEAR_COST": 100.0},
    {"DESYNPUF_ID": "A", "YEAR": 2010, "STATE": 5, "NEXT_YEAR_COST": None},
]
PREDICTIONS = [
    {"DESYNPUF_ID": "A", "YEAR": 2009, "PREDICTED_NEXT_YEAR_COST": 900.0, "HIGH_COST": 1, "SCOPE": "holdout"},
    {"DESYNPUF_ID": "B", "YEAR": 2009, "PREDICTED_NEXT_YEAR_COST": 50.0, "HIGH_COST": 0, "SCOPE": "holdout"},
    {"DESYNPUF_ID": "C", "YEAR": 2009, "PREDICTED_NEXT_YEAR_COST": 20.0, "HIGH_COST": 0, "SCOPE": "holdout"},
    {"DESYNPUF_ID": "A", "YEAR": 2010, "PREDICTED_NEXT_YEAR_COST": 700.0, "HIGH_COST": 1, "SCOPE": "current"},
]


def _table(schema: pa.Schema, rows: list[dict], sample: int = 1) -> pa.Table:
    """``rows`` as given; every column they do not name gets random values (so the views must not read them)."""
    rows = [{**r, "sample": sample} for r in rows]
    fixed = {name: pa.array([r[name] for r in rows], schema.field(name).type) for name in rows[0]}
    return random_table(schema, len(rows), np.random.default_rng(5), fixed)


@pytest.fixture(params=["duckdb", "postgresql"])
def wh(request: pytest.FixtureRequest, tmp_path: Path) -> Warehouse:
    url = f"duckdb:///{tmp_path}/wh.duckdb"
    if request.param == "postgresql":
        url = request.getfixturevalue("postgres_db_url")
    w = Warehouse.from_url(url)
    w.ensure_schema()
    storage = LocalStorage(tmp_path / "data")
    tables = {
        "beneficiary_summary": _table(TABLES[Kind.BENEFICIARY].schema, BENE),
        "inpatient_claims": _table(TABLES[Kind.INPATIENT].schema, [{"SEGMENT": 1, **r} for r in IP]),
        "outpatient_claims": _table(TABLES[Kind.OUTPATIENT].schema, OP),
        "carrier_claims": _table(TABLES[Kind.CARRIER].schema, CAR),
        "prescription_drug_events": _table(TABLES[Kind.PDE].schema, PDE),
    }
    for name, table in tables.items():
        write_parquet(storage, layout.table_file(name, 1), table)
    write_parquet(storage, f"{layout.features_dir(1)}/part-0.parquet", _table(FEATURE_SCHEMA, FEATURES))
    preds = [{**p, "PREDICTED_PERCENTILE": 0.0, "MODEL_VERSION": "v1"} for p in PREDICTIONS]
    write_parquet(storage, f"{layout.predictions_dir(1)}/part-0.parquet", _table(PREDICTION_SCHEMA, preds))
    for name in [*tables, "beneficiary_features", "cost_predictions"]:
        w.load_partition(name, 1, storage, partition_keys(storage, name, 1))
    w.create_views()
    return w


def _rows(wh: Warehouse, sql: str) -> list[dict]:
    return [{k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in wh.query(sql).to_pylist()]


def test_pmpm_uses_coverage_months(wh: Warehouse) -> None:
    y09 = _rows(wh, f"SELECT * FROM {wh.schema}.v_cost_by_year WHERE year = 2009")[0]
    # Member months = max(Part A, Part B) months: A 12, B 6, C 3 -> 21; cost 2100 + 60 + 90 = 2250.
    assert (y09["beneficiaries"], y09["member_months"], y09["medreimb_total"]) == (3, 21, 2250)
    assert y09["pmpm_total"] == pytest.approx(2250 / 21)
    assert y09["pmpm_ip"] == pytest.approx(1200 / 21)
    assert y09["per_capita_total"] == pytest.approx(750)
    state = {r["state_code"]: r for r in _rows(wh, f"SELECT * FROM {wh.schema}.v_cost_by_state WHERE year = 2009")}
    assert state[5]["beneficiaries"] == 2 and state[5]["pmpm_total"] == pytest.approx(2160 / 18)
    assert state[10]["beneficiaries"] == 1 and state[10]["pmpm_total"] == pytest.approx(90 / 3)
    seg = _rows(wh, f"SELECT * FROM {wh.schema}.v_cost_by_segment WHERE year = 2009 ORDER BY age_band")
    assert [(r["age_band"], r["sex"], r["race"], r["beneficiaries"]) for r in seg] == [
        ("65-74", "male", "white", 1),
        ("75-84", "female", "black", 1),
        ("<65", "female", "white", 1),
    ]
    setting = {r["setting"]: r for r in _rows(wh, f"SELECT * FROM {wh.schema}.v_pmpm_by_setting WHERE year = 2009")}
    assert setting["outpatient"]["pmpm"] == pytest.approx(360 / 21)
    part_d = setting["prescription drugs (Part D)"]  # over Part D plan months: 12 + 0 + 6; enrollees A and C
    assert (part_d["beneficiaries"], part_d["member_months"], part_d["cost"]) == (2, 18, 160)
    assert part_d["pmpm"] == pytest.approx(160 / 18)


def test_utilization_per_1000_and_length_of_stay(wh: Warehouse) -> None:
    u = {r["year"]: r for r in _rows(wh, f"SELECT * FROM {wh.schema}.v_utilization_by_year")}
    y09 = u[2009]
    # Stays: A's (two claims, one admission, 10 days) and B's (3 days); A's December stay ends in 2010.
    assert (y09["stays"], y09["avg_length_of_stay"]) == (2, pytest.approx(6.5))
    assert y09["stays_per_1000"] == pytest.approx(12000 * 2 / 21)
    assert y09["op_visits"] == 2 and y09["op_visits_per_1000"] == pytest.approx(12000 * 2 / 21)
    assert y09["car_claims"] == 2 and y09["car_claims_per_1000"] == pytest.approx(12000 * 2 / 21)
    assert y09["pde_fills"] == 3 and y09["pde_fills_per_1000"] == pytest.approx(12000 * 3 / 18)
    assert (u[2010]["stays"], u[2010]["avg_length_of_stay"], u[2010]["member_months"]) == (1, 5, 12)
    part_d = _rows(wh, f"SELECT * FROM {wh.schema}.v_part_d_cost WHERE year = 2009")[0]
    assert (part_d["part_d_enrollees"], part_d["users"], part_d["fills"], part_d["tot_rx_cost"]) == (2, 2, 3, 160)
    assert part_d["cost_pmpm"] == pytest.approx(160 / 18) and part_d["cost_per_fill"] == pytest.approx(160 / 3)
    assert part_d["patient_pay"] == 15


def _codes(wh: Warehouse, view: str, rank: str) -> list[tuple]:
    sql = f"SELECT code, events, beneficiaries, cost FROM {wh.schema}.{view} WHERE year = 2009 ORDER BY {rank}"
    return [tuple(r.values()) for r in _rows(wh, sql)]


def test_top_codes_by_cost_and_count(wh: Warehouse) -> None:
    # 4280: IP claims 1000 + 200 and A's carrier line 90; 4019: OP segments 100 + 50, carrier lines 70 + 40.
    by_cost = [("4280", 3, 1, 1290), ("V5869", 1, 1, 500), ("4019", 4, 2, 260), ("25000", 1, 1, 80)]
    assert _codes(wh, "v_top_diagnoses", "rank_by_cost") == by_cost
    by_count = [("4019", 4, 2, 260), ("4280", 3, 1, 1290), ("25000", 1, 1, 80), ("V5869", 1, 1, 500)]
    assert _codes(wh, "v_top_diagnoses", "rank_by_count") == by_count
    assert _codes(wh, "v_top_hcpcs", "rank_by_cost") == [("99213", 2, 2, 110), ("99214", 1, 1, 90)]
    assert _codes(wh, "v_top_ndc", "rank_by_cost") == [("00378", 1, 1, 100), ("00093", 2, 1, 60)]
    assert _codes(wh, "v_top_ndc", "rank_by_count") == [("00093", 2, 1, 60), ("00378", 1, 1, 100)]
    leading_zero = _rows(wh, f"SELECT code FROM {wh.schema}.v_top_ndc WHERE rank_by_count = 1 AND year = 2009")
    assert leading_zero == [{"code": "00093"}]


def test_high_cost_cohort_has_actuals_only_where_known(wh: Warehouse) -> None:
    rows = _rows(wh, f"SELECT * FROM {wh.schema}.v_high_cost_by_state ORDER BY scope, state_code")
    got = [(r["scope"], r["state_code"], r["scored"], r["high_cost"], r["actual_cost_high_cost"]) for r in rows]
    assert got == [("current", 5, 1, 1, None), ("holdout", 5, 2, 1, 300), ("holdout", 10, 1, 0, None)]
    holdout = [r for r in rows if r["scope"] == "holdout"]
    # The flagged A cost 300 of the 400 the holdout beneficiaries cost in 2010.
    share = sum(r["actual_cost_high_cost"] or 0 for r in holdout) / sum(r["actual_cost_all"] for r in holdout)
    assert share == pytest.approx(0.75)
    assert rows[1]["high_cost_share_of_actual"] == pytest.approx(1.0)  # state 5: A 300 of A + B = 300
    assert all(r["actual_cost_all"] is None for r in rows if r["scope"] == "current")


def test_redshift_views_compile_their_own_date_arithmetic() -> None:
    red = dict(view_statements("cms", "redshift"))["v_utilization_by_year"]
    pg = dict(view_statements("cms", "postgresql"))["v_utilization_by_year"]
    assert "DATEDIFF(day, adm, dis)" in red and "(dis - adm)" in pg and "DATEDIFF" not in pg
