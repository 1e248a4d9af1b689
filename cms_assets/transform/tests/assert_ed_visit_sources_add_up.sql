-- Every ED visit was found via the outpatient claims only, the carrier claims only, or both; states add up to all.
with by_state as (

    select
        year,
        sum(ed_visits) as ed_visits,
        sum(member_months) as member_months
    from {{ ref('ed_visits') }}
    where dimension = 'state'
    group by year

)

select
    ed_visits.year,
    ed_visits.dimension,
    ed_visits.dimension_value
from {{ ref('ed_visits') }} as ed_visits
left join by_state
    on ed_visits.year = by_state.year
where ed_visits.via_outpatient_only + ed_visits.via_carrier_only + ed_visits.via_both <> ed_visits.ed_visits
    or (
        ed_visits.dimension = 'all'
        and (ed_visits.ed_visits <> by_state.ed_visits or ed_visits.member_months <> by_state.member_months)
    )
