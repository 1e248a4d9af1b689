{#- The calendar year of a date as an integer (extract returns numeric or double depending on the warehouse). -#}
{% macro year_of(date_expression) -%}
    cast(extract(year from {{ date_expression }}) as integer)
{%- endmacro %}
