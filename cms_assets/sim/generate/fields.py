"""Vectorized formatting of NumPy columns into the exact CMS text forms, as Arrow string arrays.

Everything is written as strings (or all-null columns) so the CSV writer never has to guess a format: money
"3620.00" / "-10.00", quantities "120.000", dates YYYYMMDD, counts plain, codes zero-padded ("03", "090", "00"),
missing = null (written as an empty field).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


def _mask(n: int, present: np.ndarray | None) -> np.ndarray | None:
    return None if present is None else ~np.asarray(present, dtype=bool)


def ints(values: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """Integers as plain digits; rows where ``present`` is False are empty."""
    return pa.array(np.asarray(values, dtype=np.int64), mask=_mask(len(values), present)).cast(pa.string())


def padded(values: np.ndarray, width: int, present: np.ndarray | None = None) -> pa.Array:
    """Non-negative integers zero-padded to ``width`` digits, as CMS writes codes ("03", "090", "0611998537")."""
    return pc.utf8_lpad(ints(values, present), width, "0")


def quantity(thousandths: np.ndarray) -> pa.Array:
    """Quantities given in thousandths as CMS's three-decimal text: 120000 -> "120.000", 2500 -> "2.500"."""
    whole, frac = np.divmod(np.asarray(thousandths, dtype=np.int64), 1000)
    return pc.binary_join_element_wise(ints(whole), padded(frac, 3), ".")


def money(dollars: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """Whole-dollar amounts (multiples of 10 in practice) as "3620.00" / "-10.00"."""
    return pc.binary_join_element_wise(ints(dollars, present), ".00", "")


def dates(days: np.ndarray, present: np.ndarray | None = None) -> pa.Array:
    """Days since 1970-01-01 as YYYYMMDD."""
    d = np.asarray(days, dtype=np.int64).astype("datetime64[D]")
    year = d.astype("datetime64[Y]").astype(np.int64) + 1970
    month_start = d.astype("datetime64[M]")
    month = month_start.astype(np.int64) % 12 + 1
    day = (d - month_start.astype("datetime64[D]")).astype(np.int64) + 1
    return ints(year * 10000 + month * 100 + day, present)


def constant(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value, type=pa.string()), n)


def empty(n: int) -> pa.Array:
    """An all-missing column (empty fields)."""
    return pa.nulls(n, pa.string())


def round10(x: np.ndarray) -> np.ndarray:
    """Round to the nearest multiple of 10 dollars, as CMS's amounts are."""
    return (np.rint(np.asarray(x, dtype=float) / 10.0) * 10).astype(np.int64)
