-- PMPM x member months = paid (to the cent) on every row with months.
select *
from {{ ref('financial_pmpm') }}
where member_months > 0
    and abs(pmpm * member_months - paid_amount) > 0.01
