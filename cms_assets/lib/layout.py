"""Where everything lives inside a :class:`~cms_assets.lib.storage.Storage` (Hive-style ``sample=NN`` folders).

Spark and DuckDB read a whole table across samples from ``tables/<table>/`` directly.
"""

from __future__ import annotations

RAW = "raw"
TABLES = "tables"
FEATURES = "features/beneficiary_features"
PREDICTIONS = "predictions/cost_predictions"
MODELS = "models/cost_model"
REPORTS = "reports/insight_report"


def sample_dir(sample: int) -> str:
    return f"sample={sample:02d}"


def raw_zip(sample: int, zip_name: str) -> str:
    return f"{RAW}/{sample_dir(sample)}/{zip_name}"


def raw_manifest(sample: int) -> str:
    """JSON record of what was downloaded: url, etag, last_modified, size per file."""
    return f"{RAW}/{sample_dir(sample)}/_manifest.json"


def table_dir(table: str) -> str:
    return f"{TABLES}/{table}"


#: The one file a single-file writer (a table's converter, DuckDB's feature query) puts in a partition's folder.
PART_FILE = "part-0.parquet"


def table_file(table: str, sample: int) -> str:
    """One Parquet file per (table, sample), so publishing a sample is a single atomic write."""
    return f"{TABLES}/{table}/{sample_dir(sample)}/{PART_FILE}"


#: Per-sample datasets written by Spark, by asset name: a folder of part files per sample.
SPARK_DIRS = {"beneficiary_features": FEATURES, "cost_predictions": PREDICTIONS}


def partition_dir(asset: str, sample: int) -> str:
    """The folder of one sample of a per-sample dataset: a table's ``sample=NN`` folder (holding ``part-0.parquet``)
    or a Spark output's (holding its part files). The one asset-to-folder mapping (IO managers, warehouse loads)."""
    root = SPARK_DIRS.get(asset) or table_dir(asset)
    return f"{root}/{sample_dir(sample)}"


def features_dir(sample: int) -> str:
    return partition_dir("beneficiary_features", sample)


def predictions_dir(sample: int) -> str:
    """Spark writes one part file per sample here."""
    return partition_dir("cost_predictions", sample)


def model_dir(version: str) -> str:
    return f"{MODELS}/{version}"
