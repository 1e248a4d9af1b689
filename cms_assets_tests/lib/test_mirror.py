"""The local CMS mirror over real HTTP: pages, both hosts, both layouts, ranges, validators, faults."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import requests
from bs4 import BeautifulSoup

from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.mirror import CmsMirror, FaultPlan
from cms_assets_tests.fixtures.site import write_sample_zips, write_zip

PDE_2 = FileSpec(Kind.PDE, 2)
OUTPATIENT_2 = FileSpec(Kind.OUTPATIENT, 2)


def _links(html: str) -> dict[str, str]:
    return {a.get_text(strip=True): a["href"] for a in BeautifulSoup(html, "html.parser").find_all("a", href=True)}


def test_landing_to_sample_page_to_zip(cms_mirror: CmsMirror, synpuf_site_root: Path) -> None:
    landing = requests.get(cms_mirror.landing_url, timeout=10)
    assert landing.status_code == 200 and landing.headers["Content-Type"].startswith("text/html")
    links = _links(landing.text)
    assert {t for t in links if re.fullmatch(r"DE1\.0 Sample \d+", t)} == {f"DE1.0 Sample {n}" for n in (1, 2, 11, 20)}
    assert "Privacy Policy" in links and "DE-SynPUF User Manual (PDF)" in links  # noise a scraper must skip
    page = requests.get(cms_mirror.main_url + links["DE1.0 Sample 2"], timeout=10)
    page_links = _links(page.text)
    for spec in names.files_for_sample(2):
        assert spec.link_text in page_links
    href = page_links[OUTPATIENT_2.link_text]
    assert not href.startswith(("http", "/")), "main-host files are linked relatively"
    zip_url = requests.compat.urljoin(page.url, href)
    body = requests.get(zip_url, timeout=10)
    assert body.status_code == 200 and body.headers["Content-Type"] == "application/zip"
    assert body.content == (synpuf_site_root / OUTPATIENT_2.zip_name).read_bytes()
    assert requests.get(cms_mirror.main_url + "/no/such/page", timeout=10).status_code == 404


def test_downloads_host_serves_carrier_and_pde_by_absolute_links(cms_mirror: CmsMirror, synpuf_site_root: Path) -> None:
    page = requests.get(
        cms_mirror.main_url + "/Research-Statistics-Data-and-Systems/Downloadable-Public-Use-Files/SynPUFs/DESample02",
        timeout=10,
    )
    links = _links(page.text)
    for part in ("A", "B"):
        spec = FileSpec(Kind.CARRIER, 2, part=part)
        assert links[spec.link_text] == f"{cms_mirror.downloads_url}/files/{spec.zip_name}"
    got = requests.get(links[PDE_2.link_text], timeout=10)
    assert got.content == (synpuf_site_root / PDE_2.zip_name).read_bytes()
    # each host serves only its own files
    assert requests.get(cms_mirror.main_url + "/files/" + PDE_2.zip_name, timeout=10).status_code == 404
    assert (
        requests.get(cms_mirror.downloads_url + cms_mirror.sitemap().main_path(OUTPATIENT_2), timeout=10).status_code
        == 404
    )


def test_head_etag_last_modified_and_304(cms_mirror: CmsMirror, synpuf_site_root: Path) -> None:
    url = cms_mirror.url_of(PDE_2)
    size = (synpuf_site_root / PDE_2.zip_name).stat().st_size
    head = requests.head(url, timeout=10)
    assert head.status_code == 200 and head.content == b""
    assert int(head.headers["Content-Length"]) == size
    assert head.headers["Accept-Ranges"] == "bytes"
    etag = head.headers["ETag"]
    assert etag.startswith('"') and not etag.startswith("W/")
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", head.headers["Last-Modified"])
    assert requests.get(url, headers={"If-None-Match": etag}, timeout=10).status_code == 304
    assert requests.get(url, headers={"If-None-Match": '"other"'}, timeout=10).status_code == 200


def test_ranges(cms_mirror: CmsMirror, synpuf_site_root: Path) -> None:
    url = cms_mirror.url_of(PDE_2)
    data = (synpuf_site_root / PDE_2.zip_name).read_bytes()
    size = len(data)
    r = requests.get(url, headers={"Range": "bytes=10-99"}, timeout=10)
    assert r.status_code == 206 and r.content == data[10:100]
    assert r.headers["Content-Range"] == f"bytes 10-99/{size}" and r.headers["Content-Length"] == "90"
    r = requests.get(url, headers={"Range": "bytes=100-"}, timeout=10)
    assert r.status_code == 206 and r.content == data[100:]
    r = requests.get(url, headers={"Range": "bytes=-20"}, timeout=10)
    assert r.status_code == 206 and r.content == data[-20:]
    r = requests.get(url, headers={"Range": f"bytes={size}-"}, timeout=10)
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{size}"
    etag = requests.head(url, timeout=10).headers["ETag"]
    r = requests.get(url, headers={"Range": "bytes=100-", "If-Range": etag}, timeout=10)
    assert r.status_code == 206 and r.content == data[100:]
    r = requests.get(url, headers={"Range": "bytes=100-", "If-Range": '"stale"'}, timeout=10)
    assert r.status_code == 200 and r.content == data, "a stale If-Range gets the whole file"


def test_samples_written_later_appear_without_restart(tmp_path: Path, mirror_factory) -> None:
    mirror = mirror_factory(tmp_path)
    assert "DE1.0 Sample" not in requests.get(mirror.landing_url, timeout=10).text
    write_zip(tmp_path, FileSpec(Kind.PDE, 7))  # one file is enough to list the page
    links = _links(requests.get(mirror.landing_url, timeout=10).text)
    assert "DE1.0 Sample 7" in links
    page = _links(requests.get(mirror.main_url + links["DE1.0 Sample 7"], timeout=10).text)
    assert FileSpec(Kind.PDE, 7).link_text in page
    assert FileSpec(Kind.CARRIER, 7, part="A").link_text not in page  # only what exists is linked
    old_etag = requests.head(mirror.url_of(FileSpec(Kind.PDE, 7)), timeout=10).headers["ETag"]
    write_zip(tmp_path, FileSpec(Kind.PDE, 7), rows=50, seed=3)
    assert requests.head(mirror.url_of(FileSpec(Kind.PDE, 7)), timeout=10).headers["ETag"] != old_etag


def test_quirks_sample1_and_sample20(cms_mirror: CmsMirror) -> None:
    base = cms_mirror.main_url + "/Research-Statistics-Data-and-Systems/Downloadable-Public-Use-Files/SynPUFs/"
    s1 = _links(requests.get(base + "DESample01", timeout=10).text)
    spec = FileSpec(Kind.BENEFICIARY, 1, year=2010)
    assert s1[spec.link_text].endswith("DE1_0_2010_Beneficiary_Summary_File_Sample_20.zip")
    assert requests.head(cms_mirror.main_url + names.SAMPLE1_BENEFICIARY_2010_FIX, timeout=10).status_code == 200
    s20 = _links(requests.get(base + "DESample20", timeout=10).text)
    for spec in (FileSpec(Kind.BENEFICIARY, 20, year=2008), FileSpec(Kind.INPATIENT, 20)):
        assert s20[spec.link_text].startswith("/data-research/statistics-trends-and-reports/synpufs/downloads/")
        assert requests.head(cms_mirror.main_url + s20[spec.link_text], timeout=10).status_code == 200
    s11 = _links(requests.get(base + "DESample11", timeout=10).text)
    assert s11[FileSpec(Kind.CARRIER, 11, part="A").link_text].endswith("/files/" + names.SAMPLE11_CARRIER_A_ZIP)


def test_layout_current_lowercases_main_host_paths(synpuf_site_root: Path, mirror_factory) -> None:
    mirror = mirror_factory(synpuf_site_root, layout="current", quirks=False)
    assert mirror.landing_url.endswith("/cms-2008-2010-data-entrepreneurs-synthetic-public-use-file-de-synpuf")
    links = _links(requests.get(mirror.landing_url, timeout=10).text)
    page = requests.get(mirror.main_url + links["DE1.0 Sample 1"], timeout=10)
    files = _links(page.text)
    href = files[FileSpec(Kind.BENEFICIARY, 1, year=2010).link_text]
    assert href == href.lower() and href.endswith("de1_0_2010_beneficiary_summary_file_sample_1.zip")
    assert requests.head(mirror.main_url + href, timeout=10).status_code == 200
    carrier = files[FileSpec(Kind.CARRIER, 1, part="A").link_text]
    assert carrier.endswith("/files/DE1_0_2008_to_2010_Carrier_Claims_Sample_1A.zip")  # downloads host keeps case


def test_fault_plan_503_and_dropped_connection(synpuf_site_root: Path, mirror_factory) -> None:
    faults = FaultPlan(match=PDE_2.zip_name, unavailable=1, retry_after=0, drops=1, drop_after=100)
    mirror = mirror_factory(synpuf_site_root, faults=faults)
    url = mirror.url_of(PDE_2)
    first = requests.get(url, timeout=10)
    assert first.status_code == 503 and first.headers["Retry-After"] == "0"
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        requests.get(url, timeout=10).content  # noqa: B018 - reading the body is the point
    assert requests.get(url, timeout=10).content == (synpuf_site_root / PDE_2.zip_name).read_bytes()
    statuses = [h.status for h in mirror.hits_for(PDE_2.zip_name)]
    assert statuses == [503, 200, 200]


def test_start_is_idempotent_and_stop_frees_port(tmp_path: Path) -> None:
    write_sample_zips(tmp_path, 3)
    mirror = CmsMirror(tmp_path).start()
    assert mirror.start() is mirror
    url = mirror.landing_url
    mirror.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)
