-- top_hcpcs holds every carrier line payment with a HCPCS code, top_ndc every drug event's cost (per year).
with expected as (

{%- for i in range(1, 14) %}
    select
        'hcpcs' as mart,
        {{ year_of('claim_thru_date') }} as year,
        coalesce(line_nch_pmt_amt_{{ i }}, 0) as paid_amount
    from {{ ref('stg_carrier_claims') }}
    where hcpcs_cd_{{ i }} is not null
        and hcpcs_cd_{{ i }} <> ''

    union all

{% endfor %}
    select
        'ndc' as mart,
        year,
        coalesce(total_cost_amount, 0) as paid_amount
    from {{ ref('stg_prescription_drug_events') }}
    where ndc_code is not null
        and ndc_code <> ''
        and year is not null

),

expected_totals as (

    select
        mart,
        year,
        sum(paid_amount) as paid_amount
    from expected
    group by
        mart,
        year

),

mart_totals as (

    select
        'hcpcs' as mart,
        year,
        sum(paid_amount) as paid_amount
    from {{ ref('top_hcpcs') }}
    group by year

    union all

    select
        'ndc' as mart,
        year,
        sum(paid_amount) as paid_amount
    from {{ ref('top_ndc') }}
    group by year

)

select
    expected_totals.mart,
    expected_totals.year,
    expected_totals.paid_amount as expected_paid,
    mart_totals.paid_amount as mart_paid
from expected_totals
left join mart_totals
    on expected_totals.mart = mart_totals.mart
    and expected_totals.year = mart_totals.year
where mart_totals.paid_amount is null
    or abs(expected_totals.paid_amount - mart_totals.paid_amount) > 0.005
