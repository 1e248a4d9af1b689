-- HCPCS codes of carrier lines (deduplicated claims) by year with their Medicare line payments, ranked. Codes only:
-- CPT descriptors are licensed, so no names are shown. Institutional HCPCS carry no line payment in DE-SynPUF and
-- are not included, as in today's views.
with lines as (
{%- for i in range(1, 14) %}

    select
        {{ year_of('claim_thru_date') }} as year,
        desynpuf_id,
        hcpcs_cd_{{ i }} as hcpcs_code,
        coalesce(line_nch_pmt_amt_{{ i }}, 0) as paid_amount
    from {{ ref('stg_carrier_claims') }}
    where hcpcs_cd_{{ i }} is not null
        and hcpcs_cd_{{ i }} <> ''
{%- if not loop.last %}

    union all
{%- endif %}
{%- endfor %}

),

by_code as (

    select
        year,
        hcpcs_code,
        count(*) as lines,
        count(distinct desynpuf_id) as beneficiaries,
        sum(paid_amount) as paid_amount
    from lines
    group by
        year,
        hcpcs_code

)

select
    year,
    hcpcs_code,
    cast(lines as integer) as lines,
    cast(beneficiaries as integer) as beneficiaries,
    cast(paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    {{ yearly_ranks('hcpcs_code', 'paid_amount', 'lines') }}
from by_code
