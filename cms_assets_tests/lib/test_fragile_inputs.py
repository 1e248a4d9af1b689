"""Issue 22, item 5: inputs that used to slip through or stop a download for the wrong reason.

A NUL byte in a field (published, then refused by PostgreSQL far from its cause), a page linking a file twice with
a dead first link, a server that ignores ``Range`` (RFC 9110 allows a 200 with the whole body), and a sample page
whose "lacks 1 of 8 files" error did not say which candidate links were refused and why. Real zips, the local
mirror over HTTP, the production scraper, probe, downloader and converter.
"""

from __future__ import annotations

import ast
import zipfile
from pathlib import Path

import pytest

from cms_assets.defs.ingest.sensor import scan_site
from cms_assets.defs.resources import CmsSiteResource
from cms_assets.lib.ingest.convert import IngestError, convert_table
from cms_assets.lib.site import scraper as scraper_module
from cms_assets.lib.site.download import download_sample
from cms_assets.lib.site.scraper import CmsSite, MissingFilesError
from cms_assets.lib.storage import LocalStorage
from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import TABLES, Kind
from cms_assets.sim.mirror import DEAD_FOLDER, SAMPLE20_QUIRK_PATH, FaultPlan
from cms_assets_tests.fixtures.site import write_sample_zips
from cms_assets_tests.lib.ingest_data import BENE_A, row, write_file

BENE_1_2010 = FileSpec(Kind.BENEFICIARY, 1, year=2010)
INP = TABLES[Kind.INPATIENT]


# -- a NUL byte in a text field ----------------------------------------------------------------------------------
def test_nul_byte_in_a_text_field_is_refused_naming_file_line_and_column(tmp_path: Path) -> None:
    spec = FileSpec(Kind.INPATIENT, 3)
    rows = [row(INP, DESYNPUF_ID=BENE_A, CLM_ID=str(i), PRVDR_NUM="0506GC") for i in range(1, 6)]
    rows[3] = row(INP, DESYNPUF_ID=BENE_A, CLM_ID="4", PRVDR_NUM="05\x0006GC")
    path = write_file(tmp_path / "raw", spec, rows)
    out = tmp_path / "inpatient.parquet"
    with pytest.raises(IngestError) as err:
        convert_table(INP, [(spec, path)], 3, out)
    assert str(err.value) == (
        f"{path}!{spec.csv_name}: line 5, column 'PRVDR_NUM': value b'05\\x0006GC' holds a NUL byte (\\x00), which "
        "no CMS field has and PostgreSQL refuses in text: the file is damaged; nothing published"
    )
    assert not out.exists()


def test_nul_byte_found_past_the_first_chunk(tmp_path: Path) -> None:
    """Line numbers stay right across the converter's line-aligned chunks."""
    spec = FileSpec(Kind.INPATIENT, 3)
    rows = [row(INP, DESYNPUF_ID=BENE_A, CLM_ID=str(i)) for i in range(1, 30_001)]
    rows[-2] = row(INP, DESYNPUF_ID=BENE_A, CLM_ID="29999", ICD9_DGNS_CD_3="40\x0019")
    path = write_file(tmp_path / "raw", spec, rows)
    with pytest.raises(IngestError, match=r"line 30000, column 'ICD9_DGNS_CD_3': value b'40\\x0019'"):
        convert_table(INP, [(spec, path)], 3, tmp_path / "out.parquet", block_size=1 << 20)


# -- a file linked twice, the first link dead --------------------------------------------------------------------
def test_dead_first_link_falls_back_to_the_second(synpuf_site_root: Path, tmp_path: Path, mirror_factory) -> None:
    mirror = mirror_factory(synpuf_site_root, dead_first_links=True)
    storage = LocalStorage(tmp_path / "store")
    with CmsSite(mirror.landing_url, backoff=0.01) as site:
        pages = {p.sample: p for p in site.samples()}
        files = site.files(pages[2])
        assert all(f.url.split("/", 3)[3].startswith(DEAD_FOLDER[1:]) and len(f.alternates) == 1 for f in files)
        results = download_sample(site, files, storage, 2, tmp_path / "partial")
        # Sample 1's wrongly named 2010 link is linked twice too: the dead one is refused, the live one accepted.
        bene = next(f for f in site.files(pages[1]) if f.spec == BENE_1_2010)
    assert [r.url for r in results] == [f.alternates[0] for f in files]
    for r in results:
        assert storage.read_bytes(r.key) == (synpuf_site_root / r.spec.zip_name).read_bytes()
    # sample 2's 8 files, then for sample 1's probe: the dead wrong-name candidate and the dead reference (2008)
    assert len(mirror.hits_for(DEAD_FOLDER + "/", "HEAD")) == 8 + 2
    assert all(h.status == 404 for h in mirror.hits_for(DEAD_FOLDER + "/"))
    assert bene.url == mirror.main_url + SAMPLE20_QUIRK_PATH + "DE1_0_2010_Beneficiary_Summary_File_Sample_20.zip"
    scan = scan_site(CmsSiteResource(landing_url=mirror.landing_url))  # the sensor reads validators the same way
    assert not scan.errors and all(len(files) == 8 for files in scan.files.values())


def test_every_link_dead_names_each(tmp_path: Path, mirror_factory) -> None:
    write_sample_zips(tmp_path, 3)
    pde = FileSpec(Kind.PDE, 3)
    mirror = mirror_factory(tmp_path, dead_first_links=True, faults=FaultPlan(match=pde.zip_name, unavailable=99))
    storage = LocalStorage(tmp_path / "store")
    with CmsSite(mirror.landing_url, retries=0, backoff=0.0) as site:
        files = [f for f in site.files(site.samples()[0]) if f.spec == pde]
        with pytest.raises(Exception) as err:
            download_sample(site, files, storage, 3, tmp_path / "partial")
    dead, live = files[0].urls
    assert (
        f"{pde.zip_name}: none of its 2 links answers: HEAD {dead} answered HTTP 503; HEAD {live} answered HTTP 503"
    ) in str(err.value)


# -- a server that ignores Range ---------------------------------------------------------------------------------
def test_content_probe_reads_from_the_start_when_range_is_ignored(synpuf_site_root: Path, mirror_factory) -> None:
    mirror = mirror_factory(synpuf_site_root, ignore_range=True)
    with CmsSite(mirror.landing_url) as site:
        bene = next(f for f in site.files(site.samples()[0]) if f.spec == BENE_1_2010)
    assert bene.url.endswith("_Sample_20.zip") and bene.note and "100%" in bene.note, bene.note
    ranged = mirror.hits_for("Sample_20.zip", "GET")
    assert ranged and all(h.range and h.status == 200 for h in ranged)  # asked for ranges, got whole bodies
    assert not mirror.hits_for(names.SAMPLE1_BENEFICIARY_2010_FIX)


def test_resume_against_a_server_ignoring_range_restarts_whole(tmp_path: Path, mirror_factory) -> None:
    write_sample_zips(tmp_path / "site", 3, scale=0.003)
    pde = FileSpec(Kind.PDE, 3)
    faults = FaultPlan(match=pde.zip_name, drops=1, drop_after=4096)
    mirror = mirror_factory(tmp_path / "site", ignore_range=True, faults=faults)
    storage = LocalStorage(tmp_path / "store")
    with CmsSite(mirror.landing_url, backoff=0.01) as site:
        files = [f for f in site.files(site.samples()[0]) if f.spec == pde]
        [result] = download_sample(site, files, storage, 3, tmp_path / "partial")
    assert result.attempts == 2 and not result.resumed
    assert storage.read_bytes(result.key) == (tmp_path / "site" / pde.zip_name).read_bytes()
    gets = mirror.hits_for(pde.zip_name, "GET")
    assert gets[1].range and gets[1].status == 200  # asked to resume, the server sent it all


# -- which candidate links were refused, and why -----------------------------------------------------------------
def test_lacking_file_error_lists_the_refused_links_and_why(tmp_path: Path, mirror_factory) -> None:
    """The wrong-name link holds Sample 20's file (by its member) and the known location does not answer."""
    write_sample_zips(tmp_path / "other", 20)
    write_sample_zips(tmp_path, 1)
    other = FileSpec(Kind.BENEFICIARY, 20, year=2010)
    with zipfile.ZipFile(tmp_path / "other" / other.zip_name) as zf:
        (member,) = zf.namelist()
        data = zf.read(member)
    with zipfile.ZipFile(tmp_path / BENE_1_2010.zip_name, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(member, data)
    mirror = mirror_factory(tmp_path, faults=FaultPlan(match="/2020-09/", unavailable=99))
    with CmsSite(mirror.landing_url, retries=0) as site:
        page = site.samples()[0]
        with pytest.raises(MissingFilesError) as err:
            site.files(page)
    wrong = mirror.main_url + SAMPLE20_QUIRK_PATH + other.zip_name
    fix = mirror.main_url + names.SAMPLE1_BENEFICIARY_2010_FIX
    assert str(err.value) == (
        f"sample page {page.url} lacks 1 of 8 files: beneficiary_2010 ({BENE_1_2010.zip_name}); beneficiary_2010: "
        f"2 candidate link(s) tried and refused: {wrong}: its member '{other.csv_name}' is {other.zip_name}'s "
        f"file, not {BENE_1_2010.zip_name}'s; known location {fix}: HEAD answered HTTP 503"
    )
    assert err.value.rejected == {BENE_1_2010: str(err.value).split("refused: ", 1)[1].split("; ")}


# -- no import cycle in lib/site ---------------------------------------------------------------------------------
def test_lib_site_modules_import_each_other_without_a_cycle() -> None:
    folder = Path(scraper_module.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        imported: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):  # function-level imports count too
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("cms_assets.lib.site."):
                imported.add(node.module.rsplit(".", 1)[1])
        graph[path.stem] = imported

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph.get(start, ()))

    assert graph["scraper"] >= {"probe", "client"} and "scraper" not in graph["probe"]
    assert [m for m in graph if reaches(m, m, set())] == []
