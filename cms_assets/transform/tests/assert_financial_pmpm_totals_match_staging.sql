-- The 'all' rows of financial_pmpm equal the staging totals (MEDREIMB_* of the beneficiary file; PDE cost by
-- service year), and every other dimension adds up to the 'all' rows (the mart is additive).
with staging_totals as (

    select
        year,
        'inpatient' as setting,
        sum(coalesce(medreimb_ip, 0)) as paid_amount
    from {{ ref('stg_beneficiary_summary') }}
    group by year

    union all

    select
        year,
        'outpatient' as setting,
        sum(coalesce(medreimb_op, 0)) as paid_amount
    from {{ ref('stg_beneficiary_summary') }}
    group by year

    union all

    select
        year,
        'carrier' as setting,
        sum(coalesce(medreimb_car, 0)) as paid_amount
    from {{ ref('stg_beneficiary_summary') }}
    group by year

    union all

    select
        year,
        'part_d' as setting,
        sum(coalesce(total_cost_amount, 0)) as paid_amount
    from {{ ref('stg_prescription_drug_events') }}
    where year is not null
    group by year

),

mart_all as (

    select
        year,
        setting,
        beneficiaries,
        member_months,
        paid_amount
    from {{ ref('financial_pmpm') }}
    where dimension = 'all'

),

mart_dimensions as (

    select
        year,
        dimension,
        setting,
        sum(beneficiaries) as beneficiaries,
        sum(member_months) as member_months,
        sum(paid_amount) as paid_amount
    from {{ ref('financial_pmpm') }}
    where dimension <> 'all'
    group by
        year,
        dimension,
        setting

)

select
    'staging' as compared_with,
    staging_totals.year,
    staging_totals.setting,
    staging_totals.paid_amount as expected_paid,
    mart_all.paid_amount as mart_paid
from staging_totals
left join mart_all
    on staging_totals.year = mart_all.year
    and staging_totals.setting = mart_all.setting
where mart_all.paid_amount is null
    or abs(staging_totals.paid_amount - mart_all.paid_amount) > 0.005

union all

select
    mart_dimensions.dimension as compared_with,
    mart_dimensions.year,
    mart_dimensions.setting,
    mart_all.paid_amount as expected_paid,
    mart_dimensions.paid_amount as mart_paid
from mart_dimensions
inner join mart_all
    on mart_dimensions.year = mart_all.year
    and mart_dimensions.setting = mart_all.setting
where abs(mart_dimensions.paid_amount - mart_all.paid_amount) > 0.005
    or mart_dimensions.member_months <> mart_all.member_months
    or mart_dimensions.beneficiaries <> mart_all.beneficiaries
