-- Prevalence of the eleven CMS chronic-condition flags (SP_*, 1 yes / 2 no) per year, and the year's Medicare
-- reimbursement (MEDREIMB_IP + _OP + _CAR) of beneficiaries with and without the condition. A beneficiary-year
-- whose flag is missing counts as without, as the BI views did.
{%- set conditions = [
    ('ALZHDMTA', "Alzheimer's or related dementia"),
    ('CHF', 'heart failure'),
    ('CHRNKIDN', 'chronic kidney disease'),
    ('CNCR', 'cancer'),
    ('COPD', 'COPD'),
    ('DEPRESSN', 'depression'),
    ('DIABETES', 'diabetes'),
    ('ISCHMCHT', 'ischemic heart disease'),
    ('OSTEOPRS', 'osteoporosis'),
    ('RA_OA', 'rheumatoid arthritis / osteoarthritis'),
    ('STRKETIA', 'stroke / transient ischemic attack'),
] %}
with beneficiary_years as (

    select
        flags.year,
{%- for code, _ in conditions %}
        coalesce(flags.cc_{{ code | lower }}, 0) as cc_{{ code | lower }},
{%- endfor %}
        members.medreimb_total
    from {{ ref('stg_beneficiary_summary') }} as flags
    inner join {{ ref('int_member_months') }} as members
        on flags.sample = members.sample
        and flags.desynpuf_id = members.desynpuf_id
        and flags.year = members.year

),

conditions_long as (
{%- for code, name in conditions %}

    select
        year,
        '{{ code }}' as condition_code,
        '{{ name | replace("'", "''") }}' as condition_name,
        cc_{{ code | lower }} as has_condition,
        medreimb_total
    from beneficiary_years
{%- if not loop.last %}

    union all
{%- endif %}
{%- endfor %}

),

aggregated as (

    select
        year,
        condition_code,
        condition_name,
        count(*) as beneficiaries,
        sum(has_condition) as with_condition,
        sum(case when has_condition = 1 then medreimb_total else 0 end) as paid_with,
        sum(case when has_condition = 1 then 0 else medreimb_total end) as paid_without
    from conditions_long
    group by
        year,
        condition_code,
        condition_name

)

select
    year,
    condition_code,
    condition_name,
    cast(beneficiaries as integer) as beneficiaries,
    cast(with_condition as integer) as with_condition,
    cast(beneficiaries - with_condition as integer) as without_condition,
    {{ safe_divide('with_condition', 'beneficiaries') }} as prevalence,
    cast(paid_with as {{ dbt.type_numeric() }}) as paid_with,
    cast(paid_without as {{ dbt.type_numeric() }}) as paid_without,
    {{ safe_divide('paid_with', 'with_condition') }} as per_capita_with,
    {{ safe_divide('paid_without', 'beneficiaries - with_condition') }} as per_capita_without
from aggregated
