-- A raw risk score is its demographic, disease and interaction parts, and the HCC count is the length of the HCC
-- list. (The HCCs themselves, the hierarchies and the interactions are proven against hccpy in
-- cms_assets_tests/lib/test_features_hcc.py, where the feature query computes them.)
select
    sample,
    desynpuf_id,
    year
from {{ ref('risk_scores') }}
where abs(risk_score - demographic_score - disease_score - interaction_score) > 1e-9
    or (hcc_count = 0 and hcc_list <> '')
    or (hcc_count > 0 and hcc_count <> length(hcc_list) - length(replace(hcc_list, ',', '')) + 1)
