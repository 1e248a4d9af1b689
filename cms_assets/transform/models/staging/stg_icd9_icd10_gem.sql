-- CMS General Equivalence Mapping ICD-9-CM -> ICD-10-CM, one row per pair; flags as 0/1.
with source as (

    select * from {{ source('terminology', 'icd9_icd10_gem') }}

)

select
    cast("ICD9_CODE" as {{ dbt.type_string() }}) as icd9_code,
    cast("ICD10_CODE" as {{ dbt.type_string() }}) as icd10_code,
    cast("APPROXIMATE" as integer) as approximate,
    cast("NO_MAP" as integer) as no_map,
    cast("COMBINATION" as integer) as combination,
    cast("SCENARIO" as integer) as scenario,
    cast("CHOICE_LIST" as integer) as choice_list
from source
