-- A raw risk score is its demographic, disease and interaction parts; the HCC count matches the HCC list and
-- int_hcc_flags, and no HCC survives beside an HCC above it in the V22 hierarchy.
with flag_counts as (

    select
        sample,
        desynpuf_id,
        year,
        count(*) as hcc_count
    from {{ ref('int_hcc_flags') }}
    group by
        sample,
        desynpuf_id,
        year

)

select
    scores.sample,
    scores.desynpuf_id,
    scores.year,
    'score or count' as problem
from {{ ref('risk_scores') }} as scores
left join flag_counts
    on scores.sample = flag_counts.sample
    and scores.desynpuf_id = flag_counts.desynpuf_id
    and scores.year = flag_counts.year
where abs(scores.risk_score - scores.demographic_score - scores.disease_score - scores.interaction_score) > 1e-9
    or scores.hcc_count <> coalesce(flag_counts.hcc_count, 0)
    or (scores.hcc_count = 0 and scores.hcc_list <> '')
    or (scores.hcc_count > 0 and scores.hcc_list = '')

union all

select
    lower_hcc.sample,
    lower_hcc.desynpuf_id,
    lower_hcc.year,
    'hierarchy' as problem
from {{ ref('int_hcc_flags') }} as lower_hcc
inner join {{ ref('stg_hcc_v22_hierarchy') }} as hierarchy
    on lower_hcc.hcc = hierarchy.dropped_hcc
inner join {{ ref('int_hcc_flags') }} as higher_hcc
    on lower_hcc.sample = higher_hcc.sample
    and lower_hcc.desynpuf_id = higher_hcc.desynpuf_id
    and lower_hcc.year = higher_hcc.year
    and hierarchy.hcc = higher_hcc.hcc
