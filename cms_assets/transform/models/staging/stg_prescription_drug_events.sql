-- One row per Part D prescription drug event.
with source as (

    select * from {{ source('cms', 'prescription_drug_events') }}

)

select
    cast(sample as integer) as sample,
    cast("DESYNPUF_ID" as {{ dbt.type_string() }}) as desynpuf_id,
    cast("PDE_ID" as {{ dbt.type_string() }}) as pde_id,
    "SRVC_DT" as service_date,
    {{ year_of('"SRVC_DT"') }} as year,
    cast("PROD_SRVC_ID" as {{ dbt.type_string() }}) as ndc_code,
    "QTY_DSPNSD_NUM" as quantity_dispensed,
    cast("DAYS_SUPLY_NUM" as integer) as days_supply,
    "PTNT_PAY_AMT" as patient_paid_amount,
    "TOT_RX_CST_AMT" as total_cost_amount
from source
