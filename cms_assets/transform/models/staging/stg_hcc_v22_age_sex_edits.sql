-- CMS-HCC V22 age/sex edits (V22I0ED2, as hccpy applies them): for a code, sex and age range, the HCC the code
-- yields instead of its mapped one (hcc null = no HCC at all).
with source as (

    select * from {{ source('terminology', 'hcc_v22_age_sex_edits') }}

)

select
    cast("ICD10_CODE" as {{ dbt.type_string() }}) as icd10_code,
    cast("SEX" as {{ dbt.type_string() }}) as sex,
    cast("AGE_FROM" as integer) as age_from,
    cast("AGE_TO" as integer) as age_to,
    cast("HCC" as integer) as hcc
from source
