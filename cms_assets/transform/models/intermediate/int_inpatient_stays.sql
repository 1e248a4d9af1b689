-- One row per inpatient stay (an episode of hospital care), built in three steps:
--   1. claims: the segments of one CLM_ID are one claim (segment 2 rows carry no dates; their payment counts);
--   2. admissions: interim claims of one admission share sample, beneficiary and CLM_ADMSN_DT; the admission's
--      discharge is the latest NCH_BENE_DSCHRG_DT (the latest CLM_THRU_DT when no claim has one), its payment the
--      sum, its DRG the DRG of the claim with the latest CLM_THRU_DT;
--   3. transfers: admissions of a beneficiary are taken in admission order; an admission that starts on or before
--      the latest discharge of the beneficiary's earlier admissions (a new admission on the discharge day is a
--      transfer; an earlier one overlaps) joins that episode. An episode runs from its first admission to its latest
--      discharge; its DRG is the DRG of the admission discharged last.
with claim_segments as (

    select * from {{ ref('stg_inpatient_claims') }}

),

claims as (

    select
        sample,
        desynpuf_id,
        claim_id,
        max(admission_date) as admission_date,
        max(discharge_date) as discharge_date,
        max(claim_thru_date) as claim_thru_date,
        max(drg_code) as drg_code,
        sum(coalesce(paid_amount, 0)) as paid_amount
    from claim_segments
    group by
        sample,
        desynpuf_id,
        claim_id

),

claims_ranked as (

    select
        claims.*,
        row_number() over (
            partition by sample, desynpuf_id, admission_date
            order by claim_thru_date desc, claim_id desc
        ) as claim_recency
    from claims
    where admission_date is not null

),

admissions as (

    select
        sample,
        desynpuf_id,
        admission_date,
        coalesce(max(discharge_date), max(claim_thru_date)) as discharge_date,
        case when max(discharge_date) is null then 1 else 0 end as discharge_date_imputed,
        max(case when claim_recency = 1 then drg_code end) as drg_code,
        min(claim_id) as first_claim_id,
        count(*) as claims,
        sum(paid_amount) as paid_amount
    from claims_ranked
    group by
        sample,
        desynpuf_id,
        admission_date

),

admissions_with_prior as (

    select
        admissions.*,
        max(discharge_date) over (
            partition by sample, desynpuf_id
            order by admission_date
            rows between unbounded preceding and 1 preceding
        ) as prior_latest_discharge_date
    from admissions

),

admissions_flagged as (

    select
        admissions_with_prior.*,
        case
            when prior_latest_discharge_date is not null
                and admission_date <= prior_latest_discharge_date then 0
            else 1
        end as starts_episode
    from admissions_with_prior

),

admissions_numbered as (

    select
        admissions_flagged.*,
        sum(starts_episode) over (
            partition by sample, desynpuf_id
            order by admission_date
            rows between unbounded preceding and current row
        ) as episode_number
    from admissions_flagged

),

episodes as (

    select
        sample,
        desynpuf_id,
        episode_number,
        min(admission_date) as admission_date,
        max(discharge_date) as discharge_date,
        max(discharge_date_imputed) as discharge_date_imputed,
        min(first_claim_id) as stay_id,
        count(*) as admissions_merged,
        sum(claims) as claims,
        sum(paid_amount) as paid_amount
    from admissions_numbered
    group by
        sample,
        desynpuf_id,
        episode_number

),

last_drg as (

    -- The DRG of the admission discharged last within each episode.
    select
        sample,
        desynpuf_id,
        episode_number,
        drg_code,
        row_number() over (
            partition by sample, desynpuf_id, episode_number
            order by discharge_date desc, admission_date desc
        ) as recency
    from admissions_numbered

)

select
    episodes.stay_id,
    episodes.sample,
    episodes.desynpuf_id,
    episodes.admission_date,
    episodes.discharge_date,
    episodes.discharge_date_imputed,
    {{ year_of('episodes.discharge_date') }} as year,
    {{ dbt.datediff('episodes.admission_date', 'episodes.discharge_date', 'day') }} as length_of_stay,
    last_drg.drg_code,
    episodes.admissions_merged,
    case when episodes.admissions_merged > 1 then 1 else 0 end as includes_transfer,
    episodes.claims,
    episodes.paid_amount
from episodes
inner join last_drg
    on episodes.sample = last_drg.sample
    and episodes.desynpuf_id = last_drg.desynpuf_id
    and episodes.episode_number = last_drg.episode_number
    and last_drg.recency = 1
