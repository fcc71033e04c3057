"""The httpx transport every real request goes through: the address guard and the hard deadline.

Address guard (SSRF). A string check of the URL is easily fooled (`http://127.1`,
`http://2130706433`, `http://0x7f.1`, `http://[::ffff:127.0.0.1]`, or a DNS name that resolves to
10.0.0.5), so the check happens where the socket is opened: httpcore asks its network backend to
`connect_tcp(host, port)`, and ours resolves the host once with `getaddrinfo`, judges every address
(addresses.py) and connects to the judged IP itself, never to the name, so no second lookup can
answer differently (DNS rebinding). Redirect hops open their connections through the same backend,
so every hop is checked; a kept-alive connection is reused only for the origin it was checked
for. TLS still verifies the URL's host name: httpcore passes it to `start_tls` as `server_hostname`.
Environment proxies are not used (the client sets `trust_env=False`): a proxy would resolve and
connect on our behalf, out of the guard's sight.

Deadline. httpx's timeouts bound each read, so a server that drips a byte every few seconds (in
its headers or its body) never trips them. The caller (the fetcher, the LLM client) sets the
request's deadline (service/deadline.py) and every connect, TLS handshake, read and write here is
given at most the time that is left.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from typing import Any

import httpcore
import httpx

from service.deadline import raise_if_past, remaining
from service.fetch.addresses import AddressPolicy
from service.fetch.pools import OriginPools


class AddressRefused(httpx.ConnectError):
    """Raised below httpx when the guard refuses a connection; the fetcher translates it.

    A ConnectError, so a client that knows nothing of the guard (the LLM's) sees a failed connection."""


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every operation is bounded by the current request's deadline."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return self._stream.read(max_bytes, remaining(timeout))
        except httpcore.TimeoutException:
            raise_if_past()
            raise

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        try:
            self._stream.write(buffer, remaining(timeout))
        except httpcore.TimeoutException:
            raise_if_past()
            raise

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None, timeout: float | None = None
    ) -> httpcore.NetworkStream:
        try:
            return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, remaining(timeout)))
        except httpcore.TimeoutException:
            raise_if_past()
            raise

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class GuardedBackend(httpcore.SyncBackend):
    """Resolve, judge every address, then connect to a judged IP (never to the name)."""

    def __init__(self, policy: AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        failure: Exception = httpcore.ConnectError(f"no address for {host}")
        for ip in self.addresses(host, port):
            try:
                stream = super().connect_tcp(ip, port, remaining(timeout), local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as e:
                failure = e  # try the next address, as socket.create_connection would
                continue
            return _DeadlineStream(stream)
        raise_if_past()
        raise failure

    def addresses(self, host: str, port: int) -> list[str]:
        """The host's addresses in resolver order; AddressRefused if any of them is off limits.

        One refused address refuses the host: a name that resolves to a public and a private
        address at once is an attack, not a misconfiguration.
        """
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError) as e:  # socket.gaierror is an OSError
            raise httpcore.ConnectError(f"cannot resolve {host}: {e}") from e
        ips = list(dict.fromkeys(str(info[4][0]) for info in infos))
        if not self.policy.trusts_host(host):
            for ip in ips:
                reason = self.policy.refusal(ip)
                if reason:
                    resolved = "" if ip == host else f" ({host} resolves to it)"
                    raise AddressRefused(f"blocked: {reason}{resolved}")
        return ips


class GuardedTransport(httpx.HTTPTransport):
    """httpx's own transport, with its connection pools built on the guarded backend.

    One pool per origin (pools.py), each with `limits`; idle connections are kept for at most
    `limits.max_keepalive_connections` origins, for `limits.keepalive_expiry` seconds."""

    def __init__(self, policy: AddressPolicy, limits: httpx.Limits) -> None:
        super().__init__(limits=limits)
        backend, ssl_context = GuardedBackend(policy), httpx.create_ssl_context()

        def origin_pool() -> httpcore.ConnectionPool:
            return httpcore.ConnectionPool(
                ssl_context=ssl_context,
                max_connections=limits.max_connections,
                max_keepalive_connections=limits.max_keepalive_connections,
                keepalive_expiry=limits.keepalive_expiry,
                network_backend=backend,
            )

        # HTTPTransport takes no network backend, so its pool is replaced; httpx only calls
        # handle_request, close, __enter__ and __exit__ on it, which OriginPools has.
        self._pool = OriginPools(  # type: ignore[assignment]
            origin_pool, limits.max_keepalive_connections or 0, limits.keepalive_expiry or 0.0
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        # The fetcher checks the first URL; this catches a redirect to file:, ftp:, gopher: ...
        if request.url.scheme not in ("http", "https"):
            raise AddressRefused("blocked: redirected to a URL that is not http(s)")
        return super().handle_request(request)
