"""What DuckDB and Spark SQL spell differently, for the SQL both engines run (the feature query and the CMS-HCC
scoring): the few spellings live here, as dbt projects dispatch macros per adapter."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dialect:
    """What DuckDB and Spark SQL spell differently: one row per element of a list of columns, a regular
    expression match (partial in both; patterns carry their anchors) and a group's sorted, comma-joined list."""

    name: str
    _explode: str
    _match: str
    _sorted_list: str

    def explode(self, columns: list[str]) -> str:
        return self._explode.format(", ".join(columns))

    def matches(self, expr: str, pattern: str) -> str:
        return self._match.format(expr=expr, pattern=pattern)

    def sorted_list(self, expr: str, prefix: str) -> str:
        """Aggregate: the group's integers ``expr`` ascending, each written ``<prefix><n>``, joined by commas."""
        return self._sorted_list.format(expr=expr, prefix=prefix)


DUCKDB = Dialect(
    "duckdb",
    "unnest([{}])",
    "regexp_matches({expr}, '{pattern}')",
    # an unordered list sorted afterwards: an ordered string_agg sorts every group's rows through one global sort
    "array_to_string(list_transform(list_sort(list({expr}) filter (where {expr} is not null)), "
    "lambda x: '{prefix}' || cast(x as varchar)), ',')",
)
SPARK = Dialect(
    "spark",
    "explode(array({}))",
    "({expr} rlike '{pattern}')",
    "concat_ws(',', transform(array_sort(collect_list({expr})), x -> concat('{prefix}', cast(x as string))))",
)
