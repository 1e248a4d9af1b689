-- ICD-9-CM v32 diagnosis codes (without the dot) with CMS's short and long names.
with source as (

    select * from {{ source('terminology', 'icd9_diagnoses') }}

)

select
    cast("ICD9_CODE" as {{ dbt.type_string() }}) as icd9_code,
    cast("SHORT_NAME" as {{ dbt.type_string() }}) as short_name,
    cast("LONG_NAME" as {{ dbt.type_string() }}) as long_name
from source
