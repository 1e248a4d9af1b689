-- One row per encounter: an inpatient stay (int_inpatient_stays, transfers merged), an outpatient claim (its
-- segments together) or a carrier claim (deduplicated). encounter_date is the admission date or the claim's
-- CLM_FROM_DT; year is the discharge year of a stay and the CLM_THRU_DT year of a claim (the CMS claim year).
-- is_ed: an outpatient claim with an ED visit code (HCPCS 99281-99285) in HCPCS_CD_1..45, a carrier claim with one
-- in a line's HCPCS_CD_1..13; inpatient HCPCS are always empty in DE-SynPUF, so a stay is never flagged.
with stays as (

    select * from {{ ref('int_inpatient_stays') }}

),

outpatient_segments as (

    select
        sample,
        desynpuf_id,
        claim_id,
        claim_from_date,
        claim_thru_date,
        paid_amount,
        {{ any_ed_hcpcs('hcpcs_cd_', 45) }} as is_ed
    from {{ ref('stg_outpatient_claims') }}

),

outpatient as (

    select
        sample,
        desynpuf_id,
        claim_id,
        min(claim_from_date) as encounter_date,
        max(claim_thru_date) as end_date,
        sum(coalesce(paid_amount, 0)) as paid_amount,
        max(is_ed) as is_ed
    from outpatient_segments
    group by
        sample,
        desynpuf_id,
        claim_id

),

carrier as (

    select
        sample,
        desynpuf_id,
        claim_id,
        claim_from_date as encounter_date,
        claim_thru_date as end_date,
{%- for i in range(1, 14) %}
        coalesce(line_nch_pmt_amt_{{ i }}, 0){{ ' +' if not loop.last else ' as paid_amount,' }}
{%- endfor %}
        {{ any_ed_hcpcs('hcpcs_cd_', 13) }} as is_ed
    from {{ ref('stg_carrier_claims') }}

),

unioned as (

    select
        'inpatient' as setting,
        stay_id as encounter_id,
        sample,
        desynpuf_id,
        admission_date as encounter_date,
        discharge_date as end_date,
        year,
        paid_amount,
        0 as is_ed
    from stays

    union all

    select
        'outpatient' as setting,
        claim_id as encounter_id,
        sample,
        desynpuf_id,
        encounter_date,
        end_date,
        {{ year_of('end_date') }} as year,
        paid_amount,
        is_ed
    from outpatient

    union all

    select
        'carrier' as setting,
        claim_id as encounter_id,
        sample,
        desynpuf_id,
        encounter_date,
        end_date,
        {{ year_of('end_date') }} as year,
        paid_amount,
        is_ed
    from carrier

)

select
    setting,
    encounter_id,
    sample,
    desynpuf_id,
    encounter_date,
    end_date,
    year,
    cast(paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    is_ed
from unioned
