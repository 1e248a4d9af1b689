-- One row per sample, beneficiary, year and CMS-HCC V22 HCC after the age/sex edits and the hierarchies, exactly as
-- hccpy 0.1.9 computes them: each ICD-10 code of the year (int_hcc_diagnoses) yields its mapped HCCs, unless an
-- age/sex edit applies to the beneficiary's sex and age on 1 February (then the edit's HCC, or none); an HCC is
-- dropped when any HCC above it in the V22 hierarchy is present (the hierarchy lists are transitively closed).
with demographics as (

    select * from {{ ref('int_hcc_demographics') }}

),

diagnoses as (

    select
        diagnoses.sample,
        diagnoses.desynpuf_id,
        diagnoses.year,
        diagnoses.icd10_code,
        demographics.age,
        demographics.sex
    from {{ ref('int_hcc_diagnoses') }} as diagnoses
    inner join demographics
        on diagnoses.sample = demographics.sample
        and diagnoses.desynpuf_id = demographics.desynpuf_id
        and diagnoses.year = demographics.year

),

edited as (

    select
        diagnoses.sample,
        diagnoses.desynpuf_id,
        diagnoses.year,
        diagnoses.icd10_code,
        case when edits.icd10_code is null then 0 else 1 end as is_edited,
        edits.hcc as edited_hcc
    from diagnoses
    left join {{ ref('stg_hcc_v22_age_sex_edits') }} as edits
        on diagnoses.icd10_code = edits.icd10_code
        and diagnoses.sex = edits.sex
        and diagnoses.age >= edits.age_from
        and (edits.age_to is null or diagnoses.age <= edits.age_to)

),

condition_categories as (

    select
        edited.sample,
        edited.desynpuf_id,
        edited.year,
        icd10_map.hcc
    from edited
    inner join {{ ref('stg_hcc_v22_icd10_map') }} as icd10_map
        on edited.icd10_code = icd10_map.icd10_code
    where edited.is_edited = 0

    union all

    select
        sample,
        desynpuf_id,
        year,
        edited_hcc as hcc
    from edited
    where is_edited = 1
        and edited_hcc is not null

),

present as (

    select distinct
        sample,
        desynpuf_id,
        year,
        hcc
    from condition_categories

),

dropped as (

    select distinct
        present.sample,
        present.desynpuf_id,
        present.year,
        hierarchy.dropped_hcc as hcc
    from present
    inner join {{ ref('stg_hcc_v22_hierarchy') }} as hierarchy
        on present.hcc = hierarchy.hcc

)

select
    present.sample,
    present.desynpuf_id,
    present.year,
    present.hcc,
    'HCC' || cast(present.hcc as {{ dbt.type_string() }}) as hcc_variable,
    labels.hcc_label
from present
left join dropped
    on present.sample = dropped.sample
    and present.desynpuf_id = dropped.desynpuf_id
    and present.year = dropped.year
    and present.hcc = dropped.hcc
left join {{ ref('stg_hcc_v22_labels') }} as labels
    on present.hcc = labels.hcc
where dropped.hcc is null
