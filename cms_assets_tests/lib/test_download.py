"""The resumable downloader against the mirror over real HTTP, into LocalStorage."""

from __future__ import annotations

import hashlib
import re
import threading
import time
from pathlib import Path

import pytest

from cms_assets.lib import layout
from cms_assets.lib.site.download import DownloadError, download_file, download_sample, read_manifest
from cms_assets.lib.site.scraper import CmsSite, RemoteFile
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.mirror import CmsMirror, FaultPlan
from cms_assets_tests.fixtures.site import write_bad_crc_zip, write_sample_zips, write_zip

SAMPLE = 4
PDE = FileSpec(Kind.PDE, SAMPLE)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """Sample 4's zips, PDE big enough (~70 KB) to be cut mid-body."""
    root = tmp_path / "site"
    write_sample_zips(root, SAMPLE)
    write_zip(root, PDE, rows=3000)
    return root


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "store")


def _files(mirror: CmsMirror) -> tuple[CmsSite, list[RemoteFile]]:
    site = CmsSite(mirror.landing_url, backoff=0.01)
    (page,) = site.samples()
    return site, site.files(page)


def _pde(files: list[RemoteFile]) -> RemoteFile:
    return next(f for f in files if f.spec == PDE)


def _key(spec: FileSpec) -> str:
    return layout.raw_zip(SAMPLE, spec.zip_name)


def test_full_download_equals_source_and_writes_manifest(root: Path, storage, tmp_path: Path, mirror_factory) -> None:
    mirror = mirror_factory(root)
    site, files = _files(mirror)
    messages: list[str] = []
    results = download_sample(site, files, storage, SAMPLE, tmp_path / "partial", log=messages.append)
    assert [r.spec for r in results] == names.files_for_sample(SAMPLE)
    manifest = read_manifest(storage, SAMPLE)
    for r in results:
        source = (root / r.spec.zip_name).read_bytes()
        assert storage.read_bytes(_key(r.spec)) == source
        assert (r.skipped, r.resumed, r.attempts, r.size) == (False, False, 1, len(source))
        entry = manifest["files"][r.spec.zip_name]
        assert entry["sha256"] == hashlib.sha256(source).hexdigest() == r.sha256
        assert entry["url"] == r.url and entry["etag"] == r.etag and entry["size"] == len(source)
    assert len(messages) == 8 and all("downloaded" in m for m in messages)
    assert list((tmp_path / "partial").iterdir()) == []  # no partials left behind
    site.close()


def test_dropped_connection_resumes_with_range(root: Path, storage, tmp_path: Path, mirror_factory) -> None:
    size = (root / PDE.zip_name).stat().st_size
    faults = FaultPlan(match=PDE.zip_name, drops=1, drop_after=size // 3)
    mirror = mirror_factory(root, faults=faults)
    site, files = _files(mirror)
    result = download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial", backoff=0.01)
    assert (result.resumed, result.attempts) == (True, 2)
    assert storage.read_bytes(_key(PDE)) == (root / PDE.zip_name).read_bytes()
    gets = mirror.hits_for(PDE.zip_name, "GET")
    assert [g.status for g in gets] == [200, 206]
    m = re.fullmatch(r"bytes=(\d+)-", gets[1].range or "")
    assert m and 0 < int(m[1]) <= size // 3, gets[1].range
    assert gets[1].if_range == result.etag


def test_read_timeout_resumes(root: Path, storage, tmp_path: Path, mirror_factory) -> None:
    faults = FaultPlan(match=PDE.zip_name, drops=1, drop_after=20_000, stall=1.5)
    mirror = mirror_factory(root, faults=faults)
    site, files = _files(mirror)
    site.timeout = 0.5
    result = download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial", backoff=0.01)
    assert result.resumed and storage.read_bytes(_key(PDE)) == (root / PDE.zip_name).read_bytes()


def test_unchanged_files_are_skipped_and_changed_ones_fetched(root: Path, storage, tmp_path: Path, mirror_factory):
    mirror = mirror_factory(root)
    site, files = _files(mirror)
    download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    gets_before = len([h for h in mirror.hits if h.method == "GET" and h.path.lower().endswith(".zip")])
    again = download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    assert all(r.skipped and r.attempts == 0 for r in again)
    assert len([h for h in mirror.hits if h.method == "GET" and h.path.lower().endswith(".zip")]) == gets_before

    changed = FileSpec(Kind.OUTPATIENT, SAMPLE)
    write_zip(root, changed, rows=40, seed=7)
    third = download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    assert [r.spec for r in third if not r.skipped] == [changed]
    assert storage.read_bytes(_key(changed)) == (root / changed.zip_name).read_bytes()
    entry = read_manifest(storage, SAMPLE)["files"][changed.zip_name]
    assert entry["sha256"] == hashlib.sha256((root / changed.zip_name).read_bytes()).hexdigest()

    (storage.local_path(_key(PDE))).unlink()  # object gone: the manifest alone is not enough to skip
    fourth = download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    assert [r.spec for r in fourth if not r.skipped] == [PDE]
    site.close()


def test_corrupt_zip_is_not_published_and_old_object_survives(root: Path, storage, tmp_path: Path, mirror_factory):
    mirror = mirror_factory(root)
    site, files = _files(mirror)
    download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    old_bytes = storage.read_bytes(_key(PDE))
    old_manifest = read_manifest(storage, SAMPLE)
    write_bad_crc_zip(root, PDE)
    with pytest.raises(DownloadError) as err:
        download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    assert PDE.zip_name in str(err.value) and _pde(files).url in str(err.value)
    assert "verification" in str(err.value)
    assert storage.read_bytes(_key(PDE)) == old_bytes
    assert read_manifest(storage, SAMPLE) == old_manifest
    assert list((tmp_path / "partial").iterdir()) == []


def test_corrupt_zip_on_first_download_publishes_nothing(root: Path, storage, tmp_path: Path, mirror_factory):
    write_bad_crc_zip(root, PDE)
    mirror = mirror_factory(root)
    site, files = _files(mirror)
    with pytest.raises(DownloadError, match="failed verification"):
        download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial")
    assert not storage.exists(_key(PDE))


def test_transfer_that_never_completes_fails_then_resumes_later(root: Path, storage, tmp_path: Path, mirror_factory):
    size = (root / PDE.zip_name).stat().st_size
    faults = FaultPlan(match=PDE.zip_name, drops=-1, drop_after=size // 10)
    mirror = mirror_factory(root, faults=faults)
    site, files = _files(mirror)
    with pytest.raises(DownloadError, match="incomplete after 3 attempts") as err:
        download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial", max_attempts=3, backoff=0.01)
    assert _pde(files).url in str(err.value)
    assert not storage.exists(_key(PDE))
    assert len(mirror.hits_for(PDE.zip_name, "GET")) == 3
    partial = tmp_path / "partial" / f"{PDE.zip_name}.part"
    kept = partial.stat().st_size
    assert 0 < kept < size

    mirror.faults = None  # the network heals: the next run picks up where the last one stopped
    result = download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial")
    assert result.resumed and result.attempts == 1
    assert mirror.hits_for(PDE.zip_name, "GET")[-1].range == f"bytes={kept}-"
    assert storage.read_bytes(_key(PDE)) == (root / PDE.zip_name).read_bytes()


def test_partial_of_an_old_version_is_restarted(root: Path, storage, tmp_path: Path, mirror_factory) -> None:
    size = (root / PDE.zip_name).stat().st_size
    mirror = mirror_factory(root, faults=FaultPlan(match=PDE.zip_name, drops=-1, drop_after=size // 2))
    site, files = _files(mirror)
    with pytest.raises(DownloadError):
        download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial", max_attempts=1)
    write_zip(root, PDE, rows=3000, seed=5)  # a new version on the server: new ETag
    mirror.faults = None
    result = download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial")
    assert not result.resumed and mirror.hits_for(PDE.zip_name, "GET")[-1].range is None
    assert storage.read_bytes(_key(PDE)) == (root / PDE.zip_name).read_bytes()


def test_file_changed_mid_download_restarts_via_if_range(root: Path, storage, tmp_path: Path, mirror_factory):
    size = (root / PDE.zip_name).stat().st_size
    mirror = mirror_factory(root, faults=FaultPlan(match=PDE.zip_name, drops=1, drop_after=size // 3, stall=0.5))
    site, files = _files(mirror)

    def replace_during_first_get() -> None:  # while the server stalls mid-body, publish a new version
        deadline = time.monotonic() + 10
        while not mirror.hits_for(PDE.zip_name, "GET") and time.monotonic() < deadline:
            time.sleep(0.01)
        write_zip(root, PDE, rows=3000, seed=11)

    changer = threading.Thread(target=replace_during_first_get)
    changer.start()
    result = download_file(site, _pde(files), storage, _key(PDE), tmp_path / "partial", backoff=0.01)
    changer.join()
    gets = mirror.hits_for(PDE.zip_name, "GET")
    assert [g.status for g in gets] == [200, 200], "the stale If-Range got the whole new file"
    assert gets[1].range and gets[1].if_range and gets[1].if_range != result.etag
    assert not result.resumed
    assert storage.read_bytes(_key(PDE)) == (root / PDE.zip_name).read_bytes()


def test_one_missing_file_fails_the_sample_without_a_manifest(root: Path, storage, tmp_path: Path, mirror_factory):
    mirror = mirror_factory(root)
    site, files = _files(mirror)
    gone = FileSpec(Kind.CARRIER, SAMPLE, part="B")
    (root / gone.zip_name).unlink()  # vanished between scraping and downloading
    with pytest.raises(DownloadError, match=re.escape(gone.zip_name)) as err:
        download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    assert "1 of 8 files failed" in str(err.value) and "404" in str(err.value)
    assert not storage.exists(layout.raw_manifest(SAMPLE))
    assert storage.exists(_key(PDE)) and not storage.exists(_key(gone))


def test_files_of_another_sample_are_refused(root: Path, storage, tmp_path: Path, mirror_factory) -> None:
    mirror = mirror_factory(root)
    site, files = _files(mirror)
    with pytest.raises(ValueError, match="another sample"):
        download_sample(site, files, storage, SAMPLE + 1, tmp_path / "partial")


def test_generator_output_end_to_end_with_quirks(tmp_path: Path, storage, mirror_factory) -> None:
    """The generator's real zips, behind the quirky mirror: scrape, download, verify, byte-identical."""
    from cms_assets.sim.generate import generate

    root = tmp_path / "generated"
    generate(root, [1, 20], scale=0.001, seed=3)
    mirror = mirror_factory(root)
    with CmsSite(mirror.landing_url) as site:
        pages = site.samples()
        assert [p.sample for p in pages] == [1, 20]
        for page in pages:
            results = download_sample(site, site.files(page), storage, page.sample, tmp_path / "partial")
            for r in results:
                assert storage.read_bytes(r.key) == (root / r.spec.zip_name).read_bytes()
    bene_1_2010 = FileSpec(Kind.BENEFICIARY, 1, year=2010)
    # Sample 1's wrongly named 2010 link holds Sample 1's file: downloaded from it, stored under its right name,
    # the fix location never asked.
    entry = read_manifest(storage, 1)["files"][bene_1_2010.zip_name]
    assert entry["url"].endswith("/synpufs/downloads/DE1_0_2010_Beneficiary_Summary_File_Sample_20.zip")
    assert entry["key"] == layout.raw_zip(1, bene_1_2010.zip_name)
    assert not mirror.hits_for(names.SAMPLE1_BENEFICIARY_2010_FIX)
