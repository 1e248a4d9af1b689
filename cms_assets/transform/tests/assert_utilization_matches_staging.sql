-- utilization counts equal counts taken straight from staging and intermediate: stays per discharge year, PDE
-- fills per service year, distinct carrier claims (the source table's distinct pairs) per year of
-- their earliest CLM_THRU_DT (the row stg_carrier_claims keeps).
with expected as (

    select
        year,
        count(*) as admissions,
        0 as pde_fills,
        0 as carrier_claims
    from {{ ref('int_inpatient_stays') }}
    group by year

    union all

    select
        year,
        0 as admissions,
        count(*) as pde_fills,
        0 as carrier_claims
    from {{ ref('stg_prescription_drug_events') }}
    group by year

    union all

    select
        year,
        0 as admissions,
        0 as pde_fills,
        count(*) as carrier_claims
    from (
        select
            sample,
            "DESYNPUF_ID",
            "CLM_ID",
            {{ year_of('min("CLM_THRU_DT")') }} as year
        from {{ source('cms', 'carrier_claims') }}
        group by
            sample,
            "DESYNPUF_ID",
            "CLM_ID"
    ) as distinct_carrier_claims
    group by year

),

expected_by_year as (

    select
        year,
        sum(admissions) as admissions,
        sum(pde_fills) as pde_fills,
        sum(carrier_claims) as carrier_claims
    from expected
    group by year

)

select
    expected_by_year.*,
    utilization.admissions as mart_admissions,
    utilization.pde_fills as mart_pde_fills,
    utilization.carrier_claims as mart_carrier_claims
from expected_by_year
inner join {{ ref('utilization') }} as utilization
    on expected_by_year.year = utilization.year
where expected_by_year.admissions <> utilization.admissions
    or expected_by_year.pde_fills <> utilization.pde_fills
    or expected_by_year.carrier_claims <> utilization.carrier_claims
