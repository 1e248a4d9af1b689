-- Coverage months are counts of months in one calendar year: 0..12 (DE-SynPUF codebook). A row outside breaks
-- every member-month denominator.
select
    sample,
    desynpuf_id,
    year,
    part_a_months,
    part_b_months,
    part_d_months
from {{ ref('stg_beneficiary_summary') }}
where part_a_months not between 0 and 12
    or part_b_months not between 0 and 12
    or hmo_months not between 0 and 12
    or part_d_months not between 0 and 12
