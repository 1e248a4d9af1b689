"""CMS-HCC V22 risk scores as SQL, computed set-wise inside the feature query (:mod:`cms_assets.lib.features_sql`),
so DuckDB and Spark score with the one definition and no Python runs per beneficiary.

The rules are hccpy 0.1.9's (``HCCEngine(version="22")``, community model, raw score: no normalization, no
coding-intensity adjustment), over reference tables read at run time from the installed packages
(:data:`cms_assets.lib.terminology.REFERENCE_TABLES`):

- Diagnoses: the year's distinct ICD-9 codes of every claim type (the feature query's ``dx_codes``) -> ICD-10-CM
  through CMS's forward GEM. A "no map" (NoDx) row, or an ICD-9 code the GEM does not list, yields nothing. Of a
  code's scenarios only the first is kept (scenarios are alternative readings); within it every choice list and
  every alternative target is kept (the union).
- Demographics: age on 1 February of the year (as CMS's software takes it for the payment year); sex code 1 is M,
  anything else F (as hccpy maps it). DE-SynPUF has no dual-eligibility and no original-reason-for-entitlement
  field, so every beneficiary-year is scored in a community non-dual segment chosen by age: CNA (aged) at 65 or
  over, CND (disabled) under 65. ESRD beneficiaries are scored too (CMS would use its ESRD model for them).
- Condition categories: each ICD-10 code's HCCs, unless one of hccpy's age/sex edits (V22I0ED2) applies to the
  beneficiary's sex and age (then the edit's HCC, or none); an HCC is dropped when an HCC above it in the V22
  hierarchy is present (the hierarchy table is transitively closed, checked where it is read).
- Score = the segment's age/sex factor + the factor of every HCC kept + the factor of every community interaction
  present (:data:`INTERACTIONS`, hccpy's ``_V2218O1M.create_interactions``); a variable without a factor in the
  segment adds 0, as in hccpy. The institutional and DISABLED_* interactions carry factors only in segments
  DE-SynPUF cannot identify.
"""

from __future__ import annotations

from collections.abc import Mapping

from cms_assets.lib.sql_dialect import Dialect

#: The reference tables the scoring reads (names of :data:`cms_assets.lib.terminology.REFERENCE_TABLES`).
GEM = "icd9_icd10_gem"
HCC_MAP = "hcc_v22_icd10_map"
EDITS = "hcc_v22_age_sex_edits"
HIERARCHY = "hcc_v22_hierarchy"
COEFFICIENTS = "hcc_v22_coefficients"
REFERENCES = (GEM, HCC_MAP, EDITS, HIERARCHY, COEFFICIENTS)

#: hccpy's V22 groups of HCCs (``_V2218O1M.create_interactions``): name -> HCCs, any of which sets the group.
GROUPS: dict[str, tuple[int, ...]] = {
    "g_cancer": (8, 9, 10, 11, 12),
    "g_diabetes": (17, 18, 19),
    "g_card_resp_fail": (82, 83, 84),
    "g_copd_cf": (110, 111, 112),
    "g_renal": (134, 135, 136, 137),
    "g_substance_abuse": (54, 55),
    "g_psychiatric": (57, 58),
    "hcc47": (47,),
    "hcc85": (85,),
    "hcc96": (96,),
}
#: hccpy's V22 community interactions: model variable -> the groups that must all be present.
INTERACTIONS: dict[str, tuple[str, ...]] = {
    "HCC47_gCancer": ("hcc47", "g_cancer"),
    "HCC85_gDiabetesMellit": ("hcc85", "g_diabetes"),
    "HCC85_gCopdCF": ("hcc85", "g_copd_cf"),
    "HCC85_gRenal": ("hcc85", "g_renal"),
    "gRespDepandArre_gCopdCF": ("g_card_resp_fail", "g_copd_cf"),
    "HCC85_HCC96": ("hcc85", "hcc96"),
    "gSubstanceAbuse_gPsychiatric": ("g_substance_abuse", "g_psychiatric"),
}


def hcc_ctes(dialect: Dialect, refs: Mapping[str, str], beneficiary: str, dx_codes: str) -> str:
    """CTEs (to follow others in a ``with``) ending in ``hcc_scores``: one row per scored beneficiary-year
    (DESYNPUF_ID, YEAR) with HCC_SEGMENT, HCC_AGE, DEMOGRAPHIC_SCORE, DISEASE_SCORE, INTERACTION_SCORE,
    RISK_SCORE, HCC_COUNT, HCC_LIST (the HCCs kept, "HCC8,HCC85", ascending) and HCC_INTERACTIONS (the
    interactions present, in byte order of their names). ``beneficiary`` is the beneficiary table,
    ``dx_codes`` a relation of distinct (DESYNPUF_ID, YEAR, code) ICD-9 codes; ``refs`` maps :data:`REFERENCES`
    to what the query reads them from.

    Two aggregations run over the claims' codes (the HCCs present, then one row per beneficiary-year with the
    disease factors and the group flags); the interactions are looked up in a one-row-per-segment pivot of the
    factors. Fewer aggregations in the query's stages keep Spark's per-task memory within a small driver's. Only the
    GEM targets that reach an HCC or an age/sex edit are kept, so a code that can score nothing never reaches the
    join with the beneficiaries."""
    by = "using (DESYNPUF_ID, YEAR)"
    birth = "BENE_BIRTH_DT"
    # factors have at most 3 decimals: summed as decimals, the score is exact and the same on every engine
    coefficient = "cast(c.COEFFICIENT as decimal(12, 6))"
    groups = "".join(
        f",\n    max(case when k.HCC in ({', '.join(map(str, hccs))}) then 1 else 0 end) as {name}"
        for name, hccs in GROUPS.items()
    )
    pivot = ",\n    ".join(
        f"max(case when VARIABLE = '{v}' then cast(COEFFICIENT as decimal(12, 6)) end) as {v}" for v in INTERACTIONS
    )
    present = {v: " and ".join(f"d.{g} = 1" for g in needs) for v, needs in INTERACTIONS.items()}
    interaction = " + ".join(f"case when {cond} then coalesce(w.{v}, 0) else 0 end" for v, cond in present.items())
    # concat_ws skips nulls in both dialects: the names of the interactions present, or ''
    interaction_names = ", ".join(f"case when {present[v]} then '{v}' end" for v in sorted(present))
    return f"""hcc_members as (
  select
    DESYNPUF_ID,
    YEAR,
    age,
    sex,
    case when age >= 65 then 'CNA' else 'CND' end as segment
  from (
    select
      DESYNPUF_ID,
      YEAR,
      YEAR - year({birth}) - case
        when month({birth}) > 2 or (month({birth}) = 2 and dayofmonth({birth}) > 1) then 1 else 0
      end as age,
      case when BENE_SEX_IDENT_CD = 1 then 'M' else 'F' end as sex
    from {beneficiary}
    where {birth} is not null
  ) ages
),
hcc_gem as (
  select g.ICD9_CODE, g.ICD10_CODE
  from {refs[GEM]} g
  join (select ICD9_CODE, min(SCENARIO) as first_scenario from {refs[GEM]} group by ICD9_CODE) f
    on g.ICD9_CODE = f.ICD9_CODE and g.SCENARIO = f.first_scenario
  where g.ICD10_CODE is not null
    and (
      g.ICD10_CODE in (select ICD10_CODE from {refs[HCC_MAP]})
      or g.ICD10_CODE in (select ICD10_CODE from {refs[EDITS]})
    )
),
hcc_edited as (
  select d.DESYNPUF_ID, d.YEAR, g.ICD10_CODE, e.ICD10_CODE as edited_code, e.HCC as edited_hcc
  from {dx_codes} d
  join hcc_gem g on d.code = g.ICD9_CODE
  join hcc_members m {by}
  left join {refs[EDITS]} e
    on g.ICD10_CODE = e.ICD10_CODE
    and m.sex = e.SEX
    and m.age >= e.AGE_FROM
    and (e.AGE_TO is null or m.age <= e.AGE_TO)
),
hcc_present as (
  select distinct DESYNPUF_ID, YEAR, HCC
  from (
    select x.DESYNPUF_ID, x.YEAR, cast(map.HCC as int) as HCC
    from hcc_edited x
    join {refs[HCC_MAP]} map on x.ICD10_CODE = map.ICD10_CODE
    where x.edited_code is null
    union all
    select DESYNPUF_ID, YEAR, cast(edited_hcc as int) as HCC
    from hcc_edited
    where edited_code is not null and edited_hcc is not null
  ) categories
),
hcc_kept as (
  select p.DESYNPUF_ID, p.YEAR, p.HCC
  from hcc_present p
  left join (
    select q.DESYNPUF_ID, q.YEAR, cast(h.DROPPED_HCC as int) as HCC
    from hcc_present q
    join {refs[HIERARCHY]} h on q.HCC = h.HCC
  ) dropped on p.DESYNPUF_ID = dropped.DESYNPUF_ID and p.YEAR = dropped.YEAR and p.HCC = dropped.HCC
  where dropped.HCC is null
),
hcc_disease as (
  select
    k.DESYNPUF_ID,
    k.YEAR,
    count(*) as HCC_COUNT,
    sum(coalesce({coefficient}, 0)) as DISEASE_SCORE,
    {dialect.sorted_list("k.HCC", "HCC")} as HCC_LIST{groups}
  from hcc_kept k
  join hcc_members m {by}
  left join {refs[COEFFICIENTS]} c on c.SEGMENT = m.segment and c.VARIABLE = concat('HCC', cast(k.HCC as string))
  group by k.DESYNPUF_ID, k.YEAR
),
hcc_interaction_factors as (
  select
    SEGMENT,
    {pivot}
  from {refs[COEFFICIENTS]}
  group by SEGMENT
),
hcc_scores as (
  select
    m.DESYNPUF_ID,
    m.YEAR,
    m.segment as HCC_SEGMENT,
    m.age as HCC_AGE,
    DEMOGRAPHIC_SCORE,
    DISEASE_SCORE,
    INTERACTION_SCORE,
    DEMOGRAPHIC_SCORE + DISEASE_SCORE + INTERACTION_SCORE as RISK_SCORE,
    HCC_COUNT,
    HCC_LIST,
    HCC_INTERACTIONS
  from (
    select
      m.DESYNPUF_ID,
      m.YEAR,
      m.segment,
      m.age,
      coalesce({coefficient}, 0) as DEMOGRAPHIC_SCORE,
      coalesce(d.DISEASE_SCORE, 0) as DISEASE_SCORE,
      {interaction} as INTERACTION_SCORE,
      coalesce(d.HCC_COUNT, 0) as HCC_COUNT,
      coalesce(d.HCC_LIST, '') as HCC_LIST,
      concat_ws(',', {interaction_names}) as HCC_INTERACTIONS
    from hcc_members m
    left join {refs[COEFFICIENTS]} c
      on c.SEGMENT = m.segment
      and c.DEMOGRAPHIC_SEX = m.sex
      and m.age >= c.AGE_FROM
      and (c.AGE_TO is null or m.age <= c.AGE_TO)
    left join hcc_disease d on m.DESYNPUF_ID = d.DESYNPUF_ID and m.YEAR = d.YEAR
    left join hcc_interaction_factors w on w.SEGMENT = m.segment
  ) m
)"""
