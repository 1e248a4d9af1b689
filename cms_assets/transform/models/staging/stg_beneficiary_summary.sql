-- One row per sample, beneficiary and year of the Beneficiary Summary files, with typed, lower-case columns.
with source as (

    select * from {{ source('cms', 'beneficiary_summary') }}

)

select
    cast(sample as integer) as sample,
    cast("DESYNPUF_ID" as {{ dbt.type_string() }}) as desynpuf_id,
    cast("YEAR" as integer) as year,
    "BENE_BIRTH_DT" as birth_date,
    "BENE_DEATH_DT" as death_date,
    cast("BENE_SEX_IDENT_CD" as integer) as sex_code,
    cast("BENE_RACE_CD" as integer) as race_code,
    case
        when "BENE_ESRD_IND" = 'Y' then 1
        when "BENE_ESRD_IND" = '0' then 0
    end as esrd,
    cast("SP_STATE_CODE" as {{ dbt.type_string() }}) as state_code,
    cast("BENE_COUNTY_CD" as {{ dbt.type_string() }}) as county_code,
    coalesce(cast("BENE_HI_CVRAGE_TOT_MONS" as integer), 0) as part_a_months,
    coalesce(cast("BENE_SMI_CVRAGE_TOT_MONS" as integer), 0) as part_b_months,
    coalesce(cast("BENE_HMO_CVRAGE_TOT_MONS" as integer), 0) as hmo_months,
    coalesce(cast("PLAN_CVRG_MOS_NUM" as integer), 0) as part_d_months,
{%- for flag in ['ALZHDMTA', 'CHF', 'CHRNKIDN', 'CNCR', 'COPD', 'DEPRESSN', 'DIABETES', 'ISCHMCHT', 'OSTEOPRS', 'RA_OA', 'STRKETIA'] %}
    case
        when "SP_{{ flag }}" = 1 then 1
        when "SP_{{ flag }}" = 2 then 0
    end as cc_{{ flag | lower }},
{%- endfor %}
    "MEDREIMB_IP" as medreimb_ip,
    "BENRES_IP" as benres_ip,
    "PPPYMT_IP" as pppymt_ip,
    "MEDREIMB_OP" as medreimb_op,
    "BENRES_OP" as benres_op,
    "PPPYMT_OP" as pppymt_op,
    "MEDREIMB_CAR" as medreimb_car,
    "BENRES_CAR" as benres_car,
    "PPPYMT_CAR" as pppymt_car
from source
