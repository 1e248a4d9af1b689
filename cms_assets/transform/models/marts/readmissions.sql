-- 30-day all-cause readmission rate, long format: one row per dimension value, for the dimensions all, year
-- (discharge year of the index stay), state (the beneficiary's state in that year) and drg (the index stay's
-- DRG). Counts are additive within a dimension; the rate is readmissions / index_stays.
with index_stays as (

    select * from {{ ref('readmission_index_stays') }}
    where is_index_stay = 1

),

by_dimension as (

    select
        'all' as dimension,
        'all' as dimension_value,
        count(*) as index_stays,
        sum(readmitted_within_30_days) as readmissions
    from index_stays

    union all

    select
        'year' as dimension,
        cast(year as {{ dbt.type_string() }}) as dimension_value,
        count(*) as index_stays,
        sum(readmitted_within_30_days) as readmissions
    from index_stays
    group by year

    union all

    select
        'state' as dimension,
        state_code as dimension_value,
        count(*) as index_stays,
        sum(readmitted_within_30_days) as readmissions
    from index_stays
    group by state_code

    union all

    select
        'drg' as dimension,
        drg_code as dimension_value,
        count(*) as index_stays,
        sum(readmitted_within_30_days) as readmissions
    from index_stays
    group by drg_code

)

select
    dimension,
    dimension_value,
    cast(index_stays as integer) as index_stays,
    cast(coalesce(readmissions, 0) as integer) as readmissions,
    {{ safe_divide('coalesce(readmissions, 0)', 'index_stays') }} as readmission_rate,
    case when index_stays < {{ var('min_cell_size') }} then 1 else 0 end as is_small_cell
from by_dimension
