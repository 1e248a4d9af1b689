-- The cost model beside CMS-HCC on the temporal holdout, on the same beneficiary-years, with the figures CMS's
-- evaluation published for real Medicare data as anchors.
--
-- Holdout: the beneficiary-years of the last feature year with a known next-year cost (2009 -> 2010), that the cost
-- model scored (stg_cost_predictions, scope holdout) and that have a CMS-HCC V22 score (risk_scores). Candidates:
--   cost_model         the selected Spark ML model's holdout prediction;
--   cms_hcc            the way CMS pays: risk score x the training year's cost per unit of score (mean next-year
--                      cost / mean risk score over the year before the holdout: 2008 -> 2009);
--   demographics_only  the same with the V22 age/sex factor alone (RTI's "demographic model").
-- Metrics as the cost model's own (lib/spark/model.py evaluate): r2 = 1 - SSE / (n x population variance), mae,
-- top_decile_cost_share = actual next-year cost of the top predicted decile (NTILE(10), ties by sample and id) over
-- the total, top_decile_lift = that share / the decile's share of beneficiary-years.
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
with features as (

    select
        sample,
        desynpuf_id,
        year,
        next_year_cost
    from {{ ref('stg_beneficiary_features') }}
    where next_year_cost is not null

),

scores as (

    select
        sample,
        desynpuf_id,
        year,
        risk_score,
        demographic_score
    from {{ ref('risk_scores') }}

),

holdout_year as (

    select max(features.year) as year
    from features
    inner join {{ ref('stg_cost_predictions') }} as predictions
        on features.sample = predictions.sample
        and features.desynpuf_id = predictions.desynpuf_id
        and features.year = predictions.year
        and predictions.scope = 'holdout'

),

cost_per_unit as (

    select
        sum(features.next_year_cost) / nullif(sum(scores.risk_score), 0) as per_risk_score,
        sum(features.next_year_cost) / nullif(sum(scores.demographic_score), 0) as per_demographic_score
    from features
    inner join scores
        on features.sample = scores.sample
        and features.desynpuf_id = scores.desynpuf_id
        and features.year = scores.year
    inner join holdout_year
        on features.year = holdout_year.year - 1

),

holdout as (

    select
        features.sample,
        features.desynpuf_id,
        features.next_year_cost as actual,
        predictions.predicted_next_year_cost as model_prediction,
        predictions.model_version,
        scores.risk_score,
        scores.demographic_score
    from features
    inner join holdout_year
        on features.year = holdout_year.year
    inner join {{ ref('stg_cost_predictions') }} as predictions
        on features.sample = predictions.sample
        and features.desynpuf_id = predictions.desynpuf_id
        and features.year = predictions.year
        and predictions.scope = 'holdout'
    inner join scores
        on features.sample = scores.sample
        and features.desynpuf_id = scores.desynpuf_id
        and features.year = scores.year

),

predictions as (

    select
        'cost_model' as candidate,
        sample,
        desynpuf_id,
        actual,
        model_prediction as predicted
    from holdout

    union all

    select
        'cms_hcc' as candidate,
        holdout.sample,
        holdout.desynpuf_id,
        holdout.actual,
        holdout.risk_score * cost_per_unit.per_risk_score as predicted
    from holdout
    cross join cost_per_unit
    where cost_per_unit.per_risk_score is not null

    union all

    select
        'demographics_only' as candidate,
        holdout.sample,
        holdout.desynpuf_id,
        holdout.actual,
        holdout.demographic_score * cost_per_unit.per_demographic_score as predicted
    from holdout
    cross join cost_per_unit
    where cost_per_unit.per_demographic_score is not null

),

ranked as (

    select
        candidate,
        actual,
        predicted,
        ntile(10) over (
            partition by candidate
            order by
                predicted desc,
                sample,
                desynpuf_id
        ) as decile
    from predictions

),

summary as (

    select
        candidate,
        count(*) as n,
        sum(actual) as total_actual,
        sum((actual - predicted) * (actual - predicted)) as sse,
        sum(abs(actual - predicted)) as sae,
        var_pop(actual) as variance,
        sum(case when decile = 1 then actual else 0 end) as top_decile_actual,
        sum(case when decile = 1 then 1 else 0 end) as top_decile_n
    from ranked
    group by candidate

),

ours as (

    select
        'DE-SynPUF (this warehouse)' as source,
        summary.candidate,
        cast(summary.n as integer) as n,
        (select max(year) from holdout_year) as holdout_year,
        (select max(model_version) from holdout) as model_version,
        cast(1 - summary.sse / nullif(summary.n * summary.variance, 0) as double precision) as r2,
        cast(summary.sae / summary.n as double precision) as mae,
        cast(summary.top_decile_actual / nullif(summary.total_actual, 0) as double precision)
            as top_decile_cost_share,
        cast(
            (summary.top_decile_actual / nullif(summary.total_actual, 0))
            / (cast(summary.top_decile_n as double precision) / summary.n)
            as double precision
        ) as top_decile_lift
    from summary

),

anchors as (
{%- for name, r2, share in anchors %}

    select
        'RTI 2011 (real Medicare)' as source,
        '{{ name }}' as candidate,
        cast(null as integer) as n,
        cast(null as integer) as holdout_year,
        cast(null as {{ dbt.type_string() }}) as model_version,
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
