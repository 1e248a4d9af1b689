-- CMS-HCC V22 hierarchies (hccpy): one row per HCC and each lower HCC it drops when both are present.
with source as (

    select * from {{ source('terminology', 'hcc_v22_hierarchy') }}

)

select
    cast("HCC" as integer) as hcc,
    cast("DROPPED_HCC" as integer) as dropped_hcc
from source
