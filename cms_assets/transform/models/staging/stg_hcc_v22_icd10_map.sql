-- CMS-HCC V22 ICD-10-CM -> condition category map (hccpy), one row per code and HCC; a few codes map to two HCCs.
with source as (

    select * from {{ source('terminology', 'hcc_v22_icd10_map') }}

)

select
    cast("ICD10_CODE" as {{ dbt.type_string() }}) as icd10_code,
    cast("HCC" as integer) as hcc
from source
