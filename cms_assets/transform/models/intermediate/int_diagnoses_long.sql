-- One row per diagnosis on a claim: inpatient and outpatient ICD9_DGNS_CD_1..10 (per claim segment), carrier
-- ICD9_DGNS_CD_1..8 (claim_type carrier) and the line diagnoses LINE_ICD9_DGNS_CD_1..13 (claim_type carrier_line,
-- position = line number). Empty codes are dropped. The amount attributed is the one today's BI views use: the
-- principal diagnosis (position 1) of an inpatient or outpatient claim row carries its CLM_PMT_AMT, a carrier line
-- diagnosis carries the line's LINE_NCH_PMT_AMT; every other position carries 0, so a sum never counts a payment
-- twice. The year is the year of the claim's CLM_THRU_DT (for a dateless segment 2 row, its claim's).
--
-- Each claim table is read once and crossed with the positions: a large relation referenced by several selects is
-- materialized whole by DuckDB (20 samples: tens of GB of spill), one referenced once streams.
{%- set claim_dx = 10 %}
{%- set carrier_dx = 8 %}
{%- set carrier_lines = 13 %}

with positions as (
{%- for i in range(1, carrier_lines + 1) %}

    select {{ i }} as position
{%- if not loop.last %}

    union all
{%- endif %}
{%- endfor %}

),

{%- for table in ['inpatient', 'outpatient'] %}

{{ table }} as (

    select
        sample,
        desynpuf_id,
        claim_id,
        segment,
        paid_amount,
{%- for i in range(1, claim_dx + 1) %}
        icd9_dgns_cd_{{ i }},
{%- endfor %}
        max(claim_thru_date) over (partition by sample, claim_id) as claim_year_date
    from {{ ref('stg_' ~ table ~ '_claims') }}

),
{%- endfor %}

unioned as (
{%- for table in ['inpatient', 'outpatient'] %}

    select
        '{{ table }}' as claim_type,
        claims.sample,
        claims.desynpuf_id,
        claims.claim_id,
        claims.segment,
        {{ year_of('claims.claim_year_date') }} as year,
        positions.position,
        case positions.position
{%- for i in range(1, claim_dx + 1) %}
            when {{ i }} then claims.icd9_dgns_cd_{{ i }}
{%- endfor %}
        end as icd9_code,
        case when positions.position = 1 then coalesce(claims.paid_amount, 0) else 0 end as attributed_amount
    from {{ table }} as claims
    cross join positions
    where positions.position <= {{ claim_dx }}

    union all
{%- endfor %}

    select
        'carrier' as claim_type,
        claims.sample,
        claims.desynpuf_id,
        claims.claim_id,
        1 as segment,
        {{ year_of('claims.claim_thru_date') }} as year,
        positions.position,
        case positions.position
{%- for i in range(1, carrier_dx + 1) %}
            when {{ i }} then claims.icd9_dgns_cd_{{ i }}
{%- endfor %}
        end as icd9_code,
        0 as attributed_amount
    from {{ ref('stg_carrier_claims') }} as claims
    cross join positions
    where positions.position <= {{ carrier_dx }}

    union all

    select
        'carrier_line' as claim_type,
        claims.sample,
        claims.desynpuf_id,
        claims.claim_id,
        1 as segment,
        {{ year_of('claims.claim_thru_date') }} as year,
        positions.position,
        case positions.position
{%- for i in range(1, carrier_lines + 1) %}
            when {{ i }} then claims.line_icd9_dgns_cd_{{ i }}
{%- endfor %}
        end as icd9_code,
        case positions.position
{%- for i in range(1, carrier_lines + 1) %}
            when {{ i }} then coalesce(claims.line_nch_pmt_amt_{{ i }}, 0)
{%- endfor %}
        end as attributed_amount
    from {{ ref('stg_carrier_claims') }} as claims
    cross join positions

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
