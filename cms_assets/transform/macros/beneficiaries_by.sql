{#- Distinct beneficiaries per group: ``select <keys>, beneficiaries`` over ``relation`` (a table or a parenthesised
    subquery with the keys, sample and desynpuf_id). A beneficiary is a (sample, desynpuf_id): each DE-SynPUF sample
    is its own set of people.

    DuckDB holds a count(distinct ...) set per group in memory, and the distinct (year, code, beneficiary) rows of the
    510 M diagnoses of 20 samples spilled 12.5 GB to disk even as a plain grouping. Counted sample by sample and
    summed, no set outlives its sample: 44 s, nothing spilled, in 2 GB. The samples are read from ``relation`` when
    the model runs (its parents are built by then), or from ``samples_from`` when ``relation`` is a query whose
    samples a table already holds (no second run of the query). Other warehouses count distinct in one pass. -#}
{% macro beneficiaries_by(relation, keys, samples_from=none) %}
    {{ return(adapter.dispatch('beneficiaries_by', 'cms_assets')(relation, keys, samples_from or relation)) }}
{% endmacro %}

{% macro default__beneficiaries_by(relation, keys, samples_from) %}
    select
        {{ keys | join(',\n        ') }},
        count(distinct cast(sample as {{ dbt.type_string() }}) || ':' || desynpuf_id) as beneficiaries
    from {{ relation }} as diagnoses
    group by
        {{ keys | join(',\n        ') }}
{% endmacro %}

{% macro duckdb__beneficiaries_by(relation, keys, samples_from) %}
    {%- set samples = [] -%}
    {%- if execute -%}
        {%- set samples = run_query('select distinct sample from ' ~ samples_from ~ ' as diagnoses order by 1').columns[0].values() -%}
    {%- endif %}
    select
        {{ keys | join(',\n        ') }},
        sum(beneficiaries) as beneficiaries
    from (
    {%- for sample in samples %}

        select
            {{ keys | join(',\n            ') }},
            count(*) as beneficiaries
        from (
            select distinct
                {{ keys | join(',\n                ') }},
                desynpuf_id
            from {{ relation }} as diagnoses
            where sample = {{ sample }}
        ) as sample_{{ sample }}
        group by
            {{ keys | join(',\n            ') }}

        union all
    {%- endfor %}

        select
            {{ keys | join(',\n            ') }},
            0 as beneficiaries
        from {{ relation }} as diagnoses
        where 1 = 0

    ) as by_sample
    group by
        {{ keys | join(',\n        ') }}
{% endmacro %}
