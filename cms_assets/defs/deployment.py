"""What the catalog says about each asset, per deployment: kinds, warehouse relation names, owner and tags.

The asset definitions are shared by the three deployments; only here do they learn which warehouse (DuckDB,
PostgreSQL or Redshift), which storage (a directory or S3) and which Spark (local, Spark Connect, EMR) this
deployment uses, so the UI shows one warehouse icon, not all three.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from cms_assets.defs.resources import SparkResource, StorageResource, WarehouseResource
from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
from cms_assets.lib.transform import LAYERS, layer_schema

_WAREHOUSE_KINDS = {"duckdb": "duckdb", "postgresql": "postgres", "redshift": "redshift"}
_MINOR_KINDS = ("python", "pyarrow", "sparkml", "parquet")
_SPARK_ASSETS = {"beneficiary_features", "cost_model", "cost_predictions"}


#: Who answers for an asset in the catalog (Dagster owners are team names or e-mail addresses).
OWNER = "team:cms_assets"


def _grain(spec: dg.AssetSpec) -> str:
    """What one materialization covers: a sample (per-partition assets) or every sample at once."""
    return "sample" if spec.partitions_def is not None else "all_samples"


def warehouse_kind(warehouse: WarehouseResource, env: Mapping[str, str], deployment: str) -> str:
    """duckdb, postgres or redshift, from the URL's scheme (a secret URL is read for its scheme only)."""
    url = env.get("CMS_WAREHOUSE_URL", "") if isinstance(warehouse.url, dg.EnvVar) else str(warehouse.url)
    scheme = url.split(":", 1)[0].split("+", 1)[0].lower()
    if scheme not in _WAREHOUSE_KINDS:
        return "redshift" if deployment == "production" else "duckdb"
    return _WAREHOUSE_KINDS[scheme]


def _at_most_three(kinds: set[str]) -> set[str]:
    """Dagster shows at most three kinds: the file format and the library give way to where the asset lives."""
    for minor in _MINOR_KINDS:
        if len(kinds) <= 3:
            break
        kinds = kinds - {minor}
    return kinds


def for_deployment(
    assets: Sequence[Any], resources: Mapping[str, Any], env: Mapping[str, str], deployment: str
) -> list[Any]:
    """``assets`` with kinds for this deployment's storage, Spark and warehouse, and the warehouse relations named."""
    storage: StorageResource = resources["storage"]
    spark: SparkResource = resources["spark"]
    on_s3 = deployment == "production" or str(storage.url).startswith("s3://")
    dialect = warehouse_kind(resources["warehouse"], env, deployment)
    schema = resources["warehouse"].schema_name
    spark_kinds = {"spark", "emr"} if spark.emr_application_id else {"spark"}
    # A warehouse load holds its source's columns: the source asset's own column schema, declared once there.
    columns = {
        spec.key.path[-1]: spec.metadata["dagster/column_schema"]
        for asset in assets
        for spec in getattr(asset, "specs", ())
        if "dagster/column_schema" in spec.metadata
    }

    def adapt(spec: dg.AssetSpec) -> dg.AssetSpec:
        path = spec.key.path
        kinds = set(spec.kinds)
        metadata = dict(spec.metadata)
        if path[0] in LAYERS:  # dbt models: built in the layer's schema of this warehouse
            kinds = {"dbt", dialect}
            metadata["dagster/table_name"] = f"{layer_schema(schema, path[0])}.{path[-1]}"
        elif path[0] == "terminology":
            kinds = {"python", dialect}
            metadata["dagster/table_name"] = f"{schema}.{path[-1]}"
        elif path[0] == "warehouse":
            kinds = {"sql", dialect}
            if path[-1] in (*WAREHOUSE_SAMPLE_TABLES, "model_metrics"):
                metadata["dagster/table_name"] = f"{schema}.{path[-1]}"
            if path[-1] in WAREHOUSE_SAMPLE_TABLES:
                metadata["dagster/column_schema"] = columns[path[-1]]
        elif path[-1] in _SPARK_ASSETS:
            kinds = (kinds - {"spark", "emr"}) | spark_kinds
        in_warehouse = path[0] in ("warehouse", "terminology", *LAYERS)
        kinds = (kinds | {"s3"}) if on_s3 and not in_warehouse else (kinds - {"s3"})
        tags = {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}  # kinds are set below
        tags |= {"cms/layer": spec.group_name or "default", "cms/grain": _grain(spec)}
        return spec.replace_attributes(
            kinds=_at_most_three(kinds), metadata=metadata, owners=spec.owners or [OWNER], tags=tags
        )

    return list(dg.map_asset_specs(adapt, list(assets)))
