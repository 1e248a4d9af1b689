-- A readmission is counted only for an index stay and only when the next admission is 1..30 days after its
-- discharge; an excluded stay always has a reason, an index stay never.
select *
from {{ ref('readmission_index_stays') }}
where (readmitted_within_30_days = 1 and (is_index_stay = 0 or days_to_next_admission not between 1 and 30))
    or (is_index_stay = 0 and exclusion_reason is null)
    or (is_index_stay = 1 and exclusion_reason is not null)
