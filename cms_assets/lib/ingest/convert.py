"""Stream CMS CSVs (inside their zips) into one typed, zstd-compressed Parquet file per (table, sample).

The zip member is inflated and checked as it is read (:mod:`.zipfiles`), the header is checked against the
codebook column list, and line-aligned chunks of ``block_size`` bytes are parsed by ``pyarrow.csv.read_csv``
with explicit types (on every core; a helper thread inflates and parses the next chunk while this one is
written) into one ``ParquetWriter``, a row group per chunk: memory depends on the block size, never on the
file size. Dates are read as int32 (YYYYMMDD) and turned into ``date32`` with numpy, which also rejects
impossible dates such as 20080230 that Arrow's strptime would silently roll over to March 1st.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from cms_assets.lib import layout
from cms_assets.lib.arrow_io import DiskFullError, write_parquet
from cms_assets.lib.ingest.zipfiles import CorruptZipError, open_member
from cms_assets.lib.storage import Storage, atomic_path
from cms_assets.lib.synpuf.columns import DATE
from cms_assets.lib.synpuf.names import FileSpec, files_for_sample
from cms_assets.lib.synpuf.tables import Kind, TableSpec

Source = str | Path | IO[bytes]
MAX_HEADER = 1 << 16
MIN_CHUNK = 1 << 20
_COLUMN_RE = re.compile(r"In CSV column #(\d+): ")


class IngestError(ValueError):
    """A CMS file that cannot be converted; the message names the file and, when known, line, column and value."""


@dataclass
class ConvertResult:
    table: str
    sample: int
    rows: int
    rows_per_file: dict[str, int] = field(default_factory=dict)
    bytes_in: int = 0  # uncompressed CSV bytes
    bytes_out: int = 0
    seconds: float = 0.0
    files: list[str] = field(default_factory=list)


def _source_label(source: Source, spec: FileSpec) -> str:
    if isinstance(source, (str, Path)):
        return str(source)
    return str(getattr(source, "name", None) or spec.zip_name)


@contextmanager
def _member_stream(source: Source, spec: FileSpec) -> Iterator[tuple[str, int, IO[bytes]]]:
    """Open the zip member from the start (rewinding a file object), yielding its label, size and stream."""
    if not isinstance(source, (str, Path)) and source.seekable():
        source.seek(0)
    label = _source_label(source, spec)
    try:
        member, stream = open_member(source, spec)
    except CorruptZipError as e:
        raise IngestError(str(e)) from e
    with stream:
        try:
            yield f"{label}!{member.name}", member.file_size, stream
        except CorruptZipError as e:
            raise IngestError(str(e)) from e


def read_header(stream: IO[bytes], label: str) -> list[str]:
    """The header's column names: UTF-8 (BOM allowed), CRLF or LF, names optionally double-quoted."""
    line = stream.readline(MAX_HEADER)
    if not line:
        raise IngestError(f"{label}: empty file, no header line")
    if not line.endswith(b"\n"):
        raise IngestError(f"{label}: header line missing its end of line (or longer than {MAX_HEADER} bytes)")
    try:
        text = line.decode("utf-8").removeprefix("\ufeff").rstrip("\r\n")
    except UnicodeDecodeError as e:
        raise IngestError(f"{label}: header is not UTF-8: {e}") from e
    return [name.strip().strip('"') for name in text.split(",")]


def check_header(got: list[str], expected: list[str], label: str) -> None:
    """Raise IngestError listing missing, unexpected or out-of-order columns."""
    if got == expected:
        return
    missing = [c for c in expected if c not in got]
    unexpected = [c for c in got if c not in expected]
    problems = []
    if missing:
        problems.append(f"missing columns {missing}")
    if unexpected:
        problems.append(f"unexpected columns {unexpected}")
    if not problems:
        i = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if a != b)
        problems.append(f"columns out of order: position {i + 1} is {got[i]!r}, expected {expected[i]!r}")
    raise IngestError(f"{label}: header does not match the codebook: {'; '.join(problems)}")


def _read_types(table: TableSpec) -> dict[str, pa.DataType]:
    return {n: (pa.int32() if t == DATE else t) for n, t in table.csv_types.items()}


def _csv_reader(stream: IO[bytes], columns: list[str], types: dict[str, pa.DataType], block_size: int):
    """A streaming reader, for the single-column second pass that locates a bad value."""
    return pacsv.open_csv(
        stream,
        read_options=pacsv.ReadOptions(column_names=columns, block_size=block_size, use_threads=True),
        parse_options=pacsv.ParseOptions(delimiter=","),
        convert_options=pacsv.ConvertOptions(
            column_types=types,
            include_columns=list(types),
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
        ),
    )


def yyyymmdd_to_date32(values: pa.Array) -> tuple[pa.Array, int | None]:
    """Turn int32 YYYYMMDD into date32; also return the index of the first impossible date (or None)."""
    v = pc.fill_null(values, 19700101).to_numpy(zero_copy_only=False).astype(np.int64)
    year, md = np.divmod(v, 10000)
    month, day = np.divmod(md, 100)
    months = ((year - 1970) * 12 + (month - 1)).astype("datetime64[M]")
    start = months.astype("datetime64[D]").astype(np.int64)
    length = (months + 1).astype("datetime64[D]").astype(np.int64) - start
    ok = (year >= 1000) & (year <= 9999) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= length)
    if not ok.all():
        return values, int(np.argmin(ok))
    days = (start + day - 1).astype(np.int32)
    mask = values.is_null().to_numpy(zero_copy_only=False) if values.null_count else None
    return pa.array(days, type=pa.date32(), mask=mask), None


class _Converter:
    """Per-file conversion state: the label, the output schema and the rows written so far."""

    def __init__(self, table: TableSpec, spec: FileSpec, sample: int, label: str) -> None:
        self.table = table
        self.spec = spec
        self.sample = sample
        self.label = label
        self.rows = 0
        self.date_positions = [i for i, t in enumerate(table.csv_types.values()) if t == DATE]

    def convert(self, chunk: pa.Table) -> pa.Table:
        """Typed CSV columns -> the Parquet schema: dates checked and converted, YEAR and sample added."""
        arrays: list[pa.ChunkedArray] = list(chunk.columns)
        for i in self.date_positions:
            dates, bad = yyyymmdd_to_date32(chunk.column(i).combine_chunks())
            if bad is not None:
                column = self.table.csv_columns[i]
                raise IngestError(
                    f"{self.label}: line {self.rows + bad + 2}, column {column!r}: invalid date "
                    f"'{chunk.column(i)[bad].as_py()}' (expected a real YYYYMMDD date)"
                )
            arrays[i] = pa.chunked_array([dates])
        n = chunk.num_rows
        if self.spec.kind is Kind.BENEFICIARY:
            arrays.append(pa.chunked_array([np.full(n, self.spec.year, np.int16)], type=pa.int16()))
        arrays.append(pa.chunked_array([np.full(n, self.sample, np.int16)], type=pa.int16()))
        self.rows += n
        return pa.Table.from_arrays(arrays, schema=self.table.schema)


def _line_chunks(stream: IO[bytes], block_size: int, label: str) -> Iterator[bytes]:
    """Whole lines, about ``block_size`` bytes at a time (the last chunk may lack its final newline)."""
    carry = b""
    while True:
        data = stream.read(block_size)
        if not data:
            if carry:
                yield carry
            return
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            carry += data
            if len(carry) > 4 * block_size:
                raise IngestError(f"{label}: a line longer than {4 * block_size} bytes: not a CMS CSV")
            continue
        yield carry + data[:cut]
        carry = data[cut:]


def refuse_nul(chunk: bytes, first_line: int, table: TableSpec, label: str) -> None:
    """Refuse a NUL byte anywhere in a chunk of whole lines, naming line, column and value: Arrow and Parquet keep
    it, but PostgreSQL rejects NUL in text, so it would fail the warehouse load later, far from its cause."""
    pos = chunk.find(b"\x00")
    if pos < 0:
        return
    start = chunk.rfind(b"\n", 0, pos) + 1
    end = chunk.find(b"\n", pos)
    line = chunk[start : len(chunk) if end < 0 else end].rstrip(b"\r")
    index = chunk.count(b",", start, pos)
    column = table.csv_columns[index] if index < len(table.csv_columns) else f"#{index + 1}"
    value = line.split(b",")[index]
    number = first_line + chunk.count(b"\n", 0, start)
    raise IngestError(
        f"{label}: line {number}, column {column!r}: value {value!r} holds a NUL "
        "byte (\\x00), which no CMS field has and PostgreSQL refuses in text: the file is damaged; nothing published"
    )


def _typed_chunks(stream: IO[bytes], table: TableSpec, block_size: int, label: str) -> Iterator[pa.Table]:
    """Parse line-aligned chunks with ``read_csv``, which splits each chunk over all cores (the streaming
    reader parses one block at a time, about three times slower); memory stays bounded by the chunk size."""
    read_options = pacsv.ReadOptions(
        column_names=table.csv_columns, block_size=max(min(block_size, MIN_CHUNK // 4), block_size // 4)
    )
    convert_options = pacsv.ConvertOptions(
        column_types=_read_types(table), null_values=[""], strings_can_be_null=True, quoted_strings_can_be_null=True
    )
    chunks = _line_chunks(stream, block_size, label)
    first_line = 2  # of the next chunk (the header is line 1)

    def parse_next() -> pa.Table | None:
        nonlocal first_line
        chunk = next(chunks, None)
        if chunk is None:
            return None
        refuse_nul(chunk, first_line, table, label)
        parsed = pacsv.read_csv(pa.BufferReader(chunk), read_options=read_options, convert_options=convert_options)
        first_line += parsed.num_rows  # one line a row (CMS files have no blank or multi-line records)
        return parsed

    # Inflate and parse the next chunk (zlib and Arrow release the GIL) while the caller writes this one.
    with ThreadPoolExecutor(1, thread_name_prefix="cms-csv") as pool:
        pending = pool.submit(parse_next)
        while (parsed := pending.result()) is not None:
            pending = pool.submit(parse_next)
            yield parsed


def _expected_sources(table: TableSpec, sources: list[tuple[FileSpec, Source]], sample: int) -> None:
    expected = sorted(s.key for s in files_for_sample(sample) if s.kind is table.kind)
    got = sorted(spec.key for spec, _ in sources)
    wrong = [spec.zip_name for spec, _ in sources if spec.sample != sample or spec.kind is not table.kind]
    if wrong or got != expected:
        raise IngestError(
            f"{table.name} sample {sample}: needs files {expected}, got {got}"
            + (f"; foreign files {wrong}" if wrong else "")
        )


def _locate_bad_value(source: Source, table: TableSpec, spec: FileSpec, column: str) -> tuple[int, str] | None:
    """Find the first line whose ``column`` does not convert (a second, single-column pass: error path only)."""
    target = _read_types(table)[column]
    with _member_stream(source, spec) as (label, _, stream):
        read_header(stream, label)
        reader = _csv_reader(stream, table.csv_columns, {column: pa.string()}, 1 << 20)
        line = 2
        for batch in reader:
            values = batch.column(0)
            try:
                pc.cast(values, target)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                for i in range(len(values)):
                    try:
                        pc.cast(values.slice(i, 1), target)
                    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                        return line + i, values[i].as_py()
            line += batch.num_rows
    return None


def _locate_short_line(source: Source, table: TableSpec, spec: FileSpec) -> int | None:
    """Find the first line whose field count differs from the header's (error path only)."""
    commas = len(table.csv_columns) - 1
    with _member_stream(source, spec) as (_, _, stream):
        for number, line in enumerate(stream, start=1):
            if line.rstrip(b"\r\n").count(b",") != commas:
                return number
    return None


def _locate_bad_utf8(source: Source, table: TableSpec, spec: FileSpec) -> tuple[int, str, bytes] | None:
    """The first (1-based line, column name, field bytes) that is not UTF-8 (error path only)."""
    with _member_stream(source, spec) as (_, _, stream):
        for number, line in enumerate(stream, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                fields = line.rstrip(b"\r\n").split(b",")
                for name, field in zip(table.csv_columns, fields, strict=False):
                    try:
                        field.decode("utf-8")
                    except UnicodeDecodeError:
                        return number, name, field
                return number, "?", line
    return None


def _explain(e: pa.ArrowInvalid, source: Source, table: TableSpec, spec: FileSpec, label: str) -> IngestError:
    """Turn a pyarrow CSV error into an IngestError naming the file, line (1-based, the header is line 1), column
    (by name; pyarrow numbers them from 0) and value."""
    message = str(e)
    try:
        m = _COLUMN_RE.search(message)
        if m and "invalid UTF8" in message:
            bad = _locate_bad_utf8(source, table, spec)
            if bad:
                return IngestError(f"{label}: line {bad[0]}, column {bad[1]!r}: value {bad[2]!r} is not valid UTF-8")
        if m:
            column = table.csv_columns[int(m[1])]
            try:
                found = _locate_bad_value(source, table, spec, column)
            except pa.ArrowInvalid:
                found = None
            where = f"line {found[0]}, column {column!r}, value {found[1]!r}" if found else f"column {column!r}"
            return IngestError(f"{label}: {where}: {_COLUMN_RE.sub('', message)}")
        if "CSV parse error" in message:
            line = _locate_short_line(source, table, spec)
            return IngestError(f"{label}: line {line}: {message}" if line else f"{label}: {message}")
    except (IngestError, pa.ArrowInvalid, OSError):
        pass  # the first error is the one to report
    return IngestError(f"{label}: {message}")


def _at_end(stream: IO[bytes]) -> bool:
    peek = getattr(stream, "peek", None)
    return not (peek(1) if peek else True)


def _convert_one(
    table: TableSpec, spec: FileSpec, source: Source, sample: int, result: ConvertResult, block_size: int
) -> Iterator[pa.Table]:
    """One CMS file's rows as row groups of about ``block_size`` CSV bytes each; counts go into ``result``."""
    with _member_stream(source, spec) as (label, size, stream):
        check_header(read_header(stream, label), table.csv_columns, label)
        conv = _Converter(table, spec, sample, label)
        try:
            if not _at_end(stream):  # a header-only file is a valid, empty table
                # Small files still get a few chunks, so inflating and parsing overlap; row groups stay
                # about block_size of CSV (fewer, larger groups write faster and read better).
                chunk_size = min(block_size, max(MIN_CHUNK, size // 4))
                group: list[pa.Table] = []
                with closing(_typed_chunks(stream, table, chunk_size, label)) as chunks:
                    for chunk in chunks:
                        group.append(conv.convert(chunk))
                        if len(group) * chunk_size >= block_size:
                            yield pa.concat_tables(group)
                            group.clear()
                if group:
                    yield pa.concat_tables(group)
        except CorruptZipError as e:
            raise IngestError(f"{label}: cut short or damaged after line {conv.rows + 1}: {e}") from e
        except pa.ArrowInvalid as e:
            raise _explain(e, source, table, spec, label) from e
    result.rows += conv.rows
    result.rows_per_file[spec.zip_name] = conv.rows
    result.bytes_in += size
    result.files.append(label)


def convert_batches(
    table: TableSpec, sources: list[tuple[FileSpec, Source]], sample: int, result: ConvertResult,
    block_size: int = 16 << 20,
) -> Iterator[pa.Table]:  # fmt: skip
    """The typed rows of one table and sample, streamed (memory: a few blocks); ``result`` is filled as they go."""
    _expected_sources(table, sources, sample)
    started = time.perf_counter()
    for spec, source in sorted(sources, key=lambda s: s[0]):
        yield from _convert_one(table, spec, source, sample, result, block_size)
    result.seconds = time.perf_counter() - started


def convert_table(
    table: TableSpec,
    sources: list[tuple[FileSpec, Source]],
    sample: int,
    out_path: Path,
    block_size: int = 16 << 20,
) -> ConvertResult:
    """Convert the CMS files of one table and sample into ``out_path`` (written atomically, nothing on error)."""
    out_path = Path(out_path)
    result = ConvertResult(table.name, sample, 0)
    try:
        with atomic_path(out_path) as staged:
            write_parquet(convert_batches(table, sources, sample, result, block_size), staged, table.schema)
    except DiskFullError as e:
        raise IngestError(f"{table.name} sample {sample}: {e.strerror} (for {out_path}); nothing published") from e
    result.bytes_out = out_path.stat().st_size
    return result


@contextmanager
def open_raw_zips(storage: Storage, kind: Kind, sample: int) -> Iterator[list[tuple[FileSpec, IO[bytes]]]]:
    """The downloaded zips of one table kind and sample, open for :func:`convert_batches`."""
    with ExitStack() as stack:
        yield [
            (f, stack.enter_context(storage.open_read(layout.raw_zip(sample, f.zip_name))))
            for f in files_for_sample(sample)
            if f.kind is kind
        ]


def raw_zip_uris(storage: Storage, kind: Kind, sample: int) -> list[str]:
    """Where those zips are, for messages."""
    return [storage.uri(layout.raw_zip(sample, f.zip_name)) for f in files_for_sample(sample) if f.kind is kind]
