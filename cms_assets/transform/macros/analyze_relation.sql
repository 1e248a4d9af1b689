{#- Statistics for the planner right after a table is built. PostgreSQL (and Redshift) plan joins on a fresh table
    without statistics as if it were tiny, and chose nested loops that made risk_scores take minutes on a few
    thousand rows; DuckDB keeps its statistics as it writes. Used as a post-hook of the table layers. -#}
{% macro analyze_relation(relation) %}
    {{ return(adapter.dispatch('analyze_relation', 'cms_assets')(relation)) }}
{% endmacro %}

{% macro default__analyze_relation(relation) %}
    select 1
{% endmacro %}

{% macro postgres__analyze_relation(relation) %}
    analyze {{ relation }}
{% endmacro %}

{% macro redshift__analyze_relation(relation) %}
    analyze {{ relation }}
{% endmacro %}
