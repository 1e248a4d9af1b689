"""The scraper against the mirror over real HTTP: all 8 files per sample, quirks, layouts, errors, retries."""

from __future__ import annotations

import time
import zipfile
from pathlib import Path

import pytest
import requests

from cms_assets.lib.site.scraper import USER_AGENT, CmsSite, MissingFilesError, SamplePage, SiteError
from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind
from cms_assets.sim.mirror import SAMPLE20_QUIRK_PATH, CmsMirror, FaultPlan
from cms_assets_tests.fixtures.site import SITE_SAMPLES, write_sample_zips

BENE_1_2010 = FileSpec(Kind.BENEFICIARY, 1, year=2010)


def _scrape(mirror: CmsMirror, **kwargs: object) -> dict[int, list]:
    with CmsSite(mirror.landing_url, **kwargs) as site:  # type: ignore[arg-type]
        return {page.sample: site.files(page) for page in site.samples()}


def test_every_sample_yields_its_8_files_in_order(cms_mirror: CmsMirror, synpuf_site_root: Path) -> None:
    found = _scrape(cms_mirror)
    assert sorted(found) == list(SITE_SAMPLES)
    for sample, files in found.items():
        assert [f.spec for f in files] == names.files_for_sample(sample)
        for f in files:  # every URL serves exactly the file it claims to be
            assert requests.get(f.url, timeout=10).content == (synpuf_site_root / f.spec.zip_name).read_bytes()
    carriers = [f for f in found[2] if f.spec.kind in (Kind.CARRIER, Kind.PDE)]
    assert len(carriers) == 3 and all(f.url.startswith(cms_mirror.downloads_url + "/files/") for f in carriers)
    main = [f for f in found[2] if f.spec.on_main_host]
    assert all(f.url.startswith(cms_mirror.main_url + "/") for f in main)


def test_samples_are_sorted_and_deduplicated(cms_mirror: CmsMirror) -> None:
    with CmsSite(cms_mirror.landing_url) as site:
        pages = site.samples()
    # the landing page lists 1, 11, 2, 20 (two columns) and links Sample 1 twice
    assert [p.sample for p in pages] == [1, 2, 11, 20]
    assert pages[0].url.endswith("/SynPUFs/DESample01")


def test_sample1_2010_wrongly_named_link_is_used_by_content(cms_mirror: CmsMirror, synpuf_site_root: Path) -> None:
    """Sample 1's page links a zip named as Sample 20's 2010 file that holds Sample 1's: its member and IDs say so,
    so it is used and the fix location is never asked."""
    files = _scrape(cms_mirror)[1]
    bene = next(f for f in files if f.spec == BENE_1_2010)
    assert bene.url == cms_mirror.main_url + SAMPLE20_QUIRK_PATH + "DE1_0_2010_Beneficiary_Summary_File_Sample_20.zip"
    assert bene.note and "DE1_0_2010_Beneficiary_Summary_File_Sample_1.csv" in bene.note and "100%" in bene.note
    assert not cms_mirror.hits_for(names.SAMPLE1_BENEFICIARY_2010_FIX)
    ranged = cms_mirror.hits_for("Sample_20.zip", "GET")
    assert ranged and all(h.range and h.status == 206 for h in ranged)  # probed by byte ranges, not downloaded
    assert ranged[0].user_agent == USER_AGENT
    assert requests.get(bene.url, timeout=10).content == (synpuf_site_root / BENE_1_2010.zip_name).read_bytes()


def _rezip(path: Path, member: str, data: bytes) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)


def _member(path: Path) -> tuple[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        (info,) = zf.infolist()
        return info.filename, zf.read(info)


def test_copy_member_is_judged_the_same_way(tmp_path: Path, mirror_factory) -> None:
    write_sample_zips(tmp_path, 1)
    _, data = _member(tmp_path / BENE_1_2010.zip_name)
    _rezip(tmp_path / BENE_1_2010.zip_name, f"{BENE_1_2010.base} - Copy.csv", data)
    mirror = mirror_factory(tmp_path)
    bene = next(f for f in _scrape(mirror)[1] if f.spec == BENE_1_2010)
    assert bene.url.endswith("_Sample_20.zip") and " - Copy.csv" in str(bene.note)
    assert not mirror.hits_for(names.SAMPLE1_BENEFICIARY_2010_FIX)


@pytest.mark.parametrize("lie", ["member", "ids"])
def test_link_wrong_in_content_falls_back_to_the_known_location(tmp_path: Path, mirror_factory, lie: str) -> None:
    """The wrong-name link really holds Sample 20's file: by its member name, or (member renamed) by its IDs."""
    write_sample_zips(tmp_path / "other", 20)
    write_sample_zips(tmp_path, 1)
    other = FileSpec(Kind.BENEFICIARY, 20, year=2010)
    member, data = _member(tmp_path / "other" / other.zip_name)
    _rezip(tmp_path / BENE_1_2010.zip_name, member if lie == "member" else BENE_1_2010.csv_name, data)
    mirror = mirror_factory(tmp_path)
    bene = next(f for f in _scrape(mirror)[1] if f.spec == BENE_1_2010)
    assert bene.url == mirror.main_url + names.SAMPLE1_BENEFICIARY_2010_FIX
    why = "is DE1_0_2010_Beneficiary_Summary_File_Sample_20.zip's file" if lie == "member" else "only 0% of its first"
    assert bene.note and "known location used" in bene.note and why in bene.note, bene.note
    assert mirror.hits_for(names.SAMPLE1_BENEFICIARY_2010_FIX, "HEAD")


def test_sample11_csv_zip_and_sample20_folder(cms_mirror: CmsMirror) -> None:
    found = _scrape(cms_mirror)
    carrier_a = next(f for f in found[11] if f.spec == FileSpec(Kind.CARRIER, 11, part="A"))
    assert carrier_a.url.endswith("/files/DE1_0_2008_to_2010_Carrier_Claims_Sample_11A.csv.zip")
    inpatient = next(f for f in found[20] if f.spec == FileSpec(Kind.INPATIENT, 20))
    assert "/data-research/statistics-trends-and-reports/synpufs/downloads/" in inpatient.url


def test_current_layout_lower_cased(synpuf_site_root: Path, mirror_factory) -> None:
    mirror = mirror_factory(synpuf_site_root, layout="current")
    found = _scrape(mirror)
    assert sorted(found) == list(SITE_SAMPLES)
    for sample, files in found.items():
        assert [f.spec for f in files] == names.files_for_sample(sample)
        for f in files:
            assert requests.head(f.url, timeout=10).status_code == 200
    outpatient = next(f for f in found[2] if f.spec.kind is Kind.OUTPATIENT)
    assert outpatient.url.endswith("/downloads/de1_0_2008_to_2010_outpatient_claims_sample_2.zip")


def test_garbled_link_texts_do_not_matter(synpuf_site_root: Path, mirror_factory) -> None:
    mirror = mirror_factory(synpuf_site_root, garble_links=True)
    assert "DE1.0 Sample 2" not in requests.get(mirror.landing_url, timeout=10).text
    found = _scrape(mirror)
    assert {s: [f.spec for f in fs] for s, fs in found.items()} == {s: names.files_for_sample(s) for s in SITE_SAMPLES}


def test_missing_file_names_page_and_file(tmp_path: Path, mirror_factory) -> None:
    write_sample_zips(tmp_path, 3)
    carrier_b = FileSpec(Kind.CARRIER, 3, part="B")
    (tmp_path / carrier_b.zip_name).unlink()
    mirror = mirror_factory(tmp_path)
    with CmsSite(mirror.landing_url) as site:
        (page,) = site.samples()
        with pytest.raises(MissingFilesError) as err:
            site.files(page)
    assert err.value.missing == [carrier_b]
    assert page.url in str(err.value) and carrier_b.zip_name in str(err.value)


def test_sample1_without_its_2010_file_anywhere_is_an_error(tmp_path: Path, mirror_factory) -> None:
    write_sample_zips(tmp_path, 1)
    write_sample_zips(tmp_path, 20)  # the wrong link resolves, but it is Sample 20's file
    (tmp_path / BENE_1_2010.zip_name).unlink()
    mirror = mirror_factory(tmp_path)
    with CmsSite(mirror.landing_url) as site:
        with pytest.raises(MissingFilesError, match="beneficiary_2010"):
            site.files(site.samples()[0])


def test_retries_on_503_honouring_retry_after(synpuf_site_root: Path, mirror_factory) -> None:
    faults = FaultPlan(match="DESample", unavailable=2, retry_after=0.2)
    mirror = mirror_factory(synpuf_site_root, faults=faults)
    started = time.monotonic()
    with CmsSite(mirror.landing_url, backoff=0.0) as site:
        files = site.files(SamplePage(2, mirror.main_url + mirror.sitemap().sample_path(2)))
    assert len(files) == 8
    assert time.monotonic() - started >= 0.4, "Retry-After: 0.2 twice"
    assert [h.status for h in mirror.hits_for("DESample02")] == [503, 503, 200]


def test_gives_up_after_retries_with_clear_error(synpuf_site_root: Path, mirror_factory) -> None:
    mirror = mirror_factory(synpuf_site_root, faults=FaultPlan(match="DE_Syn_PUF", unavailable=99))
    with CmsSite(mirror.landing_url, retries=2, backoff=0.01) as site:
        with pytest.raises(SiteError, match="503") as err:
            site.samples()
    assert mirror.landing_url in str(err.value)
    assert len(mirror.hits_for("DE_Syn_PUF")) == 3


def test_connection_refused_is_retried_then_reported(tmp_path: Path) -> None:
    mirror = CmsMirror(tmp_path).start()
    url = mirror.landing_url
    mirror.stop()  # nothing listens on that port any more
    with CmsSite(url, retries=1, backoff=0.01) as site:
        with pytest.raises(SiteError, match="after 2 attempts"):
            site.samples()


def test_head_reports_size_and_validators(cms_mirror: CmsMirror, synpuf_site_root: Path) -> None:
    spec = FileSpec(Kind.PDE, 2)
    with CmsSite(cms_mirror.landing_url) as site:
        info = site.head(cms_mirror.url_of(spec))
        assert info.size == (synpuf_site_root / spec.zip_name).stat().st_size
        assert info.etag and info.last_modified
        with pytest.raises(SiteError, match="404"):
            site.head(cms_mirror.downloads_url + "/files/nothing.zip")
