"""One connection pool per origin: reused while in use, closed when idle too long or too many, never mid-response."""

from __future__ import annotations

from collections.abc import Iterator

import httpcore

from service.fetch.pools import OriginPools


class FakePool:
    def __init__(self, log: list[str]) -> None:
        self.log, self.closed = log, False

    def handle_request(self, request: httpcore.Request) -> httpcore.Response:
        assert not self.closed, "a closed pool was used"
        self.log.append(request.url.host.decode())
        return httpcore.Response(200, content=Body())

    def close(self) -> None:
        self.closed = True


class Body:
    def __iter__(self) -> Iterator[bytes]:
        yield b"ok"

    def close(self) -> None:
        pass


def pools(max_idle: int, expiry: float = 60.0) -> tuple[OriginPools, list[FakePool], list[str]]:
    made: list[FakePool] = []
    log: list[str] = []

    def make() -> FakePool:
        made.append(FakePool(log))
        return made[-1]

    return OriginPools(make, max_idle, expiry), made, log  # type: ignore[arg-type]


def get(p: OriginPools, host: str, close: bool = True) -> httpcore.Response:
    response = p.handle_request(httpcore.Request("GET", f"http://{host}/feed.xml"))
    assert b"".join(response.stream) == b"ok"  # type: ignore[arg-type]
    if close:
        response.stream.close()  # type: ignore[union-attr]
    return response


def test_an_origin_keeps_its_pool() -> None:
    p, made, log = pools(max_idle=4)
    get(p, "a.example")
    get(p, "a.example")
    get(p, "b.example")
    assert len(made) == 2 and log == ["a.example", "a.example", "b.example"]
    assert not any(pool.closed for pool in made)
    p.close()
    assert all(pool.closed for pool in made)


def test_least_recently_used_origins_beyond_the_limit_are_closed() -> None:
    p, made, _ = pools(max_idle=2)
    for host in ("a.example", "b.example", "a.example", "c.example"):
        get(p, host)
    a, b, c = made
    assert b.closed and not a.closed and not c.closed


def test_a_pool_with_a_response_in_flight_is_not_closed() -> None:
    p, made, _ = pools(max_idle=0)
    open_response = get(p, "a.example", close=False)
    get(p, "b.example")
    assert not made[0].closed  # a.example's response is still being read
    open_response.stream.close()  # type: ignore[union-attr]
    get(p, "c.example")
    assert made[0].closed and made[1].closed


def test_origins_unused_past_the_keepalive_expiry_are_closed() -> None:
    p, made, _ = pools(max_idle=10, expiry=0.0)
    get(p, "a.example")
    get(p, "b.example")
    assert made[0].closed
