-- Cost and count by AHRQ CCS single-level diagnosis category and year (codes not in the grouper: category 0).
-- events, mentions and paid as in diagnosis_codes, summed over the category's codes; beneficiaries are distinct
-- within the category (not the sum of the codes'): summed per beneficiary first, then counted, which spills to disk
-- where a distinct aggregate would hold every category's set of beneficiaries in memory.
with diagnoses as (

    select
        diagnoses.year,
        diagnoses.sample,
        diagnoses.desynpuf_id,
        diagnoses.events,
        diagnoses.mentions,
        diagnoses.paid_amount,
        coalesce(ccs.ccs_category, 0) as ccs_category,
        coalesce(ccs.ccs_name, 'not in CCS') as ccs_name
    from {{ ref('int_beneficiary_diagnoses') }} as diagnoses
    left join {{ ref('stg_ccs_categories') }} as ccs
        on diagnoses.icd9_code = ccs.icd9_code

),

by_beneficiary as (

    select
        year,
        ccs_category,
        ccs_name,
        sample,
        desynpuf_id,
        sum(events) as events,
        sum(mentions) as mentions,
        sum(paid_amount) as paid_amount
    from diagnoses
    group by
        year,
        ccs_category,
        ccs_name,
        sample,
        desynpuf_id

),

by_category as (

    select
        year,
        ccs_category,
        ccs_name,
        sum(events) as events,
        sum(mentions) as mentions,
        count(*) as beneficiaries,
        sum(paid_amount) as paid_amount
    from by_beneficiary
    group by
        year,
        ccs_category,
        ccs_name

)

select
    year,
    ccs_category,
    ccs_name,
    cast(events as integer) as events,
    cast(mentions as integer) as mentions,
    cast(beneficiaries as integer) as beneficiaries,
    cast(paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    {{ yearly_ranks('ccs_category', 'paid_amount', 'events') }}
from by_category
