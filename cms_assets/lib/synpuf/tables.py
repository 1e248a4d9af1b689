"""The five analysis tables: which CMS file kind feeds each, its CSV columns and its Parquet schema."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import pyarrow as pa

from cms_assets.lib.synpuf import columns as c


class Kind(StrEnum):
    """The five kinds of DE-SynPUF file."""

    BENEFICIARY = "beneficiary"
    INPATIENT = "inpatient"
    OUTPATIENT = "outpatient"
    CARRIER = "carrier"
    PDE = "pde"


@dataclass(frozen=True)
class TableSpec:
    """One analysis table: its name, the CSV columns it reads and the keys that make a row unique.

    ``repeated_rows``: columns whose value pairs CMS's published files repeat (carrier: the same DESYNPUF_ID and
    CLM_ID on two rows, about 480 times in Sample 1's file A). Such repeats are kept and reported, not blocking;
    the key must still be unique across distinct ``repeated_rows`` values (one CLM_ID, one beneficiary).
    """

    name: str
    kind: Kind
    csv_types: dict[str, pa.DataType]
    key: tuple[str, ...]
    date_columns: tuple[str, ...]
    repeated_rows: tuple[str, ...] = ()

    @property
    def csv_columns(self) -> list[str]:
        return list(self.csv_types)

    @property
    def csv_schema(self) -> pa.Schema:
        """Schema of the CSV columns alone, in file order."""
        return pa.schema([pa.field(n, t) for n, t in self.csv_types.items()])

    @property
    def schema(self) -> pa.Schema:
        """Schema of the Parquet table: the CSV columns, then YEAR (beneficiary only), then sample."""
        fields = [pa.field(n, t) for n, t in self.csv_types.items()]
        if self.kind is Kind.BENEFICIARY:
            fields.append(pa.field(c.YEAR_COLUMN, pa.int16(), nullable=False))
        fields.append(pa.field(c.SAMPLE_COLUMN, pa.int16(), nullable=False))
        return pa.schema(fields)


def _dates(types: dict[str, pa.DataType]) -> tuple[str, ...]:
    return tuple(n for n, t in types.items() if t == c.DATE)


TABLES: dict[Kind, TableSpec] = {
    Kind.BENEFICIARY: TableSpec(
        "beneficiary_summary",
        Kind.BENEFICIARY,
        c.BENEFICIARY_TYPES,
        ("DESYNPUF_ID", c.YEAR_COLUMN),
        _dates(c.BENEFICIARY_TYPES),
    ),
    Kind.INPATIENT: TableSpec(
        "inpatient_claims", Kind.INPATIENT, c.INPATIENT_TYPES, ("CLM_ID", "SEGMENT"), _dates(c.INPATIENT_TYPES)
    ),
    Kind.OUTPATIENT: TableSpec(
        "outpatient_claims", Kind.OUTPATIENT, c.OUTPATIENT_TYPES, ("CLM_ID", "SEGMENT"), _dates(c.OUTPATIENT_TYPES)
    ),
    Kind.CARRIER: TableSpec(
        "carrier_claims",
        Kind.CARRIER,
        c.CARRIER_TYPES,
        ("CLM_ID",),
        _dates(c.CARRIER_TYPES),
        repeated_rows=("DESYNPUF_ID", "CLM_ID"),
    ),
    Kind.PDE: TableSpec("prescription_drug_events", Kind.PDE, c.PDE_TYPES, ("PDE_ID",), _dates(c.PDE_TYPES)),
}

TABLE_NAMES: list[str] = [t.name for t in TABLES.values()]


def table_for(name: str) -> TableSpec:
    """Look a table up by name, with a clear error for unknown names."""
    for spec in TABLES.values():
        if spec.name == name:
            return spec
    raise KeyError(f"unknown table {name!r}; known tables: {', '.join(TABLE_NAMES)}")
