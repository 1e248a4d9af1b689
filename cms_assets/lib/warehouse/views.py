"""BI views for a dashboard (Tableau, Superset) and the insight report, in SQL that DuckDB, PostgreSQL and Redshift
all accept.

Views expose lower-case column names and readable labels, and keep additive measures (counts, sums) next to the
ratios so a dashboard can re-aggregate: a per-capita figure over several rows is SUM(medreimb_total) /
SUM(beneficiaries), never the mean of per-capita values. Redshift views are late-binding (WITH NO SCHEMA BINDING),
so reloading or recreating a table never requires dropping the views first.
"""

from __future__ import annotations

from cms_assets.lib.synpuf.columns import CHRONIC_CONDITIONS
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
    """One row per beneficiary-year with BI dimensions and the annual amounts."""
    sex, race = _case('b."BENE_SEX_IDENT_CD"', SEX_LABELS), _case('b."BENE_RACE_CD"', RACE_LABELS)
    return (
        f'SELECT b."YEAR" AS year, b."SP_STATE_CODE" AS state_code, {_age_band()} AS age_band, '
        f'b."BENE_SEX_IDENT_CD" AS sex_code, {sex} AS sex, b."BENE_RACE_CD" AS race_code, {race} AS race, '
        f'COALESCE(b."MEDREIMB_IP", 0) AS medreimb_ip, COALESCE(b."MEDREIMB_OP", 0) AS medreimb_op, '
        f'COALESCE(b."MEDREIMB_CAR", 0) AS medreimb_car, {_MEDREIMB} AS medreimb_total, '
        f"{_BENRES} AS benres_total, {_PPPYMT} AS pppymt_total "
        f"FROM {schema}.beneficiary_summary b"
    )


def _cost_view(schema: str, dims: list[str]) -> str:
    """Beneficiaries, reimbursement sums and per-capita amounts grouped by the given dimensions."""
    d = ", ".join(dims)
    per_capita = ", ".join(
        f"CAST(SUM({m}) AS {_DOUBLE}) / COUNT(*) AS per_capita_{m.removeprefix('medreimb_')}"
        for m in ("medreimb_ip", "medreimb_op", "medreimb_car", "medreimb_total")
    )
    return (
        f"SELECT {d}, COUNT(*) AS beneficiaries, SUM(medreimb_ip) AS medreimb_ip, SUM(medreimb_op) AS medreimb_op, "
        "SUM(medreimb_car) AS medreimb_car, SUM(medreimb_total) AS medreimb_total, "
        f"SUM(benres_total) AS benres_total, SUM(pppymt_total) AS pppymt_total, {per_capita} "
        f"FROM ({_beneficiary_rows(schema)}) AS r GROUP BY {d}"
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
    """The predicted top-10% cohort per state and feature year, with what it actually cost the year after."""
    high = 'p."HIGH_COST" = 1'
    actual = 'f."NEXT_YEAR_COST"'
    return (
        'SELECT p."YEAR" AS feature_year, p."YEAR" + 1 AS prediction_year, f."STATE" AS state_code, '
        'p."MODEL_VERSION" AS model_version, COUNT(*) AS scored, '
        f"SUM(CASE WHEN {high} THEN 1 ELSE 0 END) AS high_cost, "
        f'SUM(CASE WHEN {high} THEN p."PREDICTED_NEXT_YEAR_COST" END) AS predicted_cost_high_cost, '
        f"SUM(CASE WHEN {high} THEN {actual} END) AS actual_cost_high_cost, "
        f"SUM({actual}) AS actual_cost_all, "
        f"AVG(CASE WHEN {high} THEN {actual} END) AS actual_mean_high_cost, "
        f"AVG(CASE WHEN {high} THEN NULL ELSE {actual} END) AS actual_mean_other, "
        f"CAST(SUM(CASE WHEN {high} THEN {actual} END) AS {_DOUBLE}) / NULLIF(SUM({actual}), 0) "
        "AS high_cost_share_of_actual "
        f"FROM {schema}.cost_predictions p LEFT JOIN {schema}.beneficiary_features f "
        'ON f."DESYNPUF_ID" = p."DESYNPUF_ID" AND f."YEAR" = p."YEAR" AND f.sample = p.sample '
        'GROUP BY p."YEAR", f."STATE", p."MODEL_VERSION"'
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


def view_queries(schema: str) -> dict[str, str]:
    """View name -> SELECT, with ``schema`` already quoted as needed."""
    return {
        "v_cost_by_segment": _cost_view(
            schema, ["year", "state_code", "age_band", "sex_code", "sex", "race_code", "race"]
        ),
        "v_cost_by_state": _cost_view(schema, ["year", "state_code"]),
        "v_cost_by_age_sex": _cost_view(schema, ["year", "age_band", "sex"]),
        "v_cost_by_race": _cost_view(schema, ["year", "race_code", "race"]),
        "v_chronic_conditions": _chronic_conditions(schema),
        "v_high_cost_by_state": _high_cost_by_state(schema),
        "v_model_metrics_latest": _latest_metrics(schema),
    }


def view_statements(schema: str, dialect: str) -> list[tuple[str, str]]:
    """(name, CREATE OR REPLACE VIEW ...) for every view, for the given dialect."""
    q = dialect_for(dialect).identifier_preparer.quote(schema)
    binding = " WITH NO SCHEMA BINDING" if dialect == "redshift" else ""
    return [(name, f"CREATE OR REPLACE VIEW {q}.{name} AS {sql}{binding}") for name, sql in view_queries(q).items()]
