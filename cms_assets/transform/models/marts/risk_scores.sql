-- CMS-HCC V22 raw (unnormalized, no coding-intensity adjustment) risk score per beneficiary-year, community model,
-- the sum of: the age/sex factor of the segment (int_hcc_demographics: CNA at 65 or over, CND under 65, age on
-- 1 February), the factor of every HCC after hierarchies (int_hcc_flags), and the factor of every community
-- interaction present. A variable without a coefficient in the segment adds 0, as in hccpy (CNA has no
-- gSubstanceAbuse_gPsychiatric factor). V22 has no count-of-HCCs terms (they arrive with V24); the institutional
-- interactions (CHF_gCopdCF, DIABETES_CHF, ...) and the DISABLED_* terms only carry factors in the institutional
-- segment, which DE-SynPUF cannot identify, so they are not computed.
{#- hccpy's V22 community interaction variables (hccpy/_V2218O1M.py): name -> condition on the group flags. -#}
{%- set interactions = [
    ('HCC47_gCancer', 'hcc47 = 1 and g_cancer = 1'),
    ('HCC85_gDiabetesMellit', 'hcc85 = 1 and g_diabetes = 1'),
    ('HCC85_gCopdCF', 'hcc85 = 1 and g_copd_cf = 1'),
    ('HCC85_gRenal', 'hcc85 = 1 and g_renal = 1'),
    ('gRespDepandArre_gCopdCF', 'g_card_resp_fail = 1 and g_copd_cf = 1'),
    ('HCC85_HCC96', 'hcc85 = 1 and hcc96 = 1'),
    ('gSubstanceAbuse_gPsychiatric', 'g_substance_abuse = 1 and g_psychiatric = 1'),
] %}
{%- set groups = [
    ('g_cancer', '8, 9, 10, 11, 12'),
    ('g_diabetes', '17, 18, 19'),
    ('g_card_resp_fail', '82, 83, 84'),
    ('g_copd_cf', '110, 111, 112'),
    ('g_renal', '134, 135, 136, 137'),
    ('g_substance_abuse', '54, 55'),
    ('g_psychiatric', '57, 58'),
    ('hcc47', '47'),
    ('hcc85', '85'),
    ('hcc96', '96'),
] %}
with demographics as (

    select * from {{ ref('int_hcc_demographics') }}

),

flags as (

    select * from {{ ref('int_hcc_flags') }}

),

coefficients as (

    select * from {{ ref('stg_hcc_v22_coefficients') }}

),

demographic_factors as (

    select
        demographics.sample,
        demographics.desynpuf_id,
        demographics.year,
        coalesce(coefficients.coefficient, 0) as demographic_score
    from demographics
    left join coefficients
        on demographics.segment = coefficients.segment
        and demographics.sex = coefficients.demographic_sex
        and demographics.age >= coefficients.age_from
        and (coefficients.age_to is null or demographics.age <= coefficients.age_to)

),

hcc_factors as (

    select
        flags.sample,
        flags.desynpuf_id,
        flags.year,
        count(*) as hcc_count,
        sum(coalesce(coefficients.coefficient, 0)) as disease_score,
        {{ dbt.listagg('flags.hcc_variable', "','", 'order by flags.hcc') }} as hcc_list
    from flags
    inner join demographics
        on flags.sample = demographics.sample
        and flags.desynpuf_id = demographics.desynpuf_id
        and flags.year = demographics.year
    left join coefficients
        on demographics.segment = coefficients.segment
        and flags.hcc_variable = coefficients.variable
    group by
        flags.sample,
        flags.desynpuf_id,
        flags.year

),

group_flags as (

    select
        sample,
        desynpuf_id,
        year,
{%- for name, hccs in groups %}
        max(case when hcc in ({{ hccs }}) then 1 else 0 end) as {{ name }}{{ ',' if not loop.last }}
{%- endfor %}
    from flags
    group by
        sample,
        desynpuf_id,
        year

),

interactions_present as (
{%- for name, condition in interactions %}

    select
        sample,
        desynpuf_id,
        year,
        '{{ name }}' as variable
    from group_flags
    where {{ condition }}
{%- if not loop.last %}

    union all
{%- endif %}
{%- endfor %}

),

interaction_factors as (

    select
        interactions_present.sample,
        interactions_present.desynpuf_id,
        interactions_present.year,
        sum(coalesce(coefficients.coefficient, 0)) as interaction_score,
        {{ dbt.listagg('interactions_present.variable', "','", 'order by interactions_present.variable') }}
            as interaction_list
    from interactions_present
    inner join demographics
        on interactions_present.sample = demographics.sample
        and interactions_present.desynpuf_id = demographics.desynpuf_id
        and interactions_present.year = demographics.year
    left join coefficients
        on demographics.segment = coefficients.segment
        and interactions_present.variable = coefficients.variable
    group by
        interactions_present.sample,
        interactions_present.desynpuf_id,
        interactions_present.year

)

select
    demographics.sample,
    demographics.desynpuf_id,
    demographics.year,
    demographics.state_code,
    demographics.age,
    demographics.sex,
    demographics.segment,
    demographics.esrd,
    demographics.member_months,
    cast(demographics.medreimb_total as {{ dbt.type_numeric() }}) as paid_amount,
    cast(demographic_factors.demographic_score as double precision) as demographic_score,
    cast(coalesce(hcc_factors.disease_score, 0) as double precision) as disease_score,
    cast(coalesce(interaction_factors.interaction_score, 0) as double precision) as interaction_score,
    cast(
        demographic_factors.demographic_score
        + coalesce(hcc_factors.disease_score, 0)
        + coalesce(interaction_factors.interaction_score, 0)
        as double precision
    ) as risk_score,
    cast(coalesce(hcc_factors.hcc_count, 0) as integer) as hcc_count,
    coalesce(hcc_factors.hcc_list, '') as hcc_list,
    coalesce(interaction_factors.interaction_list, '') as interaction_list
from demographics
inner join demographic_factors
    on demographics.sample = demographic_factors.sample
    and demographics.desynpuf_id = demographic_factors.desynpuf_id
    and demographics.year = demographic_factors.year
left join hcc_factors
    on demographics.sample = hcc_factors.sample
    and demographics.desynpuf_id = hcc_factors.desynpuf_id
    and demographics.year = hcc_factors.year
left join interaction_factors
    on demographics.sample = interaction_factors.sample
    and demographics.desynpuf_id = interaction_factors.desynpuf_id
    and demographics.year = interaction_factors.year
