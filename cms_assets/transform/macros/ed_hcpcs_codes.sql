{#-
    HCPCS codes of emergency-department evaluation and management (levels 1-5), the ED marker DE-SynPUF allows
    (no place of service, no revenue centre). 99291 (critical care) is not included: it is often, not always, in the ED.
-#}
{% macro ed_hcpcs_codes() -%}
    ('99281', '99282', '99283', '99284', '99285')
{%- endmacro %}

{#- 1 when any of the columns <prefix>1..<count> holds an ED HCPCS code, else 0. -#}
{% macro any_ed_hcpcs(prefix, count) -%}
    case
        when {% for i in range(1, count + 1) %}{{ prefix }}{{ i }} in {{ ed_hcpcs_codes() }}{{ '\n            or ' if not loop.last }}{% endfor %}
            then 1
        else 0
    end
{%- endmacro %}
