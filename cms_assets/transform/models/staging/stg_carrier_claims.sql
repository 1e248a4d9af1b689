{{ config(materialized="table", post_hook="{{ analyze_relation(this) }}") }}

-- One row per carrier claim: the published files repeat some (DESYNPUF_ID, CLM_ID) pairs (about 480 in Sample 1's
-- file A); one row of each pair is kept (the earliest CLM_THRU_DT, then CLM_FROM_DT, then the lowest first-line
-- HCPCS and payment, so the choice is deterministic) and source_rows says how many rows shared the pair. Kept line blocks: HCPCS code,
-- Medicare line payment and line diagnosis of lines 1..13 (the other line blocks are not used downstream).
with source as (

    select * from {{ source('cms', 'carrier_claims') }}

),

numbered as (

    select
        source.*,
        row_number() over (
            partition by sample, "DESYNPUF_ID", "CLM_ID"
            order by "CLM_THRU_DT", "CLM_FROM_DT", "HCPCS_CD_1", "LINE_NCH_PMT_AMT_1"
        ) as row_in_pair,
        count(*) over (
            partition by sample, "DESYNPUF_ID", "CLM_ID"
        ) as source_rows
    from source

)

select
    cast(sample as integer) as sample,
    cast("DESYNPUF_ID" as {{ dbt.type_string() }}) as desynpuf_id,
    cast("CLM_ID" as {{ dbt.type_string() }}) as claim_id,
    "CLM_FROM_DT" as claim_from_date,
    "CLM_THRU_DT" as claim_thru_date,
    cast(source_rows as integer) as source_rows,
{%- for i in range(1, 9) %}
    cast("ICD9_DGNS_CD_{{ i }}" as {{ dbt.type_string() }}) as icd9_dgns_cd_{{ i }},
{%- endfor %}
{%- for i in range(1, 14) %}
    cast("HCPCS_CD_{{ i }}" as {{ dbt.type_string() }}) as hcpcs_cd_{{ i }},
    "LINE_NCH_PMT_AMT_{{ i }}" as line_nch_pmt_amt_{{ i }},
    cast("LINE_ICD9_DGNS_CD_{{ i }}" as {{ dbt.type_string() }}) as line_icd9_dgns_cd_{{ i }}{{ ',' if not loop.last }}
{%- endfor %}
from numbered
where row_in_pair = 1
