"""The polite HTTP client the scraper, the probe and the downloader share (its own module so that
:mod:`.scraper` can use :mod:`.probe` without an import cycle).

One ``requests.Session``, an identifying User-Agent, timeouts, and retries with exponential backoff on connection
errors, 5xx and 429 (honouring ``Retry-After``).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import requests

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 120.0


def _version() -> str:
    try:
        return metadata.version("cms_assets")
    except metadata.PackageNotFoundError:
        return "0"


USER_AGENT = f"cms_assets/{_version()} (+https://github.com/cms-assets/cms_assets)"


@dataclass(frozen=True)
class RemoteInfo:
    url: str
    size: int | None
    etag: str | None
    last_modified: str | None


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


class HttpClient:
    """Requests with retries and backoff, and HEAD for a file's validators."""

    def __init__(self, user_agent: str = USER_AGENT, timeout: float = 30.0, retries: int = 4, backoff: float = 0.5):
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = requests.Session()
        self.session.headers["User-Agent"] = user_agent

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

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

    def head_first(self, urls: Sequence[str]) -> tuple[str, RemoteInfo]:
        """The first of a file's links that answers a HEAD (a page may link a file twice, the first link dead),
        with its validators; SiteError listing every link and its answer when none does."""
        if not urls:
            raise SiteError("no link to try")
        errors: list[str] = []
        for url in urls:
            try:
                return url, self.head(url)
            except SiteError as e:
                if len(urls) == 1:
                    raise
                errors.append(str(e))
        raise SiteError(f"none of its {len(urls)} links answers: " + "; ".join(errors))
