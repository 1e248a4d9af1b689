-- One row per sample, beneficiary and year: enrollment months (the PMPM and per-1,000 denominators), the BI
-- dimensions and the year's Medicare reimbursement from the beneficiary file. DE-SynPUF has no monthly enrollment,
-- so member months are the year's coverage-month counts.
with beneficiaries as (

    select * from {{ ref('stg_beneficiary_summary') }}

),

with_age as (

    select
        beneficiaries.*,
        -- Age on 1 January of the year: birth dates are always the 1st of a month, so someone born in January has
        -- had the birthday on 1 January.
        year
            - {{ year_of('birth_date') }}
            - case when extract(month from birth_date) > 1 then 1 else 0 end as age_on_january_1
    from beneficiaries

)

select
    sample,
    desynpuf_id,
    year,
    greatest(part_a_months, part_b_months) as member_months,
    part_d_months,
    state_code,
    age_on_january_1,
    case
        when birth_date is null then 'unknown'
        when age_on_january_1 < 65 then '<65'
        when age_on_january_1 < 75 then '65-74'
        when age_on_january_1 < 85 then '75-84'
        else '85+'
    end as age_band,
    sex_code,
    case sex_code
        when 1 then 'male'
        when 2 then 'female'
        else 'unknown'
    end as sex,
    race_code,
    case race_code
        when 1 then 'white'
        when 2 then 'black'
        when 3 then 'other'
        when 5 then 'hispanic'
        else 'unknown'
    end as race,
    death_date,
    case when {{ year_of('death_date') }} = year then 1 else 0 end as died_in_year,
    coalesce(medreimb_ip, 0) as medreimb_ip,
    coalesce(medreimb_op, 0) as medreimb_op,
    coalesce(medreimb_car, 0) as medreimb_car,
    coalesce(medreimb_ip, 0) + coalesce(medreimb_op, 0) + coalesce(medreimb_car, 0) as medreimb_total,
    coalesce(benres_ip, 0) + coalesce(benres_op, 0) + coalesce(benres_car, 0) as benres_total,
    coalesce(pppymt_ip, 0) + coalesce(pppymt_op, 0) + coalesce(pppymt_car, 0) as pppymt_total
from with_age
