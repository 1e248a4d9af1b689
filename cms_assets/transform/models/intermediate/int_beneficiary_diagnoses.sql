-- One row per sample, beneficiary, year and ICD-9 code: the year's diagnoses of every claim type (int_diagnoses_long)
-- summed per beneficiary. events: diagnoses that carry an amount (the principal diagnosis of an inpatient or
-- outpatient claim row, the diagnosis of a carrier line); mentions: every diagnosis position; paid: the amounts
-- attributed in int_diagnoses_long (so a sum never counts a payment twice). The diagnosis marts read this grain: it
-- keeps their figures exact (beneficiaries counted distinct) in fewer rows (a code repeats across claims and lines).
select
    sample,
    desynpuf_id,
    year,
    icd9_code,
    cast(
        sum(
            case
                when claim_type = 'carrier_line' then 1
                when claim_type in ('inpatient', 'outpatient') and position = 1 then 1
                else 0
            end
        ) as integer
    ) as events,
    cast(count(*) as integer) as mentions,
    cast(sum(attributed_amount) as {{ dbt.type_numeric() }}) as paid_amount
from {{ ref('int_diagnoses_long') }}
group by
    sample,
    desynpuf_id,
    year,
    icd9_code
