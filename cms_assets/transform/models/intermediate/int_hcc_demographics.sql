-- One row per sample, beneficiary and year with a birth date: the CMS-HCC V22 demographics and the segment.
-- Age is taken on 1 February of the year, as CMS's software does (for the payment year). DE-SynPUF has no Medicaid
-- (dual) flag and no original reason for entitlement, so every beneficiary-year is scored in a community non-dual
-- segment chosen by age: CNA (aged) at 65 or over, CND (disabled) under 65; the originally-disabled term never
-- applies. Sex code 1 is M, anything else F (as hccpy maps it). ESRD beneficiaries are kept and flagged: CMS would
-- score them with the ESRD model, which is out of scope here.
with member_years as (

    select * from {{ ref('int_member_months') }}

),

beneficiaries as (

    select
        sample,
        desynpuf_id,
        year,
        birth_date,
        esrd
    from {{ ref('stg_beneficiary_summary') }}

),

with_age as (

    select
        member_years.sample,
        member_years.desynpuf_id,
        member_years.year,
        member_years.state_code,
        member_years.member_months,
        member_years.medreimb_total,
        member_years.sex_code,
        coalesce(beneficiaries.esrd, 0) as esrd,
        member_years.year
            - {{ year_of('beneficiaries.birth_date') }}
            - case
                when extract(month from beneficiaries.birth_date) > 2 then 1
                when extract(month from beneficiaries.birth_date) = 2
                    and extract(day from beneficiaries.birth_date) > 1 then 1
                else 0
            end as age_on_february_1
    from member_years
    inner join beneficiaries
        on member_years.sample = beneficiaries.sample
        and member_years.desynpuf_id = beneficiaries.desynpuf_id
        and member_years.year = beneficiaries.year
    where beneficiaries.birth_date is not null

)

select
    sample,
    desynpuf_id,
    year,
    state_code,
    member_months,
    medreimb_total,
    cast(age_on_february_1 as integer) as age,
    case when sex_code = 1 then 'M' else 'F' end as sex,
    case when age_on_february_1 >= 65 then 'CNA' else 'CND' end as segment,
    esrd
from with_age
