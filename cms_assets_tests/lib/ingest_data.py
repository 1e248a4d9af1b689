"""Hand-made CMS CSVs and zips for ingest tests: exact CMS format, with values chosen to catch type mistakes."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from cms_assets.lib.synpuf.columns import DATE, MONEY
from cms_assets.lib.synpuf.names import FileSpec, files_for_sample
from cms_assets.lib.synpuf.tables import Kind, TableSpec

BENE_A = "00013D2EFD8E45D1"
BENE_B = "0001FDD721E223DC"


def default_value(name: str, dtype: pa.DataType) -> str:
    """A valid CMS value for a column, by type (flags 1/2, codes as strings, dates YYYYMMDD)."""
    if name == "BENE_ESRD_IND":
        return "0"
    if name == "SP_STATE_CODE":
        return "03"  # codes keep CMS's padding
    if name == "BENE_COUNTY_CD":
        return "090"
    if name == "PLAN_CVRG_MOS_NUM":
        return "06"
    if dtype == DATE:
        return "" if name == "BENE_DEATH_DT" else "20080101"
    if dtype == MONEY:
        return "10.00"
    if pa.types.is_integer(dtype):
        return "12" if name.endswith("_MONS") else "1"
    if name == "QTY_DSPNSD_NUM":
        return "120.000"
    return ""


def row(table: TableSpec, **values: str) -> list[str]:
    """One CSV row for ``table`` with defaults for every column not given."""
    unknown = set(values) - set(table.csv_columns)
    assert not unknown, f"not columns of {table.name}: {unknown}"
    return [values.get(n, default_value(n, t)) for n, t in table.csv_types.items()]


def csv_bytes(
    header: Sequence[str], rows: Sequence[Sequence[str]], eol: str = "\n", bom: bool = False, quote: bool = True
) -> bytes:
    """CMS layout: quoted header, unquoted comma-separated values, LF (or CRLF) line ends."""
    head = ",".join(f'"{h}"' if quote else h for h in header)
    lines = [head] + [",".join(r) for r in rows]
    text = eol.join(lines) + eol
    return (b"\xef\xbb\xbf" if bom else b"") + text.encode()


def write_zip(path: Path, member: str, data: bytes, compression: int = zipfile.ZIP_DEFLATED) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression) as z:
        z.writestr(member, data)
    return path


def write_file(directory: Path, spec: FileSpec, rows: Sequence[Sequence[str]], **csv_kw) -> Path:
    """Write ``spec``'s zip (named as CMS does) holding ``<base>.csv`` with ``rows``."""
    data = csv_bytes(spec.table.csv_columns, rows, **csv_kw)
    return write_zip(directory / spec.zip_name, spec.csv_name, data)


def sample_files(
    directory: Path, sample: int, rows: Mapping[str, Sequence[Sequence[str]]]
) -> list[tuple[FileSpec, Path]]:
    """All 8 zips of a sample; ``rows`` maps a FileSpec key (``beneficiary_2008``, ``carrier_A``...) to rows."""
    return [(spec, write_file(directory, spec, rows.get(spec.key, []))) for spec in files_for_sample(sample)]


def sources_for(files: list[tuple[FileSpec, Path]], kind: Kind) -> list[tuple[FileSpec, Path]]:
    return [(spec, path) for spec, path in files if spec.kind is kind]


def patch_declared_size(path: Path, new_size: int, new_crc: int | None = None) -> None:
    """Rewrite the single member's uncompressed size (and CRC) in both the local and the central header."""
    data = bytearray(path.read_bytes())
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    for offset, size_at, crc_at in ((local, 22, 14), (central, 24, 16)):
        data[offset + size_at : offset + size_at + 4] = new_size.to_bytes(4, "little")
        if new_crc is not None:
            data[offset + crc_at : offset + crc_at + 4] = new_crc.to_bytes(4, "little")
    path.write_bytes(bytes(data))
