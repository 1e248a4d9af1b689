"""The beneficiary-year feature table on Spark: the one SQL definition (:mod:`cms_assets.lib.features_sql`) over
the five tables registered as temporary views, so it runs the same in local mode, on Spark Connect and on EMR;
nothing is collected to the driver. Where no cluster is configured DuckDB runs the same query
(:mod:`cms_assets.lib.features_duckdb`).
"""

from __future__ import annotations

import os
import uuid
from typing import TYPE_CHECKING

from cms_assets.lib import layout
from cms_assets.lib.synpuf.tables import TABLES

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def read_tables(spark: SparkSession, tables_root: str, sample: int) -> dict[str, DataFrame]:
    """The five tables of one sample, keyed by table name (the EMR entry's reader; in Dagster the Spark IO
    manager reads them).

    Each sample directory (``<root>/<table>/sample=NN``) is read directly, so Spark discovers no partition column
    and the ``sample`` column stored in the file is the only one.
    """
    root = tables_root.rstrip("/")
    out: dict[str, DataFrame] = {}
    for spec in TABLES.values():
        path = f"{root}/{spec.name}/{layout.sample_dir(sample)}"
        local = path.removeprefix("file://")
        if "://" not in local and not os.path.isdir(local):
            raise FileNotFoundError(f"table {spec.name} of sample {sample} not found: {path} is not a directory")
        out[spec.name] = spark.read.parquet(path)
    return require_columns(out)


def require_columns(tables: dict[str, DataFrame]) -> dict[str, DataFrame]:
    """``tables`` unchanged, after checking each holds its table's columns (a clear error naming the table)."""
    for spec in TABLES.values():
        df = tables[spec.name]
        missing = [n for n in spec.schema.names if n not in df.columns]
        if missing:
            files = df.inputFiles()
            where = f" ({files[0]}{' ...' if len(files) > 1 else ''})" if files else ""
            raise ValueError(f"table {spec.name}{where}: lacks columns {missing}")
    return tables


def build_features(tables: dict[str, DataFrame]) -> DataFrame:
    """Beneficiary-year features with exactly the columns and types of FEATURE_SCHEMA (lazy; nothing collected):
    the tables, and the CMS-HCC reference tables read from their packages on the driver, become temporary views of
    this session (names unique to the call) that the feature query reads."""
    from cms_assets.lib.features_sql import feature_sql, references
    from cms_assets.lib.sql_dialect import SPARK
    from cms_assets.lib.terminology import read_reference

    spark = next(iter(tables.values())).sparkSession
    frames = {**tables, **{name: spark.createDataFrame(read_reference(name)) for name in references()}}
    tag = uuid.uuid4().hex[:8]
    views = {}
    for name, df in frames.items():
        views[name] = f"cms_{name}_{tag}"
        df.createOrReplaceTempView(views[name])
    return spark.sql(feature_sql(SPARK, views))


def write_features(df: DataFrame, out_dir: str) -> int:
    """Write one sample's features as Parquet (replacing ``out_dir``); the row count is read back from the files."""
    df.repartition(1).write.mode("overwrite").parquet(out_dir)
    return df.sparkSession.read.parquet(out_dir).count()
