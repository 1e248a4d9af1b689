-- One row per sample, beneficiary, feature year and scope scored by the cost model.
with source as (

    select * from {{ source('cms', 'cost_predictions') }}

)

select
    cast(sample as integer) as sample,
    cast("DESYNPUF_ID" as {{ dbt.type_string() }}) as desynpuf_id,
    cast("YEAR" as integer) as year,
    cast("SCOPE" as {{ dbt.type_string() }}) as scope,
    cast("MODEL_VERSION" as {{ dbt.type_string() }}) as model_version,
    cast("PREDICTED_NEXT_YEAR_COST" as double precision) as predicted_next_year_cost,
    cast("PREDICTED_PERCENTILE" as double precision) as predicted_percentile,
    cast("HIGH_COST" as integer) as high_cost
from source
