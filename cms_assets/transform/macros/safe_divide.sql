{#-
    A ratio as a double-precision number, null when the denominator is 0 or null.

    Why not dbt.type_float(): dbt-duckdb renders it as `float`, which DuckDB reads as a 4-byte REAL (7 digits);
    `double precision` is the same 8-byte type in DuckDB, PostgreSQL and Redshift, so no dispatch is needed.
-#}
{% macro safe_divide(numerator, denominator) -%}
    cast({{ numerator }} as double precision) / nullif({{ denominator }}, 0)
{%- endmacro %}
