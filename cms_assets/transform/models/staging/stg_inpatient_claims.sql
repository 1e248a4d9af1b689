-- One row per inpatient claim segment (CLM_ID, SEGMENT); segment 2 rows carry no dates in DE-SynPUF.
-- Procedure codes and the 45 HCPCS columns (always empty for inpatient claims) are not carried forward.
with source as (

    select * from {{ source('cms', 'inpatient_claims') }}

)

select
    cast(sample as integer) as sample,
    cast("DESYNPUF_ID" as {{ dbt.type_string() }}) as desynpuf_id,
    cast("CLM_ID" as {{ dbt.type_string() }}) as claim_id,
    cast("SEGMENT" as integer) as segment,
    "CLM_FROM_DT" as claim_from_date,
    "CLM_THRU_DT" as claim_thru_date,
    "CLM_ADMSN_DT" as admission_date,
    "NCH_BENE_DSCHRG_DT" as discharge_date,
    cast("PRVDR_NUM" as {{ dbt.type_string() }}) as provider_number,
    cast("CLM_DRG_CD" as {{ dbt.type_string() }}) as drg_code,
    cast("ADMTNG_ICD9_DGNS_CD" as {{ dbt.type_string() }}) as admitting_icd9_code,
    cast("CLM_UTLZTN_DAY_CNT" as integer) as utilization_days,
    "CLM_PMT_AMT" as paid_amount,
    "NCH_PRMRY_PYR_CLM_PD_AMT" as primary_payer_paid_amount,
    "NCH_BENE_IP_DDCTBL_AMT" as deductible_amount,
    "NCH_BENE_PTA_COINSRNC_LBLTY_AM" as coinsurance_amount,
{%- for i in range(1, 11) %}
    cast("ICD9_DGNS_CD_{{ i }}" as {{ dbt.type_string() }}) as icd9_dgns_cd_{{ i }}{{ ',' if not loop.last }}
{%- endfor %}
from source
