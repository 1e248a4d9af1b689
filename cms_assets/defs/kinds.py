"""Kinds an asset declares for what its deployment decides: the warehouse it lives in, the storage it is written to
and the engine it runs on. Each asset names its final kinds where it is defined, e.g. ``{"sql", WAREHOUSE}``;
:func:`cms_assets.defs.deployment.for_deployment` replaces each placeholder by what the deployment uses (the table
is :func:`cms_assets.defs.deployment.placeholder_kinds`), so the UI shows one warehouse icon, not three.
"""

#: duckdb, postgres or redshift: the deployment's warehouse.
WAREHOUSE = "cms_warehouse"
#: s3 where the deployment stores on S3; nothing for a local directory.
STORAGE = "cms_storage"
#: spark, and emr when the Spark assets run on EMR Serverless.
SPARK = "cms_spark"
#: duckdb where the feature query runs on DuckDB (no cluster, local storage), else what SPARK stands for.
FEATURES_ENGINE = "cms_features_engine"

PLACEHOLDERS = (WAREHOUSE, STORAGE, SPARK, FEATURES_ENGINE)
