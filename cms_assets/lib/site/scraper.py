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
import email.utils
import re
import time
from dataclasses import dataclass
from importlib import metadata
from typing import Any
from urllib.parse import unquote, urldefrag, urljoin, urlsplit

import requests
from bs4 import BeautifulSoup

from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind

#: Where the real site keeps files its sample pages link wrongly (path on the main host).
KNOWN_LOCATIONS: dict[FileSpec, tuple[str, ...]] = {
    FileSpec(Kind.BENEFICIARY, 1, year=2010): (names.SAMPLE1_BENEFICIARY_2010_FIX,),
}
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0
_SAMPLE_HREF = re.compile(r"^de(?:10)?[-_]?sample[-_]?0?(\d{1,2})/?$", re.IGNORECASE)
_SAMPLE_TEXT = re.compile(r"^\s*DE\s*1\.0\s+Sample\s+(\d{1,2})\s*$", re.IGNORECASE)


def _version() -> str:
    try:
        return metadata.version("cms_assets")
    except metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"cms_assets/{_version()} (+https://github.com/cms-assets/cms_assets)"


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


@dataclass(frozen=True)
class RemoteInfo:
    url: str
    size: int | None
    etag: str | None
    last_modified: str | None


class MissingFilesError(ValueError):
    """A sample page does not offer all 8 files (names the page and the missing zips)."""

    def __init__(self, page_url: str, missing: list[FileSpec]) -> None:
        self.page_url = page_url
        self.missing = missing
        listed = ", ".join(f"{s.key} ({s.zip_name})" for s in missing)
        super().__init__(f"sample page {page_url} lacks {len(missing)} of 8 files: {listed}")


class SiteError(RuntimeError):
    """The site answered with an error or did not answer after all retries (names the URL)."""


class RedirectLoopError(SiteError):
    """A URL redirects in a loop (or too many times): not retried, since asking again loops again."""


def retry_after_seconds(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date), capped; None if absent."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - time.time()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


class CmsSite:
    """A polite client of the CMS DE-SynPUF pages (real cms.gov or the mirror)."""

    def __init__(
        self,
        landing_url: str = names.LEGACY_LANDING_URL,
        user_agent: str = USER_AGENT,
        timeout: float = 30.0,
        retries: int = 4,
        backoff: float = 0.5,
    ) -> None:
        self.landing_url = landing_url
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent

    def __enter__(self) -> CmsSite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    # -- HTTP with retries -----------------------------------------------------------------------------------
    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request, retried on connection errors, timeouts, 5xx and 429 with exponential backoff.

        The response is returned whatever its final status (callers decide what a 404 means); a caller streaming
        the body (``stream=True``) must close it.
        """
        kwargs.setdefault("timeout", self.timeout)
        kwargs.setdefault("allow_redirects", True)
        for attempt in range(self.retries + 1):
            try:
                resp = self.session.request(method, url, **kwargs)
            except requests.TooManyRedirects as e:
                last = e.response.headers.get("Location") if e.response is not None else None
                raise RedirectLoopError(
                    f"{method} {url}: redirect loop (more than {self.session.max_redirects} redirects"
                    + (f", last to {last}" if last else "")
                    + ")"
                ) from e
            except (requests.ConnectionError, requests.Timeout) as e:
                if attempt == self.retries:
                    raise SiteError(f"{method} {url} failed after {attempt + 1} attempts: {e}") from e
                time.sleep(self.backoff * 2**attempt)
                continue
            if resp.status_code not in RETRY_STATUSES or attempt == self.retries:
                return resp
            wait = retry_after_seconds(resp.headers.get("Retry-After"))
            resp.close()
            time.sleep(wait if wait is not None else self.backoff * 2**attempt)
        raise AssertionError("unreachable")

    def _get_html(self, url: str) -> tuple[str, BeautifulSoup]:
        resp = self.request("GET", url)
        if resp.status_code != 200:
            raise SiteError(f"GET {url} answered HTTP {resp.status_code}")
        return resp.url, BeautifulSoup(resp.text, "html.parser")

    def head(self, url: str) -> RemoteInfo:
        """Size, ETag and Last-Modified of a file, without downloading it."""
        resp = self.request("HEAD", url)
        if resp.status_code != 200:
            raise SiteError(f"HEAD {url} answered HTTP {resp.status_code}")
        length = resp.headers.get("Content-Length")
        return RemoteInfo(
            resp.url,
            int(length) if length and length.isdigit() else None,
            resp.headers.get("ETag"),
            resp.headers.get("Last-Modified"),
        )

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
        """Exactly the 8 files of the page's sample, in ``names.files_for_sample`` order, or MissingFilesError."""
        base, soup = self._get_html(page.url)
        found: dict[FileSpec, RemoteFile] = {}
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
                found.setdefault(spec, RemoteFile(spec, url))
            else:  # maybe this page's file under a wrong name: judged by content below, if the page lacks one
                foreign.setdefault(dataclasses.replace(spec, sample=page.sample), []).append(url)
        wanted = names.files_for_sample(page.sample)
        for spec in wanted:
            rejected: list[str] = []
            if spec not in found and spec in foreign:
                found.update(self._by_content(spec, foreign[spec], found, rejected))
            if spec not in found and (fixed := self._known_location(spec, base, rejected)) is not None:
                found[spec] = fixed
        missing = [s for s in wanted if s not in found]
        if missing:
            raise MissingFilesError(page.url, missing)
        return [found[s] for s in wanted]

    def _by_content(
        self, spec: FileSpec, urls: list[str], found: dict[FileSpec, RemoteFile], rejected: list[str]
    ) -> dict[FileSpec, RemoteFile]:
        """``{spec: file}`` for the first of ``urls`` whose content is ``spec``'s file; reasons for the others go to
        ``rejected``. The IDs are compared with this page's beneficiary file (2008, or another year)."""
        from cms_assets.lib.site.probe import holds

        references = [
            found[r]
            for y in names.YEARS
            if (r := FileSpec(Kind.BENEFICIARY, spec.sample, year=y)) != spec and r in found
        ]
        for url in urls:
            if not references:
                rejected.append(f"{url}: no beneficiary file of sample {spec.sample} on the page to compare IDs with")
                continue
            ok, why = holds(self, url, spec, references[0].url)
            if ok:
                return {spec: RemoteFile(spec, url, note=f"linked under another name ({url}); {why}")}
            rejected.append(f"{url}: {why}")
        return {}

    def _known_location(self, spec: FileSpec, base: str, rejected: list[str]) -> RemoteFile | None:
        """The file at a location CMS is known to use instead of the page's link, if it answers a HEAD."""
        for path in KNOWN_LOCATIONS.get(spec, ()):
            url = urljoin(base, path)
            try:
                resp = self.request("HEAD", url)
            except SiteError:
                continue
            if resp.status_code == 200:
                why = "; ".join(rejected) if rejected else "the page does not link it"
                return RemoteFile(spec, url, note=f"known location used ({why})")
        return None
