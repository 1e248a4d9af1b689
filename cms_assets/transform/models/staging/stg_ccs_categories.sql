-- AHRQ CCS single-level diagnosis category of each ICD-9-CM code.
with source as (

    select * from {{ source('terminology', 'ccs_categories') }}

)

select
    cast("ICD9_CODE" as {{ dbt.type_string() }}) as icd9_code,
    cast("CCS_CATEGORY" as integer) as ccs_category,
    cast("CCS_NAME" as {{ dbt.type_string() }}) as ccs_name
from source
