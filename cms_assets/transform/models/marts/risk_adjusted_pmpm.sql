-- CMS-HCC V22 risk-score distribution and risk-adjusted PMPM by year, for all beneficiaries and by state (long
-- format), over beneficiary-years with Part A/B member months. PMPM = the beneficiary file's Part A/B reimbursement
-- (MEDREIMB_IP + _OP + _CAR) / member months, as in financial_pmpm; risk-adjusted PMPM = PMPM / the member-month
-- weighted mean risk score (the score of each beneficiary-year weighted by its months, so numerator and denominator
-- cover the same exposure).
with scores as (

    select * from {{ ref('risk_scores') }}
    where member_months > 0

),

by_dimension as (

    select
        year,
        'all' as dimension,
        'all' as dimension_value,
        member_months,
        paid_amount,
        risk_score
    from scores

    union all

    select
        year,
        'state' as dimension,
        coalesce(state_code, 'unknown') as dimension_value,
        member_months,
        paid_amount,
        risk_score
    from scores

),

aggregated as (

    select
        year,
        dimension,
        dimension_value,
        count(*) as beneficiaries,
        sum(member_months) as member_months,
        sum(paid_amount) as paid_amount,
        avg(risk_score) as mean_risk_score,
        sum(risk_score * member_months) as risk_score_member_months,
        min(risk_score) as min_risk_score,
        percentile_cont(0.25) within group (order by risk_score) as p25_risk_score,
        percentile_cont(0.5) within group (order by risk_score) as p50_risk_score,
        percentile_cont(0.75) within group (order by risk_score) as p75_risk_score,
        max(risk_score) as max_risk_score
    from by_dimension
    group by
        year,
        dimension,
        dimension_value

)

select
    year,
    dimension,
    dimension_value,
    cast(beneficiaries as integer) as beneficiaries,
    cast(member_months as integer) as member_months,
    cast(paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    cast(mean_risk_score as double precision) as mean_risk_score,
    {{ safe_divide('risk_score_member_months', 'member_months') }} as weighted_mean_risk_score,
    cast(min_risk_score as double precision) as min_risk_score,
    cast(p25_risk_score as double precision) as p25_risk_score,
    cast(p50_risk_score as double precision) as p50_risk_score,
    cast(p75_risk_score as double precision) as p75_risk_score,
    cast(max_risk_score as double precision) as max_risk_score,
    {{ safe_divide('paid_amount', 'member_months') }} as pmpm,
    {{ safe_divide('paid_amount', 'member_months') }}
        / nullif({{ safe_divide('risk_score_member_months', 'member_months') }}, 0) as risk_adjusted_pmpm,
    case when beneficiaries < {{ var('min_cell_size') }} then 1 else 0 end as is_small_cell
from aggregated
