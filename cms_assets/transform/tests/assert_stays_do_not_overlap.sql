-- After interim claims and transfers are merged, a beneficiary's next stay starts after the previous discharge
-- (at least one day later): an overlap or a same-day admission would have been merged into one stay.
with ordered as (

    select
        stay_id,
        sample,
        desynpuf_id,
        admission_date,
        lag(discharge_date) over (
            partition by sample, desynpuf_id
            order by admission_date
        ) as previous_discharge_date
    from {{ ref('int_inpatient_stays') }}

)

select *
from ordered
where admission_date <= previous_discharge_date
