-- The 'all' cells of risk_adjusted_pmpm re-aggregate risk_scores: n, member months, mean score and the quartiles
-- in order.
with expected as (

    select
        year,
        count(*) as beneficiaries,
        sum(member_months) as member_months,
        avg(risk_score) as mean_risk_score
    from {{ ref('risk_scores') }}
    where member_months > 0
    group by year

)

select
    expected.year
from expected
left join {{ ref('risk_adjusted_pmpm') }} as pmpm
    on expected.year = pmpm.year
    and pmpm.dimension = 'all'
where pmpm.year is null
    or pmpm.beneficiaries <> expected.beneficiaries
    or pmpm.member_months <> expected.member_months
    or abs(pmpm.mean_risk_score - expected.mean_risk_score) > 1e-9
    or not (pmpm.min_risk_score <= pmpm.p25_risk_score
        and pmpm.p25_risk_score <= pmpm.p50_risk_score
        and pmpm.p50_risk_score <= pmpm.p75_risk_score
        and pmpm.p75_risk_score <= pmpm.max_risk_score)
