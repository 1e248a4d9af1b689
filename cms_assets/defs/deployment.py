"""What the catalog says about each asset, per deployment: kinds, warehouse relation names, owner and tags.

The asset definitions are shared by the three deployments. Each declares its kinds where it is defined, naming
what the deployment decides with the placeholders of :mod:`cms_assets.defs.kinds` (``{"sql", WAREHOUSE}``); here,
and only here, they become this deployment's warehouse (DuckDB, PostgreSQL or Redshift), storage (a directory or
S3) and Spark (local, Spark Connect, EMR): :func:`placeholder_kinds` is that table.
"""

from collections.abc import Mapping, Sequence
from typing import Any

import dagster as dg

from cms_assets.defs.kinds import FEATURES_ENGINE, PLACEHOLDERS, SPARK, STORAGE, WAREHOUSE
from cms_assets.defs.resources import SparkResource, StorageResource, WarehouseResource
from cms_assets.defs.warehouse.keys import WAREHOUSE_SAMPLE_TABLES
from cms_assets.lib.transform import LAYERS, layer_schema

_WAREHOUSE_KINDS = {"duckdb": "duckdb", "postgresql": "postgres", "redshift": "redshift"}
_MINOR_KINDS = ("python", "pyarrow", "sparkml", "parquet")


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


def placeholder_kinds(resources: Mapping[str, Any], env: Mapping[str, str], deployment: str) -> dict[str, set[str]]:
    """What each placeholder kind stands for in this deployment."""
    storage: StorageResource = resources["storage"]
    spark: SparkResource = resources["spark"]
    on_s3 = deployment == "production" or str(storage.url).startswith("s3://")
    spark_kinds = {"spark", "emr"} if spark.emr_application_id else {"spark"}
    return {
        WAREHOUSE: {warehouse_kind(resources["warehouse"], env, deployment)},
        STORAGE: {"s3"} if on_s3 else set(),
        SPARK: spark_kinds,
        FEATURES_ENGINE: {"duckdb"} if spark.features_on_duckdb(local_storage=not on_s3) else spark_kinds,
    }


def for_deployment(
    assets: Sequence[Any], resources: Mapping[str, Any], env: Mapping[str, str], deployment: str
) -> list[Any]:
    """``assets`` with their placeholder kinds resolved for this deployment and the warehouse relations named."""
    resolved = placeholder_kinds(resources, env, deployment)
    schema = resources["warehouse"].schema_name
    # A warehouse load holds its source's columns: the source asset's own column schema, declared once there.
    columns = {
        spec.key.path[-1]: spec.metadata["dagster/column_schema"]
        for asset in assets
        for spec in getattr(asset, "specs", ())
        if "dagster/column_schema" in spec.metadata
    }

    def adapt(spec: dg.AssetSpec) -> dg.AssetSpec:
        path = spec.key.path
        kinds = {k for k in spec.kinds if k not in PLACEHOLDERS}
        kinds |= {kind for placeholder in PLACEHOLDERS if placeholder in spec.kinds for kind in resolved[placeholder]}
        metadata = dict(spec.metadata)
        if path[0] in LAYERS:  # dbt models: built in the layer's schema of this warehouse
            metadata["dagster/table_name"] = f"{layer_schema(schema, path[0])}.{path[-1]}"
        elif path[0] == "terminology":
            metadata["dagster/table_name"] = f"{schema}.{path[-1]}"
        elif path[0] == "warehouse":
            if path[-1] in (*WAREHOUSE_SAMPLE_TABLES, "model_metrics"):
                metadata["dagster/table_name"] = f"{schema}.{path[-1]}"
            if path[-1] in WAREHOUSE_SAMPLE_TABLES:
                metadata["dagster/column_schema"] = columns[path[-1]]
        tags = {k: v for k, v in spec.tags.items() if not k.startswith("dagster/kind/")}  # kinds are set below
        tags |= {"cms/layer": spec.group_name or "default", "cms/grain": _grain(spec)}
        return spec.replace_attributes(
            kinds=_at_most_three(kinds), metadata=metadata, owners=spec.owners or [OWNER], tags=tags
        )

    return list(dg.map_asset_specs(adapt, list(assets)))
