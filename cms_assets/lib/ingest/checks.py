"""Data checks on the published Parquet tables, as plain functions (the Dagster layer wraps them as asset checks).

Each check lets DuckDB query ``tables/<table>/sample=NN/part-0.parquet``: a local file (the staged file, or
local storage) with DuckDB's own parallel Parquet reader, an S3 object through ``storage.arrow_fs()`` as a pyarrow
dataset (DuckDB scans Arrow datasets directly, so the same SQL runs on S3 without DuckDB's httpfs extension).
A check scans its table once when it passes; failing checks scan again for up to five examples in their metadata.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow.dataset as ds

from cms_assets.lib import layout
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.columns import CHRONIC_CONDITIONS
from cms_assets.lib.synpuf.tables import TABLES, Kind, TableSpec, table_for

EXAMPLES = 5
#: Claim, service and death dates fall in the data's years (with a year of slack either side).
DATE_RANGE = ("2007-01-01", "2011-12-31")
#: Birth dates are decades earlier; they only have to be plausible.
BIRTH_RANGE = ("1900-01-01", "2010-12-31")
BENEFICIARY = TABLES[Kind.BENEFICIARY]

Meta = dict[str, int | float | str]


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: Meta = field(default_factory=dict)


#: ``check(storage, table, sample, staged=None)``: ``staged`` is a local Parquet file to check instead of the
#: published one (check, then publish); other tables a check reads (the beneficiaries) are the published ones.
Check = Callable[..., CheckOutcome]


def _spec(table: TableSpec | str) -> TableSpec:
    return table if isinstance(table, TableSpec) else table_for(table)


def table_dataset(storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None) -> ds.Dataset:
    """The published Parquet file of one (table, sample), or the staged local file, as a pyarrow dataset;
    FileNotFoundError if absent."""
    if staged is not None:
        return ds.dataset(str(staged), format="parquet")
    fs, root = storage.arrow_fs()
    key = layout.table_file(_spec(table).name, sample)
    return ds.dataset(f"{root}/{key}", filesystem=fs, format="parquet")


def _source(storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None) -> ds.Dataset | Path:
    """What a check scans: the local file's path where there is one (DuckDB reads it natively, in parallel),
    else the object as a pyarrow dataset; FileNotFoundError if absent."""
    path = staged if staged is not None else storage.local_path(layout.table_file(_spec(table).name, sample))
    if path is None:
        return table_dataset(storage, table, sample)
    if not path.is_file():
        raise FileNotFoundError(f"{path} does not exist")
    return path


@contextmanager
def _duckdb(**tables: ds.Dataset | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    con = duckdb.connect(":memory:")
    try:
        for name, source in tables.items():
            if isinstance(source, Path):
                literal = str(source).replace("'", "''")
                con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{literal}', hive_partitioning = false)")
            else:
                con.register(name, source)
        yield con
    finally:
        con.close()


def _quote(column: str) -> str:
    return '"' + column.replace('"', '""') + '"'


def _examples(rows: list[tuple]) -> str:
    return "; ".join(", ".join("NULL" if v is None else str(v) for v in r) for r in rows[:EXAMPLES])


def rows_positive(storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None) -> CheckOutcome:
    """The table has rows for this sample (an empty or missing file means an ingest went wrong)."""
    spec = _spec(table)
    try:
        dataset = table_dataset(storage, spec, sample, staged)
    except FileNotFoundError:
        return CheckOutcome(False, f"{spec.name} sample {sample}: no Parquet file", {"rows": 0})
    rows = dataset.count_rows()
    return CheckOutcome(rows > 0, f"{spec.name} sample {sample} has {rows} rows", {"rows": rows})


def keys_unique(storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None) -> CheckOutcome:
    """No two rows share the table's key, and no key column is null. Rows that repeat the whole
    ``spec.repeated_rows`` pair (carrier's published duplicates) count once here; :func:`repeated_rows` reports them."""
    spec = _spec(table)
    cols = ", ".join(_quote(c) for c in spec.key)
    any_null = " OR ".join(f"{_quote(c)} IS NULL" for c in spec.key)
    others = [c for c in spec.repeated_rows if c not in spec.key]
    distinct = f"count(DISTINCT ({', '.join(_quote(c) for c in others)}))" if others else "count(*)"
    with _duckdb(t=_source(storage, spec, sample, staged)) as con:
        dup_sql = f"SELECT {cols}, {distinct} AS n FROM t GROUP BY {cols} HAVING {distinct} > 1"
        (duplicates,) = con.execute(f"SELECT count(*) FROM ({dup_sql})").fetchone()
        examples = con.execute(f"{dup_sql} ORDER BY n DESC, {cols} LIMIT {EXAMPLES}").fetchall() if duplicates else []
        (nulls,) = con.execute(f"SELECT count(*) FROM t WHERE {any_null}").fetchone()
    meta: Meta = {"key": ", ".join(spec.key), "duplicate_keys": duplicates, "null_keys": nulls}
    if examples:
        meta["examples"] = _examples(examples)  # key values, then how many rows share them
    passed = duplicates == 0 and nulls == 0
    return CheckOutcome(passed, f"{spec.name} sample {sample}: key ({meta['key']}) unique and not null", meta)


def repeated_rows(storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None) -> CheckOutcome:
    """Rows repeating a ``spec.repeated_rows`` pair (carrier: DESYNPUF_ID, CLM_ID): kept, counted, with examples.

    A WARN check (see :data:`WARN_CHECKS`): these repeats are a property of CMS's published files, not a broken
    download, so they must be visible without stopping anything downstream.
    """
    spec = _spec(table)
    if not spec.repeated_rows:
        raise ValueError(f"repeated_rows applies to tables with repeated rows (carrier), not {spec.name}")
    cols = ", ".join(_quote(c) for c in spec.repeated_rows)
    groups = f"SELECT {cols}, count(*) AS n FROM t GROUP BY {cols} HAVING count(*) > 1"
    with _duckdb(t=_source(storage, spec, sample, staged)) as con:
        (pairs, extra) = con.execute(f"SELECT count(*), coalesce(sum(n - 1), 0) FROM ({groups})").fetchone()
        examples = con.execute(f"{groups} ORDER BY {cols} LIMIT {EXAMPLES}").fetchall() if pairs else []
    meta: Meta = {"columns": ", ".join(spec.repeated_rows), "repeated_pairs": pairs, "extra_rows": int(extra)}
    if examples:
        meta["examples"] = _examples(examples)  # the pair, then how many rows carry it
    description = (
        f"{spec.name} sample {sample}: {pairs} ({meta['columns']}) pairs appear on more than one row "
        f"({int(extra)} extra rows, kept; features count each claim once)"
    )
    return CheckOutcome(pairs == 0, description, meta)


def dates_in_range(storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None) -> CheckOutcome:
    """Every date is null or within the data's years (birth dates: merely plausible)."""
    spec = _spec(table)
    meta: Meta = {}
    examples: list[tuple] = []
    ident = _quote(spec.key[0])
    bad = {}
    for column in spec.date_columns:
        low, high = BIRTH_RANGE if column == "BENE_BIRTH_DT" else DATE_RANGE
        bad[column] = f"{_quote(column)} NOT BETWEEN DATE '{low}' AND DATE '{high}'"
    counts = ", ".join(f"count(*) FILTER (WHERE {sql})" for sql in bad.values())
    with _duckdb(t=_source(storage, spec, sample, staged)) as con:
        found = con.execute(f"SELECT {counts} FROM t").fetchone() if bad else ()
        for (column, sql), count in zip(bad.items(), found, strict=True):
            if count:
                meta[f"out_of_range.{column}"] = count
                rows = con.execute(f"SELECT {ident}, {_quote(column)} FROM t WHERE {sql} LIMIT {EXAMPLES}").fetchall()
                examples += [(column, *r) for r in rows]
    if examples:
        meta["examples"] = _examples(examples)  # column, key, date
    description = f"{spec.name} sample {sample}: dates within {DATE_RANGE[0]}..{DATE_RANGE[1]} or null"
    return CheckOutcome(not examples, description, meta)


def _flag_rules() -> dict[str, str]:
    """Rule name -> SQL predicate that is TRUE for a bad row (null counts as bad: CMS always fills these)."""

    def not_in(column: str, values: str) -> str:
        return f"({_quote(column)} IS NULL OR {_quote(column)} NOT IN ({values}))"

    rules = {c: not_in(c, "1, 2") for c in CHRONIC_CONDITIONS}
    rules["BENE_SEX_IDENT_CD"] = not_in("BENE_SEX_IDENT_CD", "1, 2")
    rules["BENE_RACE_CD"] = not_in("BENE_RACE_CD", "1, 2, 3, 5")
    rules["BENE_ESRD_IND"] = not_in("BENE_ESRD_IND", "'0', 'Y'")
    for c in ("BENE_HI_CVRAGE_TOT_MONS", "BENE_SMI_CVRAGE_TOT_MONS", "BENE_HMO_CVRAGE_TOT_MONS"):
        rules[c] = f"({_quote(c)} IS NULL OR {_quote(c)} NOT BETWEEN 0 AND 12)"
    # Codes are text with CMS's padding: two-digit months and state, three-digit county.
    rules["PLAN_CVRG_MOS_NUM"] = "(NOT regexp_full_match(coalesce(PLAN_CVRG_MOS_NUM, ''), '(0[0-9]|1[0-2])'))"
    rules["SP_STATE_CODE"] = (
        "(NOT regexp_full_match(coalesce(SP_STATE_CODE, ''), '[0-9]{2}') "
        "OR SP_STATE_CODE NOT BETWEEN '01' AND '54' OR SP_STATE_CODE IN ('40', '48'))"
    )
    rules["BENE_COUNTY_CD"] = "(NOT regexp_full_match(coalesce(BENE_COUNTY_CD, ''), '[0-9]{3}'))"
    return rules


def flags_valid(storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None) -> CheckOutcome:
    """Beneficiary codes use the codebook's values: SP_* 1/2 (not 0/1), race without 4, ESRD 0/Y, months 0..12."""
    spec = _spec(table)
    if spec.kind is not Kind.BENEFICIARY:
        raise ValueError(f"flags_valid applies to {BENEFICIARY.name} only, not {spec.name}")
    rules = _flag_rules()
    counts = ", ".join(f"count(*) FILTER (WHERE {sql})" for sql in rules.values())
    meta: Meta = {}
    examples: list[tuple] = []
    with _duckdb(t=_source(storage, spec, sample, staged)) as con:
        for name, count in zip(rules, con.execute(f"SELECT {counts} FROM t").fetchone(), strict=True):
            if count:
                meta[f"invalid.{name}"] = count
                if len(examples) < EXAMPLES:
                    sql = f"SELECT DESYNPUF_ID, YEAR, {_quote(name)} FROM t WHERE {rules[name]} LIMIT {EXAMPLES}"
                    examples += [(name, *r) for r in con.execute(sql).fetchall()]
    if examples:
        meta["examples"] = _examples(examples)  # column, DESYNPUF_ID, YEAR, value
    return CheckOutcome(not examples, f"{spec.name} sample {sample}: codes within the codebook's values", meta)


def references_beneficiaries(
    storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None
) -> CheckOutcome:
    """Every claim or drug event belongs to a beneficiary of the same sample (samples are disjoint)."""
    spec = _spec(table)
    if spec.kind is Kind.BENEFICIARY:
        raise ValueError(f"references_beneficiaries applies to claim tables, not {spec.name}")
    beneficiaries = _source(storage, BENEFICIARY, sample)
    orphans = "SELECT t.DESYNPUF_ID FROM t ANTI JOIN b ON t.DESYNPUF_ID = b.DESYNPUF_ID"  # null ids are orphans too
    with _duckdb(t=_source(storage, spec, sample, staged), b=beneficiaries) as con:
        (rows, ids) = con.execute(f"SELECT count(*), count(DISTINCT DESYNPUF_ID) FROM ({orphans})").fetchone()
        sql = f"SELECT DISTINCT * FROM ({orphans}) ORDER BY 1 LIMIT {EXAMPLES}"
        examples = con.execute(sql).fetchall() if rows else []
    meta: Meta = {"orphan_rows": rows, "orphan_beneficiaries": ids}
    if examples:
        meta["examples"] = _examples(examples)
    description = f"{spec.name} sample {sample}: every DESYNPUF_ID is in {BENEFICIARY.name} sample {sample}"
    return CheckOutcome(rows == 0, description, meta)


#: Checks that report rather than block (Dagster severity WARN, not blocking); every other check is ERROR, blocking.
WARN_CHECKS = frozenset({"repeated_rows"})


def checks_for(table: TableSpec | str) -> list[tuple[str, Check]]:
    """The checks that apply to a table, with stable names for the Dagster asset checks (severity: WARN_CHECKS)."""
    spec = _spec(table)
    common: list[tuple[str, Check]] = [
        ("rows_positive", rows_positive),
        ("keys_unique", keys_unique),
        ("dates_in_range", dates_in_range),
    ]
    if spec.kind is Kind.BENEFICIARY:
        return [*common, ("flags_valid", flags_valid)]
    repeats: list[tuple[str, Check]] = [("repeated_rows", repeated_rows)] if spec.repeated_rows else []
    return [*common, ("references_beneficiaries", references_beneficiaries), *repeats]
