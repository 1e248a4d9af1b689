-- Every metric of the most recently trained model version (the version(s) with the latest trained_at).
with metrics as (

    select * from {{ ref('stg_model_metrics') }}

),

latest_versions as (

    select distinct
        model_version
    from metrics
    where trained_at = (select max(trained_at) from metrics)

)

select
    metrics.model_version,
    metrics.model_name,
    metrics.split,
    metrics.metric,
    metrics.metric_value,
    metrics.selected,
    metrics.trained_at
from metrics
inner join latest_versions
    on metrics.model_version = latest_versions.model_version
