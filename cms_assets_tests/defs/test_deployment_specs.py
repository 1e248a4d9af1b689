"""The catalog describes the deployment it runs in: one warehouse kind, S3 and EMR only where they are used, the
warehouse relations named, every column described (CMS codebook or our own docs)."""

from __future__ import annotations

import dagster as dg
import pytest

from cms_assets.definitions import build_definitions
from cms_assets.lib.synpuf.codebook import describe

EMR = {
    "CMS_EMR_APPLICATION_ID": "00abc",
    "CMS_EMR_JOB_ROLE_ARN": "arn:aws:iam::123456789012:role/emr",
    "CMS_EMR_ENTRY_POINT_S3": "s3://code/cms/emr_entry.py",
}


def _specs(deployment: str, env: dict[str, str]) -> dict[str, dg.AssetSpec]:
    defs = build_definitions(deployment, env)
    return {s.key.to_user_string(): s for s in defs.resolve_all_asset_specs()}


@pytest.mark.parametrize(
    ("deployment", "env", "warehouse"),
    [
        ("local", {}, "duckdb"),
        ("test", {"CMS_WAREHOUSE_URL": "postgresql+psycopg2://u:secret@h:5432/db"}, "postgres"),
        ("production", {"CMS_WAREHOUSE_URL": "redshift+psycopg2://u:secret@h:5439/db"}, "redshift"),
        ("production", {}, "redshift"),
    ],
)
def test_warehouse_assets_show_this_deployments_warehouse(deployment: str, env: dict, warehouse: str) -> None:
    specs = _specs(deployment, env)
    on_warehouse = {k: s for k, s in specs.items() if k.startswith("warehouse/")}
    assert len(on_warehouse) == 8  # seven per-sample loads, model_metrics
    assert all(set(s.kinds) == {"sql", warehouse} for s in on_warehouse.values()), {
        k: s.kinds for k, s in on_warehouse.items()
    }
    assert specs["warehouse/inpatient_claims"].metadata["dagster/table_name"] == "cms.inpatient_claims"
    assert specs["warehouse/model_metrics"].metadata["dagster/table_name"] == "cms.model_metrics"
    assert "secret" not in repr({k: s.metadata for k, s in specs.items()})


def test_s3_and_emr_only_where_the_deployment_uses_them() -> None:
    local = _specs("local", {})
    assert all("s3" not in s.kinds and "emr" not in s.kinds for s in local.values())
    assert set(local["raw_cms_zips"].kinds) == {"python"}
    assert set(local["cost_model"].kinds) == {"spark", "sparkml"}
    assert set(local["beneficiary_features"].kinds) == {"duckdb", "parquet"}  # no cluster: the query runs on DuckDB
    forced = _specs("local", {"CMS_FEATURES_ENGINE": "spark"})
    assert set(forced["beneficiary_features"].kinds) == {"spark", "parquet"}
    connect = _specs("local", {"CMS_SPARK_REMOTE": "sc://localhost:15002"})
    assert set(connect["beneficiary_features"].kinds) == {"spark", "parquet"}

    prod = _specs("production", {"CMS_ASSETS_DATA": "s3://bucket/prefix", **EMR})
    in_warehouse = ("warehouse/", "terminology/", "staging/", "intermediate/", "marts/")
    assert all("s3" in s.kinds for k, s in prod.items() if not k.startswith(in_warehouse))
    assert all("s3" not in s.kinds for k, s in prod.items() if k.startswith(in_warehouse))
    assert {k for k, s in prod.items() if "emr" in s.kinds} == {
        "beneficiary_features",
        "cost_model",
        "cost_predictions",
    }
    assert all(len(s.kinds) <= 3 for s in prod.values())  # the UI shows three at most
    assert "emr" not in _specs("production", {"CMS_ASSETS_DATA": "s3://b/p"})["cost_model"].kinds  # Spark Connect


def test_every_table_column_is_described() -> None:
    specs = _specs("local", {})
    described = {
        k: s.metadata["dagster/column_schema"] for k, s in specs.items() if "dagster/column_schema" in s.metadata
    }
    assert set(described) >= {
        "beneficiary_summary", "inpatient_claims", "outpatient_claims", "carrier_claims", "prescription_drug_events",
        "beneficiary_features", "cost_predictions", "warehouse/carrier_claims", "warehouse/cost_predictions",
    }  # fmt: skip
    for key, schema in described.items():
        assert all(c.description and c.description.strip() for c in schema.columns), key
    carrier = {c.name: c.description for c in described["carrier_claims"].columns}
    assert carrier["LINE_NCH_PMT_AMT_13"] == "Line: NCH payment amount #13"
    assert carrier["CLM_THRU_DT"] == "Claim end date"
    with pytest.raises(KeyError, match="NOT_A_CMS_COLUMN"):
        describe("NOT_A_CMS_COLUMN")


def test_every_asset_has_an_owner_and_its_layer_and_grain() -> None:
    specs = build_definitions("local", {}).resolve_all_asset_specs()
    assert {tuple(s.owners) for s in specs} == {("team:cms_assets",)}
    layers = {s.key.to_user_string(): (s.tags["cms/layer"], s.tags["cms/grain"]) for s in specs}
    assert layers["carrier_claims"] == ("tables", "sample") and layers["cost_model"] == ("ml", "all_samples")
    assert layers["insight_report"] == ("warehouse", "all_samples")
    assert layers["marts/readmissions"] == ("marts", "all_samples")
    assert {layer for layer, _ in layers.values()} == {
        "ingest", "tables", "ml", "warehouse", "terminology", "staging", "intermediate", "marts",
    }  # fmt: skip
