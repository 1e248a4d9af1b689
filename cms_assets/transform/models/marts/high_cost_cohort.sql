-- The predicted top-10% cohort per scope (holdout, current), feature year, state and model version, with what it
-- actually cost the year after. The actual next-year cost (the features' NEXT_YEAR_COST label) is shown for the
-- holdout scope only: the current scope's next year is not in the data, and a missing label must not read as 0.
with predictions as (

    select * from {{ ref('stg_cost_predictions') }}

),

features as (

    select
        sample,
        desynpuf_id,
        year,
        state,
        next_year_cost
    from {{ ref('stg_beneficiary_features') }}

),

scored as (

    select
        predictions.scope,
        predictions.year,
        predictions.model_version,
        case
            when features.state is null then 'unknown'
            else lpad(cast(features.state as {{ dbt.type_string() }}), 2, '0')
        end as state_code,
        predictions.high_cost,
        predictions.predicted_next_year_cost,
        case when predictions.scope = 'holdout' then features.next_year_cost end as actual_next_year_cost
    from predictions
    left join features
        on predictions.sample = features.sample
        and predictions.desynpuf_id = features.desynpuf_id
        and predictions.year = features.year

)

select
    scope,
    year as feature_year,
    year + 1 as prediction_year,
    state_code,
    model_version,
    cast(count(*) as integer) as scored,
    cast(sum(high_cost) as integer) as high_cost,
    sum(predicted_next_year_cost) as predicted_cost_all,
    sum(case when high_cost = 1 then predicted_next_year_cost end) as predicted_cost_high_cost,
    sum(case when high_cost = 1 then actual_next_year_cost end) as actual_cost_high_cost,
    sum(actual_next_year_cost) as actual_cost_all,
    avg(case when high_cost = 1 then actual_next_year_cost end) as actual_mean_high_cost,
    avg(case when high_cost = 1 then null else actual_next_year_cost end) as actual_mean_other,
    {{ safe_divide('sum(case when high_cost = 1 then actual_next_year_cost end)', 'sum(actual_next_year_cost)') }}
        as high_cost_share_of_actual
from scored
group by
    scope,
    year,
    state_code,
    model_version
