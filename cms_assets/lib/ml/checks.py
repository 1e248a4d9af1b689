"""Checks on the published Spark outputs of one sample (features, predictions), as plain functions.

Same approach as :mod:`cms_assets.lib.ingest.checks`: the Parquet files are opened through the storage's Arrow
filesystem and queried with DuckDB, so the checks run unchanged on a local directory and on S3.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import duckdb
import pyarrow.dataset as ds

from cms_assets.lib import layout
from cms_assets.lib.ingest.checks import BENEFICIARY, CheckOutcome, table_dataset
from cms_assets.lib.publish import published_keys
from cms_assets.lib.storage import Storage

#: Share of 2008/2009 beneficiary-years that must carry a next-year cost label. In DE-SynPUF about 95% of a
#: year's beneficiaries appear the next year (the rest died or left); far fewer means a join lost rows.
MIN_LABEL_COVERAGE = 0.80


def _dataset(storage: Storage, prefix: str) -> ds.Dataset:
    fs, root = storage.arrow_fs()
    files = [f"{root}/{k}" for k in published_keys(storage, prefix) if k.endswith(".parquet")]  # what readers read
    if not files:
        raise FileNotFoundError(f"no Parquet files under {storage.uri(prefix)}")
    return ds.dataset(files, filesystem=fs, format="parquet")


def _one(sql: str, **tables: ds.Dataset) -> tuple:
    con = duckdb.connect(":memory:")
    try:
        for name, dataset in tables.items():
            con.register(name, dataset)
        row = con.execute(sql).fetchone()
        assert row is not None
        return row
    finally:
        con.close()


def _missing(fn: Callable[..., CheckOutcome]) -> Callable[..., CheckOutcome]:
    """A check whose input is absent fails, naming what is missing, instead of erroring the step."""

    @functools.wraps(fn)
    def checked(storage: Storage, sample: int, *args: Any) -> CheckOutcome:
        try:
            return fn(storage, sample, *args)
        except FileNotFoundError as e:
            return CheckOutcome(False, f"sample {sample}: input missing: {e}", {"missing": str(e)})

    return checked


@_missing
def features_rows_match(storage: Storage, sample: int) -> CheckOutcome:
    """One feature row per beneficiary-year of the beneficiary table, no more, no less."""
    features = _dataset(storage, layout.features_dir(sample))
    beneficiaries = table_dataset(storage, BENEFICIARY, sample)
    rows, keys = _one("SELECT count(*), count(DISTINCT (DESYNPUF_ID, YEAR)) FROM f", f=features)
    (expected,) = _one("SELECT count(DISTINCT (DESYNPUF_ID, YEAR)) FROM b", b=beneficiaries)
    meta = {"feature_rows": rows, "distinct_beneficiary_years": keys, "beneficiary_years_in_table": expected}
    passed = rows == keys == expected and rows > 0
    return CheckOutcome(passed, f"sample {sample}: {rows:,} feature rows for {expected:,} beneficiary-years", meta)


@_missing
def label_coverage(storage: Storage, sample: int) -> CheckOutcome:
    """2008 and 2009 rows carry a next-year cost label (at least MIN_LABEL_COVERAGE of them); 2010 has none."""
    features = _dataset(storage, layout.features_dir(sample))
    labelled, n, late = _one(
        "SELECT count(NEXT_YEAR_COST) FILTER (WHERE YEAR < 2010), count(*) FILTER (WHERE YEAR < 2010), "
        "count(NEXT_YEAR_COST) FILTER (WHERE YEAR >= 2010) FROM f",
        f=features,
    )
    share = labelled / n if n else 0.0
    meta = {"labelled": labelled, "n": n, "coverage": round(share, 4), "labelled_2010_rows": late}
    passed = n > 0 and share >= MIN_LABEL_COVERAGE and late == 0
    description = (
        f"sample {sample}: {share:.1%} of {n:,} 2008-2009 rows labelled (minimum {MIN_LABEL_COVERAGE:.0%}); "
        f"{late} labelled 2010 rows (expected 0)"
    )
    return CheckOutcome(passed, description, meta)


@_missing
def predictions_complete(storage: Storage, sample: int, model_version: str | None = None) -> CheckOutcome:
    """Every scored row has a finite, non-negative prediction, all from one model version (the one just used).

    Without ``model_version`` (the check run on its own) the published file is checked against itself: it must
    hold one version; whether that version is the latest model is the automation's business, not this check's.
    """
    scored = _dataset(storage, layout.predictions_dir(sample))
    (versions,) = _one("SELECT count(DISTINCT MODEL_VERSION) FROM p", p=scored)
    if model_version is None:
        (model_version,) = _one("SELECT min(MODEL_VERSION) FROM p", p=scored)
    version = str(model_version or "")
    rows, bad, other = _one(
        "SELECT count(*), count(*) FILTER (WHERE PREDICTED_NEXT_YEAR_COST IS NULL OR NOT isfinite("
        "PREDICTED_NEXT_YEAR_COST) OR PREDICTED_NEXT_YEAR_COST < 0), "
        f"count(*) FILTER (WHERE MODEL_VERSION IS DISTINCT FROM '{version.replace(chr(39), '')}') FROM p",
        p=scored,
    )
    meta = {"rows": rows, "invalid_predictions": bad, "other_model_version": other, "model_version": version}
    description = f"sample {sample}: {rows:,} predictions, {bad} invalid, {other} from another model version"
    return CheckOutcome(rows > 0 and bad == 0 and other == 0 and versions == 1, description, meta)
