{#- The diagnoses that count as events in the diagnosis marts: those that carry an amount in int_diagnoses_long (a
    carrier line's diagnosis, the principal diagnosis of an inpatient or outpatient claim row), summed per group. -#}
{% macro diagnosis_events() -%}
    sum(
            case
                when claim_type = 'carrier_line' then 1
                when claim_type in ('inpatient', 'outpatient') and position = 1 then 1
                else 0
            end
        )
{%- endmacro %}
