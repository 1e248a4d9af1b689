-- NDCs (PROD_SRVC_ID) of Part D events by year (of SRVC_DT) with their total drug cost, ranked. Codes only: no
-- drug names are licensed with the package data.
with by_code as (

    select
        year,
        ndc_code,
        count(*) as fills,
        count(distinct desynpuf_id) as beneficiaries,
        sum(coalesce(total_cost_amount, 0)) as paid_amount
    from {{ ref('stg_prescription_drug_events') }}
    where ndc_code is not null
        and ndc_code <> ''
        and year is not null
    group by
        year,
        ndc_code

)

select
    year,
    ndc_code,
    cast(fills as integer) as fills,
    cast(beneficiaries as integer) as beneficiaries,
    cast(paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    {{ yearly_ranks('ndc_code', 'paid_amount', 'fills') }}
from by_code
