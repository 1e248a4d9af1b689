-- Shares are in [0, 1] and their numerators never exceed their n.
select
    'readmissions' as mart,
    dimension || ':' || dimension_value as cell,
    readmission_rate as rate
from {{ ref('readmissions') }}
where readmission_rate not between 0 and 1
    or readmissions > index_stays

union all

select
    'chronic_conditions' as mart,
    condition_code as cell,
    prevalence as rate
from {{ ref('chronic_conditions') }}
where prevalence not between 0 and 1
    or with_condition > beneficiaries
