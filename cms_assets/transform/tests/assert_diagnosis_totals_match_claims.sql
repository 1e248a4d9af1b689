-- Diagnosis marts distribute payments without losing or double counting: per year, the paid of diagnosis_codes and
-- of diagnosis_categories both equal the payments with a diagnosis in staging (the principal diagnosis of inpatient
-- and outpatient claim rows, the diagnosis of carrier lines).
with claim_rows as (

    select
        sample,
        claim_id,
        icd9_dgns_cd_1,
        paid_amount,
        max(claim_thru_date) over (partition by sample, claim_id) as claim_year_date
    from {{ ref('stg_inpatient_claims') }}

    union all

    select
        sample,
        claim_id,
        icd9_dgns_cd_1,
        paid_amount,
        max(claim_thru_date) over (partition by sample, claim_id) as claim_year_date
    from {{ ref('stg_outpatient_claims') }}

),

staging_paid as (

    select
        {{ year_of('claim_year_date') }} as year,
        coalesce(paid_amount, 0) as paid_amount
    from claim_rows
    where icd9_dgns_cd_1 is not null
        and icd9_dgns_cd_1 <> ''
{%- for i in range(1, 14) %}

    union all

    select
        {{ year_of('claim_thru_date') }} as year,
        coalesce(line_nch_pmt_amt_{{ i }}, 0) as paid_amount
    from {{ ref('stg_carrier_claims') }}
    where line_icd9_dgns_cd_{{ i }} is not null
        and line_icd9_dgns_cd_{{ i }} <> ''
{%- endfor %}

),

totals as (

    select
        year,
        sum(paid_amount) as staging_paid,
        0 as codes_paid,
        0 as categories_paid
    from staging_paid
    group by year

    union all

    select
        year,
        0 as staging_paid,
        sum(paid_amount) as codes_paid,
        0 as categories_paid
    from {{ ref('diagnosis_codes') }}
    group by year

    union all

    select
        year,
        0 as staging_paid,
        0 as codes_paid,
        sum(paid_amount) as categories_paid
    from {{ ref('diagnosis_categories') }}
    group by year

),

by_year as (

    select
        year,
        sum(staging_paid) as staging_paid,
        sum(codes_paid) as codes_paid,
        sum(categories_paid) as categories_paid
    from totals
    group by year

)

select *
from by_year
where abs(staging_paid - codes_paid) > 0.005
    or abs(staging_paid - categories_paid) > 0.005
