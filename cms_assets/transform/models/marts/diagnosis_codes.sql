-- Cost and count by ICD-9-CM diagnosis code and year, with the code's CMS long name and its AHRQ CCS category.
-- events: diagnoses that carry an amount (the principal diagnosis of an inpatient or outpatient claim row, the
-- diagnosis of a carrier line: today's top-diagnosis definition); mentions: every diagnosis position;
-- paid: the amounts attributed in int_diagnoses_long. Codes absent from the reference tables keep their code with
-- name 'unknown code' and CCS category 0 ('not in CCS').
-- beneficiaries: distinct (sample, desynpuf_id) per year and code (macros/beneficiaries_by.sql).
with by_code as (

    select
        year,
        icd9_code,
        {{ diagnosis_events() }} as events,
        count(*) as mentions,
        sum(attributed_amount) as paid_amount
    from {{ ref('int_diagnoses_long') }}
    group by
        year,
        icd9_code

),

beneficiaries as (
    {{ beneficiaries_by(ref('int_diagnoses_long'), ['year', 'icd9_code']) }}
)

select
    by_code.year,
    by_code.icd9_code,
    coalesce(names.long_name, 'unknown code') as icd9_name,
    coalesce(ccs.ccs_category, 0) as ccs_category,
    coalesce(ccs.ccs_name, 'not in CCS') as ccs_name,
    cast(by_code.events as integer) as events,
    cast(by_code.mentions as integer) as mentions,
    cast(beneficiaries.beneficiaries as integer) as beneficiaries,
    cast(by_code.paid_amount as {{ dbt.type_numeric() }}) as paid_amount,
    {{ yearly_ranks('by_code.icd9_code', 'by_code.paid_amount', 'by_code.events', year='by_code.year') }}
from by_code
inner join beneficiaries
    on by_code.year = beneficiaries.year
    and by_code.icd9_code = beneficiaries.icd9_code
left join {{ ref('stg_icd9_diagnoses') }} as names
    on by_code.icd9_code = names.icd9_code
left join {{ ref('stg_ccs_categories') }} as ccs
    on by_code.icd9_code = ccs.icd9_code
