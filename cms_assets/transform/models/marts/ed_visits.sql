-- Emergency-department visits per 1,000 member-years by year, for all beneficiaries and by state (long format).
-- A visit is one beneficiary on one date (the claim's CLM_FROM_DT) with an ED code (HCPCS 99281-99285) on an
-- outpatient (facility) claim or a carrier (physician) claim: the facility and the physician bill the same visit
-- separately, so a facility claim and a physician claim of the same beneficiary and date are one visit. The
-- columns via_outpatient_only, via_carrier_only and via_both say where each visit was found. The visit's year is
-- the year of its date; the state is the beneficiary's state in that year ('unknown' without a beneficiary row).
with ed_claims as (

    select
        sample,
        desynpuf_id,
        encounter_date as visit_date,
        max(case when setting = 'outpatient' then 1 else 0 end) as found_outpatient,
        max(case when setting = 'carrier' then 1 else 0 end) as found_carrier
    from {{ ref('int_encounters') }}
    where is_ed = 1
        and encounter_date is not null
    group by
        sample,
        desynpuf_id,
        encounter_date

),

visits as (

    select
        ed_claims.*,
        {{ year_of('ed_claims.visit_date') }} as year,
        coalesce(members.state_code, 'unknown') as state_code
    from ed_claims
    left join {{ ref('int_member_months') }} as members
        on ed_claims.sample = members.sample
        and ed_claims.desynpuf_id = members.desynpuf_id
        and {{ year_of('ed_claims.visit_date') }} = members.year

),

visit_counts as (

    select
        year,
        state_code,
        count(*) as ed_visits,
        sum(case when found_outpatient = 1 and found_carrier = 0 then 1 else 0 end) as via_outpatient_only,
        sum(case when found_outpatient = 0 and found_carrier = 1 then 1 else 0 end) as via_carrier_only,
        sum(case when found_outpatient = 1 and found_carrier = 1 then 1 else 0 end) as via_both
    from visits
    group by
        year,
        state_code

),

visitors as (

    select
        year,
        state_code,
        count(*) as beneficiaries_with_visit
    from (
        select distinct
            year,
            state_code,
            sample,
            desynpuf_id
        from visits
    ) as distinct_visitors
    group by
        year,
        state_code

),

enrollment as (

    select
        year,
        state_code,
        count(*) as beneficiaries,
        sum(member_months) as member_months
    from {{ ref('int_member_months') }}
    group by
        year,
        state_code

),

cells as (

    select
        coalesce(enrollment.year, visit_counts.year) as year,
        coalesce(enrollment.state_code, visit_counts.state_code) as state_code,
        coalesce(enrollment.beneficiaries, 0) as beneficiaries,
        coalesce(enrollment.member_months, 0) as member_months,
        coalesce(visit_counts.ed_visits, 0) as ed_visits,
        coalesce(visit_counts.via_outpatient_only, 0) as via_outpatient_only,
        coalesce(visit_counts.via_carrier_only, 0) as via_carrier_only,
        coalesce(visit_counts.via_both, 0) as via_both,
        coalesce(visitors.beneficiaries_with_visit, 0) as beneficiaries_with_visit
    from enrollment
    full outer join visit_counts
        on enrollment.year = visit_counts.year
        and enrollment.state_code = visit_counts.state_code
    left join visitors
        on visit_counts.year = visitors.year
        and visit_counts.state_code = visitors.state_code

),

by_dimension as (

    select
        year,
        'all' as dimension,
        'all' as dimension_value,
        sum(beneficiaries) as beneficiaries,
        sum(member_months) as member_months,
        sum(ed_visits) as ed_visits,
        sum(via_outpatient_only) as via_outpatient_only,
        sum(via_carrier_only) as via_carrier_only,
        sum(via_both) as via_both,
        sum(beneficiaries_with_visit) as beneficiaries_with_visit
    from cells
    group by year

    union all

    select
        year,
        'state' as dimension,
        state_code as dimension_value,
        beneficiaries,
        member_months,
        ed_visits,
        via_outpatient_only,
        via_carrier_only,
        via_both,
        beneficiaries_with_visit
    from cells

)

select
    year,
    dimension,
    dimension_value,
    cast(beneficiaries as integer) as beneficiaries,
    cast(member_months as integer) as member_months,
    cast(ed_visits as integer) as ed_visits,
    cast(via_outpatient_only as integer) as via_outpatient_only,
    cast(via_carrier_only as integer) as via_carrier_only,
    cast(via_both as integer) as via_both,
    cast(beneficiaries_with_visit as integer) as beneficiaries_with_visit,
    {{ safe_divide('ed_visits * 12000', 'member_months') }} as ed_visits_per_1000,
    case when beneficiaries < {{ var('min_cell_size') }} then 1 else 0 end as is_small_cell
from by_dimension
