-- Cost and count by AHRQ CCS single-level diagnosis category and year (codes not in the grouper: category 0).
-- events, mentions and paid as in diagnosis_codes, summed over the category's codes; beneficiaries are distinct
-- (sample, desynpuf_id) within the category, not the sum of the codes' (macros/beneficiaries_by.sql). The names join
-- the few category rows at the end, so no text is part of a large grouping.
{%- set diagnoses -%}
(
    select
        diagnoses.year,
        diagnoses.sample,
        diagnoses.desynpuf_id,
        diagnoses.claim_type,
        diagnoses.position,
        diagnoses.attributed_amount,
        coalesce(ccs.ccs_category, 0) as ccs_category
    from {{ ref('int_diagnoses_long') }} as diagnoses
    left join {{ ref('stg_ccs_categories') }} as ccs
        on diagnoses.icd9_code = ccs.icd9_code
)
{%- endset %}

with by_category as (

    select
        year,
        ccs_category,
        {{ diagnosis_events() }} as events,
        count(*) as mentions,
        sum(attributed_amount) as paid_amount
    from {{ diagnoses }} as diagnoses
    group by
        year,
        ccs_category

),

beneficiaries as (
    {{ beneficiaries_by(diagnoses, ['year', 'ccs_category'], samples_from=ref('int_diagnoses_long')) }}
),

category_names as (

    select distinct
        ccs_category,
        ccs_name
    from {{ ref('stg_ccs_categories') }}

)

select
    by_category.year,
    by_category.ccs_category,
    coalesce(category_names.ccs_name, 'not in CCS') as ccs_name,
    cast(by_category.events as integer) as events,
    cast(by_category.mentions as integer) as mentions,
    cast(beneficiaries.beneficiaries as integer) as beneficiaries,
    cast(by_category.paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    {{ yearly_ranks('by_category.ccs_category', 'by_category.paid_amount', 'by_category.events', year='by_category.year') }}
from by_category
inner join beneficiaries
    on by_category.year = beneficiaries.year
    and by_category.ccs_category = beneficiaries.ccs_category
left join category_names
    on by_category.ccs_category = category_names.ccs_category
