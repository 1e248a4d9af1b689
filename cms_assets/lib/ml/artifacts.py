"""The files beside a saved cost model and the pointer to the current one.

Two code paths train the model: the ``cost_model`` asset with in-process Spark, and ``emr_entry.py --action train``
on EMR. Both must leave the same files, because ``warehouse/model_metrics`` reads ``metrics.parquet`` and
``cost_predictions`` reads ``latest.json``. So the names and formats live here, once.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from cms_assets.lib import layout
from cms_assets.lib.publish import current_prefix
from cms_assets.lib.storage import Storage

LATEST_MODEL_KEY = f"{layout.MODELS}/latest.json"


def model_version(trained_at: datetime, selected: str) -> str:
    """``20240101T120000Z-gbt_log``: sortable by time, and it names the selected model."""
    return f"{trained_at:%Y%m%dT%H%M%SZ}-{selected}"


def metrics_key(version: str) -> str:
    return f"{layout.model_dir(version)}/metrics.parquet"


def chart_key(version: str) -> str:
    return f"{layout.model_dir(version)}/chart.png"


def metrics_rows(
    metrics: Sequence[dict[str, Any]], version: str, trained_at: datetime, selected: str
) -> list[dict[str, Any]]:
    """METRICS_SCHEMA rows: the training metrics tagged with the version, time and which model was selected."""
    return [
        {**m, "MODEL_VERSION": version, "TRAINED_AT": trained_at, "SELECTED": m["MODEL_NAME"] == selected}
        for m in metrics
    ]


def write_model_files(store: Storage, version: str, rows: list[dict[str, Any]], chart_png: bytes) -> None:
    """``metrics.parquet`` and ``chart.png`` next to the saved pipeline (each published atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from cms_assets.lib.ml.schemas import METRICS_SCHEMA

    table = pa.Table.from_pylist(rows, schema=METRICS_SCHEMA)
    with store.writer(metrics_key(version)) as path:
        pq.write_table(table, path)
    store.write_bytes(chart_key(version), chart_png)


def write_latest(store: Storage, version: str, selected: str, samples: list[int]) -> None:
    """Point ``cost_predictions`` at ``version``; written last, only once every model file exists."""
    store.write_json(LATEST_MODEL_KEY, {"version": version, "selected": selected, "samples": samples})


def read_latest(store: Storage) -> dict[str, Any]:
    """The pointer ``write_latest`` wrote: which version to score with (FileNotFoundError naming it if absent)."""
    if not store.exists(LATEST_MODEL_KEY):
        where = store.uri(LATEST_MODEL_KEY)
        raise FileNotFoundError(f"no cost model yet: materialize cost_model first ({where} missing)")
    return store.read_json(LATEST_MODEL_KEY)


def read_model_info(store: Storage, version: str) -> dict[str, Any]:
    """The JSON summary ``save_model`` wrote under ``<model>/info`` (one Spark text part file), of the model's
    published version."""
    prefix = f"{current_prefix(store, layout.model_dir(version))}/info"
    parts = [o.key for o in store.list(prefix) if o.key.rsplit("/", 1)[-1].startswith("part-")]
    if not parts:
        raise FileNotFoundError(f"no model summary under {store.uri(prefix)}")
    return json.loads(store.read_bytes(parts[0]).decode().strip())


#: The per-(model, split) figures of the metrics table, in display order.
TABLE_METRICS = ["r2", "mae", "rmse", "top10_capture", "top_decile_lift", "rows"]


def _rounded(metric: str, value: float) -> float:
    """Rounded for people: dollars to whole dollars, counts whole, ratios to 3 decimals."""
    if math.isnan(value):
        return value
    return float(round(value)) if metric in ("mae", "rmse", "rows") else round(value, 3)


def headline(metrics: Sequence[dict[str, Any]], selected: str) -> dict[str, float]:
    """The selected model's temporal-holdout r2, MAE, top-10% capture and top-decile lift, rounded for people."""
    cell = {m["METRIC"]: float(m["VALUE"]) for m in metrics if m["MODEL_NAME"] == selected and m["SPLIT"] == "temporal"}
    names = {"r2": "temporal_r2", "mae": "temporal_mae", "top10_capture": "top10_capture"}
    names["top_decile_lift"] = "top_decile_lift"
    return {label: _rounded(k, cell.get(k, math.nan)) for k, label in names.items()}


def metric_table(metrics: Sequence[dict[str, Any]], selected: str) -> list[dict[str, Any]]:
    """One row per (model, split), temporal first, with the TABLE_METRICS figures rounded."""
    cell = {(m["MODEL_NAME"], m["SPLIT"], m["METRIC"]): float(m["VALUE"]) for m in metrics}
    models = sorted({m["MODEL_NAME"] for m in metrics}, key=lambda n: (n != selected, n))
    splits = sorted({m["SPLIT"] for m in metrics}, reverse=True)
    return [
        {
            "model": name + (" (selected)" if name == selected else ""),
            "split": split,
            **{k: _rounded(k, cell.get((name, split, k), math.nan)) for k in TABLE_METRICS},
        }
        for name in models
        for split in splits
    ]


def decile_shares(metrics: Sequence[dict[str, Any]], model: str) -> list[float]:
    """Temporal-holdout share of next-year cost per predicted decile (1 = highest predicted)."""
    cell = {m["METRIC"]: float(m["VALUE"]) for m in metrics if m["MODEL_NAME"] == model and m["SPLIT"] == "temporal"}
    return [cell.get(f"decile_{d:02d}_cost_share", math.nan) for d in range(1, 11)]
