-- Utilization per year with its denominators: admissions (inpatient stays, transfers merged, counted in their
-- discharge year), inpatient days and average length of stay, outpatient visits (distinct outpatient claims),
-- carrier claims (deduplicated), Part D fills; each per 1,000 member-years = count x 12,000 / member months
-- (Part A/B months; fills over Part D months).
with enrollment as (

    select
        year,
        count(*) as beneficiaries,
        sum(member_months) as member_months,
        sum(part_d_months) as part_d_months
    from {{ ref('int_member_months') }}
    group by year

),

stays as (

    select
        year,
        count(*) as admissions,
        sum(length_of_stay) as inpatient_days
    from {{ ref('int_inpatient_stays') }}
    group by year

),

claims as (

    select
        year,
        sum(case when setting = 'outpatient' then 1 else 0 end) as outpatient_visits,
        sum(case when setting = 'carrier' then 1 else 0 end) as carrier_claims
    from {{ ref('int_encounters') }}
    group by year

),

fills as (

    select
        year,
        count(*) as pde_fills
    from {{ ref('stg_prescription_drug_events') }}
    group by year

),

joined as (

    select
        enrollment.year,
        enrollment.beneficiaries,
        enrollment.member_months,
        enrollment.part_d_months,
        coalesce(stays.admissions, 0) as admissions,
        coalesce(stays.inpatient_days, 0) as inpatient_days,
        coalesce(claims.outpatient_visits, 0) as outpatient_visits,
        coalesce(claims.carrier_claims, 0) as carrier_claims,
        coalesce(fills.pde_fills, 0) as pde_fills
    from enrollment
    left join stays
        on enrollment.year = stays.year
    left join claims
        on enrollment.year = claims.year
    left join fills
        on enrollment.year = fills.year

)

select
    year,
    cast(beneficiaries as integer) as beneficiaries,
    cast(member_months as integer) as member_months,
    cast(part_d_months as integer) as part_d_months,
    cast(admissions as integer) as admissions,
    cast(inpatient_days as integer) as inpatient_days,
    {{ safe_divide('inpatient_days', 'admissions') }} as average_length_of_stay,
    cast(outpatient_visits as integer) as outpatient_visits,
    cast(carrier_claims as integer) as carrier_claims,
    cast(pde_fills as integer) as pde_fills,
    {{ safe_divide('admissions * 12000', 'member_months') }} as admissions_per_1000,
    {{ safe_divide('inpatient_days * 12000', 'member_months') }} as inpatient_days_per_1000,
    {{ safe_divide('outpatient_visits * 12000', 'member_months') }} as outpatient_visits_per_1000,
    {{ safe_divide('carrier_claims * 12000', 'member_months') }} as carrier_claims_per_1000,
    {{ safe_divide('pde_fills * 12000', 'part_d_months') }} as pde_fills_per_1000
from joined
