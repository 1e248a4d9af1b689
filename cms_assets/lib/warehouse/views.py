"""BI views for a dashboard (Tableau, Superset) and the insight report, in SQL that DuckDB, PostgreSQL and Redshift
all accept.

Views expose lower-case column names and readable labels, and keep additive measures (counts, sums) next to the
ratios so a dashboard can re-aggregate: a per-capita figure over several rows is SUM(medreimb_total) /
SUM(beneficiaries), never the mean of per-capita values. Redshift views are late-binding (WITH NO SCHEMA BINDING),
so reloading or recreating a table never requires dropping the views first.
"""

from __future__ import annotations

from cms_assets.lib.ml.schemas import HOLDOUT
from cms_assets.lib.synpuf.columns import CARRIER_LINES, CHRONIC_CONDITIONS
from cms_assets.lib.warehouse.schema import dialect_for

SEX_LABELS = {1: "male", 2: "female"}
RACE_LABELS = {1: "white", 2: "black", 3: "other", 5: "hispanic"}
AGE_BANDS = ["<65", "65-74", "75-84", "85+"]
CONDITION_LABELS = {
    "SP_ALZHDMTA": "Alzheimer's or related dementia",
    "SP_CHF": "heart failure",
    "SP_CHRNKIDN": "chronic kidney disease",
    "SP_CNCR": "cancer",
    "SP_COPD": "COPD",
    "SP_DEPRESSN": "depression",
    "SP_DIABETES": "diabetes",
    "SP_ISCHMCHT": "ischemic heart disease",
    "SP_OSTEOPRS": "osteoporosis",
    "SP_RA_OA": "rheumatoid arthritis / osteoarthritis",
    "SP_STRKETIA": "stroke / transient ischemic attack",
}
assert set(CONDITION_LABELS) == set(CHRONIC_CONDITIONS)

_DOUBLE = "DOUBLE PRECISION"
# Medicare reimbursement of the year: inpatient + outpatient + carrier (the beneficiary file's annual amounts).
_MEDREIMB = 'COALESCE(b."MEDREIMB_IP", 0) + COALESCE(b."MEDREIMB_OP", 0) + COALESCE(b."MEDREIMB_CAR", 0)'
_BENRES = 'COALESCE(b."BENRES_IP", 0) + COALESCE(b."BENRES_OP", 0) + COALESCE(b."BENRES_CAR", 0)'
_PPPYMT = 'COALESCE(b."PPPYMT_IP", 0) + COALESCE(b."PPPYMT_OP", 0) + COALESCE(b."PPPYMT_CAR", 0)'


def _months(column: str) -> str:
    """Coverage months as an integer whether the column holds 6 or the file's padded text "06"."""
    return f'COALESCE(CAST(b."{column}" AS INTEGER), 0)'


#: Member months of Medicare Parts A/B (the MEDREIMB_* amounts): months with Part A or Part B coverage.
MEMBER_MONTHS = f"GREATEST({_months('BENE_HI_CVRAGE_TOT_MONS')}, {_months('BENE_SMI_CVRAGE_TOT_MONS')})"
#: Member months of Part D (the PDE costs).
PLAN_MONTHS = _months("PLAN_CVRG_MOS_NUM")
#: Per-1,000 rates are per 1,000 member-years: events x 12,000 / member months.
PER_1000 = 12000.0


def _case(expr: str, labels: dict[int, str], other: str = "unknown") -> str:
    whens = " ".join(f"WHEN {expr} = {code} THEN '{label}'" for code, label in labels.items())
    return f"CASE {whens} ELSE '{other}' END"


def _age_band() -> str:
    """Age on 1 January of YEAR (birth dates are always the 1st of a month), in the bands of AGE_BANDS."""
    birth = 'b."BENE_BIRTH_DT"'
    age = f'(b."YEAR" - EXTRACT(YEAR FROM {birth}) - CASE WHEN EXTRACT(MONTH FROM {birth}) > 1 THEN 1 ELSE 0 END)'
    return (
        f"CASE WHEN {birth} IS NULL THEN 'unknown' WHEN {age} < 65 THEN '<65' WHEN {age} < 75 THEN '65-74' "
        f"WHEN {age} < 85 THEN '75-84' ELSE '85+' END"
    )


def _beneficiary_rows(schema: str) -> str:
    """One row per beneficiary-year with BI dimensions, coverage months and the annual amounts."""
    sex, race = _case('b."BENE_SEX_IDENT_CD"', SEX_LABELS), _case('b."BENE_RACE_CD"', RACE_LABELS)
    return (
        f'SELECT b."YEAR" AS year, CAST(b."SP_STATE_CODE" AS INTEGER) AS state_code, {_age_band()} AS age_band, '
        f'b."BENE_SEX_IDENT_CD" AS sex_code, {sex} AS sex, b."BENE_RACE_CD" AS race_code, {race} AS race, '
        f"{MEMBER_MONTHS} AS member_months, "
        f'COALESCE(b."MEDREIMB_IP", 0) AS medreimb_ip, COALESCE(b."MEDREIMB_OP", 0) AS medreimb_op, '
        f'COALESCE(b."MEDREIMB_CAR", 0) AS medreimb_car, {_MEDREIMB} AS medreimb_total, '
        f"{_BENRES} AS benres_total, {_PPPYMT} AS pppymt_total "
        f"FROM {schema}.beneficiary_summary b"
    )


_SETTINGS = ("ip", "op", "car", "total")


def _cost_view(schema: str, dims: list[str]) -> str:
    """Beneficiaries, member months, reimbursement sums, per-capita and per-member-month (PMPM) amounts by ``dims``.

    PMPM = SUM(reimbursement) / SUM(member months): a beneficiary covered 3 months weighs a quarter of one covered
    all year. Beneficiary-years with no Part A/B month add their (rare) cost but no months.
    """
    d = ", ".join(dims)
    per_capita = ", ".join(f"CAST(SUM(medreimb_{m}) AS {_DOUBLE}) / COUNT(*) AS per_capita_{m}" for m in _SETTINGS)
    pmpm = ", ".join(
        f"CAST(SUM(medreimb_{m}) AS {_DOUBLE}) / NULLIF(SUM(member_months), 0) AS pmpm_{m}" for m in _SETTINGS
    )
    return (
        f"SELECT {d}, COUNT(*) AS beneficiaries, SUM(member_months) AS member_months, "
        "SUM(medreimb_ip) AS medreimb_ip, SUM(medreimb_op) AS medreimb_op, "
        "SUM(medreimb_car) AS medreimb_car, SUM(medreimb_total) AS medreimb_total, "
        f"SUM(benres_total) AS benres_total, SUM(pppymt_total) AS pppymt_total, {per_capita}, {pmpm} "
        f"FROM ({_beneficiary_rows(schema)}) AS r GROUP BY {d}"
    )


def _year(column: str) -> str:
    return f"CAST(EXTRACT(YEAR FROM {column}) AS INTEGER)"


_SERVICE_YEAR = _year('"SRVC_DT"')
_THRU_YEAR = _year('"CLM_THRU_DT"')
_FIRST_THRU_YEAR = _year('MIN("CLM_THRU_DT")')
_STAY_YEAR = _year("COALESCE(dis, adm)")


def _enrolment(schema: str) -> str:
    """Per year: beneficiaries, Part A/B member months, Part D enrollees and plan months (the rate denominators)."""
    return (
        'SELECT b."YEAR" AS year, COUNT(*) AS beneficiaries, '
        f"SUM({MEMBER_MONTHS}) AS member_months, "
        f"SUM(CASE WHEN {PLAN_MONTHS} > 0 THEN 1 ELSE 0 END) AS part_d_enrollees, "
        f'SUM({PLAN_MONTHS}) AS plan_months FROM {schema}.beneficiary_summary b GROUP BY b."YEAR"'
    )


def _pmpm_by_setting(schema: str) -> str:
    """Long format: year, setting, beneficiaries, member months, cost and PMPM; Part D over Part D plan months."""
    parts = [
        f"SELECT year, CAST('{label}' AS VARCHAR(32)) AS setting, beneficiaries, member_months, "
        f"medreimb_{m} AS cost, CAST(medreimb_{m} AS {_DOUBLE}) / NULLIF(member_months, 0) AS pmpm "
        f"FROM ({_cost_view(schema, ['year'])}) AS c"
        for m, label in (("ip", "inpatient"), ("op", "outpatient"), ("car", "carrier"))
    ]
    parts.append(
        "SELECT e.year, CAST('prescription drugs (Part D)' AS VARCHAR(32)) AS setting, e.part_d_enrollees, "
        f"e.plan_months, COALESCE(d.cost, 0), CAST(COALESCE(d.cost, 0) AS {_DOUBLE}) / NULLIF(e.plan_months, 0) "
        f"FROM ({_enrolment(schema)}) AS e LEFT JOIN ({_pde_by_year(schema)}) AS d ON d.year = e.year"
    )
    return " UNION ALL ".join(parts)


def _pde_by_year(schema: str) -> str:
    return (
        f'SELECT {_SERVICE_YEAR} AS year, COUNT(*) AS fills, COUNT(DISTINCT "DESYNPUF_ID") AS users, '
        'SUM("TOT_RX_CST_AMT") AS cost, SUM("PTNT_PAY_AMT") AS patient_pay, SUM("DAYS_SUPLY_NUM") AS days_supply '
        f'FROM {schema}.prescription_drug_events WHERE "SRVC_DT" IS NOT NULL GROUP BY {_SERVICE_YEAR}'
    )


def _part_d_cost(schema: str) -> str:
    """Part D by year: enrollees, plan months, fills, users, total and patient-paid drug cost, PMPM, cost per fill."""
    return (
        "SELECT e.year, e.part_d_enrollees, e.plan_months, COALESCE(d.users, 0) AS users, "
        "COALESCE(d.fills, 0) AS fills, COALESCE(d.cost, 0) AS tot_rx_cost, COALESCE(d.patient_pay, 0) AS patient_pay, "
        f"CAST(d.cost AS {_DOUBLE}) / NULLIF(e.plan_months, 0) AS cost_pmpm, "
        f"CAST(d.cost AS {_DOUBLE}) / NULLIF(d.fills, 0) AS cost_per_fill, "
        f"{PER_1000} * COALESCE(d.fills, 0) / NULLIF(e.plan_months, 0) AS fills_per_1000 "
        f"FROM ({_enrolment(schema)}) AS e LEFT JOIN ({_pde_by_year(schema)}) AS d ON d.year = e.year"
    )


def _days_between(start: str, end: str, dialect: str) -> str:
    """Whole days from ``start`` to ``end``: date subtraction in DuckDB/PostgreSQL, DATEDIFF in Redshift."""
    return f"DATEDIFF(day, {start}, {end})" if dialect == "redshift" else f"({end} - {start})"


def _utilization(schema: str, dialect: str) -> str:
    """Per year: inpatient stays (distinct beneficiary and admission date: interim claims of a stay share it), their
    mean length (discharge - admission days), outpatient visits and carrier claims (distinct CLM_ID: carrier files
    repeat some), PDE fills; each also per 1,000 member-years. A stay counts in its discharge year."""
    los = _days_between("adm", "dis", dialect)
    stays = (
        f"SELECT {_STAY_YEAR} AS year, COUNT(*) AS stays, SUM({los}) AS stay_days, "
        f"SUM(CASE WHEN dis IS NOT NULL THEN 1 ELSE 0 END) AS discharged FROM ("
        'SELECT sample, "DESYNPUF_ID", "CLM_ADMSN_DT" AS adm, MAX("NCH_BENE_DSCHRG_DT") AS dis '
        f'FROM {schema}.inpatient_claims WHERE "CLM_ADMSN_DT" IS NOT NULL '
        'GROUP BY sample, "DESYNPUF_ID", "CLM_ADMSN_DT"'
        f") AS s GROUP BY {_STAY_YEAR}"
    )

    def claims(table: str, name: str) -> str:
        return (
            f"SELECT year, COUNT(*) AS {name} FROM (SELECT {_FIRST_THRU_YEAR} AS year "
            f'FROM {schema}.{table} WHERE "CLM_THRU_DT" IS NOT NULL GROUP BY sample, "DESYNPUF_ID", "CLM_ID") AS c '
            "GROUP BY year"
        )

    rate = ", ".join(
        f"{PER_1000} * COALESCE({c}, 0) / NULLIF(e.member_months, 0) AS {c}_per_1000"
        for c in ("stays", "op_visits", "car_claims")
    )
    return (
        "SELECT e.year, e.beneficiaries, e.member_months, e.plan_months, COALESCE(s.stays, 0) AS stays, "
        f"CAST(s.stay_days AS {_DOUBLE}) / NULLIF(s.discharged, 0) AS avg_length_of_stay, "
        "COALESCE(o.op_visits, 0) AS op_visits, COALESCE(c.car_claims, 0) AS car_claims, "
        f"COALESCE(d.fills, 0) AS pde_fills, {rate}, "
        f"{PER_1000} * COALESCE(d.fills, 0) / NULLIF(e.plan_months, 0) AS pde_fills_per_1000 "
        f"FROM ({_enrolment(schema)}) AS e LEFT JOIN ({stays}) AS s ON s.year = e.year "
        f"LEFT JOIN ({claims('outpatient_claims', 'op_visits')}) AS o ON o.year = e.year "
        f"LEFT JOIN ({claims('carrier_claims', 'car_claims')}) AS c ON c.year = e.year "
        f"LEFT JOIN ({_pde_by_year(schema)}) AS d ON d.year = e.year"
    )


def _ranked_codes(events: str) -> str:
    """Per (year, code): events, distinct beneficiaries, cost and the code's rank by cost and by count in its year.
    ``events`` selects year, code, DESYNPUF_ID and amount, one row per event."""
    return (
        "SELECT year, code, events, beneficiaries, cost, "
        "ROW_NUMBER() OVER (PARTITION BY year ORDER BY cost DESC, code) AS rank_by_cost, "
        "ROW_NUMBER() OVER (PARTITION BY year ORDER BY events DESC, code) AS rank_by_count FROM ("
        'SELECT year, code, COUNT(*) AS events, COUNT(DISTINCT "DESYNPUF_ID") AS beneficiaries, '
        f"COALESCE(SUM(amount), 0) AS cost FROM ({events}) AS e WHERE code IS NOT NULL AND code <> '' "
        "GROUP BY year, code) AS g"
    )


def _carrier_lines(schema: str, code_prefix: str) -> str:
    """One row per used carrier line: its code (``<prefix>_n``) and its Medicare payment LINE_NCH_PMT_AMT_n."""
    return " UNION ALL ".join(
        f'SELECT {_THRU_YEAR} AS year, "{code_prefix}_{i}" AS code, "DESYNPUF_ID", '
        f'"LINE_NCH_PMT_AMT_{i}" AS amount FROM {schema}.carrier_claims'
        for i in range(1, CARRIER_LINES + 1)
    )


def _top_diagnoses(schema: str) -> str:
    """ICD-9 diagnoses: the principal diagnosis (ICD9_DGNS_CD_1) of each inpatient and outpatient claim row with its
    CLM_PMT_AMT, and each carrier line's diagnosis with the line payment."""
    claims = " UNION ALL ".join(
        f'SELECT {_THRU_YEAR} AS year, "ICD9_DGNS_CD_1" AS code, "DESYNPUF_ID", "CLM_PMT_AMT" AS amount '
        f"FROM {schema}.{t}"
        for t in ("inpatient_claims", "outpatient_claims")
    )
    return _ranked_codes(f"{claims} UNION ALL {_carrier_lines(schema, 'LINE_ICD9_DGNS_CD')}")


def _top_hcpcs(schema: str) -> str:
    """HCPCS codes of carrier lines with their payments (institutional HCPCS carry no line payment in DE-SynPUF)."""
    return _ranked_codes(_carrier_lines(schema, "HCPCS_CD"))


def _top_ndc(schema: str) -> str:
    """NDCs (PROD_SRVC_ID) of Part D events with their total drug cost."""
    return _ranked_codes(
        f'SELECT {_SERVICE_YEAR} AS year, "PROD_SRVC_ID" AS code, "DESYNPUF_ID", "TOT_RX_CST_AMT" AS amount '
        f"FROM {schema}.prescription_drug_events"
    )


def _chronic_conditions(schema: str) -> str:
    """Prevalence (flag 1 = yes, 2 = no) and per-capita reimbursement with and without each condition, by year."""
    parts = []
    for column, label in CONDITION_LABELS.items():
        has = f'b."{column}" = 1'
        n_with = f"SUM(CASE WHEN {has} THEN 1 ELSE 0 END)"
        n_without = f"SUM(CASE WHEN {has} THEN 0 ELSE 1 END)"
        label_sql = label.replace("'", "''")
        parts.append(
            f"SELECT b.\"YEAR\" AS year, CAST('{column.removeprefix('SP_')}' AS VARCHAR(16)) AS condition, "
            f"CAST('{label_sql}' AS VARCHAR(64)) AS condition_name, COUNT(*) AS beneficiaries, "
            f"{n_with} AS with_condition, CAST({n_with} AS {_DOUBLE}) / COUNT(*) AS prevalence, "
            f"SUM(CASE WHEN {has} THEN {_MEDREIMB} ELSE 0 END) AS medreimb_with, "
            f"CAST(SUM(CASE WHEN {has} THEN {_MEDREIMB} ELSE 0 END) AS {_DOUBLE}) / NULLIF({n_with}, 0) "
            "AS per_capita_with, "
            f"CAST(SUM(CASE WHEN {has} THEN 0 ELSE {_MEDREIMB} END) AS {_DOUBLE}) / NULLIF({n_without}, 0) "
            "AS per_capita_without "
            f'FROM {schema}.beneficiary_summary b GROUP BY b."YEAR"'
        )
    return " UNION ALL ".join(parts)


def _high_cost_by_state(schema: str) -> str:
    """The predicted top-10% cohort per scope, feature year and state, with what it actually cost the year after.

    Actual next-year cost (the features' NEXT_YEAR_COST label) is shown only for the ``holdout`` scope: the current
    scope's next year is not in the data, and a missing label must not read as a zero cost.
    """
    high = 'p."HIGH_COST" = 1'
    actual = f'CASE WHEN p."SCOPE" = \'{HOLDOUT}\' THEN f."NEXT_YEAR_COST" END'
    return (
        'SELECT p."SCOPE" AS scope, p."YEAR" AS feature_year, p."YEAR" + 1 AS prediction_year, '
        'f."STATE" AS state_code, p."MODEL_VERSION" AS model_version, COUNT(*) AS scored, '
        f"SUM(CASE WHEN {high} THEN 1 ELSE 0 END) AS high_cost, "
        f'SUM(p."PREDICTED_NEXT_YEAR_COST") AS predicted_cost_all, '
        f'SUM(CASE WHEN {high} THEN p."PREDICTED_NEXT_YEAR_COST" END) AS predicted_cost_high_cost, '
        f"SUM(CASE WHEN {high} THEN {actual} END) AS actual_cost_high_cost, "
        f"SUM({actual}) AS actual_cost_all, "
        f"AVG(CASE WHEN {high} THEN {actual} END) AS actual_mean_high_cost, "
        f"AVG(CASE WHEN {high} THEN NULL ELSE {actual} END) AS actual_mean_other, "
        f"CAST(SUM(CASE WHEN {high} THEN {actual} END) AS {_DOUBLE}) / NULLIF(SUM({actual}), 0) "
        "AS high_cost_share_of_actual "
        f"FROM {schema}.cost_predictions p LEFT JOIN {schema}.beneficiary_features f "
        'ON f."DESYNPUF_ID" = p."DESYNPUF_ID" AND f."YEAR" = p."YEAR" AND f.sample = p.sample '
        'GROUP BY p."SCOPE", p."YEAR", f."STATE", p."MODEL_VERSION"'
    )


def _latest_metrics(schema: str) -> str:
    """All metrics of the most recently trained model version."""
    m = f"{schema}.model_metrics"
    return (
        'SELECT "MODEL_VERSION" AS model_version, "MODEL_NAME" AS model_name, "SPLIT" AS split, '
        '"METRIC" AS metric, "VALUE" AS metric_value, "SELECTED" AS selected, "TRAINED_AT" AS trained_at '
        f'FROM {m} WHERE "MODEL_VERSION" IN '
        f'(SELECT "MODEL_VERSION" FROM {m} WHERE "TRAINED_AT" = (SELECT MAX("TRAINED_AT") FROM {m}))'
    )


def view_queries(schema: str, dialect: str = "postgresql") -> dict[str, str]:
    """View name -> SELECT for ``dialect``, with ``schema`` already quoted as needed."""
    return {
        "v_cost_by_segment": _cost_view(
            schema, ["year", "state_code", "age_band", "sex_code", "sex", "race_code", "race"]
        ),
        "v_cost_by_year": _cost_view(schema, ["year"]),
        "v_cost_by_state": _cost_view(schema, ["year", "state_code"]),
        "v_cost_by_age_sex": _cost_view(schema, ["year", "age_band", "sex"]),
        "v_cost_by_race": _cost_view(schema, ["year", "race_code", "race"]),
        "v_pmpm_by_setting": _pmpm_by_setting(schema),
        "v_utilization_by_year": _utilization(schema, dialect),
        "v_part_d_cost": _part_d_cost(schema),
        "v_top_diagnoses": _top_diagnoses(schema),
        "v_top_hcpcs": _top_hcpcs(schema),
        "v_top_ndc": _top_ndc(schema),
        "v_chronic_conditions": _chronic_conditions(schema),
        "v_high_cost_by_state": _high_cost_by_state(schema),
        "v_model_metrics_latest": _latest_metrics(schema),
    }


def view_statements(schema: str, dialect: str) -> list[tuple[str, str]]:
    """(name, CREATE OR REPLACE VIEW ...) for every view, for the given dialect."""
    q = dialect_for(dialect).identifier_preparer.quote(schema)
    binding = " WITH NO SCHEMA BINDING" if dialect == "redshift" else ""
    return [
        (name, f"CREATE OR REPLACE VIEW {q}.{name} AS {sql}{binding}") for name, sql in view_queries(q, dialect).items()
    ]
