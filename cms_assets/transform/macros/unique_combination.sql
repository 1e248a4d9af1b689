{#- The implementations of tests/generic/unique_combination.sql, per warehouse. -#}
{% macro default__test_unique_combination(model, columns) %}

select
    {{ columns | join(',\n    ') }},
    count(*) as rows_with_key
from {{ model }}
group by
    {{ columns | join(',\n    ') }}
having count(*) > 1

{% endmacro %}

{% macro duckdb__test_unique_combination(model, columns) %}
{%- if 'sample' not in columns -%}
    {{ return(default__test_unique_combination(model, columns)) }}
{%- endif -%}
{%- set samples = [] -%}
{%- if execute -%}
    {%- set samples = run_query('select distinct sample from ' ~ model ~ ' where sample is not null order by 1').columns[0].values() -%}
{%- endif %}
{%- for sample in samples %}

select
    {{ columns | join(',\n    ') }},
    count(*) as rows_with_key
from {{ model }}
where sample = {{ sample }}
group by
    {{ columns | join(',\n    ') }}
having count(*) > 1

union all
{%- endfor %}

select
    {{ columns | join(',\n    ') }},
    count(*) as rows_with_key
from {{ model }}
where sample is null
group by
    {{ columns | join(',\n    ') }}
having count(*) > 1

{% endmacro %}
