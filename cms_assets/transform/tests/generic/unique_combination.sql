{#-
    Passes when no two rows share the same values of `columns` (a composite key), without dbt_utils.
    Usage in yml (model level):  data_tests: [{unique_combination: {arguments: {columns: [sample, claim_id]}}}]
-#}
{% test unique_combination(model, columns) %}

select
    {{ columns | join(',\n    ') }},
    count(*) as rows_with_key
from {{ model }}
group by
    {{ columns | join(',\n    ') }}
having count(*) > 1

{% endtest %}
