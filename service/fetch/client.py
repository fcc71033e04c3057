"""The one HTTP client of newsalert, and the policy every request follows.

- Addresses: only http(s), and only to public addresses unless `allow_private_hosts` says
  otherwise, judged on the resolved IP at connect time for every hop (transport.py, addresses.py).
- Timeouts: connect and per-read timeouts from httpx, plus an overall deadline per request that
  bounds every connect, read and write (httpx's timeouts are per read, so a server dripping a byte
  at a time would otherwise hold a worker indefinitely).
- Size: the body is decoded here in bounded pieces and counted as it is, so the cap applies to
  decompressed bytes and a compression bomb is stopped before it inflates (decoding.py).
- Conditional GET (RFC 9110 section 13): `If-None-Match` / `If-Modified-Since` from the last
  answer; a 304 comes back as a FetchResult with an empty body and the caller skips parsing.
- Redirects: followed up to a limit. An honest User-Agent names the project.
- Politeness: at most `per_host` requests in flight per host, their starts spread by
  `per_host_spacing` seconds (see politeness.py); the worker pool is the global limit.
Every httpx exception, and the transport's own, is translated here into `FetchError` and its
subclasses (`BlockedAddressError` for a refused address).
"""

from __future__ import annotations

import time

import httpx

from service.deadline import DeadlineExceeded, deadline
from service.errors import BlockedAddressError, FetchError, HTTPStatusError, TooLargeError
from service.fetch.addresses import AddressPolicy
from service.fetch.decoding import ACCEPT_ENCODING, DecodingError, decoded
from service.fetch.politeness import HostLimiter
from service.fetch.transport import AddressRefused, GuardedTransport
from service.models import FetchResult
from service.retry_after import parse_retry_after
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


def _require_http(url: str) -> httpx.URL:
    """The URL, parsed once; only http(s) URLs are fetched (the transport checks every redirect hop again)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as e:
        raise FetchError(url, f"invalid URL: {e}") from e
    if parsed.scheme not in ("http", "https"):
        raise BlockedAddressError(url, "blocked: not an http(s) URL")
    if not parsed.host:
        raise FetchError(url, "invalid URL: no host")
    return parsed


class Fetcher:
    """Wraps one `httpx.Client` (thread-safe, shared by all workers) with newsalert's policy.

    `transport` is a test seam (`httpx.MockTransport`); without it every connection goes through
    the guarded transport.
    """

    def __init__(self, settings: FetchSettings, transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        # Idle connections kept for as many origins as requests may run at once (one small pool
        # per origin: see pools.py).
        limits = httpx.Limits(max_connections=settings.workers * 2, max_keepalive_connections=settings.workers * 2)
        self.client = httpx.Client(
            timeout=httpx.Timeout(settings.read_timeout, connect=settings.connect_timeout),
            follow_redirects=True,
            max_redirects=settings.max_redirects,
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            transport=transport or GuardedTransport(AddressPolicy.allowing(settings.allow_private_hosts), limits),
            trust_env=False,  # no environment proxies: they would connect past the address guard
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
        parsed = _require_http(url)
        try:
            with self.hosts.slot(url):
                started = time.monotonic()
                with (
                    deadline(started + self.settings.deadline),
                    self.client.stream("GET", parsed, headers=headers) as response,
                ):
                    return self._read(url, response, started)
        except AddressRefused as e:
            raise BlockedAddressError(url, str(e)) from e
        except DeadlineExceeded as e:
            raise FetchError(url, f"deadline of {self.settings.deadline:g}s passed") from e
        except httpx.TooManyRedirects as e:
            raise FetchError(url, f"more than {self.settings.max_redirects} redirects") from e
        except httpx.TimeoutException as e:
            raise FetchError(url, f"timed out ({type(e).__name__})") from e
        except (httpx.HTTPError, httpx.InvalidURL) as e:
            raise FetchError(url, f"{type(e).__name__}: {e}") from e

    def _read(self, url: str, response: httpx.Response, started: float) -> FetchResult:
        status = response.status_code
        if status >= 400 or (status >= 300 and status != 304):
            raise HTTPStatusError(url, status, parse_retry_after(response.headers.get("Retry-After")))
        if status == 304:
            # A 304 has no body (RFC 9110 15.4.5), but reading its end lets the connection be kept:
            # httpcore closes one whose response was left unread.
            response.read()
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
        encoding = response.headers.get("Content-Encoding", "")
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > cap and not encoding:
            raise TooLargeError(url, f"body of {declared} bytes is over the {cap}-byte cap")
        body = bytearray()
        try:
            for piece in decoded(response.iter_raw(), encoding):
                if len(body) + len(piece) > cap:
                    raise TooLargeError(url, f"body passed the {cap}-byte cap (after decompression)")
                if time.monotonic() - started > self.settings.deadline:
                    raise FetchError(url, f"deadline of {self.settings.deadline:g}s passed while reading")
                body += piece
        except DecodingError as e:
            raise FetchError(url, f"could not decompress the body ({encoding}): {e}") from e
        return bytes(body)
