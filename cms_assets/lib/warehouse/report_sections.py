"""The questions the insight report answers, one section (chart, text, table) each, read from the dbt marts.

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
#: financial_pmpm's settings, as the report labels them.
SETTINGS = {
    "inpatient": "inpatient",
    "outpatient": "outpatient",
    "carrier": "carrier",
    "part_d": "prescription drugs (Part D)",
}
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


def _pmpm_rows(wh: Warehouse, s: str, where: str) -> list[dict[str, Any]]:
    """financial_pmpm rows with the Part A/B total (inpatient + outpatient + carrier) per (year, dimension value).

    The three A/B settings share their member months, so the total PMPM is their summed paid over those months.
    """
    return rows(
        wh,
        "select year, dimension_value, max(beneficiaries) as beneficiaries, max(member_months) as member_months, "
        "sum(paid_amount) as paid_amount, "
        f"sum(paid_amount) / nullif(max(member_months), 0) as pmpm from {s}.financial_pmpm "
        f"where setting in ('inpatient', 'outpatient', 'carrier') and {where} "
        "group by year, dimension_value order by year, dimension_value",
    )


def cost_sections(wh: Warehouse, s: str) -> tuple[list[Section], int | None]:
    """PMPM by year and setting, by state, by age band, by sex, by race (mart financial_pmpm); the reference year."""
    years = _pmpm_rows(wh, s, "dimension = 'all'")
    if not years:
        return [Section("Medicare cost per member month", "not yet materialized: no beneficiary_summary rows.")], None
    ys = [int(r["year"]) for r in years]
    ref = max(y for y in ys if y + 1 in ys) if len(ys) > 1 else ys[-1]
    setting = {
        (r["year"], SETTINGS.get(r["setting"], r["setting"])): r
        for r in rows(wh, f"select * from {s}.financial_pmpm where dimension = 'all'")
    }
    n_year = {r["year"]: r["beneficiaries"] for r in years}

    def by_year(fig: Figure) -> None:
        ax = fig.subplots()
        cats = [n_label(str(y), n_year[y]) for y in ys]
        labels = list(SETTINGS.values())
        series = [Series(label, [(setting.get((y, label)) or {}).get("pmpm") for y in ys], None) for label in labels]
        bars(ax, cats, series, "cost per member month ($)")

    states = sorted(_pmpm_rows(wh, s, f"dimension = 'state' and year = {ref}"), key=lambda r: -(r["pmpm"] or 0))
    shown_states = [r for r in states if not suppressed(r["beneficiaries"])]
    age = {r["dimension_value"]: r for r in _pmpm_rows(wh, s, f"dimension = 'age_band' and year = {ref}")}
    sex = {r["dimension_value"]: r for r in _pmpm_rows(wh, s, f"dimension = 'sex' and year = {ref}")}
    race = {(r["dimension_value"], r["year"]): r for r in _pmpm_rows(wh, s, "dimension = 'race'")}

    def by_state(fig: Figure) -> None:
        ax = fig.subplots()
        top = shown_states[:25]
        cats = [state_label(r["dimension_value"]) for r in top]
        series = [Series(str(ref), [r["pmpm"] for r in top], [r["beneficiaries"] for r in top])]
        bars(ax, cats, series, "PMPM ($)", True)

    bands = [b for b in ("<65", "65-74", "75-84", "85+", "unknown") if b in age]
    sexes = [x for x in ("female", "male", "unknown") if x in sex]

    def by_age_sex(fig: Figure) -> None:
        left, right = fig.subplots(1, 2)
        for ax, cats, cells, label in ((left, bands, age, "age band"), (right, sexes, sex, "sex")):
            n = [cells[c]["beneficiaries"] for c in cats]
            bars(ax, cats, [Series(label, [cells[c]["pmpm"] for c in cats], n)], f"PMPM, {ref} ($)")

    races = sorted({k[0] for k in race})

    def by_race(fig: Figure) -> None:
        ax = fig.subplots()
        series = [
            Series(
                str(y),
                [(race.get((x, y)) or {}).get("pmpm") for x in races],
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
            "Medicare reimbursement": money(r["paid_amount"]),
            "PMPM (A/B)": money(r["pmpm"]),
            "Part D PMPM": money((setting.get((r["year"], SETTINGS["part_d"])) or {}).get("pmpm")),
        }
        for r in years
    ]
    small_cells = sum(1 for r in [*age.values(), *sex.values()] if suppressed(r["beneficiaries"]))
    small_race = sum(1 for r in race.values() if suppressed(r["beneficiaries"]))
    pmpm = (
        "PMPM = paid / member months (mart financial_pmpm); a member month is a month with Part A or Part B "
        "coverage (the larger of BENE_HI/SMI_CVRAGE_TOT_MONS); Part D over Part D plan months (PLAN_CVRG_MOS_NUM)."
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
            f"PMPM by age band and by sex, {ref}",
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
    u = rows(wh, f"select * from {s}.utilization order by year")
    if not u:
        return Section(title, "not yet materialized: no beneficiary_summary rows.")
    panels = [
        ("admissions_per_1000", "inpatient admissions / 1,000"),
        ("average_length_of_stay", "average length of stay (days)"),
        ("outpatient_visits_per_1000", "outpatient visits / 1,000"),
        ("carrier_claims_per_1000", "carrier claims / 1,000"),
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
            "Admissions": f"{int(r['admissions']):,}",
            "ALOS (days)": "-" if r["average_length_of_stay"] is None else f"{r['average_length_of_stay']:.1f}",
            "Outpatient visits": f"{int(r['outpatient_visits']):,}",
            "Carrier claims": f"{int(r['carrier_claims']):,}",
            "PDE fills": f"{int(r['pde_fills']):,}",
        }
        for r in u
    ]
    text = (
        "Rates per 1,000 member-years (events x 12,000 / member months; mart utilization). An admission is an "
        "inpatient stay: interim claims of one admission merged, and a transfer (a new admission on the day of "
        "discharge) merged into the same stay; counted in its discharge year. Visits and claims are distinct "
        "CLM_IDs; PDE fills per Part D plan month."
    )
    return Section(title, text, chart, table, "utilization", size=(13, 5))


def code_sections(wh: Warehouse, s: str, ref: int | None) -> list[Section]:
    """Top 20 CCS categories, ICD-9 diagnoses (named), HCPCS and NDCs of the reference year, by cost and by count."""
    specs = [
        ("diagnosis_categories", "ccs_name", "events", "diagnosis categories (AHRQ CCS)", "top_ccs",
         "claims' diagnoses grouped by AHRQ CCS single-level category; cost attributed as for the codes"),
        ("diagnosis_codes", "icd9_code", "events", "ICD-9 diagnoses", "top_diagnoses",
         "inpatient/outpatient principal diagnosis with the claim payment, carrier line diagnosis with the line "
         "payment; names from CMS's ICD-9-CM v32 descriptions"),
        ("top_hcpcs", "hcpcs_code", "lines", "HCPCS procedures", "top_hcpcs",
         "carrier lines (institutional HCPCS carry no payment); CPT names are licensed, so codes are shown"),
        ("top_ndc", "ndc_code", "fills", "drugs (NDC)", "top_ndc", "Part D events, TOT_RX_CST_AMT"),
    ]  # fmt: skip
    out = []
    for mart, code, events, what, name, source in specs:
        title = f"Top {TOP_CODES} {what} by cost and by count, {ref}"
        if ref is None:
            out.append(Section(title, "not yet materialized: no claims in the warehouse."))
            continue
        ranked = rows(
            wh,
            f"select * from {s}.{mart} where year = {ref} and beneficiaries >= {MIN_CELL} "
            f"and (rank_by_paid <= {TOP_CODES * 5} or rank_by_count <= {TOP_CODES * 5})",
        )
        small = rows(wh, f"select count(*) as k from {s}.{mart} where year = {ref} and beneficiaries < {MIN_CELL}")
        if not ranked and not small[0]["k"]:
            out.append(Section(title, f"not yet materialized: no {what} in {ref}."))
            continue
        by_cost = sorted(ranked, key=lambda r: r["rank_by_paid"])[:TOP_CODES]
        by_count = sorted(ranked, key=lambda r: r["rank_by_count"])[:TOP_CODES]

        def label(r: dict[str, Any], code: str = code) -> str:
            if code == "icd9_code":
                return f"{r['icd9_code']} {_short(r['icd9_name'])}"
            if code == "ccs_name":
                return f"{r['ccs_category']} {_short(r['ccs_name'])}"
            return str(r[code])

        def chart(fig: Figure, by_cost: list = by_cost, by_count: list = by_count, events: str = events,
                  label: Callable = label) -> None:  # fmt: skip
            left, right = fig.subplots(1, 2)
            for ax, top, key, axis in ((left, by_cost, "paid_amount", "Medicare / drug cost ($)"),
                                       (right, by_count, events, "claims, lines or fills")):  # fmt: skip
                cats = [n_label(label(r), r["beneficiaries"]) for r in top]
                bars(ax, cats, [Series(axis, [r[key] for r in top])], axis, horizontal=True, annotate_n=False)
                ax.set_title(f"by {'cost' if key == 'paid_amount' else 'count'}", fontsize=9)

        table = []
        if code in ("icd9_code", "ccs_name"):
            table = [
                {
                    "Rank by cost": int(r["rank_by_paid"]),
                    "Code": r["icd9_code"] if code == "icd9_code" else int(r["ccs_category"]),
                    "Name": r["icd9_name"] if code == "icd9_code" else r["ccs_name"],
                    **({"CCS category": f"{r['ccs_category']} {r['ccs_name']}"} if code == "icd9_code" else {}),
                    "Beneficiaries": count(r["beneficiaries"]),
                    "Cost": money(r["paid_amount"]),
                }
                for r in by_cost
            ]
        text = (
            f"{source}; n = distinct beneficiaries with the code.{_hidden_note(int(small[0]['k']), 'codes')}"
            if ranked
            else f"Every code has fewer than {MIN_CELL} beneficiaries: all suppressed."
        )
        out.append(Section(title, text, chart if ranked else None, table, name=name, size=(13, 7)))
    return out


def _short(name: str | None, width: int = 38) -> str:
    name = name or ""
    return name if len(name) <= width else name[: width - 1] + "…"


def part_d_section(wh: Warehouse, s: str) -> Section:
    title = "Part D drug cost by year"
    d = rows(
        wh,
        "select p.year, p.beneficiaries as part_d_enrollees, p.member_months as plan_months, "
        "p.paid_amount as drug_cost, p.pmpm as cost_pmpm, u.pde_fills as fills, "
        f"p.paid_amount / nullif(u.pde_fills, 0) as cost_per_fill from {s}.financial_pmpm p "
        f"join {s}.utilization u on u.year = p.year "
        "where p.dimension = 'all' and p.setting = 'part_d' order by p.year",
    )
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
            "Plan months": f"{int(r['plan_months'] or 0):,}",
            "Fills": f"{int(r['fills']):,}",
            "Total drug cost": money(r["drug_cost"]),
        }
        for r in d
    ]
    return Section(title, "n = beneficiaries with Part D plan months in the year.", chart, table, "part_d")


def readmission_sections(wh: Warehouse, s: str) -> list[Section]:
    """30-day all-cause readmission rate by year, and for the states and DRGs with the most index stays."""
    title = "30-day all-cause readmissions"
    data = rows(wh, f"select * from {s}.readmissions")
    by_year = sorted((r for r in data if r["dimension"] == "year"), key=lambda r: r["dimension_value"])
    if not by_year:
        return [Section(title, "not yet materialized: no inpatient stays in the warehouse.")]
    shown = [r for r in by_year if not suppressed(r["index_stays"])]
    text = (
        "Rate = index stays followed by another admission 1-30 days after discharge / index stays (mart "
        "readmissions; n = index stays). Interim claims of one admission are one stay, and a new admission on the "
        "day of discharge is a transfer, merged into the same stay. Not index stays: stays ending in death "
        "(BENE_DEATH_DT on or before discharge) and stays whose 30 days after discharge reach past the last day "
        "of DE-SynPUF claims (2010-12-31), which are not observed. DE-SynPUF has no discharge status, so "
        "planned readmissions cannot be excluded as CMS's measure does."
        f"{_hidden_note(len(by_year) - len(shown), 'years')}"
    )

    def year_chart(fig: Figure) -> None:
        ax = fig.subplots()
        cats = [r["dimension_value"] for r in shown]
        n = [r["index_stays"] for r in shown]
        bars(ax, cats, [Series("readmission rate (%)", [100 * r["readmission_rate"] for r in shown], n)], "%")

    table = [
        {
            "Year": r["dimension_value"],
            "Index stays": count(r["index_stays"]),
            "Readmitted within 30 days": "-" if suppressed(r["readmissions"]) else f"{int(r['readmissions']):,}",
            "Rate": "-" if suppressed(r["readmissions"]) else f"{100 * r['readmission_rate']:.1f}%",
        }
        for r in by_year
    ]
    out = [Section(title + " by year", text, year_chart if shown else None, table, "readmissions_by_year")]
    for dim, what in (("state", "states"), ("drg", "DRGs")):
        cells = [r for r in data if r["dimension"] == dim]
        top = sorted((r for r in cells if not suppressed(r["index_stays"])), key=lambda r: -r["index_stays"])[:15]
        hidden = len(cells) - len([r for r in cells if not suppressed(r["index_stays"])])
        sub = f"{title}: the {len(top)} {what} with the most index stays"

        def chart(fig: Figure, top: list = top, dim: str = dim) -> None:
            ax = fig.subplots()
            cats = [state_label(r["dimension_value"]) if dim == "state" else str(r["dimension_value"]) for r in top]
            n = [r["index_stays"] for r in top]
            bars(ax, cats, [Series("rate (%)", [100 * r["readmission_rate"] for r in top], n)], "%", True)

        note = f"All years pooled; n = index stays.{_hidden_note(hidden, what)}"
        out.append(Section(sub, note, chart if top else None, name=f"readmissions_by_{dim}", size=(10, 6)))
    return out


def risk_section(wh: Warehouse, s: str, ref: int | None) -> list[Section]:
    """CMS-HCC V22 risk scores by year, and PMPM beside risk-adjusted PMPM for the states with the most members."""
    title = "CMS-HCC V22 risk scores and risk-adjusted PMPM"
    years = rows(wh, f"select * from {s}.risk_adjusted_pmpm where dimension = 'all' order by year")
    if not years:
        return [
            Section(
                title,
                "not yet materialized: no risk scores: they come with the feature table "
                "(beneficiary_features, loaded by warehouse/beneficiary_features).",
            )
        ]
    text = (
        "Risk score = the CMS-HCC V22 community model (CMS's 2010/2011 model, the DE-SynPUF years) on each "
        "beneficiary-year's diagnoses from every claim type, mapped ICD-9 -> ICD-10-CM through the CMS GEM, then "
        "condition categories, hierarchies, relative factors, demographic factors and interactions (computed in the "
        "feature query, mart risk_scores; equal to hccpy 0.1.9 on about 1,300 test beneficiary-years). DE-SynPUF has "
        "no dual-eligibility or entitlement field: segment non-dual aged at 65 or over on 1 February, non-dual "
        "disabled under 65. Risk-adjusted PMPM = PMPM / mean risk score weighted by member months: the cost of a "
        "member of average "
        "risk. n = beneficiary-years with Part A/B months."
    )

    def by_year(fig: Figure) -> None:
        left, right = fig.subplots(1, 2)
        cats = [n_label(str(r["year"]), r["beneficiaries"]) for r in years]
        series = [Series(q, [r[f"{q}_risk_score"] for r in years]) for q in ("p25", "p50", "mean", "p75")]
        bars(left, cats, series, "risk score", annotate_n=False)
        pmpm = [
            Series("PMPM", [r["pmpm"] for r in years]),
            Series("risk-adjusted", [r["risk_adjusted_pmpm"] for r in years]),
        ]
        bars(right, cats, pmpm, "$ per member month", annotate_n=False)

    table = [
        {
            "Year": r["year"],
            "Beneficiaries": count(r["beneficiaries"]),
            "Mean risk score": f"{r['mean_risk_score']:.3f}",
            "Median": f"{r['p50_risk_score']:.3f}",
            "PMPM": money(r["pmpm"]),
            "Risk-adjusted PMPM": money(r["risk_adjusted_pmpm"]),
        }
        for r in years
    ]
    out = [Section(title + " by year", text, by_year, table, "risk_by_year", size=(12, 5))]
    year = ref if ref is not None else years[-1]["year"]
    states = rows(wh, f"select * from {s}.risk_adjusted_pmpm where dimension = 'state' and year = {year}")
    shown = sorted((r for r in states if not suppressed(r["beneficiaries"])), key=lambda r: -r["beneficiaries"])[:15]

    def by_state(fig: Figure) -> None:
        ax = fig.subplots()
        cats = [state_label(r["dimension_value"]) for r in shown]
        n = [r["beneficiaries"] for r in shown]
        series = [Series("PMPM", [r["pmpm"] for r in shown], n),
                  Series("risk-adjusted PMPM", [r["risk_adjusted_pmpm"] for r in shown], n)]  # fmt: skip
        bars(ax, cats, series, f"$ per member month, {year}", True)

    hidden = _hidden_note(len(states) - len(shown), "states")
    note = f"The {len(shown)} states with the most beneficiaries, each bar with its n.{hidden}"
    out.append(Section(f"PMPM and risk-adjusted PMPM by state, {year}", note, by_state if shown else None,
                       name="risk_by_state", size=(10, 6)))  # fmt: skip
    return out


def comparison_section(wh: Warehouse, s: str) -> Section:
    """Every candidate of the latest cost model on the temporal holdout (CMS-HCC and a demographics-only model among
    them), with RTI's published real-data figures as anchors (mart risk_model_comparison)."""
    title = "Cost model candidates vs CMS-HCC on the temporal holdout, beside CMS's published figures"
    data = rows(wh, f"select * from {s}.risk_model_comparison order by source, r2 desc, candidate")
    ours = [r for r in data if r["n"] is not None and not suppressed(r["n"])]
    anchors = [r for r in data if r["n"] is None]
    text = (
        "Every candidate the cost model was selected among (the selected one marked *), fit on 2008 features -> "
        "2009 cost and scored on every beneficiary-year of 2009 -> 2010. cms_hcc pays as CMS does: risk score x the "
        "training year's mean next-year cost per unit of score; demographics_only uses the V22 age/sex factor alone. "
        "Top-decile share = the share of actual next-year cost held by the 10% predicted highest. RTI 2011 rows are "
        "anchors published for real Medicare fee-for-service data (Parts A/B; Pope et al., Evaluation of the CMS-HCC "
        "Risk Adjustment Model): DE-SynPUF is synthetic, its perturbation weakens the links between diagnoses and "
        "later cost, and our label adds Part D, so the anchors frame our figures rather than bound them."
    )

    def fmt(v: float | None, pattern: str) -> str:
        return "-" if v is None else pattern.format(v)

    table = [
        {
            "Source": r["source"],
            "Candidate": r["candidate"] + (" *" if r["is_selected"] else ""),
            "n": "-" if r["n"] is None else count(r["n"]),
            "R2": fmt(r["r2"], "{:.3f}"),
            "MAE": money(r["mae"]),
            "Top-decile cost share": fmt(r["top_decile_cost_share"], "{:.1%}"),
            "Lift": fmt(r["top_decile_lift"], "{:.2f}"),
        }
        for r in [*ours, *anchors]
    ]
    if not ours:
        missing = "not yet materialized: no trained cost model (or fewer than 11 holdout beneficiary-years). Anchors:"
        return Section(title, missing, table=table)

    def chart(fig: Figure) -> None:
        ax = fig.subplots()
        shown = [*ours, *[r for r in anchors if r["top_decile_cost_share"] is not None]]
        cats = [
            r["candidate"] + (" *" if r["is_selected"] else "") + ("\n(RTI 2011, real data)" if r["n"] is None else "")
            for r in shown
        ]
        n = [r["n"] for r in shown]
        bars(ax, cats, [Series("top-decile cost share", [r["top_decile_cost_share"] for r in shown], n)],
             "share of next-year cost in the top predicted decile")  # fmt: skip

    return Section(title, text, chart, table, "risk_model_comparison", size=(10, 5))


def ed_section(wh: Warehouse, s: str) -> Section:
    """Emergency-department visits per 1,000 member-years by year, and where they were found."""
    title = "Emergency-department visits per 1,000 member-years"
    data = rows(wh, f"select * from {s}.ed_visits where dimension = 'all' order by year")
    if not data:
        return Section(title, "not yet materialized: no beneficiary_summary rows.")

    def chart(fig: Figure) -> None:
        left, right = fig.subplots(1, 2)
        cats = [n_label(str(r["year"]), r["beneficiaries"]) for r in data]
        bars(left, cats, [Series("ED visits / 1,000", [r["ed_visits_per_1000"] for r in data])], "per 1,000")
        found = [
            Series("outpatient claim only", [r["via_outpatient_only"] for r in data]),
            Series("carrier line only", [r["via_carrier_only"] for r in data]),
            Series("both", [r["via_both"] for r in data]),
        ]
        bars(right, cats, found, "visits, by where the ED code was found", annotate_n=False)

    table = [
        {
            "Year": r["year"],
            "Beneficiaries": count(r["beneficiaries"]),
            "ED visits": f"{int(r['ed_visits']):,}",
            "Beneficiaries with a visit": count(r["beneficiaries_with_visit"]),
            "Per 1,000": "-" if r["ed_visits_per_1000"] is None else f"{r['ed_visits_per_1000']:.1f}",
        }
        for r in data
    ]
    text = (
        "An ED visit is a beneficiary and date with HCPCS 99281-99285 (ED evaluation and management) on an "
        "outpatient claim (HCPCS_CD_1..45) or a carrier line (HCPCS_CD_1..13); the facility's and the "
        "physician's claim of the same day count once (mart ed_visits). Per 1,000 member-years = visits x 12,000 / "
        "Part A/B member months; n = beneficiaries."
    )
    return Section(title, text, chart, table, "ed_visits", size=(12, 5))


def condition_sections(wh: Warehouse, s: str, ref: int | None) -> list[Section]:
    data = rows(wh, f"select * from {s}.chronic_conditions order by condition_code, year")
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
