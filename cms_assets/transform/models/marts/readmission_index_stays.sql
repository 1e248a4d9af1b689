-- One row per inpatient stay (transfers already merged, see int_inpatient_stays) with what the 30-day all-cause
-- readmission measure needs. A stay is an index stay unless
--   1. in_hospital_death: the beneficiary's death date (BENE_DEATH_DT from any year's beneficiary row; DE-SynPUF has
--      no discharge status) is on or before the discharge date;
--   2. window_not_observed: the discharge is after observation_end - 30 days, so the 30 days are not all in the data.
-- The first reason that applies is the exclusion_reason. A readmission is the beneficiary's next stay admitted 1 to
-- 30 days after the index discharge (a same-day admission was merged as a transfer, so 0 days cannot occur).
with stays as (

    select * from {{ ref('int_inpatient_stays') }}

),

deaths as (

    select
        sample,
        desynpuf_id,
        max(death_date) as death_date
    from {{ ref('stg_beneficiary_summary') }}
    group by
        sample,
        desynpuf_id

),

states as (

    select
        sample,
        desynpuf_id,
        year,
        state_code
    from {{ ref('int_member_months') }}

),

sequenced as (

    select
        stays.*,
        lead(stay_id) over (
            partition by sample, desynpuf_id
            order by admission_date
        ) as next_stay_id,
        lead(admission_date) over (
            partition by sample, desynpuf_id
            order by admission_date
        ) as next_admission_date
    from stays

),

flagged as (

    select
        sequenced.stay_id,
        sequenced.sample,
        sequenced.desynpuf_id,
        sequenced.admission_date,
        sequenced.discharge_date,
        sequenced.year,
        coalesce(states.state_code, 'unknown') as state_code,
        coalesce(sequenced.drg_code, 'unknown') as drg_code,
        sequenced.includes_transfer,
        deaths.death_date,
        case
            when deaths.death_date is not null and deaths.death_date <= sequenced.discharge_date then 1
            else 0
        end as died_in_hospital,
        case
            when sequenced.discharge_date
                <= {{ dbt.dateadd('day', -30, "cast('" ~ var('observation_end') ~ "' as date)") }} then 1
            else 0
        end as window_observed,
        sequenced.next_stay_id,
        sequenced.next_admission_date,
        {{ dbt.datediff('sequenced.discharge_date', 'sequenced.next_admission_date', 'day') }} as days_to_next_admission
    from sequenced
    left join deaths
        on sequenced.sample = deaths.sample
        and sequenced.desynpuf_id = deaths.desynpuf_id
    left join states
        on sequenced.sample = states.sample
        and sequenced.desynpuf_id = states.desynpuf_id
        and sequenced.year = states.year

)

select
    stay_id,
    sample,
    desynpuf_id,
    admission_date,
    discharge_date,
    year,
    state_code,
    drg_code,
    includes_transfer,
    death_date,
    died_in_hospital,
    window_observed,
    case
        when died_in_hospital = 1 then 'in_hospital_death'
        when window_observed = 0 then 'window_not_observed'
    end as exclusion_reason,
    case when died_in_hospital = 0 and window_observed = 1 then 1 else 0 end as is_index_stay,
    next_stay_id,
    next_admission_date,
    days_to_next_admission,
    case
        when died_in_hospital = 0
            and window_observed = 1
            and days_to_next_admission between 1 and 30 then 1
        else 0
    end as readmitted_within_30_days,
    case
        when died_in_hospital = 0
            and window_observed = 1
            and days_to_next_admission between 1 and 30 then next_stay_id
    end as readmission_stay_id
from flagged
