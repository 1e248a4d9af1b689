{#- The two ranks every top-codes mart carries: within each year, by paid amount and by count, ties broken by the
    code so the order is the same on every warehouse. Arguments are column expressions. -#}
{% macro yearly_ranks(code, paid, count, year='year') -%}
    row_number() over (
        partition by {{ year }}
        order by {{ paid }} desc, {{ code }}
    ) as rank_by_paid,
    row_number() over (
        partition by {{ year }}
        order by {{ count }} desc, {{ code }}
    ) as rank_by_count
{%- endmacro %}
