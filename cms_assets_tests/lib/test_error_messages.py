"""Issue 22, item 4: a zip cut short and an HTML page saved as a zip no longer both read "File is not a zip file".

Real zips from the generator, cut or replaced on disk, served by the local mirror over HTTP, downloaded and
converted by the production code; the messages a user sees are asserted.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from cms_assets.lib import layout
from cms_assets.lib.ingest.convert import IngestError, convert_table
from cms_assets.lib.ingest.zipfiles import CorruptZipError, verify_zip
from cms_assets.lib.site.download import DownloadError, download_sample
from cms_assets.lib.site.scraper import CmsSite
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.sim.mirror import LOGIN_PAGE, FaultPlan
from cms_assets_tests.fixtures.site import write_sample_zips, write_zip

SAMPLE = 4
PDE = FileSpec(Kind.PDE, SAMPLE)
ERROR_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Access Denied</title></head><body><h1>Access Denied</h1>"
    b"<p>You don't have permission to access this file on this server.</p></body></html>\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    write_sample_zips(root, SAMPLE)
    write_zip(root, PDE, rows=3000)  # ~70 KB: cut well inside its member
    return root


def _cut(path: Path, keep: float) -> tuple[int, int]:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return len(data), int(len(data) * keep)


def test_truncated_zip_says_cut_short_with_sizes(root: Path) -> None:
    full, kept = _cut(root / PDE.zip_name, 0.6)
    with pytest.raises(CorruptZipError) as err:
        verify_zip(root / PDE.zip_name, PDE)
    message = str(err.value)
    assert message.startswith(f"{root / PDE.zip_name}: not a readable zip: cut short: {kept:,} bytes of at least ")
    assert f"its member '{PDE.csv_name}' alone declares" in message
    assert "the zip's end (its central directory) is missing, so at least " in message
    assert message.endswith("; a truncated download: download it again")
    assert "File is not a zip file" not in message
    at_least = int(message.split("bytes of at least ", 1)[1].split(":", 1)[0].replace(",", ""))
    assert kept < at_least <= full  # a lower bound on what the whole zip needs, never above its real size


def test_html_page_saved_as_zip_says_html_page(root: Path) -> None:
    (root / PDE.zip_name).write_bytes(ERROR_PAGE)
    with pytest.raises(CorruptZipError) as err:
        verify_zip(root / PDE.zip_name, PDE)
    assert str(err.value) == (
        f"{root / PDE.zip_name}: not a readable zip: it is an HTML page ({len(ERROR_PAGE):,} bytes, starts "
        "'<!DOCTYPE html>', title 'Access Denied'), likely an error or login page saved in the zip's place; download "
        "the file again from its link"
    )


def test_converting_a_stored_html_page_names_the_file(root: Path, tmp_path: Path) -> None:
    (root / PDE.zip_name).write_bytes(ERROR_PAGE)
    with pytest.raises(IngestError, match=r"Sample_4\.zip: not a readable zip: it is an HTML page"):
        convert_table(TABLES[Kind.PDE], [(PDE, root / PDE.zip_name)], SAMPLE, tmp_path / "out.parquet")
    assert not (tmp_path / "out.parquet").exists()


def test_download_of_a_truncated_zip_names_url_and_says_cut_short(root: Path, tmp_path: Path, mirror_factory) -> None:
    """The site itself serves a cut file (its Content-Length agrees): verification tells what happened."""
    _, kept = _cut(root / PDE.zip_name, 0.5)
    mirror = mirror_factory(root)
    storage = LocalStorage(tmp_path / "store")
    with CmsSite(mirror.landing_url, backoff=0.01) as site:
        files = [f for f in site.files(site.samples()[0]) if f.spec == PDE]
        with pytest.raises(DownloadError) as err:
            download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    message = str(err.value)
    url = mirror.url_of(PDE)
    assert f"{PDE.zip_name}: downloaded from {url} but failed verification: " in message
    assert f"cut short: {kept:,} bytes of at least" in message and "download it again" in message
    assert not storage.exists(layout.raw_zip(SAMPLE, PDE.zip_name))


def test_download_answered_by_a_login_page_says_so(root: Path, tmp_path: Path, mirror_factory) -> None:
    mirror = mirror_factory(root, faults=FaultPlan(match=PDE.zip_name, login_page=True))
    storage = LocalStorage(tmp_path / "store")
    with CmsSite(mirror.landing_url, backoff=0.01) as site:
        files = [f for f in site.files(site.samples()[0]) if f.spec == PDE]
        with pytest.raises(DownloadError) as err:
            download_sample(site, files, storage, SAMPLE, tmp_path / "partial")
    assert (
        f"{PDE.zip_name}: {mirror.url_of(PDE)} answered HTTP 200 with an HTML page, not a zip (Content-Type "
        "text/html; charset=utf-8, starts '<!DOCTYPE html>', title 'Sign in | CMS Enterprise Portal'): likely an "
        "error or login page; nothing published"
    ) in str(err.value)
    assert LOGIN_PAGE.startswith("<!DOCTYPE html>")
    assert not storage.exists(layout.raw_zip(SAMPLE, PDE.zip_name))
