-- One row per sample, beneficiary, year and ICD-10-CM code: every diagnosis of the year from every claim type
-- (int_diagnoses_long) translated through CMS's forward GEM. Rules: an ICD-9 code whose GEM row is "no map" (NoDx),
-- or that the GEM does not list, yields no ICD-10 code (and so no HCC). Of a code's scenarios only the first is kept
-- (scenarios are alternative readings of one ICD-9 code; a non-combination code has the single scenario 0); within
-- it every row is kept - every choice list of a combination (they belong together) and every alternative target
-- (the union: one ICD-9 code may yield more than one ICD-10 code, and so more than one HCC).
with diagnoses as (

    select distinct
        sample,
        desynpuf_id,
        year,
        icd9_code
    from {{ ref('int_diagnoses_long') }}
    where year is not null

),

gem as (

    select
        icd9_code,
        icd10_code,
        scenario,
        min(scenario) over (partition by icd9_code) as first_scenario
    from {{ ref('stg_icd9_icd10_gem') }}

),

gem_selected as (

    select distinct
        icd9_code,
        icd10_code
    from gem
    where scenario = first_scenario
        and icd10_code is not null

)

select distinct
    diagnoses.sample,
    diagnoses.desynpuf_id,
    diagnoses.year,
    gem_selected.icd10_code
from diagnoses
inner join gem_selected
    on diagnoses.icd9_code = gem_selected.icd9_code
