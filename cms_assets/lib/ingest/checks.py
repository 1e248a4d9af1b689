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
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import TABLES, Kind, TableSpec, table_for

EXAMPLES = 5
#: Claim, service and death dates fall in the data's years (with a year of slack either side).
DATE_RANGE = ("2007-01-01", "2011-12-31")
#: Birth dates are decades earlier; they only have to be plausible.
BIRTH_RANGE = ("1900-01-01", "2010-12-31")
#: The years the DE-SynPUF covers: every claim's year (the year of the date below) falls in them.
DATA_YEARS = ("2008-01-01", "2010-12-31")
#: The date that gives a claim its year (CMS: "claim year is the year of CLM_THRU_DT"; a drug event's is its
#: service date). A claim's other dates keep DATE_RANGE's year of slack: a stay that ends in January 2008 may
#: have begun (CLM_FROM_DT, CLM_ADMSN_DT) in December 2007, and a second segment's dates are empty.
YEAR_DATE = {
    Kind.INPATIENT: "CLM_THRU_DT",
    Kind.OUTPATIENT: "CLM_THRU_DT",
    Kind.CARRIER: "CLM_THRU_DT",
    Kind.PDE: "SRVC_DT",
}
BENEFICIARY = TABLES[Kind.BENEFICIARY]

Meta = dict[str, int | float | str]


@dataclass(frozen=True)
class CheckOutcome:
    passed: bool
    description: str
    metadata: Meta = field(default_factory=dict)
    #: The source zips (names) a failure points at, when the check can tell; the asset's error names them.
    culprits: tuple[str, ...] = ()


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


def dates_in_file_years(
    storage: Storage, table: TableSpec | str, sample: int, staged: Path | None = None
) -> CheckOutcome:
    """Rows belong to their file's years: a beneficiary row to the year its file is labelled (no death after or
    before it, no birth after it), a claim to 2008-2010 by its year-giving date (:data:`YEAR_DATE`). Catches a file
    of another year under this one's name, which every other check passes."""
    spec = _spec(table)
    if spec.kind is Kind.BENEFICIARY:
        return _beneficiary_year(storage, spec, sample, staged)
    column = YEAR_DATE[spec.kind]
    low, high = DATA_YEARS
    bad = f"{_quote(column)} NOT BETWEEN DATE '{low}' AND DATE '{high}'"
    keys = ", ".join(_quote(c) for c in spec.key)
    with _duckdb(t=_source(storage, spec, sample, staged)) as con:
        (count,) = con.execute(f"SELECT count(*) FROM t WHERE {bad}").fetchone()
        sql = f"SELECT {keys}, {_quote(column)} FROM t WHERE {bad} ORDER BY {_quote(column)} LIMIT {EXAMPLES}"
        examples = con.execute(sql).fetchall() if count else []
    meta: Meta = {"column": column, "range": f"{low}..{high}", "rows_outside": count}
    if examples:
        meta["examples"] = _examples(examples)  # key, date
        description = (
            f"{spec.name} sample {sample}: {count} rows have {column} outside the DE-SynPUF's years {low}..{high} "
            f"(e.g. {_examples(examples[:2])}): a file of another period, or damaged dates"
        )
    else:
        description = f"{spec.name} sample {sample}: every {column} within the DE-SynPUF's years {low}..{high}"
    return CheckOutcome(count == 0, description, meta)


def _beneficiary_year(storage: Storage, spec: TableSpec, sample: int, staged: Path | None) -> CheckOutcome:
    """Per labelled year: rows dying after it, dying before it, or born after it (a file of the wrong year)."""
    year_start = "make_date(YEAR, 1, 1)"
    year_end = "make_date(YEAR, 12, 31)"
    rules = {
        "death_after_year": f"BENE_DEATH_DT > {year_end}",
        "death_before_year": f"BENE_DEATH_DT < {year_start}",
        "birth_after_year": f"BENE_BIRTH_DT > {year_end}",
    }
    counts = ", ".join(f"count(*) FILTER (WHERE {sql})" for sql in rules.values())
    any_bad = " OR ".join(f"({sql})" for sql in rules.values())
    with _duckdb(t=_source(storage, spec, sample, staged)) as con:
        per_year = con.execute(
            f"SELECT YEAR, {counts} FROM t GROUP BY YEAR HAVING count(*) FILTER (WHERE {any_bad}) > 0 ORDER BY YEAR"
        ).fetchall()
        examples = {
            year: con.execute(
                f"SELECT DESYNPUF_ID, BENE_BIRTH_DT, BENE_DEATH_DT FROM t WHERE YEAR = {year} AND ({any_bad}) "
                f"ORDER BY BENE_DEATH_DT DESC NULLS LAST, DESYNPUF_ID LIMIT {EXAMPLES}"
            ).fetchall()
            for year, *_ in per_year
        }
    meta: Meta = {}
    problems: list[str] = []
    culprits: list[str] = []
    for year, *found in per_year:
        zip_name = FileSpec(Kind.BENEFICIARY, sample, year=int(year)).zip_name
        culprits.append(zip_name)
        said = [f"{n} {rule.replace('_', ' ')}" for rule, n in zip(rules, found, strict=True) if n]
        for rule, n in zip(rules, found, strict=True):
            if n:
                meta[f"{rule}.{year}"] = n
        problems.append(
            f"{zip_name} is labelled {year} but holds {', '.join(said)} (e.g. {_examples(examples[year][:2])}): "
            "a file of another year under this one's name?"
        )
    if examples:
        meta["examples"] = _examples([(y, *r) for y, rows in examples.items() for r in rows])  # YEAR, id, birth, death
    if problems:
        description = f"{spec.name} sample {sample}: " + "; ".join(problems)
    else:
        description = (
            f"{spec.name} sample {sample}: every row dated within its file's year (deaths in it, births before)"
        )
    return CheckOutcome(not problems, description, meta, tuple(culprits))


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
        ("dates_in_file_years", dates_in_file_years),
    ]
    if spec.kind is Kind.BENEFICIARY:
        return [*common, ("flags_valid", flags_valid)]
    repeats: list[tuple[str, Check]] = [("repeated_rows", repeated_rows)] if spec.repeated_rows else []
    return [*common, ("references_beneficiaries", references_beneficiaries), *repeats]
