"""The one HTTP client of newsalert, and the policy every request follows.

- Timeouts: connect and per-read timeouts from httpx, plus an overall deadline per request that we
  enforce while streaming (httpx's timeouts are per read, so a server dripping a byte at a time
  would otherwise hold a worker indefinitely).
- Size: the body is counted as it is decoded, so the cap applies to decompressed bytes.
- Conditional GET (RFC 9110 section 13): `If-None-Match` / `If-Modified-Since` from the last
  answer; a 304 comes back as a FetchResult with an empty body and the caller skips parsing.
- Redirects: followed up to a limit. An honest User-Agent names the project.
- Politeness: at most `per_host` requests in flight per host, their starts spread by
  `per_host_spacing` seconds (see politeness.py); the worker pool is the global limit.
Every httpx exception is translated here into `FetchError` and its subclasses.
"""

from __future__ import annotations

import email.utils
import time
from datetime import UTC

import httpx

from service.errors import FetchError, HTTPStatusError, TooLargeError
from service.fetch.politeness import HostLimiter
from service.models import FetchResult
from service.settings import FetchSettings

ACCEPT_FEED = "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, */*;q=0.8"


def freshness(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds the response stays fresh: `Cache-Control: max-age`, else `Expires` (RFC 9111 4.2.1)."""
    for directive in headers.get("Cache-Control", "").split(","):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age" and value.strip('"').isdigit():
            return float(value.strip('"'))
    expires = headers.get("Expires")
    if expires:
        seconds = parse_retry_after(expires, now)  # the same HTTP-date arithmetic
        return seconds if seconds else None
    return None


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP-date), or None."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class Fetcher:
    """Wraps one `httpx.Client` (thread-safe, shared by all workers) with newsalert's policy."""

    def __init__(self, settings: FetchSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            headers={"User-Agent": settings.user_agent},
            limits=httpx.Limits(max_connections=settings.workers * 2, max_keepalive_connections=settings.workers),
            transport=transport,
        )
        self.hosts = HostLimiter(settings.per_host, settings.per_host_spacing)

    def close(self) -> None:
        self.client.close()

    def get(
        self, url: str, etag: str | None = None, last_modified: str | None = None, accept: str = ACCEPT_FEED
    ) -> FetchResult:
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with self.hosts.slot(url):
                started = time.monotonic()
                with self.client.stream("GET", url, headers=headers) as response:
                    return self._read(url, response, started)
        except httpx.TooManyRedirects as e:
            raise FetchError(url, f"more than {self.settings.max_redirects} redirects") from e
        except httpx.TimeoutException as e:
            raise FetchError(url, f"timed out ({type(e).__name__})") from e
        except httpx.HTTPError as e:
            raise FetchError(url, f"{type(e).__name__}: {e}") from e

    def _read(self, url: str, response: httpx.Response, started: float) -> FetchResult:
        status = response.status_code
        if status >= 400 or (status >= 300 and status != 304):
            raise HTTPStatusError(url, status, parse_retry_after(response.headers.get("Retry-After")))
        body = b"" if status == 304 else self._body(url, response, started)
        return FetchResult(
            url=url,
            final_url=str(response.url),
            status=status,
            body=body,
            content_type=response.headers.get("Content-Type", ""),
            etag=response.headers.get("ETag"),
            last_modified=response.headers.get("Last-Modified"),
            max_age=freshness(response.headers),
        )

    def _body(self, url: str, response: httpx.Response, started: float) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap and not response.headers.get("Content-Encoding"):
            raise TooLargeError(url, f"body of {declared} bytes is over the {cap}-byte cap")
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > cap:
                raise TooLargeError(url, f"body passed the {cap}-byte cap (after decompression)")
            if time.monotonic() - started > self.settings.deadline:
                raise FetchError(url, f"deadline of {self.settings.deadline:g}s passed while reading")
            chunks.append(chunk)
        return b"".join(chunks)
