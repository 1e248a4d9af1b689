-- One row per outpatient claim segment (CLM_ID, SEGMENT), with its diagnoses and its 45 HCPCS codes.
with source as (

    select * from {{ source('cms', 'outpatient_claims') }}

)

select
    cast(sample as integer) as sample,
    cast("DESYNPUF_ID" as {{ dbt.type_string() }}) as desynpuf_id,
    cast("CLM_ID" as {{ dbt.type_string() }}) as claim_id,
    cast("SEGMENT" as integer) as segment,
    "CLM_FROM_DT" as claim_from_date,
    "CLM_THRU_DT" as claim_thru_date,
    cast("PRVDR_NUM" as {{ dbt.type_string() }}) as provider_number,
    cast("ADMTNG_ICD9_DGNS_CD" as {{ dbt.type_string() }}) as admitting_icd9_code,
    "CLM_PMT_AMT" as paid_amount,
    "NCH_PRMRY_PYR_CLM_PD_AMT" as primary_payer_paid_amount,
    "NCH_BENE_PTB_DDCTBL_AMT" as deductible_amount,
    "NCH_BENE_PTB_COINSRNC_AMT" as coinsurance_amount,
{%- for i in range(1, 11) %}
    cast("ICD9_DGNS_CD_{{ i }}" as {{ dbt.type_string() }}) as icd9_dgns_cd_{{ i }},
{%- endfor %}
{%- for i in range(1, 46) %}
    cast("HCPCS_CD_{{ i }}" as {{ dbt.type_string() }}) as hcpcs_cd_{{ i }}{{ ',' if not loop.last }}
{%- endfor %}
from source
