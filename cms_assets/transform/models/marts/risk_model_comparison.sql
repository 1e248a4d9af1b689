-- Every candidate the latest cost model was selected among, on the temporal holdout, beside the figures CMS's
-- evaluation published for real Medicare data as anchors.
--
-- The metrics are the cost model's own (cms_assets/lib/spark/model.py evaluate, model_metrics_latest, split
-- temporal: fit on 2008 -> 2009, scored on every beneficiary-year of 2009 -> 2010), so each candidate is defined
-- once: the ML candidates, the mean, last year's cost, cms_hcc (the way CMS pays: the V22 raw risk score x the
-- training year's mean next-year cost per unit of score) and demographics_only (the V22 age/sex factor alone,
-- scaled the same way). n = the holdout beneficiary-years scored; top_decile_cost_share = top10_capture (the
-- actual next-year cost of the top ceil(10%) predicted over the total); top_decile_lift = that share / the decile's
-- share of beneficiary-years.
-- Anchors (source = 'RTI 2011'): Pope et al., Evaluation of the CMS-HCC Risk Adjustment Model (RTI International
-- for CMS, 2011), prospective model on real Medicare fee-for-service data: individual R2 0.109 (V12) and 0.125 (V21);
-- the top predicted decile holds 30.4% of next-year spending, 15.4% for a demographic-only model. They are real-data
-- figures for Parts A/B spending; ours are DE-SynPUF (synthetic: variables were perturbed one at a time, which
-- weakens the links between diagnoses and later cost) and the label adds Part D.
{%- set anchors = [
    ('CMS-HCC V12', 0.109, none),
    ('CMS-HCC V21', 0.125, none),
    ('CMS-HCC', none, 0.304),
    ('demographic-only', none, 0.154),
] %}
with metrics as (

    select
        model_version,
        model_name,
        metric,
        metric_value,
        case when selected then 1 else 0 end as is_selected
    from {{ ref('model_metrics_latest') }}
    where split = 'temporal'

),

holdout_year as (

    select max(year) as year
    from {{ ref('stg_cost_predictions') }}
    where scope = 'holdout'

),

ours as (

    select
        'DE-SynPUF (this warehouse)' as source,
        metrics.model_name as candidate,
        cast(max(case when metrics.metric = 'rows' then metrics.metric_value end) as integer) as n,
        max(holdout_year.year) as holdout_year,
        metrics.model_version,
        max(metrics.is_selected) as is_selected,
        {%- for column, metric in [('r2', 'r2'), ('mae', 'mae'), ('top_decile_cost_share', 'top10_capture'),
                                   ('top_decile_lift', 'top_decile_lift')] %}
        cast(max(case when metrics.metric = '{{ metric }}' then metrics.metric_value end) as double precision)
            as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from metrics
    cross join holdout_year
    group by
        metrics.model_version,
        metrics.model_name

),

anchors as (
{%- for name, r2, share in anchors %}

    select
        'RTI 2011 (real Medicare)' as source,
        '{{ name }}' as candidate,
        cast(null as integer) as n,
        cast(null as integer) as holdout_year,
        cast(null as {{ dbt.type_string() }}) as model_version,
        0 as is_selected,
        cast({{ r2 if r2 is not none else 'null' }} as double precision) as r2,
        cast(null as double precision) as mae,
        cast({{ share if share is not none else 'null' }} as double precision) as top_decile_cost_share,
        cast(null as double precision) as top_decile_lift
{%- if not loop.last %}

    union all
{%- endif %}
{%- endfor %}

)

select * from ours

union all

select * from anchors
