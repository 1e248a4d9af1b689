"""A local imitation of the CMS DE-SynPUF site, so the scraper and downloader are exercised over real HTTP.

One process, two listening ports standing for cms.gov's two hosts: the main "www" host (landing page, sample pages,
beneficiary/inpatient/outpatient zips behind RELATIVE links) and the "downloads" host (carrier A/B and PDE zips
behind ABSOLUTE links). The zips are whatever sits in ``root`` (flat, named ``FileSpec.zip_name``, as the generator
writes them), re-scanned on every request, so samples generated later appear without a restart.

The site quirks a real downloader meets are reproduced when ``quirks=True`` (see ``names``): Sample 1's page links
a zip NAMED as Sample 20's 2010 beneficiary file, under Sample 20's odd folder, that holds Sample 1's file (member
``..._Sample_1.csv``), while a correctly named copy sits, unlinked, at ``names.SAMPLE1_BENEFICIARY_2010_FIX``;
Sample 20's 2008 beneficiary and inpatient zips live under that other folder; Sample 11's carrier A is a
``.csv.zip`` (Deflate64-compressed when the generator made it so).
``layout="current"`` serves today's paths: the current landing page and lower-cased main-host download paths.

Downloads behave like a real static file server: GET/HEAD, single byte ranges (206/416), strong ETags, ``If-Range``,
``If-None-Match`` (304), ``Last-Modified``, streamed in chunks. A :class:`FaultPlan` injects real failures
(503s, connections dropped mid-body, stalls, a login page instead of the zip) and every request is recorded in
:attr:`CmsMirror.hits`. ``ignore_range=True`` makes the file server ignore ``Range`` (RFC 9110 allows it: 200 and the
whole body); ``dead_first_links=True`` makes every sample page link each zip twice, the first link dead (404).
"""

from __future__ import annotations

import html
import re
import socket
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from cms_assets.lib.synpuf import names
from cms_assets.lib.synpuf.names import FileSpec
from cms_assets.lib.synpuf.tables import Kind

LAYOUTS = ("legacy", "current")
SYNPUFS_PATH = "/Research-Statistics-Data-and-Systems/Downloadable-Public-Use-Files/SynPUFs"
LEGACY_LANDING_PATH = urlsplit(names.LEGACY_LANDING_URL).path
CURRENT_LANDING_PATH = urlsplit(names.CURRENT_LANDING_URL).path
#: Where Sample 20's 2008 beneficiary and inpatient zips sit on the real site.
SAMPLE20_QUIRK_PATH = "/data-research/statistics-trends-and-reports/synpufs/downloads/"
SAMPLE20_QUIRK_FILES = frozenset({FileSpec(Kind.BENEFICIARY, 20, year=2008), FileSpec(Kind.INPATIENT, 20)})
SAMPLE1_FIXED = FileSpec(Kind.BENEFICIARY, 1, year=2010)
#: Sample 1's page links its own 2010 beneficiary file under this wrong name (Sample 20's) and folder.
SAMPLE1_WRONG_NAME = FileSpec(Kind.BENEFICIARY, 20, year=2010)
#: Where ``dead_first_links`` points the first of a zip's two links: nothing is served under it.
DEAD_FOLDER = "/archived"
CHUNK = 64 * 1024
MAX_HITS = 100_000


@dataclass
class FaultPlan:
    """Real failures to inject, counted per request path (only paths containing ``match``, case-insensitive).

    ``unavailable``: answer 503 (with ``Retry-After`` when set) to the first K requests of each path.
    ``drops``: on the first K GETs of each file (-1: every GET) send ``drop_after`` body bytes, wait ``stall``
    seconds, then close the connection abruptly (the client sees a truncated body or a read timeout).
    ``redirect_loop``: answer every request of a matching path with a 302 to itself.
    ``trickle``: send matching files' bodies at this many bytes per second (a stalled transfer that never times
    out a read).
    ``login_page``: answer matching files with 200 and an HTML sign-in page (``text/html``) instead of the zip.
    """

    match: str = ""
    unavailable: int = 0
    retry_after: float | None = None
    drops: int = 0
    drop_after: int = 0
    stall: float = 0.0
    redirect_loop: bool = False
    trickle: float = 0.0
    login_page: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)
    _unavailable_seen: Counter[str] = field(default_factory=Counter, init=False, repr=False, compare=False)
    _gets_seen: Counter[str] = field(default_factory=Counter, init=False, repr=False, compare=False)

    def _applies(self, path: str) -> bool:
        return self.match.lower() in path.lower()

    def take_unavailable(self, path: str) -> bool:
        if not self.unavailable or not self._applies(path):
            return False
        with self._lock:
            self._unavailable_seen[path] += 1
            return self._unavailable_seen[path] <= self.unavailable

    def shows_login(self, path: str) -> bool:
        return self.login_page and self._applies(path)

    def loops(self, path: str) -> bool:
        return self.redirect_loop and self._applies(path)

    def trickle_rate(self, path: str) -> float:
        return self.trickle if self.trickle > 0 and self._applies(path) else 0.0

    def take_drop(self, path: str) -> int | None:
        """Bytes to send before dropping this GET, or None to send it whole."""
        if not self.drops or not self._applies(path):
            return None
        with self._lock:
            self._gets_seen[path] += 1
            return self.drop_after if self.drops < 0 or self._gets_seen[path] <= self.drops else None


@dataclass(frozen=True)
class Hit:
    """One request the mirror answered, for tests and demos to assert on."""

    host: str  # "main" or "downloads"
    method: str
    path: str
    status: int
    range: str | None = None
    if_range: str | None = None
    if_none_match: str | None = None
    user_agent: str | None = None


class _RangeNotSatisfiable(Exception):
    pass


def parse_range(value: str, size: int) -> tuple[int, int] | None:
    """Inclusive (start, end) for a single ``bytes=`` range; None to ignore it (malformed or multi-range)."""
    m = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", value)
    if not m or (not m[1] and not m[2]):
        return None
    if not m[1]:  # suffix range: the last N bytes
        n = int(m[2])
        if n == 0 or size == 0:
            raise _RangeNotSatisfiable
        return max(0, size - n), size - 1
    start = int(m[1])
    if start >= size:
        raise _RangeNotSatisfiable
    end = int(m[2]) if m[2] else size - 1
    if end < start:
        return None
    return start, min(end, size - 1)


def etag_of(path: Path) -> tuple[str, str, int]:
    """Strong ETag (from size and mtime_ns), Last-Modified and size of a file, as the mirror serves them."""
    st = path.stat()
    return f'"{st.st_size:x}-{st.st_mtime_ns:x}"', formatdate(st.st_mtime, usegmt=True), st.st_size


class _SiteMap:
    """Which pages exist, what each links and which path serves which zip, for one scan of the root."""

    def __init__(
        self, files: dict[FileSpec, Path], layout: str, quirks: bool, garble: bool = False, dead_first: bool = False
    ) -> None:
        self.files = files
        self.layout = layout
        self.quirks = quirks
        self.garble = garble
        self.dead_first = dead_first
        self.current = layout == "current"
        self.samples = sorted({s.sample for s in files})
        self.main_routes = {self.main_path(s): p for s, p in files.items() if s.on_main_host}
        if quirks and SAMPLE1_FIXED in files:  # the same bytes under the wrong name the page links
            self.main_routes[self.wrong_path] = files[SAMPLE1_FIXED]
        self.download_routes = {self.downloads_path(s): p for s, p in files.items() if not s.on_main_host}

    @property
    def landing_path(self) -> str:
        return CURRENT_LANDING_PATH if self.current else LEGACY_LANDING_PATH

    def sample_path(self, sample: int) -> str:
        if self.current:
            return f"{CURRENT_LANDING_PATH}/de10-sample-{sample}"
        return f"{SYNPUFS_PATH}/DESample{sample:02d}"

    def _name(self, spec: FileSpec) -> str:
        return spec.zip_name.lower() if self.current else spec.zip_name

    def main_path(self, spec: FileSpec) -> str:
        """Where the main host serves a beneficiary/inpatient/outpatient zip."""
        if self.quirks and spec == SAMPLE1_FIXED:
            return names.SAMPLE1_BENEFICIARY_2010_FIX
        if self.quirks and spec in SAMPLE20_QUIRK_FILES:
            return SAMPLE20_QUIRK_PATH + self._name(spec)
        folder = names.MAIN_DOWNLOADS_PATH.lower() if self.current else names.MAIN_DOWNLOADS_PATH
        return folder + self._name(spec)

    @property
    def wrong_path(self) -> str:
        """Where Sample 1's page points for its 2010 beneficiary file (a Sample 20 name, Sample 1's bytes)."""
        return SAMPLE20_QUIRK_PATH + self._name(SAMPLE1_WRONG_NAME)

    def downloads_path(self, spec: FileSpec) -> str:
        return names.DOWNLOADS_HOST_PATH + spec.zip_name

    def href(self, spec: FileSpec, downloads_origin: str) -> str:
        """The link a sample page carries: relative on the main host, absolute to the downloads host."""
        if not spec.on_main_host:
            return downloads_origin + self.downloads_path(spec)
        path = self.wrong_path if self.quirks and spec == SAMPLE1_FIXED else self.main_path(spec)
        if not self.current and path.startswith(SYNPUFS_PATH + "/"):
            return path[len(SYNPUFS_PATH) + 1 :]  # relative to the sample page, like cms.gov's "Downloads/..."
        return path

    def dead_href(self, spec: FileSpec, downloads_origin: str) -> str:
        """A link to the same zip name under a folder that answers 404 (a stale link the page still carries)."""
        if not spec.on_main_host:
            return downloads_origin + DEAD_FOLDER + self.downloads_path(spec)
        return DEAD_FOLDER + (self.wrong_path if self.quirks and spec == SAMPLE1_FIXED else self.main_path(spec))

    def text(self, text: str) -> str:
        """A link text as CMS writes it, or with its words reversed (to prove nobody relies on link texts)."""
        return " ".join(reversed(text.split())) if self.garble else text

    def sample_for_page(self, path: str) -> int | None:
        for n in self.samples:
            if path == self.sample_path(n):
                return n
        return None


def scan(root: Path) -> dict[FileSpec, Path]:
    """The DE-SynPUF zips in root (hidden/temporary files and foreign names ignored)."""
    found: dict[FileSpec, Path] = {}
    for p in sorted(root.iterdir()) if root.is_dir() else []:
        if p.name.startswith(".") or not p.name.lower().endswith(".zip") or not p.is_file():
            continue
        try:
            found.setdefault(names.parse_name(p.name), p)
        except ValueError:
            continue
    return found


class CmsMirror:
    """The mirror as a context manager: ``with CmsMirror(root) as m: CmsSite(m.landing_url)...``.

    ``faults`` may be set or replaced while running; ``garble_links`` reverses the words of every link text
    (hrefs unchanged) to prove a client does not depend on them; ``hits`` records every request answered.
    """

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        downloads_port: int = 0,
        quirks: bool = True,
        layout: str = "legacy",
        faults: FaultPlan | None = None,
        verbose: bool = False,
        garble_links: bool = False,
        ignore_range: bool = False,
        dead_first_links: bool = False,
    ) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
        self.root = Path(root)
        self.host = host
        self.quirks = quirks
        self.layout = layout
        self.faults = faults
        self.verbose = verbose
        self.garble_links = garble_links
        self.ignore_range = ignore_range
        self.dead_first_links = dead_first_links
        self.hits: deque[Hit] = deque(maxlen=MAX_HITS)  # bounded: a demo mirror may run for days
        self._hits_lock = threading.Lock()
        self._ports = (port, downloads_port)
        self._servers: list[ThreadingHTTPServer] = []
        self._threads: list[threading.Thread] = []

    # -- lifecycle -------------------------------------------------------------------------------------------
    def start(self) -> CmsMirror:
        if self._servers:
            return self
        for role, port in zip(("main", "downloads"), self._ports, strict=True):
            server = _Server((self.host, port), _Handler)
            server.mirror, server.role = self, role
            thread = threading.Thread(target=server.serve_forever, args=(0.05,), name=f"cms-mirror-{role}", daemon=True)
            thread.start()
            self._servers.append(server)
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        for server in self._servers:
            server.shutdown()
            server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._servers, self._threads = [], []

    def __enter__(self) -> CmsMirror:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- addresses -------------------------------------------------------------------------------------------
    def _origin(self, index: int) -> str:
        if not self._servers:
            raise RuntimeError("the mirror is not started")
        port = self._servers[index].server_address[1]
        host = "127.0.0.1" if self.host in ("", "0.0.0.0") else self.host
        return f"http://{host}:{port}"

    @property
    def downloads_port(self) -> int:
        return self._servers[1].server_address[1]

    @property
    def main_url(self) -> str:
        return self._origin(0)

    @property
    def downloads_url(self) -> str:
        return self._origin(1)

    @property
    def landing_url(self) -> str:
        return self.main_url + self.sitemap().landing_path

    def sitemap(self) -> _SiteMap:
        return _SiteMap(scan(self.root), self.layout, self.quirks, self.garble_links, self.dead_first_links)

    def url_of(self, spec: FileSpec) -> str:
        """Where the mirror serves a file (its true location, quirks included)."""
        site = self.sitemap()
        if spec.on_main_host:
            return self.main_url + site.main_path(spec)
        return self.downloads_url + site.downloads_path(spec)

    def record(self, hit: Hit) -> None:
        with self._hits_lock:
            self.hits.append(hit)

    def hits_for(self, path_contains: str, method: str | None = None) -> list[Hit]:
        with self._hits_lock:
            return [
                h
                for h in self.hits
                if path_contains.lower() in h.path.lower() and (method is None or h.method == method)
            ]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    mirror: CmsMirror
    role: str

    def handle_error(self, request: object, client_address: object) -> None:
        """A client hanging up mid-download is normal (the downloader resumes): quiet unless verbose."""
        if self.mirror.verbose or not isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "cms-mirror/1"

    def log_message(self, format: str, *args: object) -> None:
        if self.server.mirror.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        self._handle(head=False)

    def do_HEAD(self) -> None:
        self._handle(head=True)

    # -- plumbing --------------------------------------------------------------------------------------------
    def _record(self, status: int) -> None:
        h = self.headers
        self.server.mirror.record(
            Hit(
                self.server.role,
                self.command,
                unquote(urlsplit(self.path).path),
                status,
                h.get("Range"),
                h.get("If-Range"),
                h.get("If-None-Match"),
                h.get("User-Agent"),
            )
        )

    def _simple(self, status: int, body: bytes = b"", ctype: str = "text/plain; charset=utf-8", **headers: str) -> None:
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers.items():
            self.send_header(k.replace("_", "-"), v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self, head: bool) -> None:
        mirror = self.server.mirror
        path = unquote(urlsplit(self.path).path)
        faults = mirror.faults
        if faults is not None and faults.take_unavailable(path):
            extra = {"Retry_After": f"{faults.retry_after:g}"} if faults.retry_after is not None else {}
            self._simple(503, b"Service Unavailable\n", **extra)
            return
        if faults is not None and faults.loops(path):
            self._simple(302, b"", Location=self.path)
            return
        site = mirror.sitemap()
        if (
            faults is not None
            and faults.shows_login(path)
            and (site.main_routes.get(path) or site.download_routes.get(path))
        ):
            self._simple(200, LOGIN_PAGE.encode(), "text/html; charset=utf-8")
            return
        if self.server.role == "main":
            page = self._page(site, path)
            if page is not None:
                self._simple(200, page.encode(), "text/html; charset=utf-8")
                return
            if path in ("", "/"):
                self._simple(302, b"", Location=site.landing_path)
                return
            file = site.main_routes.get(path)
        else:
            file = site.download_routes.get(path)
        if file is None:
            self._simple(404, f"Not Found: {path}\n".encode())
            return
        self._send_file(file, path, head)

    def _page(self, site: _SiteMap, path: str) -> str | None:
        host = (self.headers.get("Host") or self.server.mirror.host).rsplit(":", 1)[0]
        downloads_origin = f"http://{host}:{self.server.mirror.downloads_port}"
        if path == site.landing_path:
            return landing_html(site)
        sample = site.sample_for_page(path)
        return None if sample is None else sample_html(site, sample, downloads_origin)

    def _send_file(self, file: Path, path: str, head: bool) -> None:
        try:
            etag, last_modified, size = etag_of(file)
        except FileNotFoundError:
            self._simple(404, f"Not Found: {path}\n".encode())
            return
        validators = {"ETag": etag, "Last_Modified": last_modified, "Accept_Ranges": "bytes"}
        inm = self.headers.get("If-None-Match")
        if inm and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
            self._simple(304, b"", **validators)
            return
        start, end, status = 0, size - 1, 200
        range_header = self.headers.get("Range")
        if (
            range_header
            and not self.server.mirror.ignore_range
            and _if_range_holds(self.headers.get("If-Range"), etag, last_modified)
        ):
            try:
                parsed = parse_range(range_header, size)
            except _RangeNotSatisfiable:
                self._simple(416, b"", Content_Range=f"bytes */{size}", **validators)
                return
            if parsed is not None:
                (start, end), status = parsed, 206
        length = end - start + 1
        self._record(status)
        self.send_response(status)
        self.send_header("Content-Type", "application/zip")
        self.send_header("Content-Length", str(length))
        for k, v in validators.items():
            self.send_header(k.replace("_", "-"), v)
        if status == 206:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        if head:
            return
        faults = self.server.mirror.faults
        drop_at = faults.take_drop(path) if faults is not None else None
        trickle = faults.trickle_rate(path) if faults is not None else 0.0
        self._stream(file, start, length, drop_at, faults.stall if faults else 0.0, trickle)

    def _stream(
        self, file: Path, start: int, length: int, drop_at: int | None, stall: float, trickle: float = 0.0
    ) -> None:
        """Copy the byte range in chunks; with a fault, stop after drop_at bytes and cut the connection, or send
        ``trickle`` bytes per second (ten small writes a second)."""
        limit = length if drop_at is None else min(length, drop_at)
        piece = max(1, int(trickle / 10)) if trickle else CHUNK
        sent = 0
        with open(file, "rb") as f:
            f.seek(start)
            while sent < limit:
                chunk = f.read(min(piece, limit - sent))
                if not chunk:
                    break
                self.wfile.write(chunk)
                sent += len(chunk)
                if trickle:
                    self.wfile.flush()
                    time.sleep(0.1)
        if sent < length:  # a fault (or the file shrank underneath us): the client must notice
            self.wfile.flush()
            if stall:
                time.sleep(stall)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def _if_range_holds(if_range: str | None, etag: str, last_modified: str) -> bool:
    """RFC 9110: the Range applies only if the validator still matches (strong comparison for ETags)."""
    if if_range is None:
        return True
    value = if_range.strip()
    if value.startswith(("W/", '"')):
        return value == etag
    return value == last_modified


#: What a site behind a sign-in wall answers for a file (``FaultPlan.login_page``).
LOGIN_PAGE = (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>Sign in | CMS Enterprise Portal</title>'
    "</head>\n"
    '<body><form method="post" action="/login"><input name="user"><input name="password" type="password">'
    "<button>Sign in</button></form></body></html>\n"
)


# -- pages ---------------------------------------------------------------------------------------------------
_NAV = [
    ("/", "Home"),
    ("/Medicare/Medicare", "Medicare"),
    ("/Medicaid-CHIP/Medicaid-CHIP", "Medicaid/CHIP"),
    (
        "/Research-Statistics-Data-and-Systems/Research-Statistics-Data-and-Systems",
        "Research, Statistics, Data & Systems",
    ),
    ("/Outreach-and-Education/Outreach-and-Education", "Outreach & Education"),
]
_FOOTER = [
    ("/About-CMS/Agency-Information/Aboutwebsite/Privacy-Policy", "Privacy Policy"),
    ("/About-CMS/Agency-Information/Aboutwebsite/Accessibility", "Accessibility"),
    ("/About-CMS/Agency-Information/Aboutwebsite/Foia", "Freedom of Information Act"),
    ("/sitemap", "Site Map"),
]
_PUFS = "/Research-Statistics-Data-and-Systems/Downloadable-Public-Use-Files"
_RELATED = [
    (f"{_PUFS}/BSAPUFS", "Basic Stand Alone (BSA) Medicare Claims Public Use Files"),
    (f"{_PUFS}/BSAPUFS/Downloads/2008_BSA_Inpatient_Claims_PUF.zip", "2008 BSA Inpatient Claims PUF (ZIP)"),
    (f"{names.MAIN_DOWNLOADS_PATH}SynPUF_DUG.pdf", "DE-SynPUF User Manual (PDF)"),
    (f"{names.MAIN_DOWNLOADS_PATH}SynPUF_Codebook.pdf", "DE-SynPUF Codebook (PDF)"),
    (f"{names.MAIN_DOWNLOADS_PATH}SynPUF_FAQ.pdf", "Frequently Asked Questions (PDF)"),
]


def _a(href: str, text: str) -> str:
    return f'<a href="{html.escape(href)}">{html.escape(text)}</a>'


def _page(title: str, body: str) -> str:
    nav = " | ".join(_a(h, t) for h, t in _NAV)
    footer = " ".join(_a(h, t) for h, t in _FOOTER)
    related = "".join(f"<li>{_a(h, t)}</li>" for h, t in _RELATED)
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)} | CMS</title>'
        f'</head>\n<body>\n<header><nav class="main-nav">{nav}</nav>\n'
        f'<div class="breadcrumb">{_a("/", "Home")} &gt; {_a(_PUFS, "Downloadable Public Use Files")} &gt; SynPUFs'
        f"</div></header>\n<main>\n<h1>{html.escape(title)}</h1>\n{body}\n"
        f'<aside class="related"><h3>Related Links</h3><ul>{related}</ul></aside>\n</main>\n'
        f"<footer>{footer}<p>A federal government website managed and paid for by the U.S. Centers for Medicare "
        f"&amp; Medicaid Services. 7500 Security Boulevard, Baltimore, MD 21244</p></footer>\n</body></html>\n"
    )


def landing_html(site: _SiteMap) -> str:
    """The landing page: samples in a two-column table (1, 11, 2, 12, ...), plus the noise of a real page."""
    links = {n: _a(site.sample_path(n), site.text(f"DE1.0 Sample {n}")) for n in site.samples}
    rows = "".join(
        f"<tr><td>{links.get(n, '')}</td><td>{links.get(n + 10, '')}</td></tr>"
        for n in range(1, 11)
        if n in links or n + 10 in links
    )
    popular = f"<p>Most requested: {links[min(links)]}</p>" if links else ""
    body = (
        "<h2>CMS 2008-2010 Data Entrepreneurs' Synthetic Public Use File (DE-SynPUF)</h2>\n"
        "<p>The DE-SynPUF contains synthetic Medicare fee-for-service claims for 2008-2010, released as 20 "
        "random subsamples. Each sample page below offers the beneficiary summary, inpatient, outpatient, "
        "carrier and prescription drug event files.</p>\n"
        f'{popular}\n<table class="samples">{rows}</table>'
    )
    return _page("Medicare Claims Synthetic Public Use Files (SynPUFs)", body)


def sample_html(site: _SiteMap, sample: int, downloads_origin: str) -> str:
    """A sample page: one link per existing zip (CMS's link texts), in CMS's order, plus neighbours and noise."""
    order = {Kind.BENEFICIARY: 0, Kind.CARRIER: 1, Kind.INPATIENT: 2, Kind.OUTPATIENT: 3, Kind.PDE: 4}
    specs = sorted((s for s in site.files if s.sample == sample), key=lambda s: (order[s.kind], s))
    items = "".join(
        (
            f"<li>{_a(site.dead_href(s, downloads_origin), site.text(s.link_text))} (old link)</li>"
            if site.dead_first
            else ""
        )
        + f'<li>{_a(site.href(s, downloads_origin), site.text(s.link_text))} <span class="meta">[ZIP]</span></li>'
        for s in specs
    )
    neighbours = " ".join(
        _a(site.sample_path(n), site.text(f"DE1.0 Sample {n}")) for n in site.samples if abs(n - sample) == 1
    )
    pde = next((s for s in specs if s.kind is Kind.PDE), None)
    note = (
        f"<p>Note: the carrier and {_a(site.href(pde, downloads_origin), 'prescription drug event')} files are "
        "the largest.</p>"
        if pde
        else ""
    )
    body = (
        f"<p>{_a(site.landing_path, 'Back to DE-SynPUF')} {neighbours}</p>\n"
        f'<h2>Downloads</h2>\n<ul class="downloads">{items}</ul>\n{note}'
    )
    return _page(f"DE1.0 Sample {sample}", body)


def serve_mirror(
    root: Path,
    host: str = "127.0.0.1",
    port: int = 8080,
    downloads_port: int = 8081,
    quirks: bool = True,
    layout: str = "legacy",
    verbose: bool = False,
) -> None:
    """Run the mirror until interrupted (the CLI's ``mirror`` command); ``verbose`` logs every request."""
    with CmsMirror(root, host, port, downloads_port, quirks=quirks, layout=layout, verbose=verbose) as mirror:
        print(f"CMS mirror of {Path(root).resolve()} ({layout} layout, quirks={'on' if quirks else 'off'})")
        print(f"  landing page:   {mirror.landing_url}")
        print(f"  downloads host: {mirror.downloads_url}")
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass
