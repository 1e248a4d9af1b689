-- One row per diagnosis on a claim: inpatient and outpatient ICD9_DGNS_CD_1..10 (per claim segment), carrier
-- ICD9_DGNS_CD_1..8 (claim_type carrier) and the line diagnoses LINE_ICD9_DGNS_CD_1..13 (claim_type carrier_line,
-- position = line number). Empty codes are dropped. The amount attributed is the one today's BI views use: the
-- principal diagnosis (position 1) of an inpatient or outpatient claim row carries its CLM_PMT_AMT, a carrier line
-- diagnosis carries the line's LINE_NCH_PMT_AMT; every other position carries 0, so a sum never counts a payment
-- twice. The year is the year of the claim's CLM_THRU_DT (for a dateless segment 2 row, its claim's).
with inpatient as (

    select
        *,
        max(claim_thru_date) over (partition by sample, claim_id) as claim_year_date
    from {{ ref('stg_inpatient_claims') }}

),

outpatient as (

    select
        *,
        max(claim_thru_date) over (partition by sample, claim_id) as claim_year_date
    from {{ ref('stg_outpatient_claims') }}

),

carrier as (

    select * from {{ ref('stg_carrier_claims') }}

),

unioned as (

{%- for table, claim_type, positions in [('inpatient', 'inpatient', 10), ('outpatient', 'outpatient', 10)] %}
{%- for i in range(1, positions + 1) %}

    select
        '{{ claim_type }}' as claim_type,
        sample,
        desynpuf_id,
        claim_id,
        segment,
        {{ year_of('claim_year_date') }} as year,
        {{ i }} as position,
        icd9_dgns_cd_{{ i }} as icd9_code,
        {{ 'coalesce(paid_amount, 0)' if i == 1 else '0' }} as attributed_amount
    from {{ table }}

    union all
{%- endfor %}
{%- endfor %}
{%- for i in range(1, 9) %}

    select
        'carrier' as claim_type,
        sample,
        desynpuf_id,
        claim_id,
        1 as segment,
        {{ year_of('claim_thru_date') }} as year,
        {{ i }} as position,
        icd9_dgns_cd_{{ i }} as icd9_code,
        0 as attributed_amount
    from carrier

    union all
{%- endfor %}
{%- for i in range(1, 14) %}

    select
        'carrier_line' as claim_type,
        sample,
        desynpuf_id,
        claim_id,
        1 as segment,
        {{ year_of('claim_thru_date') }} as year,
        {{ i }} as position,
        line_icd9_dgns_cd_{{ i }} as icd9_code,
        coalesce(line_nch_pmt_amt_{{ i }}, 0) as attributed_amount
    from carrier
{%- if not loop.last %}

    union all
{%- endif %}
{%- endfor %}

)

select
    claim_type,
    sample,
    desynpuf_id,
    claim_id,
    segment,
    year,
    position,
    icd9_code,
    cast(attributed_amount as {{ dbt.type_numeric() }}) as attributed_amount
from unioned
where icd9_code is not null
    and icd9_code <> ''
