"""Sources are handed to the workers one host after another, each host's in its own order."""

from __future__ import annotations

from service.fetch.politeness import spread_by_host


def test_hosts_take_turns() -> None:
    urls = [
        "http://a.example/1",
        "http://a.example/2",
        "http://a.example/3",
        "http://b.example/1",
        "http://c.example/1",
    ]
    assert [urls[i] for i in spread_by_host(urls)] == [
        "http://a.example/1",
        "http://b.example/1",
        "http://c.example/1",
        "http://a.example/2",
        "http://a.example/3",
    ]


def test_an_order_that_already_alternates_is_kept_and_nothing_is_lost() -> None:
    urls = [f"http://h{i % 3}.example/{i}" for i in range(9)]
    assert spread_by_host(urls) == list(range(9))
    assert spread_by_host([]) == []
    assert sorted(spread_by_host(["http://A.example/", "http://a.example:8080/", "http://a.example/x"])) == [0, 1, 2]
