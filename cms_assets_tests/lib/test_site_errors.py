"""Errors that name what broke, as a new user meets them: redirect loops, a full disk, a trickling server.

Everything is real: the mirror over HTTP (with its fault injection), a real tmpfs of a few KB for the full disk.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cms_assets.lib import layout
from cms_assets.lib.site.download import DiskFullError, DownloadError, TransferLimits, download_file, download_sample
from cms_assets.lib.site.scraper import CmsSite, RedirectLoopError
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.mirror import FaultPlan
from cms_assets_tests.fixtures.site import write_sample_zips, write_zip

SAMPLE = 4
PDE = FileSpec(Kind.PDE, SAMPLE)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    write_sample_zips(root, SAMPLE)
    write_zip(root, PDE, rows=6000)  # ~140 KB
    return root


def _site(mirror) -> tuple[CmsSite, list]:
    site = CmsSite(mirror.landing_url, backoff=0.01)
    (page,) = site.samples()
    return site, site.files(page)


def test_redirect_loop_on_the_landing_page_names_the_url(root: Path, mirror_factory) -> None:
    mirror = mirror_factory(root, faults=FaultPlan(match="DE_Syn_PUF", redirect_loop=True))
    with CmsSite(mirror.landing_url, retries=3) as site, pytest.raises(RedirectLoopError) as info:
        site.samples()
    assert f"GET {mirror.landing_url}: redirect loop" in str(info.value)
    assert len(mirror.hits_for("DE_Syn_PUF")) == 31  # one try (30 redirects), not retried


def test_redirect_loop_on_a_download_names_the_file_and_url(root: Path, mirror_factory, tmp_path: Path) -> None:
    mirror = mirror_factory(root)
    site, files = _site(mirror)
    pde = next(f for f in files if f.spec == PDE)
    mirror.faults = FaultPlan(match=PDE.zip_name, redirect_loop=True)
    storage = LocalStorage(tmp_path / "store")
    with pytest.raises(DownloadError) as info:
        download_file(site, pde, storage, layout.raw_zip(SAMPLE, PDE.zip_name), tmp_path / "partial")
    assert str(info.value).startswith(f"{PDE.zip_name}: HEAD {pde.url}: redirect loop")
    assert not storage.exists(layout.raw_zip(SAMPLE, PDE.zip_name))


def test_full_disk_names_the_file_and_path_once(root: Path, mirror_factory, tmp_path: Path, tiny_disk: Path) -> None:
    mirror = mirror_factory(root)
    site, files = _site(mirror)
    pde = next(f for f in files if f.spec == PDE)
    storage = LocalStorage(tmp_path / "store")
    with pytest.raises(DiskFullError) as info:
        download_file(site, pde, storage, layout.raw_zip(SAMPLE, PDE.zip_name), tiny_disk)
    message = str(info.value)
    assert message.startswith(f"{PDE.zip_name}: no space left on device while writing {tiny_disk}/{PDE.zip_name}")
    assert message.lower().count("no space left") == 1 and "Errno" not in message
    # A whole sample: one message for the device, naming every file that did not make it.
    with pytest.raises(DownloadError) as info:
        download_sample(site, files, storage, SAMPLE, tiny_disk)
    message = str(info.value)
    assert message.lower().count("no space left") == 1 and "Errno" not in message
    assert PDE.zip_name in message and str(tiny_disk) in message
    assert not storage.exists(layout.raw_manifest(SAMPLE))


def test_full_storage_names_the_object(root: Path, mirror_factory, tmp_path: Path, tiny_disk: Path) -> None:
    mirror = mirror_factory(root)
    site, files = _site(mirror)
    pde = next(f for f in files if f.spec == PDE)
    storage = LocalStorage(tiny_disk / "store")
    with pytest.raises(DiskFullError) as info:
        download_file(site, pde, storage, layout.raw_zip(SAMPLE, PDE.zip_name), tmp_path / "partial")
    assert f"while publishing to {storage.uri(layout.raw_zip(SAMPLE, PDE.zip_name))}" in str(info.value)


def test_trickling_server_fails_by_deadline_and_resumes_next_run(root: Path, mirror_factory, tmp_path: Path) -> None:
    """100 bytes/s never trips a per-read timeout; the minimum throughput cuts each attempt, the per-file deadline
    ends the run, and the next run resumes from what arrived."""
    mirror = mirror_factory(root, faults=FaultPlan(match=PDE.zip_name, trickle=100))
    site, files = _site(mirror)
    pde = next(f for f in files if f.spec == PDE)
    storage = LocalStorage(tmp_path / "store")
    key, partial = layout.raw_zip(SAMPLE, PDE.zip_name), tmp_path / "partial"
    limits = TransferLimits(min_bytes_per_second=1000, window_seconds=0.5, deadline_seconds=2.0)
    with pytest.raises(DownloadError) as info:
        download_file(site, pde, storage, key, partial, backoff=0.01, limits=limits)
    message = str(info.value)
    assert message.startswith(f"{PDE.zip_name}: {pde.url} not complete within the 2s deadline")
    assert "the next run resumes" in message and not storage.exists(key)
    assert len(mirror.hits_for(PDE.zip_name, "GET")) >= 2  # stalled attempts were cut and retried
    got = (partial / f"{PDE.zip_name}.part").stat().st_size
    assert 0 < got < (root / PDE.zip_name).stat().st_size

    with pytest.raises(DownloadError, match=r"incomplete after 2 attempts .*stalled: \d+ bytes/s"):
        download_file(site, pde, storage, key, partial, max_attempts=2, limits=TransferLimits(1000, 0.5))

    mirror.faults = None  # the server recovers: the next run resumes
    result = download_file(site, pde, storage, key, partial, limits=limits)
    assert result.resumed and storage.read_bytes(key) == (root / PDE.zip_name).read_bytes()
    last = mirror.hits_for(PDE.zip_name, "GET")[-1]
    assert last.status == 206 and last.range and int(last.range.split("=")[1].rstrip("-")) >= got
