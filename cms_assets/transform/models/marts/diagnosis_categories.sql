-- Cost and count by AHRQ CCS single-level diagnosis category and year (codes not in the grouper: category 0).
-- events, mentions and paid as in diagnosis_codes, summed over the category's codes; beneficiaries are distinct
-- within the category (not the sum of the codes').
with diagnoses as (

    select
        diagnoses.year,
        diagnoses.desynpuf_id,
        diagnoses.claim_type,
        diagnoses.position,
        diagnoses.attributed_amount,
        coalesce(ccs.ccs_category, 0) as ccs_category,
        coalesce(ccs.ccs_name, 'not in CCS') as ccs_name
    from {{ ref('int_diagnoses_long') }} as diagnoses
    left join {{ ref('stg_ccs_categories') }} as ccs
        on diagnoses.icd9_code = ccs.icd9_code

),

by_category as (

    select
        year,
        ccs_category,
        ccs_name,
        sum(
            case
                when claim_type = 'carrier_line' then 1
                when claim_type in ('inpatient', 'outpatient') and position = 1 then 1
                else 0
            end
        ) as events,
        count(*) as mentions,
        count(distinct desynpuf_id) as beneficiaries,
        sum(attributed_amount) as paid_amount
    from diagnoses
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
