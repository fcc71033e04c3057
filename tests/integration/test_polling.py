"""Polling policy against a loopback server: backoff, Retry-After, TTL/max-age, gaps, health notices."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service import app, scheduler
from service import settings as config
from service.pipeline import Context, poll_source, record_internal_error
from tests.support.feeds import ago, rss
from tests.support.servers import FakeSlack, Page, Site

T0 = datetime.now(UTC).replace(microsecond=0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def poll(site: Site, slack: FakeSlack, make_config: Callable[..., Path]) -> Iterator[tuple[Context, Clock]]:
    cfg = make_config(
        f"sources:\n  - {{name: Lab, url: '{site.url}/f.xml'}}\n"
        f"  - {{name: Pinned, url: '{site.url}/f.xml', interval: 15m}}\n",
        "article_fetch: false\nmin_interval: 2m\nmax_interval: 6h\ndefault_interval: 10m\n",
    )
    settings = config.load(cfg, env={"SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url})
    clock = Clock()
    with app.context(settings, clock=clock) as ctx:
        yield ctx, clock


def _entries(n: int, start: int = 0, hours: float = 1) -> list[tuple[str, str, datetime]]:
    return [(f"Story {i}", f"http://example.com/{i}", ago(T0, hours * (i - start))) for i in range(start, start + n)]


def _items(n: int, start: int = 0, hours: float = 1) -> bytes:
    return rss(_entries(n, start, hours))


def _poll(ctx: Context, name: str = "Lab") -> float:
    report = poll_source(ctx, next(s for s in ctx.settings.sources if s.name == name))
    assert report.next_poll is not None
    return (report.next_poll - ctx.clock()).total_seconds()


def test_interval_follows_the_publishing_rate_within_bounds(site: Site, poll: tuple[Context, Clock]) -> None:
    ctx, _ = poll
    site.pages["/f.xml"] = Page(_items(100))  # hourly: 100 items in the last week
    assert _poll(ctx) == pytest.approx(7 * 24 * 3600 / 100)
    site.pages["/f.xml"] = Page(rss(_entries(3, start=200, hours=0.5) + _entries(100)))  # 103 this week
    assert _poll(ctx) == pytest.approx(7 * 24 * 3600 / 103)
    site.pages["/f.xml"] = Page(_items(2, hours=24 * 30))  # one this month, nothing else this week
    assert _poll(ctx, "Pinned") == 900  # a pinned interval never adapts


def test_a_quiet_source_is_polled_at_the_upper_bound(site: Site, poll: tuple[Context, Clock]) -> None:
    ctx, _ = poll
    old = [(f"Old {d}", f"http://example.com/old{d}", ago(T0, 24 * d)) for d in (30, 60)]
    site.pages["/f.xml"] = Page(rss(old))
    assert _poll(ctx) == 6 * 3600  # dated items, none this week: as rarely as allowed


def test_server_hints_ttl_and_max_age(site: Site, poll: tuple[Context, Clock]) -> None:
    ctx, _ = poll
    feed = _items(100).replace(b"<channel>", b"<channel><ttl>180</ttl>")
    site.pages["/f.xml"] = Page(feed)
    assert _poll(ctx) == 3 * 3600  # ttl of 180 minutes, longer than the rate's 1.7 h
    assert _poll(ctx) == 3 * 3600  # unchanged, a 304 without a body: the ttl still holds
    assert site.requests[-1][1].get("If-None-Match")
    site.pages["/f.xml"] = Page(_items(100) + b" ", headers={"Cache-Control": "public, max-age=50000"})
    assert _poll(ctx) == 6 * 3600  # max-age, within the upper bound
    site.pages["/f.xml"] = Page(_items(100) + b"  ", headers={"Cache-Control": "max-age=60"})
    assert _poll(ctx) == pytest.approx(6048)  # a shorter hint than our own rate: ours


@pytest.mark.parametrize("status", [429, 503])
def test_retry_after_is_honoured(site: Site, poll: tuple[Context, Clock], status: int) -> None:
    ctx, _ = poll
    site.pages["/f.xml"] = Page(b"busy", status=status, headers={"Retry-After": "5400"})
    assert _poll(ctx) == 5400


def test_failures_back_off_exponentially_capped_and_recover(site: Site, poll: tuple[Context, Clock]) -> None:
    ctx, _ = poll
    site.pages["/f.xml"] = Page(b"oops", status=500)
    waits = [_poll(ctx) for _ in range(8)]
    assert waits[:4] == [600, 1200, 2400, 4800]
    assert waits[-1] == 6 * 3600  # capped, still polled
    site.pages["/f.xml"] = Page(_items(100))
    assert _poll(ctx) == pytest.approx(6048)
    assert ctx.store.source_state("Lab").consecutive_errors == 0


def test_gap_when_every_item_is_new(site: Site, poll: tuple[Context, Clock]) -> None:
    ctx, clock = poll
    site.pages["/f.xml"] = Page(_items(5))
    _poll(ctx)
    site.pages["/f.xml"] = Page(_items(6, start=100))  # rolled over: nothing we saw before
    clock.now += timedelta(minutes=30)
    assert _poll(ctx) == 120  # the lower bound: look again soon
    row = next(r for r in ctx.store.sources_report(ctx.clock()) if r["name"] == "Lab")
    assert row["possible_gap_at"] is not None
    site.pages["/f.xml"] = Page(_items(7, start=99))  # one new, the rest known
    report = poll_source(ctx, ctx.settings.sources[0])
    assert report.gap is False and report.new == 1


def test_one_notice_when_failing_and_one_on_recovery(site: Site, slack: FakeSlack, poll: tuple[Context, Clock]) -> None:
    ctx, _ = poll
    lab = ctx.settings.sources[0]
    site.pages["/f.xml"] = Page(b"oops", status=500)
    for _ in range(6):
        poll_source(ctx, lab)
        app.deliver(ctx)
    assert [m["channel"] for m in slack.messages] == ["#newsalert-ops"]
    assert "Source 'Lab' is failing: 3 errors in a row" in slack.messages[0]["text"]
    site.pages["/f.xml"] = Page(_items(2))
    for _ in range(3):
        poll_source(ctx, lab)
        app.deliver(ctx)
    assert len(slack.messages) == 2 and "recovered after 6 failed polls" in slack.messages[1]["text"]
    assert "HTTP 500" in str(slack.messages[1]["blocks"])


def test_validators_a_304_leaves_out_are_kept(site: Site, poll: tuple[Context, Clock]) -> None:
    ctx, _ = poll
    site.pages["/f.xml"] = Page(_items(3))  # the test site's 304 repeats the ETag, not Last-Modified
    for _ in range(3):
        _poll(ctx)
    sent = [headers for path, headers in site.requests if path == "/f.xml"]
    assert [h.get("If-Modified-Since") is not None for h in sent] == [False, True, True]
    assert all(h.get("If-None-Match") for h in sent[1:])


def test_a_late_poll_job_still_runs_and_is_put_back(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    """A one-shot poll job run past APScheduler's grace time (a paused VM, a busy pool) is not dropped."""
    site.pages["/f.xml"] = Page(_items(3))
    cfg = make_config(f"sources:\n  - {{name: Lab, url: '{site.url}/f.xml'}}\n", "article_fetch: false\njitter: 0s\n")
    settings = config.load(cfg, env={})
    # Seven hours behind: every run, the first and the next (at most 6 h on), is hours late.
    behind = lambda: datetime.now(UTC) - timedelta(hours=7)  # noqa: E731
    with app.context(settings, clock=behind) as ctx:
        sched = scheduler.build(ctx)
        sched.start()
        try:
            deadline = time.monotonic() + 10
            while len([p for p, _ in site.requests if p == "/f.xml"]) < 3 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len([p for p, _ in site.requests if p == "/f.xml"]) >= 3  # run late, put back, run again
        finally:
            sched.shutdown(wait=True)


def test_a_bug_in_a_poll_counts_as_a_failure_with_backoff_and_notice(site: Site, poll: tuple[Context, Clock]) -> None:
    ctx, _ = poll
    source = next(s for s in ctx.settings.sources if s.name == "Lab")
    waits = []
    for _ in range(3):
        report = record_internal_error(ctx, source, "internal error: KeyError")
        assert report.next_poll is not None
        waits.append((report.next_poll - ctx.clock()).total_seconds())
    assert waits == [600, 1200, 2400]  # backed off like any failure
    state = ctx.store.source_state("Lab")
    assert state.consecutive_errors == 3 and state.health == "down"  # and the ops channel was told
