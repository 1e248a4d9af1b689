"""The questions the insight report answers, one section (chart, text, table) each, read from the BI views.

Cross-sections use the reference year: the latest year that has a following year in the warehouse. DE-SynPUF's
last year (2010) holds a partial year of claims (cost per beneficiary $2,447 vs $4,293 in 2009), so comparing
states or age bands in it would compare artefacts; by-year charts show every year.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cms_assets.lib.warehouse.charts import MIN_CELL, Series, bars, n_label, suppressed

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from cms_assets.lib.warehouse.load import Warehouse

#: SSA state codes used by SP_STATE_CODE (CMS DE-SynPUF Codebook); 54 groups all others.
SSA_STATES = (
    "AL AK AZ AR CA CO CT DE DC FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH "
    "OK OR PA PR RI SC SD TN TX UT VT VI VA WA WV WI WY"
).split()
STATE_LABELS = {i + 1: s for i, s in enumerate(SSA_STATES)} | {54: "Other"}
SETTINGS = ["inpatient", "outpatient", "carrier", "prescription drugs (Part D)"]
TOP_CODES = 20


@dataclass
class Section:
    title: str
    text: str
    chart: Callable[[Figure], None] | None = None  # None: the inputs are not yet materialized
    table: list[dict[str, Any]] = field(default_factory=list)
    name: str = ""
    size: tuple[float, float] = (10, 5.5)


def state_label(code: Any) -> str:
    """SSA code (3 or "03") -> postal abbreviation; unknown codes as given."""
    try:
        return STATE_LABELS.get(int(code), str(code))
    except (TypeError, ValueError):
        return "?" if code is None else str(code)


def rows(wh: Warehouse, sql: str) -> list[dict[str, Any]]:
    """Query rows with decimals as floats (the charts need numbers, not exact cents)."""
    return [{k: float(v) if isinstance(v, Decimal) else v for k, v in r.items()} for r in wh.query(sql).to_pylist()]


def money(v: float | None) -> str:
    return "-" if v is None else f"${v:,.0f}"


def count(n: float | None) -> str:
    """A beneficiary count for a table cell: suppressed below MIN_CELL."""
    return f"<{MIN_CELL}" if suppressed(n) else f"{int(n or 0):,}"


def _ratio(num: float | None, den: float | None) -> float | None:
    return None if num is None or not den else num / den


def _hidden_note(k: int, what: str) -> str:
    return f" {k} {what} with fewer than {MIN_CELL} beneficiaries suppressed." if k else ""


def cost_sections(wh: Warehouse, s: str) -> tuple[list[Section], int | None]:
    """PMPM by year and setting, by state, by age band and sex, by race; and the reference year."""
    years = rows(wh, f"SELECT * FROM {s}.v_cost_by_year ORDER BY year")
    if not years:
        return [Section("Medicare cost per member month", "not yet materialized: no beneficiary_summary rows.")], None
    ys = [int(r["year"]) for r in years]
    ref = max(y for y in ys if y + 1 in ys) if len(ys) > 1 else ys[-1]
    setting = {(r["year"], r["setting"]): r for r in rows(wh, f"SELECT * FROM {s}.v_pmpm_by_setting")}
    n_year = {r["year"]: r["beneficiaries"] for r in years}

    def by_year(fig: Figure) -> None:
        ax = fig.subplots()
        cats = [n_label(str(y), n_year[y]) for y in ys]
        series = [Series(label, [(setting.get((y, label)) or {}).get("pmpm") for y in ys], None) for label in SETTINGS]
        bars(ax, cats, series, "cost per member month ($)")

    states = rows(
        wh,
        f"SELECT state_code, beneficiaries AS n, pmpm_total FROM {s}.v_cost_by_state WHERE year = {ref} "
        "ORDER BY pmpm_total DESC",
    )
    shown_states = [r for r in states if not suppressed(r["n"])]
    age_sex = {
        (r["age_band"], r["sex"]): r for r in rows(wh, f"SELECT * FROM {s}.v_cost_by_age_sex WHERE year = {ref}")
    }
    race = {(r["race"], r["year"]): r for r in rows(wh, f"SELECT * FROM {s}.v_cost_by_race")}

    def by_state(fig: Figure) -> None:
        ax = fig.subplots()
        top = shown_states[:25]
        cats = [state_label(r["state_code"]) for r in top]
        bars(ax, cats, [Series(str(ref), [r["pmpm_total"] for r in top], [r["n"] for r in top])], "PMPM ($)", True)

    bands = [b for b in ("<65", "65-74", "75-84", "85+", "unknown") if any(k[0] == b for k in age_sex)]

    def by_age_sex(fig: Figure) -> None:
        ax = fig.subplots()
        series = [
            Series(
                sex,
                [(age_sex.get((b, sex)) or {}).get("pmpm_total") for b in bands],
                [(age_sex.get((b, sex)) or {}).get("beneficiaries", 0) for b in bands],
            )
            for sex in ("female", "male")
        ]
        bars(ax, bands, series, f"PMPM, {ref} ($)")

    races = sorted({k[0] for k in race})

    def by_race(fig: Figure) -> None:
        ax = fig.subplots()
        series = [
            Series(
                str(y),
                [(race.get((x, y)) or {}).get("pmpm_total") for x in races],
                [(race.get((x, y)) or {}).get("beneficiaries", 0) for x in races],
            )
            for y in ys
        ]
        bars(ax, races, series, "PMPM ($)")

    table = [
        {
            "Year": r["year"],
            "Beneficiaries": count(r["beneficiaries"]),
            "Member months (A/B)": f"{int(r['member_months'] or 0):,}",
            "Medicare reimbursement": money(r["medreimb_total"]),
            "PMPM (A/B)": money(r["pmpm_total"]),
            "Part D PMPM": money((setting.get((r["year"], SETTINGS[3])) or {}).get("pmpm")),
        }
        for r in years
    ]
    small_cells = sum(1 for r in age_sex.values() if suppressed(r["beneficiaries"]))
    small_race = sum(1 for r in race.values() if suppressed(r["beneficiaries"]))
    pmpm = (
        "PMPM = cost / member months; a member month is a month with Part A or Part B coverage "
        "(BENE_HI/SMI_CVRAGE_TOT_MONS); Part D over Part D plan months (PLAN_CVRG_MOS_NUM)."
    )
    return [
        Section(
            "Cost per member month by year and setting",
            f"{pmpm} Inpatient, outpatient, carrier: MEDREIMB_* of the beneficiary files; Part D: PDE TOT_RX_CST_AMT.",
            by_year,
            table,
            "cost_by_year",
        ),
        Section(
            f"Highest-PMPM states, {ref}",
            f"Top 25 SSA states by PMPM, each bar with its n.{_hidden_note(len(states) - len(shown_states), 'states')}",
            by_state,
            name="cost_by_state",
            size=(10, 7),
        ),
        Section(
            f"PMPM by age band and sex, {ref}",
            f"Age on 1 January of the year.{_hidden_note(small_cells, 'cells')}",
            by_age_sex,
            name="cost_by_age_sex",
        ),
        Section(
            "PMPM by race and year",
            f"BENE_RACE_CD: white, black, other, hispanic.{_hidden_note(small_race, 'cells')}",
            by_race,
            name="cost_by_race",
        ),
    ], ref


def utilization_section(wh: Warehouse, s: str) -> Section:
    title = "Utilization per 1,000 member-years by year"
    u = rows(wh, f"SELECT * FROM {s}.v_utilization_by_year ORDER BY year")
    if not u:
        return Section(title, "not yet materialized: no beneficiary_summary rows.")
    panels = [
        ("stays_per_1000", "inpatient admissions / 1,000"),
        ("avg_length_of_stay", "average length of stay (days)"),
        ("op_visits_per_1000", "outpatient visits / 1,000"),
        ("car_claims_per_1000", "carrier claims / 1,000"),
        ("pde_fills_per_1000", "Part D fills / 1,000 (Part D years)"),
    ]

    def chart(fig: Figure) -> None:
        axes = fig.subplots(1, len(panels))
        cats = [n_label(str(r["year"]), r["beneficiaries"]) for r in u]
        for ax, (key, label) in zip(axes, panels, strict=True):
            bars(ax, cats, [Series(label, [r[key] for r in u])], "", annotate_n=False)
            ax.set_title(label, fontsize=9)
            ax.tick_params(axis="x", labelrotation=90)

    table = [
        {
            "Year": r["year"],
            "Beneficiaries": count(r["beneficiaries"]),
            "Admissions": f"{int(r['stays']):,}",
            "ALOS (days)": "-" if r["avg_length_of_stay"] is None else f"{r['avg_length_of_stay']:.1f}",
            "Outpatient visits": f"{int(r['op_visits']):,}",
            "Carrier claims": f"{int(r['car_claims']):,}",
            "PDE fills": f"{int(r['pde_fills']):,}",
        }
        for r in u
    ]
    text = (
        "Rates per 1,000 member-years (events x 12,000 / member months). An admission is a distinct (beneficiary, "
        "CLM_ADMSN_DT) in its discharge year, its length NCH_BENE_DSCHRG_DT - CLM_ADMSN_DT; visits and claims are "
        "distinct CLM_IDs; PDE fills per Part D plan month."
    )
    return Section(title, text, chart, table, "utilization", size=(13, 5))


def code_sections(wh: Warehouse, s: str, ref: int | None) -> list[Section]:
    """Top 20 ICD-9 diagnoses, HCPCS and NDCs of the reference year, by cost and by count."""
    specs = [
        ("v_top_diagnoses", "ICD-9 diagnoses", "top_diagnoses", "inpatient/outpatient principal and carrier line"),
        ("v_top_hcpcs", "HCPCS procedures", "top_hcpcs", "carrier lines (institutional HCPCS carry no payment)"),
        ("v_top_ndc", "drugs (NDC)", "top_ndc", "Part D events, TOT_RX_CST_AMT"),
    ]
    out = []
    for view, what, name, source in specs:
        title = f"Top {TOP_CODES} {what} by cost and by count, {ref}"
        if ref is None:
            out.append(Section(title, "not yet materialized: no claims in the warehouse."))
            continue
        ranked = rows(
            wh,
            f"SELECT * FROM {s}.{view} WHERE year = {ref} AND beneficiaries >= {MIN_CELL} "
            f"AND (rank_by_cost <= {TOP_CODES * 5} OR rank_by_count <= {TOP_CODES * 5})",
        )
        small = rows(wh, f"SELECT COUNT(*) AS k FROM {s}.{view} WHERE year = {ref} AND beneficiaries < {MIN_CELL}")
        if not ranked and not small[0]["k"]:
            out.append(Section(title, f"not yet materialized: no {what} in {ref}."))
            continue
        by_cost = sorted(ranked, key=lambda r: r["rank_by_cost"])[:TOP_CODES]
        by_count = sorted(ranked, key=lambda r: r["rank_by_count"])[:TOP_CODES]

        def chart(fig: Figure, by_cost: list = by_cost, by_count: list = by_count) -> None:
            left, right = fig.subplots(1, 2)
            for ax, top, key, label in ((left, by_cost, "cost", "Medicare / drug cost ($)"), (right, by_count,
                                        "events", "claims, lines or fills")):  # fmt: skip
                cats = [n_label(str(r["code"]), r["beneficiaries"]) for r in top]
                bars(ax, cats, [Series(label, [r[key] for r in top])], label, horizontal=True, annotate_n=False)
                ax.set_title(f"by {key if key == 'cost' else 'count'}", fontsize=9)

        text = (
            f"{source}; n = distinct beneficiaries with the code.{_hidden_note(int(small[0]['k']), 'codes')}"
            if ranked
            else f"Every code has fewer than {MIN_CELL} beneficiaries: all suppressed."
        )
        out.append(Section(title, text, chart if ranked else None, name=name, size=(12, 7)))
    return out


def part_d_section(wh: Warehouse, s: str) -> Section:
    title = "Part D drug cost by year"
    d = rows(wh, f"SELECT * FROM {s}.v_part_d_cost ORDER BY year")
    if not d or not any(r["fills"] for r in d):
        return Section(title, "not yet materialized: no prescription drug events.")

    def chart(fig: Figure) -> None:
        left, right = fig.subplots(1, 2)
        cats = [n_label(str(r["year"]), r["part_d_enrollees"]) for r in d]
        bars(left, cats, [Series("PMPM", [r["cost_pmpm"] for r in d])], "drug cost per Part D member month ($)")
        bars(right, cats, [Series("per fill", [r["cost_per_fill"] for r in d])], "drug cost per fill ($)")

    table = [
        {
            "Year": r["year"],
            "Part D enrollees": count(r["part_d_enrollees"]),
            "Users": count(r["users"]),
            "Fills": f"{int(r['fills']):,}",
            "Total drug cost": money(r["tot_rx_cost"]),
            "Patient pay": money(r["patient_pay"]),
        }
        for r in d
    ]
    return Section(title, "n = beneficiaries with Part D plan months in the year.", chart, table, "part_d")


def condition_sections(wh: Warehouse, s: str, ref: int | None) -> list[Section]:
    data = rows(wh, f"SELECT * FROM {s}.v_chronic_conditions ORDER BY condition, year")
    if not data:
        return []
    names = sorted({r["condition_name"] for r in data})
    years = sorted({r["year"] for r in data})
    ref = ref if ref in years else years[-1]
    cell = {(r["condition_name"], r["year"]): r for r in data}

    def prevalence(fig: Figure) -> None:
        series = [Series(str(y), [100 * cell[(n, y)]["prevalence"] for n in names]) for y in years]
        bars(fig.subplots(), names, series, "beneficiaries with the condition (%)", horizontal=True)

    def cost(fig: Figure) -> None:
        series = [
            Series("with the condition", [cell[(n, ref)]["per_capita_with"] for n in names],
                   [cell[(n, ref)]["with_condition"] for n in names]),
            Series("without", [cell[(n, ref)]["per_capita_without"] for n in names],
                   [cell[(n, ref)]["beneficiaries"] - cell[(n, ref)]["with_condition"] for n in names]),
        ]  # fmt: skip
        bars(fig.subplots(), names, series, f"reimbursement per beneficiary, {ref} ($)", horizontal=True)

    n_years = ", ".join(f"{y}: {int(cell[(names[0], y)]['beneficiaries']):,}" for y in years)
    return [
        Section(
            "Chronic condition prevalence by year",
            f"SP_* flags (1 = yes) of the beneficiary files; n = beneficiaries per year ({n_years}).",
            prevalence,
            name="chronic_prevalence",
            size=(10, 7),
        ),
        Section(
            f"Cost with and without each condition, {ref}",
            "Per-beneficiary reimbursement (MEDREIMB_*), each bar with its n.",
            cost,
            name="chronic_cost",
            size=(10, 7),
        ),
    ]
