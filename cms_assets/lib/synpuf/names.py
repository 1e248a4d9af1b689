"""CMS DE-SynPUF file naming, both ways, the 160-file catalog and the quirks of the CMS site.

Names (per sample N, the CSV inside a zip has the same base name):
- ``DE1_0_<YEAR>_Beneficiary_Summary_File_Sample_<N>.zip`` for YEAR in 2008, 2009, 2010
- ``DE1_0_2008_to_2010_Inpatient_Claims_Sample_<N>.zip``, ``..._Outpatient_Claims_...``
- ``DE1_0_2008_to_2010_Carrier_Claims_Sample_<N>A.zip`` and ``...<N>B.zip``
- ``DE1_0_2008_to_2010_Prescription_Drug_Events_Sample_<N>.zip``

Quirks a real downloader meets (all accepted by :func:`parse_name`):
- Sample 11's carrier A zip is ``..._Sample_11A.csv.zip``;
- some zips hold ``<base> - Copy.csv`` rather than ``<base>.csv``;
- today's site serves the main-host zips lower-cased;
- Sample 1's page links the 2010 beneficiary file of Sample 20 (see :data:`SAMPLE1_BENEFICIARY_2010_FIX`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from cms_assets.lib.synpuf.tables import TABLES, Kind, TableSpec

SAMPLES: tuple[int, ...] = tuple(range(1, 21))
YEARS: tuple[int, ...] = (2008, 2009, 2010)
CARRIER_PARTS: tuple[str, ...] = ("A", "B")

#: Where each kind lives: the main www host (relative links) or the downloads host (absolute links).
MAIN_HOST_KINDS = frozenset({Kind.BENEFICIARY, Kind.INPATIENT, Kind.OUTPATIENT})

#: The real locations, for users of the real site and for the mirror to imitate.
LEGACY_LANDING_URL = (
    "https://www.cms.gov/Research-Statistics-Data-and-Systems/Downloadable-Public-Use-Files/SynPUFs/DE_Syn_PUF"
)
CURRENT_LANDING_URL = (
    "https://www.cms.gov/data-research/statistics-trends-and-reports/medicare-claims-synthetic-public-use-files/"
    "cms-2008-2010-data-entrepreneurs-synthetic-public-use-file-de-synpuf"
)
MAIN_DOWNLOADS_PATH = "/Research-Statistics-Data-and-Systems/Downloadable-Public-Use-Files/SynPUFs/Downloads/"
DOWNLOADS_HOST_PATH = "/files/"
#: Sample 1's page links Sample 20's 2010 beneficiary zip; the right one is here on the real site.
SAMPLE1_BENEFICIARY_2010_FIX = "/sites/default/files/2020-09/DE1_0_2010_Beneficiary_Summary_File_Sample_1.zip"
#: Sample 11's carrier A zip carries a doubled extension.
SAMPLE11_CARRIER_A_ZIP = "DE1_0_2008_to_2010_Carrier_Claims_Sample_11A.csv.zip"


@dataclass(frozen=True, order=True)
class FileSpec:
    """One CMS file: its kind, sample, year (beneficiary only) and part (carrier only)."""

    kind: Kind
    sample: int
    year: int | None = None
    part: str | None = None

    def __post_init__(self) -> None:
        if self.sample not in SAMPLES:
            raise ValueError(f"sample must be 1..20, got {self.sample}")
        if (self.kind is Kind.BENEFICIARY) != (self.year is not None):
            raise ValueError(f"{self.kind.value}: a year is required for beneficiary files only")
        if self.year is not None and self.year not in YEARS:
            raise ValueError(f"year must be one of {YEARS}, got {self.year}")
        if (self.kind is Kind.CARRIER) != (self.part is not None):
            raise ValueError(f"{self.kind.value}: a part (A/B) is required for carrier files only")
        if self.part is not None and self.part not in CARRIER_PARTS:
            raise ValueError(f"carrier part must be A or B, got {self.part!r}")

    @property
    def base(self) -> str:
        """The base name shared by the zip and the CSV inside it."""
        n = self.sample
        if self.kind is Kind.BENEFICIARY:
            return f"DE1_0_{self.year}_Beneficiary_Summary_File_Sample_{n}"
        middle = {
            Kind.INPATIENT: "Inpatient_Claims",
            Kind.OUTPATIENT: "Outpatient_Claims",
            Kind.CARRIER: "Carrier_Claims",
            Kind.PDE: "Prescription_Drug_Events",
        }[self.kind]
        return f"DE1_0_2008_to_2010_{middle}_Sample_{n}{self.part or ''}"

    @property
    def zip_name(self) -> str:
        """The zip name CMS publishes (Sample 11 carrier A keeps its ``.csv.zip`` quirk)."""
        if self.kind is Kind.CARRIER and self.sample == 11 and self.part == "A":
            return SAMPLE11_CARRIER_A_ZIP
        return f"{self.base}.zip"

    @property
    def csv_name(self) -> str:
        return f"{self.base}.csv"

    @property
    def table(self) -> TableSpec:
        return TABLES[self.kind]

    @property
    def on_main_host(self) -> bool:
        return self.kind in MAIN_HOST_KINDS

    @property
    def key(self) -> str:
        """A short stable identifier, e.g. ``beneficiary_2008``, ``carrier_A``, ``pde``."""
        suffix = self.year or self.part
        return f"{self.kind.value}_{suffix}" if suffix else self.kind.value

    @property
    def link_text(self) -> str:
        """The link text CMS uses on the sample page."""
        head = f"DE1.0 Sample {self.sample}"
        if self.kind is Kind.BENEFICIARY:
            return f"{head} {self.year} Beneficiary Summary File (ZIP)"
        if self.kind is Kind.INPATIENT:
            return f"{head} 2008-2010 Inpatient Claims (ZIP)"
        if self.kind is Kind.OUTPATIENT:
            return f"{head} 2008-2010 Outpatient Claims (ZIP)"
        if self.kind is Kind.CARRIER:
            return f"{head} 2008-2010 Carrier Claims {1 if self.part == 'A' else 2}"
        return f"{head} 2008-2010 Prescription Drug Events"


_NAME_RE = re.compile(
    r"""^DE1_0_(?:
        (?P<year>2008|2009|2010)_Beneficiary_Summary_File_Sample_(?P<bsample>\d{1,2})
      | 2008_to_2010_(?P<middle>Inpatient_Claims|Outpatient_Claims|Prescription_Drug_Events)_Sample_(?P<csample>\d{1,2})
      | 2008_to_2010_Carrier_Claims_Sample_(?P<rsample>\d{1,2})(?P<part>[AB])
    )(?P<copy>\ -\ Copy)?(?P<ext>\.csv\.zip|\.zip|\.csv)$""",
    re.IGNORECASE | re.VERBOSE,
)
_MIDDLE_KIND = {
    "inpatient_claims": Kind.INPATIENT,
    "outpatient_claims": Kind.OUTPATIENT,
    "prescription_drug_events": Kind.PDE,
}


def parse_name(name: str) -> FileSpec:
    """Parse a zip or CSV name (or a URL/path ending in one) into a :class:`FileSpec`.

    Case-insensitive (today's site lower-cases paths); accepts ``.zip``, ``.csv``, ``.csv.zip`` and the
    ``" - Copy.csv"`` member names. Raises ``ValueError`` naming the input when it is not a DE-SynPUF name.
    """
    leaf = name.rsplit("/", 1)[-1].split("?", 1)[0]
    m = _NAME_RE.match(leaf)
    if not m:
        raise ValueError(f"not a DE-SynPUF file name: {name!r}")
    if m["year"]:
        return FileSpec(Kind.BENEFICIARY, int(m["bsample"]), year=int(m["year"]))
    if m["middle"]:
        return FileSpec(_MIDDLE_KIND[m["middle"].lower()], int(m["csample"]))
    return FileSpec(Kind.CARRIER, int(m["rsample"]), part=m["part"].upper())


def files_for_sample(sample: int) -> list[FileSpec]:
    """The 8 files of one sample, in a stable order."""
    specs = [FileSpec(Kind.BENEFICIARY, sample, year=y) for y in YEARS]
    specs += [FileSpec(Kind.INPATIENT, sample), FileSpec(Kind.OUTPATIENT, sample)]
    specs += [FileSpec(Kind.CARRIER, sample, part=p) for p in CARRIER_PARTS]
    specs.append(FileSpec(Kind.PDE, sample))
    return specs


def catalog() -> list[FileSpec]:
    """All 160 files: 8 for each of the 20 samples."""
    return [f for s in SAMPLES for f in files_for_sample(s)]


def partition_key(sample: int) -> str:
    """Dagster partition key for a sample: ``sample_01`` .. ``sample_20``."""
    return f"sample_{sample:02d}"


def sample_of_partition(key: str) -> int:
    """Inverse of :func:`partition_key`, with a clear error for foreign keys."""
    m = re.fullmatch(r"sample_(\d{2})", key)
    if not m or int(m[1]) not in SAMPLES:
        raise ValueError(f"not a CMS sample partition key: {key!r} (expected sample_01 .. sample_20)")
    return int(m[1])


#: Files whose zip holds ``"<base> - Copy.csv"`` in the mirror and the generator (the real site has a few such).
COPY_MEMBER_FILES = frozenset(
    {FileSpec(Kind.INPATIENT, 2), FileSpec(Kind.BENEFICIARY, 3, year=2009), FileSpec(Kind.PDE, 5)}
)


#: Files the mirror and the generator compress with Deflate64 (zip method 9): Sample 11's carrier A, which
#: downloaders report must be unzipped by hand (Windows' compressor and 7-Zip use Deflate64 for large files).
DEFLATE64_FILES = frozenset({FileSpec(Kind.CARRIER, 11, part="A")})


def member_name(spec: FileSpec, quirks: bool = True) -> str:
    """The CSV member name inside the zip, with the ``" - Copy"`` quirk where CMS has it."""
    return f"{spec.base} - Copy.csv" if quirks and spec in COPY_MEMBER_FILES else spec.csv_name
