"""Zip safety: names, bombs, lies about sizes, damage and truncation are all refused with the zip named."""

from __future__ import annotations

import io
import zipfile
import zlib
from pathlib import Path

import pytest

from cms_assets.lib.ingest.zipfiles import CorruptZipError, open_member, verify_zip
from cms_assets.lib.synpuf.names import FileSpec, member_name
from cms_assets.lib.synpuf.tables import Kind
from cms_assets_tests.lib.ingest_data import patch_declared_size, write_zip

SPEC = FileSpec(Kind.PDE, 5)
BODY = b'"DESYNPUF_ID","PDE_ID"\n' + b"".join(b"%016X,%d\n" % (i, 10**14 + i) for i in range(20000))


@pytest.mark.parametrize("compression", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED])
def test_good_zip_reports_member_and_streams_exact_bytes(tmp_path: Path, compression: int) -> None:
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY, compression)
    member = verify_zip(path, SPEC)
    assert (member.name, member.file_size, member.crc) == (SPEC.csv_name, len(BODY), zlib.crc32(BODY))
    got, stream = open_member(path, SPEC)
    with stream:
        assert stream.readline() == b'"DESYNPUF_ID","PDE_ID"\n'
        assert stream.read() == BODY.split(b"\n", 1)[1]
    assert got == member


def test_copy_member_name_is_accepted(tmp_path: Path) -> None:
    assert member_name(SPEC).endswith(" - Copy.csv")
    path = write_zip(tmp_path / SPEC.zip_name, member_name(SPEC), BODY)
    assert verify_zip(path, SPEC).name == f"{SPEC.base} - Copy.csv"


def test_file_objects_are_accepted(tmp_path: Path) -> None:
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    with open(path, "rb") as f:
        assert verify_zip(f, SPEC).file_size == len(BODY)
    assert verify_zip(io.BytesIO(path.read_bytes())).file_size == len(BODY)


@pytest.mark.parametrize(
    ("member", "problem"),
    [
        ("../x.csv", "unsafe member name"),
        ("/etc/x.csv", "unsafe member name"),
        ("dir/x.csv", "unsafe member name"),
        ("..\\x.csv", "unsafe member name"),
        ("DE1_0_2008_to_2010_Prescription_Drug_Events_Sample_5.txt", "not a CSV"),
        ("DE1_0_2008_to_2010_Prescription_Drug_Events_Sample_6.csv", "is not"),
    ],
)
def test_bad_member_names_are_refused(tmp_path: Path, member: str, problem: str) -> None:
    path = write_zip(tmp_path / SPEC.zip_name, member, BODY)
    with pytest.raises(CorruptZipError, match=problem) as e:
        verify_zip(path, SPEC)
    assert SPEC.zip_name in str(e.value)


def test_exactly_one_member(tmp_path: Path) -> None:
    path = tmp_path / SPEC.zip_name
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(SPEC.csv_name, BODY)
        z.writestr("extra.csv", b"x")
    with pytest.raises(CorruptZipError, match=r"exactly one member, found 2") as e:
        verify_zip(path, SPEC)
    assert SPEC.zip_name in str(e.value)
    empty = tmp_path / "empty.zip"
    zipfile.ZipFile(empty, "w").close()
    with pytest.raises(CorruptZipError, match="found 0"):
        verify_zip(empty)


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / SPEC.zip_name
    path.write_bytes(b"<html>Page not found</html>")
    with pytest.raises(CorruptZipError, match="not a readable zip") as e:
        verify_zip(path, SPEC)
    assert str(path) in str(e.value)


def test_damaged_data_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptZipError) as e:
        verify_zip(path, SPEC)
    assert SPEC.zip_name in str(e.value) and SPEC.csv_name in str(e.value)


def test_stored_member_crc_mismatch(tmp_path: Path) -> None:
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY, zipfile.ZIP_STORED)
    data = path.read_bytes()
    at = data.index(b",1") + 1
    path.write_bytes(data[:at] + b"2" + data[at + 1 :])  # one digit changed, sizes intact
    with pytest.raises(CorruptZipError, match="CRC mismatch"):
        verify_zip(path, SPEC)


def test_truncated_download_is_refused(tmp_path: Path) -> None:
    """A download cut short keeps the local header but loses the data and the central directory."""
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CorruptZipError, match=SPEC.zip_name):
        verify_zip(path, SPEC)


def test_zip_bomb_over_ratio_is_refused_before_inflating(tmp_path: Path) -> None:
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, b"0" * 5_000_000)
    with pytest.raises(CorruptZipError, match="zip bomb") as e:
        verify_zip(path, SPEC)
    assert SPEC.zip_name in str(e.value)
    assert verify_zip(path, SPEC, max_ratio=10_000).file_size == 5_000_000


def test_entry_larger_than_declared_is_refused(tmp_path: Path) -> None:
    """Headers claim 100 bytes (with the CRC of those 100 bytes) but the entry inflates to all of BODY."""
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    patch_declared_size(path, 100, zlib.crc32(BODY[:100]))
    with zipfile.ZipFile(path) as z:  # the standard library is fooled: it silently returns the first 100 bytes
        assert z.read(SPEC.csv_name) == BODY[:100]
    with pytest.raises(CorruptZipError, match="more than the declared 100 bytes") as e:
        verify_zip(path, SPEC, max_ratio=1e9)
    assert SPEC.zip_name in str(e.value)


def test_entry_smaller_than_declared_is_refused(tmp_path: Path) -> None:
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    patch_declared_size(path, len(BODY) + 10)
    with pytest.raises(CorruptZipError, match=rf"truncated: read {len(BODY)} of {len(BODY) + 10}"):
        verify_zip(path, SPEC)


def test_stream_raises_while_reading(tmp_path: Path) -> None:
    """open_member itself succeeds on a lying zip; the error comes from reading, before extra bytes escape."""
    path = write_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    patch_declared_size(path, 1000, zlib.crc32(BODY[:1000]))
    member, stream = open_member(path, SPEC, max_ratio=1e9)
    assert member.file_size == 1000
    with stream, pytest.raises(CorruptZipError, match="more than the declared"):
        while stream.read(64):
            pass


def write_deflate64_zip(path: Path, member: str, chunks: list[bytes] | bytes) -> Path:
    """A Deflate64 (method 9) zip through the generator's writer, which Info-ZIP's unzip reads (test_generate_...)."""
    from cms_assets.sim.generate.writer import Deflate64Member

    zm = Deflate64Member(open(path, "wb"), member)
    for chunk in [chunks] if isinstance(chunks, bytes) else chunks:
        zm.write(chunk)
    zm.close()
    return path


def test_deflate64_member_streams_exact_bytes(tmp_path: Path) -> None:
    path = write_deflate64_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    assert zipfile.ZipFile(path).infolist()[0].compress_type == 9  # what Python's zipfile cannot read
    with pytest.raises(NotImplementedError):
        zipfile.ZipFile(path).read(SPEC.csv_name)
    member = verify_zip(path, SPEC)
    assert (member.file_size, member.crc) == (len(BODY), zlib.crc32(BODY))
    _, stream = open_member(path, SPEC)
    with stream:
        assert stream.read() == BODY


def test_deflate64_damage_is_refused_with_the_zip_named(tmp_path: Path) -> None:
    path = write_deflate64_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, BODY)
    data = bytearray(path.read_bytes())
    data[len(data) // 3] ^= 0x55
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptZipError, match=rf"{SPEC.zip_name}!{SPEC.csv_name}: .*(damaged|truncated|CRC)"):
        verify_zip(path, SPEC)


def test_deflate64_reads_with_bounded_memory(tmp_path: Path) -> None:
    """160 MiB of CSV inflate through a few MiB of Python memory: the member is never held whole."""
    import tracemalloc

    line = b"0001FDD721E223DC,100000000000001,20080101,00058251515,120.000,30,10.00,120.00\n"
    block = line * (1 << 20 // len(line) + 1)
    path = write_deflate64_zip(tmp_path / SPEC.zip_name, SPEC.csv_name, [block] * 160)
    tracemalloc.start()
    try:
        member, stream = open_member(path, SPEC, max_ratio=5000)
        with stream:
            total = 0
            while chunk := stream.read(1 << 20):
                total += len(chunk)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert total == member.file_size == 160 * len(block)
    assert peak < 24 << 20, f"peak {peak / 2**20:.1f} MiB"
