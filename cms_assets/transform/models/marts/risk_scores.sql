-- CMS-HCC V22 raw (unnormalized, no coding-intensity adjustment) risk score per beneficiary-year, community model,
-- beside the member months, state and Part A/B payments the risk marts weigh it by. The score is computed once, in
-- the feature query (cms_assets/lib/hcc_sql.py: GEM -> V22 map, age/sex edits, hierarchies, segment factors and the
-- community interactions; proven equal to hccpy 0.1.9 in cms_assets_tests/lib/test_features_hcc.py), and read here
-- from the feature table. Beneficiary-years without a birth date have no segment and no score, and are left out.
with features as (

    select
        sample,
        desynpuf_id,
        year,
        esrd,
        hcc_segment,
        hcc_age,
        demographic_score,
        disease_score,
        interaction_score,
        risk_score,
        hcc_count,
        hcc_list,
        hcc_interactions
    from {{ ref('stg_beneficiary_features') }}
    where hcc_segment is not null

),

member_years as (

    select * from {{ ref('int_member_months') }}

)

select
    member_years.sample,
    member_years.desynpuf_id,
    member_years.year,
    member_years.state_code,
    features.hcc_age as age,
    case when member_years.sex_code = 1 then 'M' else 'F' end as sex,
    features.hcc_segment as segment,
    features.esrd,
    member_years.member_months,
    cast(member_years.medreimb_total as {{ dbt.type_numeric() }}) as paid_amount,
    features.demographic_score,
    features.disease_score,
    features.interaction_score,
    features.risk_score,
    features.hcc_count,
    features.hcc_list,
    features.hcc_interactions as interaction_list
from member_years
inner join features
    on member_years.sample = features.sample
    and member_years.desynpuf_id = features.desynpuf_id
    and member_years.year = features.year
