"""Find the 8 zips of every DE-SynPUF sample on the CMS site (or the local mirror).

Files are recognised by the zip name in the href (``names.parse_name``), never by link text: the 2020 student
pipeline read link texts by word position and silently lost both carrier files. Every sample yields exactly its 8
files or a :class:`MissingFilesError`. Files are judged by content where the name may lie: a link whose name says
another sample (Sample 1's page links a zip named as Sample 20's 2010 beneficiary file) is taken for a file this
page lacks when its CSV member names this sample's file (``" - Copy.csv"`` included) and its first IDs are in this
sample's beneficiary file (:mod:`.probe`, over byte ranges). Only when no link passes is the known fix location
probed with HEAD. Relative and absolute links, both hosts, lower-cased names and ``.csv.zip`` are accepted.

Polite by construction: one ``requests.Session``, an identifying User-Agent, timeouts, and retries with exponential
backoff on connection errors, 5xx and 429 (honouring ``Retry-After``).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

from bs4 import BeautifulSoup

from cms_assets.lib.site.client import (  # re-exported: callers import the client's names from here
    MAX_RETRY_AFTER,
    RETRY_STATUSES,
    USER_AGENT,
    HttpClient,
    RedirectLoopError,
    RemoteInfo,
    SiteError,
    retry_after_seconds,
)
from cms_assets.lib.site.probe import holds
from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind

__all__ = [
    "MAX_RETRY_AFTER",
    "RETRY_STATUSES",
    "USER_AGENT",
    "CmsSite",
    "MissingFilesError",
    "RedirectLoopError",
    "RemoteFile",
    "RemoteInfo",
    "SamplePage",
    "SiteError",
    "retry_after_seconds",
]

#: Where the real site keeps files its sample pages link wrongly (path on the main host).
KNOWN_LOCATIONS: dict[FileSpec, tuple[str, ...]] = {
    FileSpec(Kind.BENEFICIARY, 1, year=2010): (names.SAMPLE1_BENEFICIARY_2010_FIX,),
}
_SAMPLE_HREF = re.compile(r"^de(?:10)?[-_]?sample[-_]?0?(\d{1,2})/?$", re.IGNORECASE)
_SAMPLE_TEXT = re.compile(r"^\s*DE\s*1\.0\s+Sample\s+(\d{1,2})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class SamplePage:
    sample: int
    url: str


@dataclass(frozen=True)
class RemoteFile:
    spec: FileSpec
    url: str
    #: How a file was found when not simply by its name (accepted by content, or the fix location used).
    note: str | None = None
    #: Further links the page carries for the same file, in page order: tried in turn when ``url`` is dead.
    alternates: tuple[str, ...] = ()

    @property
    def urls(self) -> tuple[str, ...]:
        return (self.url, *self.alternates)


class MissingFilesError(ValueError):
    """A sample page does not offer all 8 files (names the page, the missing zips and the links refused)."""

    def __init__(self, page_url: str, missing: list[FileSpec], rejected: dict[FileSpec, list[str]] | None = None):
        self.page_url = page_url
        self.missing = missing
        self.rejected = {s: why for s, why in (rejected or {}).items() if why and s in missing}
        listed = ", ".join(f"{s.key} ({s.zip_name})" for s in missing)
        tried = "".join(
            f"; {s.key}: {len(why)} candidate link(s) tried and refused: {'; '.join(why)}"
            for s, why in self.rejected.items()
        )
        super().__init__(f"sample page {page_url} lacks {len(missing)} of 8 files: {listed}{tried}")


class CmsSite(HttpClient):
    """A polite client of the CMS DE-SynPUF pages (real cms.gov or the mirror)."""

    def __init__(
        self,
        landing_url: str = names.LEGACY_LANDING_URL,
        user_agent: str = USER_AGENT,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        super().__init__(user_agent, timeout, retries, backoff)
        self.landing_url = landing_url

    def __enter__(self) -> CmsSite:
        return self

    def _get_html(self, url: str) -> tuple[str, BeautifulSoup]:
        resp = self.request("GET", url)
        if resp.status_code != 200:
            raise SiteError(f"GET {url} answered HTTP {resp.status_code}")
        return resp.url, BeautifulSoup(resp.text, "html.parser")

    # -- pages -----------------------------------------------------------------------------------------------
    def samples(self) -> list[SamplePage]:
        """The sample pages the landing page links, sorted by sample (first link wins for duplicates)."""
        base, soup = self._get_html(self.landing_url)
        found: dict[int, SamplePage] = {}
        for a in soup.find_all("a", href=True):
            url = urldefrag(urljoin(base, str(a["href"]).strip())).url
            leaf = unquote(urlsplit(url).path).rstrip("/").rsplit("/", 1)[-1]
            m = _SAMPLE_HREF.match(leaf)
            if not m and "." not in leaf:
                m = _SAMPLE_TEXT.match(a.get_text(" ", strip=True))
            if m and int(m[1]) in names.SAMPLES:
                found.setdefault(int(m[1]), SamplePage(int(m[1]), url))
        if not found:
            raise SiteError(f"no DE-SynPUF sample pages found on {base} (has the page layout changed?)")
        return [found[n] for n in sorted(found)]

    def files(self, page: SamplePage) -> list[RemoteFile]:
        """Exactly the 8 files of the page's sample, in ``names.files_for_sample`` order, or MissingFilesError.

        A file linked more than once keeps every link (first one first), so a dead first link is not the end.
        """
        base, soup = self._get_html(page.url)
        links: dict[FileSpec, list[str]] = {}
        foreign: dict[FileSpec, list[str]] = {}  # this sample's slot -> links whose name says another sample
        for a in soup.find_all("a", href=True):
            url = urldefrag(urljoin(base, str(a["href"]).strip())).url
            if urlsplit(url).scheme not in ("http", "https"):
                continue
            try:
                spec = names.parse_name(unquote(urlsplit(url).path))
            except ValueError:
                continue  # not a DE-SynPUF file (manuals, other PUFs, navigation)
            if spec.sample == page.sample:
                _add(links.setdefault(spec, []), url)
            else:  # maybe this page's file under a wrong name: judged by content below, if the page lacks one
                _add(foreign.setdefault(dataclasses.replace(spec, sample=page.sample), []), url)
        found = {spec: RemoteFile(spec, urls[0], alternates=tuple(urls[1:])) for spec, urls in links.items()}
        wanted = names.files_for_sample(page.sample)
        refused: dict[FileSpec, list[str]] = {}
        for spec in wanted:
            rejected = refused.setdefault(spec, [])
            if spec not in found and spec in foreign:
                found.update(self._by_content(spec, foreign[spec], found, rejected))
            if spec not in found and (fixed := self._known_location(spec, base, rejected)) is not None:
                found[spec] = fixed
        missing = [s for s in wanted if s not in found]
        if missing:
            raise MissingFilesError(page.url, missing, refused)
        return [found[s] for s in wanted]

    def _by_content(
        self, spec: FileSpec, urls: list[str], found: dict[FileSpec, RemoteFile], rejected: list[str]
    ) -> dict[FileSpec, RemoteFile]:
        """``{spec: file}`` for the first of ``urls`` whose content is ``spec``'s file; reasons for the others go to
        ``rejected``. The IDs are compared with this page's beneficiary file (2008, or another year)."""
        references = [
            found[r]
            for y in names.YEARS
            if (r := FileSpec(Kind.BENEFICIARY, spec.sample, year=y)) != spec and r in found
        ]
        for url in urls:
            if not references:
                rejected.append(f"{url}: no beneficiary file of sample {spec.sample} on the page to compare IDs with")
                continue
            ok, why = holds(self, url, spec, references[0].urls)
            if ok:
                return {spec: RemoteFile(spec, url, note=f"linked under another name ({url}); {why}")}
            rejected.append(f"{url}: {why}")
        return {}

    def _known_location(self, spec: FileSpec, base: str, rejected: list[str]) -> RemoteFile | None:
        """The file at a location CMS is known to use instead of the page's link, if it answers a HEAD (when it
        does not, that goes to ``rejected`` too)."""
        for path in KNOWN_LOCATIONS.get(spec, ()):
            url = urljoin(base, path)
            try:
                resp = self.request("HEAD", url)
            except SiteError as e:
                rejected.append(f"known location {url}: {e}")
                continue
            if resp.status_code == 200:
                why = "; ".join(rejected) if rejected else "the page does not link it"
                return RemoteFile(spec, url, note=f"known location used ({why})")
            rejected.append(f"known location {url}: HEAD answered HTTP {resp.status_code}")
        return None


def _add(urls: list[str], url: str) -> None:
    if url not in urls:
        urls.append(url)
