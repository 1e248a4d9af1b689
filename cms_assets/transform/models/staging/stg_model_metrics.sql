-- One row per metric of every trained model version.
with source as (

    select * from {{ source('cms', 'model_metrics') }}

)

select
    cast("MODEL_VERSION" as {{ dbt.type_string() }}) as model_version,
    cast("MODEL_NAME" as {{ dbt.type_string() }}) as model_name,
    cast("SPLIT" as {{ dbt.type_string() }}) as split,
    cast("METRIC" as {{ dbt.type_string() }}) as metric,
    cast("VALUE" as double precision) as metric_value,
    "SELECTED" as selected,
    "TRAINED_AT" as trained_at
from source
