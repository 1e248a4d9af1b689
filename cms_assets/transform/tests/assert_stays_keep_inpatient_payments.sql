-- Merging claims into stays keeps every dollar: the stays' paid equals CLM_PMT_AMT of all segments of claims with
-- an admission date.
with claims_with_admission as (

    select distinct
        sample,
        claim_id
    from {{ ref('stg_inpatient_claims') }}
    where admission_date is not null

),

claim_total as (

    select
        sum(coalesce(segments.paid_amount, 0)) as paid_amount
    from {{ ref('stg_inpatient_claims') }} as segments
    inner join claims_with_admission
        on segments.sample = claims_with_admission.sample
        and segments.claim_id = claims_with_admission.claim_id

),

stay_total as (

    select
        sum(paid_amount) as paid_amount
    from {{ ref('int_inpatient_stays') }}

)

select
    claim_total.paid_amount as claims_paid,
    stay_total.paid_amount as stays_paid
from claim_total
cross join stay_total
where abs(coalesce(claim_total.paid_amount, 0) - coalesce(stay_total.paid_amount, 0)) > 0.005
