{#-
    Passes when no two rows share the same values of `columns` (a composite key), without dbt_utils.
    Usage in yml (model level):  data_tests: [{unique_combination: {arguments: {columns: [sample, claim_id]}}}]

    On DuckDB a key that includes `sample` is checked sample by sample: the grouping of all keys at once holds every
    key of the table (at 20 samples, ~100 M keys of 16-character IDs spilled more than a laptop's free disk), while
    one sample's keys fit in memory. Rows of different samples never share such a key, so the result is the same.
-#}
{% test unique_combination(model, columns) %}
    {{ return(adapter.dispatch('test_unique_combination', 'cms_assets')(model, columns)) }}
{% endtest %}
