-- CMS-HCC V22 relative factors of every segment (hccpy): segment, variable (HCC85, HCC85_gRenal, F65_69, ...) and
-- coefficient; age/sex cells also carry their sex and age range (age_to null = no upper bound).
with source as (

    select * from {{ source('terminology', 'hcc_v22_coefficients') }}

)

select
    cast("SEGMENT" as {{ dbt.type_string() }}) as segment,
    cast("VARIABLE" as {{ dbt.type_string() }}) as variable,
    cast("COEFFICIENT" as double precision) as coefficient,
    cast("DEMOGRAPHIC_SEX" as {{ dbt.type_string() }}) as demographic_sex,
    cast("AGE_FROM" as integer) as age_from,
    cast("AGE_TO" as integer) as age_to
from source
