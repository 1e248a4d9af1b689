"""The dbt marts on the hand-made warehouse (handmade.py), on DuckDB and on PostgreSQL: every figure asserted here
is computed by hand in the comments of handmade.py.

The warehouse is built and ``dbt build`` (models and all their tests) runs once per backend for the module; each
dbt run writes its artifacts to a temporary target path, so it never touches the project's own ``target/``.
"""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cms_assets.lib.transform import layer_schema, run_dbt
from cms_assets.lib.warehouse.load import Warehouse
from cms_assets_tests.transform.handmade import A, B, build_warehouse

SCHEMA = "cms"
MARTS = layer_schema(SCHEMA, "marts")
INTERMEDIATE = layer_schema(SCHEMA, "intermediate")
STAGING = layer_schema(SCHEMA, "staging")


def dbt_args(command: list[str], workdir: Path) -> list[str]:
    """A dbt command whose artifacts and logs go to ``workdir`` (never the project's target/)."""
    return [*command, "--target-path", str(workdir / "target"), "--log-path", str(workdir / "logs")]


class Built:
    """A warehouse with the marts built: where it is, how long dbt build took, and a query helper."""

    def __init__(self, backend: str, url: str, workdir: Path, seconds: float) -> None:
        self.backend, self.url, self.workdir, self.seconds = backend, url, workdir, seconds
        self.results = json.loads((workdir / "target" / "run_results.json").read_text())["results"]

    def rows(self, sql: str) -> list[dict[str, Any]]:
        wh = Warehouse.from_url(self.url, schema=SCHEMA)
        try:
            return wh.query(sql).to_pylist()
        finally:
            wh.close()

    def one(self, sql: str) -> dict[str, Any]:
        rows = self.rows(sql)
        assert len(rows) == 1, f"expected one row from {sql!r}, got {rows}"
        return rows[0]


@pytest.fixture(scope="module")
def _postgres_module_db(request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh database on the session's PostgreSQL server for this module (the function-scoped
    ``postgres_db_url`` would rebuild the warehouse for every test)."""
    import sqlalchemy as sa

    server = request.getfixturevalue("postgres_url")
    name = f"marts_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield server.rsplit("/", 1)[0] + f"/{name}"
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()


@pytest.fixture(scope="module", params=["duckdb", "postgres"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Built:
    workdir = tmp_path_factory.mktemp(f"marts_{request.param}")
    if request.param == "duckdb":
        url = f"duckdb:///{workdir / 'warehouse.duckdb'}"
    else:
        url = request.getfixturevalue("_postgres_module_db")
    build_warehouse(url, SCHEMA)
    started = time.perf_counter()
    result = run_dbt(dbt_args(["build"], workdir), url, SCHEMA, check=False)
    seconds = time.perf_counter() - started
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
    print(f"dbt build on the hand-made {request.param} warehouse: {seconds:.1f}s")
    return Built(request.param, url, workdir, seconds)


def test_build_passes_every_test_without_warnings(built: Built) -> None:
    statuses = {r["unique_id"]: r["status"] for r in built.results}
    assert set(statuses.values()) <= {"success", "pass"}, {
        k: v for k, v in statuses.items() if v not in ("success", "pass")
    }
    assert sum(uid.startswith("test.") for uid in statuses) > 100
    assert sum(uid.startswith("model.") for uid in statuses) == 35


def test_pmpm(built: Built) -> None:
    rows = built.rows(
        f"select setting, beneficiaries, member_months, paid_amount, pmpm from {MARTS}.financial_pmpm "
        "where year = 2010 and dimension = 'all'"
    )
    got = {r["setting"]: r for r in rows}
    # 33000 / 48, 1000 / 48, 1400 / 48; Part D 300 / 34 over A, B, D, E (C has no Part D month).
    expected = {
        "inpatient": (5, 48, 33000, 687.5),
        "outpatient": (5, 48, 1000, 1000 / 48),
        "carrier": (5, 48, 1400, 1400 / 48),
        "part_d": (4, 34, 300, 300 / 34),
    }
    for setting, (n, months, paid, pmpm) in expected.items():
        r = got[setting]
        assert (r["beneficiaries"], r["member_months"], float(r["paid_amount"])) == (n, months, paid), setting
        assert r["pmpm"] == pytest.approx(pmpm), setting
    state = built.one(
        f"select member_months, paid_amount, pmpm from {MARTS}.financial_pmpm "
        "where year = 2010 and dimension = 'state' and dimension_value = '03' and setting = 'inpatient'"
    )
    assert (state["member_months"], float(state["paid_amount"])) == (36, 16000)
    assert state["pmpm"] == pytest.approx(16000 / 36)
    age = built.one(
        f"select member_months, pmpm from {MARTS}.financial_pmpm "
        "where year = 2010 and dimension = 'age_band' and dimension_value = '65-74' and setting = 'inpatient'"
    )
    assert age["member_months"] == 24 and age["pmpm"] == pytest.approx(16000 / 24)
    # F's drug event (no beneficiary row) is kept, under 'unknown', with no months.
    unknown = built.one(
        f"select beneficiaries, member_months, paid_amount, pmpm from {MARTS}.financial_pmpm "
        "where year = 2010 and dimension = 'state' and dimension_value = 'unknown'"
    )
    assert (unknown["beneficiaries"], unknown["member_months"], float(unknown["paid_amount"])) == (0, 0, 30)
    assert unknown["pmpm"] is None


def test_member_months_and_age_bands(built: Built) -> None:
    rows = built.rows(
        f"select desynpuf_id, member_months, part_d_months, age_band, sex, race from {INTERMEDIATE}.int_member_months "
        "where year = 2010 order by desynpuf_id"
    )
    assert [(r["member_months"], r["part_d_months"], r["age_band"], r["sex"], r["race"]) for r in rows] == [
        (12, 12, "65-74", "male", "white"),
        (8, 6, "75-84", "female", "black"),  # greatest(6, 8); born 1 January 1930: 80 on 1 January 2010
        (12, 0, "<65", "male", "other"),
        (4, 4, "85+", "female", "hispanic"),
        (12, 12, "65-74", "female", "white"),
    ]


def test_utilization_rates_and_alos(built: Built) -> None:
    u = built.one(f"select * from {MARTS}.utilization where year = 2010")
    assert (u["beneficiaries"], u["member_months"], u["part_d_months"]) == (5, 48, 34)
    assert (u["admissions"], u["inpatient_days"]) == (5, 33)
    assert u["average_length_of_stay"] == pytest.approx(6.6)  # (10 + 7 + 3 + 9 + 4) / 5
    assert u["admissions_per_1000"] == pytest.approx(1250.0)  # 5 x 12000 / 48
    assert u["inpatient_days_per_1000"] == pytest.approx(8250.0)
    assert (u["outpatient_visits"], u["carrier_claims"], u["pde_fills"]) == (3, 3, 5)  # carrier repeat removed
    assert u["outpatient_visits_per_1000"] == pytest.approx(750.0)
    assert u["carrier_claims_per_1000"] == pytest.approx(750.0)
    assert u["pde_fills_per_1000"] == pytest.approx(5 * 12000 / 34)


def test_stays_merge_interim_claims_and_transfers(built: Built) -> None:
    stays = built.rows(
        f"select stay_id, admission_date, discharge_date, length_of_stay, drg_code, admissions_merged, claims, "
        f"paid_amount from {INTERMEDIATE}.int_inpatient_stays where desynpuf_id = '{A}' order by admission_date"
    )
    got = [(s["stay_id"], str(s["discharge_date"]), s["length_of_stay"], s["drg_code"], s["admissions_merged"],
            s["claims"], float(s["paid_amount"])) for s in stays]  # fmt: skip
    assert got == [
        ("100", "2009-06-03", 2, "392", 1, 1, 3000),
        ("101", "2010-01-15", 10, "292", 2, 2, 6000),  # transfer on 01-10 merged; DRG of the last discharge
        ("103", "2010-02-08", 7, "194", 1, 2, 1500),  # interim claims 103 + 104
    ]


def test_readmissions(built: Built) -> None:
    index = {
        r["stay_id"]: r
        for r in built.rows(
            f"select stay_id, is_index_stay, exclusion_reason, readmitted_within_30_days, readmission_stay_id, "
            f"days_to_next_admission from {MARTS}.readmission_index_stays"
        )
    }
    # The January stay (with its transfer) is readmitted 17 days later; the transfer itself is no readmission.
    assert (index["101"]["readmitted_within_30_days"], index["101"]["readmission_stay_id"]) == (1, "103")
    assert index["101"]["days_to_next_admission"] == 17
    assert "102" not in index
    assert index["100"]["readmitted_within_30_days"] == 0  # 216 days to the next stay
    assert (index["106"]["is_index_stay"], index["106"]["exclusion_reason"]) == (0, "in_hospital_death")
    assert (index["107"]["is_index_stay"], index["107"]["exclusion_reason"]) == (0, "window_not_observed")
    assert sum(r["is_index_stay"] for r in index.values()) == 4
    rates = {(r["dimension"], r["dimension_value"]): r for r in built.rows(f"select * from {MARTS}.readmissions")}
    assert (rates["all", "all"]["index_stays"], rates["all", "all"]["readmissions"]) == (4, 1)
    assert rates["all", "all"]["readmission_rate"] == pytest.approx(0.25)
    assert rates["year", "2010"]["readmission_rate"] == pytest.approx(1 / 3)
    assert (rates["state", "03"]["index_stays"], rates["state", "03"]["readmissions"]) == (3, 1)
    assert rates["drg", "292"]["readmission_rate"] == pytest.approx(1.0)
    assert ("drg", "871") not in rates and ("drg", "065") not in rates  # excluded stays are no index


def test_ed_visits(built: Built) -> None:
    rows = {
        (r["dimension"], r["dimension_value"]): r
        for r in built.rows(f"select * from {MARTS}.ed_visits where year = 2010")
    }
    everyone = rows["all", "all"]
    # C 06-01 via outpatient HCPCS 99283 only, B 09-15 via a carrier line 99285 only, A 07-01 via both (one visit).
    assert (everyone["ed_visits"], everyone["via_outpatient_only"], everyone["via_carrier_only"],
            everyone["via_both"]) == (3, 1, 1, 1)  # fmt: skip
    assert everyone["ed_visits_per_1000"] == pytest.approx(750.0)
    assert rows["state", "03"]["ed_visits_per_1000"] == pytest.approx(2 * 12000 / 36)
    assert rows["state", "05"]["ed_visits_per_1000"] == pytest.approx(1000.0)
    encounters = built.rows(
        f"select setting, encounter_id from {INTERMEDIATE}.int_encounters where is_ed = 1 order by encounter_id"
    )
    assert [(e["setting"], e["encounter_id"]) for e in encounters] == [
        ("outpatient", "200"),
        ("outpatient", "201"),
        ("carrier", "300"),
        ("carrier", "301"),
    ]


def test_diagnosis_codes_and_categories(built: Built) -> None:
    codes = {r["icd9_code"]: r for r in built.rows(f"select * from {MARTS}.diagnosis_codes where year = 2010")}
    htn = codes["4019"]
    assert htn["icd9_name"] == "Unspecified essential hypertension"
    assert (htn["ccs_category"], htn["ccs_name"]) == (98, "Essential hypertension")
    assert (htn["events"], float(htn["paid_amount"]), htn["rank_by_paid"], htn["rank_by_count"]) == (5, 2515, 5, 1)
    assert codes["0389"]["rank_by_paid"] == 1 and float(codes["0389"]["paid_amount"]) == 12000
    assert codes["4280"]["ccs_name"] == "Congestive heart failure; nonhypertensive"
    assert float(codes["4280"]["paid_amount"]) == 5500
    assert sum(float(r["paid_amount"]) for r in codes.values()) == 32495
    category = built.one(f"select * from {MARTS}.diagnosis_categories where year = 2010 and ccs_category = 98")
    assert (category["ccs_name"], float(category["paid_amount"]), category["beneficiaries"]) == (
        "Essential hypertension",
        2515,
        3,
    )


def test_diagnoses_long_has_one_row_per_claim_row_and_filled_position(built: Built) -> None:
    """int_diagnoses_long against the staging tables, position by position: as many rows as claim rows with that
    diagnosis column filled, and no key twice. At 20 samples (510 M rows) a dbt uniqueness test on this table cannot
    run in the warehouse's memory and disk, so its grain is proven here and by the staging tables' grain tests."""
    sources = [("inpatient", "stg_inpatient_claims", "icd9_dgns_cd_{}", 10),
               ("outpatient", "stg_outpatient_claims", "icd9_dgns_cd_{}", 10),
               ("carrier", "stg_carrier_claims", "icd9_dgns_cd_{}", 8),
               ("carrier_line", "stg_carrier_claims", "line_icd9_dgns_cd_{}", 13)]  # fmt: skip
    got = {
        (r["claim_type"], r["position"]): r["n"]
        for r in built.rows(
            f"select claim_type, position, count(*) as n from {INTERMEDIATE}.int_diagnoses_long "
            "group by claim_type, position"
        )
    }
    want = {}
    for claim_type, table, column, positions in sources:
        for i in range(1, positions + 1):
            c = column.format(i)
            n = built.one(f"select count(*) as n from {STAGING}.{table} where {c} is not null and {c} <> ''")["n"]
            if n:
                want[(claim_type, i)] = n
    assert got == want and {t for t, _ in want} == {s[0] for s in sources}
    twice = built.rows(
        f"select claim_type, sample, claim_id, segment, position from {INTERMEDIATE}.int_diagnoses_long "
        "group by claim_type, sample, claim_id, segment, position having count(*) > 1"
    )
    assert twice == []


def test_top_hcpcs_and_ndc(built: Built) -> None:
    hcpcs = built.rows(f"select hcpcs_code, paid_amount from {MARTS}.top_hcpcs where year = 2010 order by rank_by_paid")
    # 99285 once (150), not twice: the repeated carrier row is dropped.
    assert [(r["hcpcs_code"], float(r["paid_amount"])) for r in hcpcs] == [
        ("99285", 150),
        ("99284", 120),
        ("99213", 60),
        ("82947", 10),
        ("36415", 5),
    ]
    ndc = built.rows(
        f"select ndc_code, fills, paid_amount from {MARTS}.top_ndc where year = 2010 order by rank_by_paid"
    )
    assert [(r["ndc_code"], r["fills"], float(r["paid_amount"])) for r in ndc] == [
        ("00093515601", 2, 140),
        ("00378018001", 2, 130),
        ("00591054401", 1, 30),
    ]


def test_chronic_conditions(built: Built) -> None:
    chf = built.one(f"select * from {MARTS}.chronic_conditions where year = 2010 and condition_code = 'CHF'")
    assert (chf["condition_name"], chf["beneficiaries"], chf["with_condition"]) == ("heart failure", 5, 2)
    assert chf["prevalence"] == pytest.approx(0.4)
    assert chf["per_capita_with"] == pytest.approx(10950.0)  # (9900 + 12000) / 2
    assert chf["per_capita_without"] == pytest.approx(4500.0)  # (5400 + 600 + 7500) / 3


def test_high_cost_cohort_and_latest_metrics(built: Built) -> None:
    cohort = {r["scope"]: r for r in built.rows(f"select * from {MARTS}.high_cost_cohort")}
    holdout, current = cohort["holdout"], cohort["current"]
    assert (holdout["state_code"], holdout["scored"], holdout["high_cost"]) == ("03", 1, 1)
    assert holdout["actual_cost_high_cost"] == pytest.approx(10000.0)
    assert holdout["high_cost_share_of_actual"] == pytest.approx(1.0)
    assert (current["scored"], current["high_cost"], current["prediction_year"]) == (2, 1, 2011)
    assert current["actual_cost_all"] is None  # the current scope's next year is not in the data
    metrics = built.rows(f"select model_version, metric from {MARTS}.model_metrics_latest order by metric")
    assert [(m["model_version"], m["metric"]) for m in metrics] == [("v2", "r2"), ("v2", "rmse")]


def test_timing(built: Built) -> None:
    assert built.seconds < 90, f"dbt build took {built.seconds:.0f}s on {built.backend}"


# Two breakages of real invariants, each caught by its own test (of severity error: a blocking Dagster check).
BREAKAGES = {
    # 13 months of Part A coverage in one year breaks every member-month denominator.
    "assert_coverage_months_within_year": (
        f'update {SCHEMA}.beneficiary_summary set "BENE_HI_CVRAGE_TOT_MONS" = 13 where "DESYNPUF_ID" = \'{B}\''
    ),
    # A second 2010 row for A breaks the beneficiary-year key.
    "unique_combination_stg_beneficiary_summary_sample__desynpuf_id__year": (
        f"insert into {SCHEMA}.beneficiary_summary select * from {SCHEMA}.beneficiary_summary "
        f'where "DESYNPUF_ID" = \'{A}\' and "YEAR" = 2010'
    ),
}


def test_a_failing_dbt_test_is_reported(built: Built, tmp_path: Path) -> None:
    if built.backend != "duckdb":
        pytest.skip("one backend suffices: the failure is dbt's, not the warehouse's")
    import duckdb

    # Break the built warehouse in place (the same path and target directory let dbt reuse its parse) and put it
    # back afterwards.
    path = Path(built.url.removeprefix("duckdb:///"))
    shutil.copy(path, tmp_path / "intact.duckdb")
    try:
        with duckdb.connect(str(path)) as conn:
            for sql in BREAKAGES.values():
                conn.execute(sql)
        result = run_dbt(dbt_args(["test", "--select", *BREAKAGES], built.workdir), built.url, SCHEMA, check=False)
    finally:
        shutil.copy(tmp_path / "intact.duckdb", path)
    assert result.returncode == 1, result.stdout[-3000:]
    assert "Unable to do partial parsing" not in result.stdout
    results = json.loads((built.workdir / "target" / "run_results.json").read_text())["results"]
    got = sorted((r["unique_id"].split(".")[2], r["status"], r["failures"]) for r in results)
    assert got == sorted((name, "fail", 1) for name in BREAKAGES)
    for name in BREAKAGES:
        assert f"FAIL 1 {name}" in result.stdout


def test_every_model_and_column_is_described(built: Built) -> None:
    """The yml files describe every model and exactly the columns each model has in the warehouse."""
    if built.backend != "duckdb":
        pytest.skip("the columns are the same on both backends")
    manifest = json.loads((built.workdir / "target" / "manifest.json").read_text())
    models = [n for n in manifest["nodes"].values() if n["resource_type"] == "model"]
    actual: dict[tuple[str, str], set[str]] = {}
    for r in built.rows(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema like '{SCHEMA}\\_%' escape '\\'"
    ):
        actual.setdefault((r["table_schema"], r["table_name"]), set()).add(r["column_name"])
    for node in models:
        assert node["description"].strip(), f"{node['name']} has no description"
        documented = {name for name, c in node["columns"].items() if c["description"].strip()}
        assert documented == actual[node["schema"], node["name"]], node["name"]
