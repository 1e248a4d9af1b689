-- Per-member-per-month paid amounts, long format: year x dimension (all, state, age_band, sex, race) x setting.
-- Inpatient, outpatient and carrier: the beneficiary file's MEDREIMB_IP / _OP / _CAR over Part A/B member months.
-- Part D: the PDE TOT_RX_CST_AMT of the year (SRVC_DT) over Part D months. Drug events of a beneficiary-year with
-- no beneficiary row count in paid with dimension values 'unknown' and no months, so every total equals staging.
{%- set dimensions = ['state_code', 'age_band', 'sex', 'race'] %}
{%- set dimension_names = {'state_code': 'state', 'age_band': 'age_band', 'sex': 'sex', 'race': 'race'} %}
with member_years as (

    select * from {{ ref('int_member_months') }}

),

drug_cost as (

    select
        sample,
        desynpuf_id,
        year,
        sum(coalesce(total_cost_amount, 0)) as paid_amount
    from {{ ref('stg_prescription_drug_events') }}
    where year is not null
    group by
        sample,
        desynpuf_id,
        year

),

settings_long as (

{%- for setting, column in [('inpatient', 'medreimb_ip'), ('outpatient', 'medreimb_op'), ('carrier', 'medreimb_car')] %}

    select
        year,
{%- for d in dimensions %}
        {{ d }},
{%- endfor %}
        '{{ setting }}' as setting,
        1 as beneficiaries,
        member_months,
        {{ column }} as paid_amount
    from member_years

    union all
{%- endfor %}

    select
        member_years.year,
{%- for d in dimensions %}
        member_years.{{ d }},
{%- endfor %}
        'part_d' as setting,
        case when member_years.part_d_months > 0 then 1 else 0 end as beneficiaries,
        member_years.part_d_months as member_months,
        coalesce(drug_cost.paid_amount, 0) as paid_amount
    from member_years
    left join drug_cost
        on member_years.sample = drug_cost.sample
        and member_years.desynpuf_id = drug_cost.desynpuf_id
        and member_years.year = drug_cost.year

    union all

    select
        drug_cost.year,
{%- for d in dimensions %}
        'unknown' as {{ d }},
{%- endfor %}
        'part_d' as setting,
        0 as beneficiaries,
        0 as member_months,
        drug_cost.paid_amount
    from drug_cost
    left join member_years
        on drug_cost.sample = member_years.sample
        and drug_cost.desynpuf_id = member_years.desynpuf_id
        and drug_cost.year = member_years.year
    where member_years.desynpuf_id is null

),

by_dimension as (

    select
        year,
        'all' as dimension,
        'all' as dimension_value,
        setting,
        sum(beneficiaries) as beneficiaries,
        sum(member_months) as member_months,
        sum(paid_amount) as paid_amount
    from settings_long
    group by
        year,
        setting
{%- for d in dimensions %}

    union all

    select
        year,
        '{{ dimension_names[d] }}' as dimension,
        {{ d }} as dimension_value,
        setting,
        sum(beneficiaries) as beneficiaries,
        sum(member_months) as member_months,
        sum(paid_amount) as paid_amount
    from settings_long
    group by
        year,
        {{ d }},
        setting
{%- endfor %}

)

select
    year,
    dimension,
    dimension_value,
    setting,
    cast(beneficiaries as integer) as beneficiaries,
    cast(member_months as integer) as member_months,
    cast(paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    {{ safe_divide('paid_amount', 'member_months') }} as pmpm,
    case when beneficiaries < {{ var('min_cell_size') }} then 1 else 0 end as is_small_cell
from by_dimension
