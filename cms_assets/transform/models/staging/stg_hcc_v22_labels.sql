-- CMS-HCC V22 HCC labels (hccpy).
with source as (

    select * from {{ source('terminology', 'hcc_v22_labels') }}

)

select
    cast("HCC" as integer) as hcc,
    cast("HCC_LABEL" as {{ dbt.type_string() }}) as hcc_label
from source
