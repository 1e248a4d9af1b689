"""CSV -> Parquet conversion: exact types and values, every row kept, and every fault a clear error with no output."""

from __future__ import annotations

import datetime as dt
import zipfile
import zlib
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from cms_assets.lib.ingest.convert import ConvertResult, IngestError, convert_table
from cms_assets.lib.storage import Storage
from cms_assets.lib.synpuf.names import FileSpec, files_for_sample
from cms_assets.lib.synpuf.tables import TABLES, Kind, TableSpec
from cms_assets.sim.generate import generate_sample
from cms_assets_tests.lib.ingest_data import (
    BENE_A,
    BENE_B,
    csv_bytes,
    patch_declared_size,
    row,
    write_file,
    write_zip,
)

BENE = TABLES[Kind.BENEFICIARY]
INP = TABLES[Kind.INPATIENT]
CAR = TABLES[Kind.CARRIER]
PDE = TABLES[Kind.PDE]
PDE_SPEC = FileSpec(Kind.PDE, 1)


def _convert(table: TableSpec, sources: list, out: Path, sample: int = 1, **kw) -> ConvertResult:
    return convert_table(table, sources, sample, out, **kw)


def _fails(table: TableSpec, sources: list, out: Path, *fragments: str) -> str:
    """Assert conversion fails with every fragment in the message and leaves nothing in the output folder."""
    with pytest.raises(IngestError) as e:
        _convert(table, sources, out)
    message = str(e.value)
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"
    assert not out.exists()
    assert [p.name for p in out.parent.iterdir()] == [] if out.parent.exists() else True
    return message


def _csv_rows(path: Path) -> int:
    with zipfile.ZipFile(path) as z, z.open(z.infolist()[0]) as f:
        return sum(1 for _ in f) - 1


def test_generated_sample_converts_every_row_with_exact_schema(tmp_path: Path) -> None:
    paths = generate_sample(tmp_path / "raw", 3, scale=0.001, seed=7)
    specs = files_for_sample(3)
    for kind, table in TABLES.items():
        sources = [(s, p) for s, p in zip(specs, paths, strict=True) if s.kind is kind]
        out = tmp_path / "out" / table.name / "part-0.parquet"
        result = _convert(table, sources, out, sample=3)
        expected = {s.zip_name: _csv_rows(p) for s, p in sources}
        assert result.rows_per_file == expected and result.rows == sum(expected.values()) > 0
        assert result.bytes_in == sum(zipfile.ZipFile(p).infolist()[0].file_size for _, p in sources)
        assert result.bytes_out == out.stat().st_size
        got = pq.read_table(out)
        assert got.schema.equals(table.schema), table.name
        assert got.num_rows == result.rows
        assert set(got.column("sample").to_pylist()) == {3}
        if kind is Kind.BENEFICIARY:
            years = got.column("YEAR").to_pylist()
            assert {y: years.count(y) for y in set(years)} == {s.year: expected[s.zip_name] for s, _ in sources}
        assert pq.ParquetFile(out).metadata.row_group(0).column(0).compression == "ZSTD"


def test_values_survive_exactly(tmp_path: Path) -> None:
    rows = [
        row(
            PDE,
            DESYNPUF_ID=BENE_A,
            PDE_ID="0089012345678901",
            SRVC_DT="20080229",
            PROD_SRVC_ID="00002996906",
            QTY_DSPNSD_NUM="2.5",
            DAYS_SUPLY_NUM="",
            PTNT_PAY_AMT="-10.00",
            TOT_RX_CST_AMT="3620.00",
        ),
        row(PDE, DESYNPUF_ID=BENE_B, PDE_ID="1", SRVC_DT="", PROD_SRVC_ID="", PTNT_PAY_AMT="", TOT_RX_CST_AMT="0.00"),
    ]
    out = tmp_path / "pde.parquet"
    _convert(PDE, [(PDE_SPEC, write_file(tmp_path, PDE_SPEC, rows))], out)
    got = pq.read_table(out).to_pylist()
    assert got[0] == {
        "DESYNPUF_ID": BENE_A,
        "PDE_ID": "0089012345678901",
        "SRVC_DT": dt.date(2008, 2, 29),
        "PROD_SRVC_ID": "00002996906",
        "QTY_DSPNSD_NUM": 2.5,
        "DAYS_SUPLY_NUM": None,
        "PTNT_PAY_AMT": Decimal("-10.00"),
        "TOT_RX_CST_AMT": Decimal("3620.00"),
        "sample": 1,
    }
    assert (got[1]["SRVC_DT"], got[1]["PROD_SRVC_ID"], got[1]["PTNT_PAY_AMT"]) == (None, None, None)


def test_codes_keep_leading_zeros_and_empty_codes_are_null(tmp_path: Path) -> None:
    spec = FileSpec(Kind.INPATIENT, 1)
    rows = [
        row(INP, DESYNPUF_ID=BENE_A, CLM_ID="00123", PRVDR_NUM="0506GC", ICD9_DGNS_CD_1="0389",
            ICD9_DGNS_CD_2="V5869", CLM_DRG_CD="000", AT_PHYSN_NPI="0123456789", NCH_BENE_DSCHRG_DT="20101231"),
        row(INP, DESYNPUF_ID=BENE_A, CLM_ID="00123", SEGMENT="2", CLM_FROM_DT="", CLM_THRU_DT="", CLM_DRG_CD="OTH"),
    ]  # fmt: skip
    out = tmp_path / "inp.parquet"
    _convert(INP, [(spec, write_file(tmp_path, spec, rows))], out)
    first, second = pq.read_table(out).to_pylist()
    assert (first["CLM_ID"], first["PRVDR_NUM"], first["AT_PHYSN_NPI"]) == ("00123", "0506GC", "0123456789")
    assert (first["ICD9_DGNS_CD_1"], first["ICD9_DGNS_CD_2"], first["CLM_DRG_CD"]) == ("0389", "V5869", "000")
    assert first["ICD9_DGNS_CD_3"] is None and first["HCPCS_CD_1"] is None
    assert first["NCH_BENE_DSCHRG_DT"] == dt.date(2010, 12, 31)
    assert (second["SEGMENT"], second["CLM_FROM_DT"], second["CLM_DRG_CD"]) == (2, None, "OTH")


def test_crlf_bom_and_unquoted_header_are_accepted(tmp_path: Path) -> None:
    data = csv_bytes(PDE.csv_columns, [row(PDE, DESYNPUF_ID=BENE_A)] * 3, eol="\r\n", bom=True, quote=False)
    path = write_zip(tmp_path / PDE_SPEC.zip_name, PDE_SPEC.csv_name, data)
    result = _convert(PDE, [(PDE_SPEC, path)], tmp_path / "pde.parquet")
    assert result.rows == 3
    assert pq.read_table(tmp_path / "pde.parquet").column("DESYNPUF_ID").to_pylist() == [BENE_A] * 3


def test_beneficiary_gets_year_from_each_file(tmp_path: Path) -> None:
    sources = []
    for n, year in enumerate((2008, 2009, 2010), start=1):
        spec = FileSpec(Kind.BENEFICIARY, 1, year=year)
        rows = [row(BENE, DESYNPUF_ID=f"{i:016X}", BENE_BIRTH_DT="19230501") for i in range(n)]
        sources.append((spec, write_file(tmp_path, spec, rows)))
    out = tmp_path / "bene.parquet"
    result = _convert(BENE, list(reversed(sources)), out)
    assert result.rows == 6 and list(result.rows_per_file.values()) == [1, 2, 3]
    got = pq.read_table(out)
    assert got.column("YEAR").to_pylist() == [2008, 2009, 2009, 2010, 2010, 2010]
    assert got.column("BENE_BIRTH_DT").to_pylist()[0] == dt.date(1923, 5, 1)
    assert got.column("BENE_DEATH_DT").null_count == 6


def test_carrier_a_and_b_go_into_one_table(tmp_path: Path) -> None:
    a, b = (FileSpec(Kind.CARRIER, 1, part=p) for p in "AB")
    pa_ = write_file(tmp_path, a, [row(CAR, DESYNPUF_ID=BENE_A, CLM_ID=str(i)) for i in range(4)])
    pb = write_file(tmp_path, b, [row(CAR, DESYNPUF_ID=BENE_B, CLM_ID=str(10 + i)) for i in range(3)])
    out = tmp_path / "carrier.parquet"
    result = _convert(CAR, [(b, pb), (a, pa_)], out)
    assert result.rows_per_file == {a.zip_name: 4, b.zip_name: 3}
    assert pq.read_table(out).column("DESYNPUF_ID").to_pylist() == [BENE_A] * 4 + [BENE_B] * 3
    with pytest.raises(IngestError, match=r"needs files \['carrier_A', 'carrier_B'\]"):
        _convert(CAR, [(a, pa_)], tmp_path / "x.parquet")


def test_streams_in_blocks_and_reruns_idempotently(tmp_path: Path) -> None:
    rows = [row(PDE, DESYNPUF_ID=f"{i:016X}", PDE_ID=str(i)) for i in range(5000)]
    path = write_file(tmp_path, PDE_SPEC, rows)
    out = tmp_path / "pde.parquet"
    first = _convert(PDE, [(PDE_SPEC, path)], out, block_size=16 << 10)
    assert pq.ParquetFile(out).metadata.num_row_groups > 1  # many batches, one file
    before = pq.read_table(out)
    second = _convert(PDE, [(PDE_SPEC, path)], out, block_size=16 << 10)
    assert first.rows == second.rows == 5000 and pq.read_table(out).equals(before)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, out.name])


def test_converts_from_storage_streams(storage: Storage, tmp_path: Path) -> None:
    path = write_file(tmp_path / "zips", PDE_SPEC, [row(PDE, DESYNPUF_ID=BENE_A)] * 7)
    storage.put_file(path, "raw/sample=01/x.zip")
    with storage.open_read("raw/sample=01/x.zip") as f:
        assert _convert(PDE, [(PDE_SPEC, f)], tmp_path / "pde.parquet").rows == 7


# ---- faults: each a clear error naming the file (and field), nothing written ----


def test_header_missing_extra_and_reordered_columns(tmp_path: Path) -> None:
    cols = PDE.csv_columns
    cases = {
        "missing columns ['DAYS_SUPLY_NUM']": [c for c in cols if c != "DAYS_SUPLY_NUM"],
        "unexpected columns ['EXTRA']": [*cols, "EXTRA"],
        "position 3 is 'PROD_SRVC_ID', expected 'SRVC_DT'": [cols[0], cols[1], cols[3], cols[2], *cols[4:]],
    }
    for fragment, header in cases.items():
        path = write_zip(tmp_path / "in" / PDE_SPEC.zip_name, PDE_SPEC.csv_name, csv_bytes(header, []))
        _fails(PDE, [(PDE_SPEC, path)], tmp_path / "out" / "pde.parquet", PDE_SPEC.zip_name, fragment)


def test_empty_member(tmp_path: Path) -> None:
    path = write_zip(tmp_path / "in" / PDE_SPEC.zip_name, PDE_SPEC.csv_name, b"")
    _fails(PDE, [(PDE_SPEC, path)], tmp_path / "out" / "p.parquet", PDE_SPEC.zip_name, "no header")


@pytest.mark.parametrize(
    ("column", "value", "fragment"),
    [
        ("SRVC_DT", "20080230", "invalid date '20080230'"),
        ("SRVC_DT", "2008-01-01", "'2008-01-01'"),
        ("DAYS_SUPLY_NUM", "x", "'x'"),
        ("DAYS_SUPLY_NUM", "99999", "'99999'"),
        ("TOT_RX_CST_AMT", "12.345", "'12.345'"),
    ],
)
def test_bad_values_name_file_line_and_column(tmp_path: Path, column: str, value: str, fragment: str) -> None:
    rows = [row(PDE, DESYNPUF_ID=BENE_A) for _ in range(5)]
    rows[3] = row(PDE, DESYNPUF_ID=BENE_A, **{column: value})
    path = write_file(tmp_path / "in", PDE_SPEC, rows)
    _fails(PDE, [(PDE_SPEC, path)], tmp_path / "out" / "p.parquet", PDE_SPEC.csv_name, column, "line 5", fragment)


def test_last_line_with_too_few_fields(tmp_path: Path) -> None:
    good = csv_bytes(PDE.csv_columns, [row(PDE, DESYNPUF_ID=BENE_A)] * 4)
    path = write_zip(tmp_path / "in" / PDE_SPEC.zip_name, PDE_SPEC.csv_name, good + BENE_A.encode() + b",123\n")
    _fails(PDE, [(PDE_SPEC, path)], tmp_path / "out" / "p.parquet", PDE_SPEC.csv_name, "line 6", "Expected 8 columns")


def test_member_cut_short(tmp_path: Path) -> None:
    data = csv_bytes(PDE.csv_columns, [row(PDE, DESYNPUF_ID=BENE_A)] * 50)
    path = write_zip(tmp_path / "in" / PDE_SPEC.zip_name, PDE_SPEC.csv_name, data)
    patch_declared_size(path, len(data) + 100)
    _fails(PDE, [(PDE_SPEC, path)], tmp_path / "out" / "p.parquet", PDE_SPEC.zip_name, "truncated")


def test_entry_larger_than_declared(tmp_path: Path) -> None:
    data = csv_bytes(PDE.csv_columns, [row(PDE, DESYNPUF_ID=BENE_A)] * 500)
    path = write_zip(tmp_path / "in" / PDE_SPEC.zip_name, PDE_SPEC.csv_name, data)
    patch_declared_size(path, len(data) // 2, zlib.crc32(data[: len(data) // 2]))
    _fails(PDE, [(PDE_SPEC, path)], tmp_path / "out" / "p.parquet", PDE_SPEC.zip_name, "more than the declared")


def test_zip_bomb_and_corrupt_zip_and_bad_member_name(tmp_path: Path) -> None:
    out = tmp_path / "out" / "p.parquet"
    header = csv_bytes(PDE.csv_columns, [])
    bomb = write_zip(tmp_path / "bomb" / PDE_SPEC.zip_name, PDE_SPEC.csv_name, header + b"\n" * 3_000_000)
    _fails(PDE, [(PDE_SPEC, bomb)], out, PDE_SPEC.zip_name, "zip bomb")
    corrupt = tmp_path / "corrupt" / PDE_SPEC.zip_name
    corrupt.parent.mkdir()
    corrupt.write_bytes(write_zip(tmp_path / "ok.zip", PDE_SPEC.csv_name, header).read_bytes()[:-30])
    _fails(PDE, [(PDE_SPEC, corrupt)], out, PDE_SPEC.zip_name, "not a readable zip")
    evil = write_zip(tmp_path / "evil" / PDE_SPEC.zip_name, "../x.csv", header)
    _fails(PDE, [(PDE_SPEC, evil)], out, PDE_SPEC.zip_name, "unsafe member name '../x.csv'")


def test_failure_keeps_the_previous_output(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    good = write_file(tmp_path / "good", PDE_SPEC, [row(PDE, DESYNPUF_ID=BENE_A)])
    _convert(PDE, [(PDE_SPEC, good)], out)
    before = out.read_bytes()
    bad = write_file(tmp_path / "bad", PDE_SPEC, [row(PDE, DESYNPUF_ID=BENE_A), row(PDE, SRVC_DT="20081301")])
    with pytest.raises(IngestError, match="SRVC_DT"):
        _convert(PDE, [(PDE_SPEC, bad)], out)
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad", "good", "p.parquet"]


def test_header_only_file_is_an_empty_table(tmp_path: Path) -> None:
    out = tmp_path / "p.parquet"
    result = _convert(PDE, [(PDE_SPEC, write_file(tmp_path / "in", PDE_SPEC, []))], out)
    assert result.rows == 0 and result.rows_per_file == {PDE_SPEC.zip_name: 0}
    got = pq.read_table(out)
    assert got.num_rows == 0 and got.schema.equals(PDE.schema)


def _as_csv_text(value: object, dtype: pa.DataType) -> str | None:
    """A Parquet value written back the way CMS writes it (dates YYYYMMDD, decimals at their scale)."""
    if value is None:
        return None
    if pa.types.is_date(dtype):
        return value.strftime("%Y%m%d")  # type: ignore[attr-defined]
    if pa.types.is_decimal(dtype):
        return f"{value:.{dtype.scale}f}"
    return str(value)


def test_generated_real_details_round_trip_exactly(tmp_path: Path) -> None:
    """Sample 11 as generated (padded codes, "0.00" slots, "120.000", 1024.00, repeated carrier rows, a Deflate64
    carrier A): every CSV field comes back from Parquet as the same text."""
    import io

    import pyarrow.csv as pacsv

    from cms_assets.lib.ingest.zipfiles import open_member

    paths = generate_sample(tmp_path / "raw", 11, scale=0.001, seed=1)
    specs = files_for_sample(11)
    assert zipfile.ZipFile(paths[5]).infolist()[0].compress_type == 9
    for kind, table in TABLES.items():
        sources = [(s, p) for s, p in zip(specs, paths, strict=True) if s.kind is kind]
        out = tmp_path / "out" / f"{table.name}.parquet"
        _convert(table, sources, out, sample=11)
        got = pq.read_table(out)
        texts = []
        for spec, path in sources:
            _, stream = open_member(path, spec)
            with stream:
                opts = pacsv.ConvertOptions(column_types=dict.fromkeys(table.csv_columns, pa.string()))
                texts.append(pacsv.read_csv(io.BytesIO(stream.read()), convert_options=opts))
        csv = pa.concat_tables(texts)
        assert got.num_rows == csv.num_rows
        for name, dtype in table.csv_types.items():
            want = [v or None for v in csv.column(name).to_pylist()]
            back = [_as_csv_text(v, dtype) for v in got.column(name).to_pylist()]
            assert back == want, f"{table.name}.{name}"


def test_invalid_utf8_names_the_line_and_the_column_by_name(tmp_path: Path) -> None:
    """pyarrow says "CSV column #3" (0-based, no line); the error must say line 5 (1-based, header = line 1) and
    PROD_SRVC_ID, and publish nothing."""
    rows = [row(PDE, DESYNPUF_ID=BENE_A, PDE_ID=str(i), PROD_SRVC_ID=f"0005825151{i}") for i in range(6)]
    data = csv_bytes(PDE.csv_columns, rows).replace(b",00058251513,", b",0005825\xe9513,")
    path = write_zip(tmp_path / "in" / PDE_SPEC.zip_name, PDE_SPEC.csv_name, data)
    out = tmp_path / "out" / "p.parquet"
    with pytest.raises(IngestError) as info:
        _convert(PDE, [(PDE_SPEC, path)], out)
    message = str(info.value)
    assert f"{PDE_SPEC.zip_name}!{PDE_SPEC.csv_name}: line 5, column 'PROD_SRVC_ID':" in message
    assert "0005825\\xe9513" in message and "not valid UTF-8" in message and "#3" not in message
    assert not out.exists() and not list(out.parent.glob("*.tmp"))


def test_full_disk_names_the_table_and_path_once(tmp_path: Path, tiny_disk: Path) -> None:
    rows = [row(PDE, DESYNPUF_ID=BENE_A, PDE_ID=str(i), PROD_SRVC_ID=f"{i:011d}") for i in range(20000)]
    path = write_file(tmp_path / "in", PDE_SPEC, rows)
    out = tiny_disk / "tables" / "p.parquet"
    with pytest.raises(IngestError) as info:
        _convert(PDE, [(PDE_SPEC, path)], out)
    message = str(info.value)
    assert message.startswith(f"prescription_drug_events sample 1: no space left on device writing {out.parent}/.")
    assert f"(for {out})" in message and message.lower().count("no space left") == 1 and "Errno" not in message
    assert list(out.parent.iterdir()) == []  # the temporary file is gone, nothing published
