"""A broken source is recorded on the source and never stops the others; recovery clears it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from service import app
from service import settings as config
from service.deliver.console import ConsoleDeliverer
from tests.support.feeds import ago, rss
from tests.support.servers import Page, Site

NOW = datetime.now(UTC)


def test_each_failure_is_recorded_and_the_rest_goes_on(
    site: Site, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    good = rss([("Anthropic raises $13 billion at $183 billion valuation", f"{site.url}/a.html", ago(NOW, 1))])
    site.pages["/good.xml"] = Page(good)
    site.pages["/500.xml"] = Page(b"oops", status=500)
    site.pages["/broken.xml"] = Page(b"\x00\x01 this is <<< not XML at all")
    # Truncated mid-document: recovered, the complete item is kept.
    site.pages["/truncated.xml"] = Page(good[: good.index(b"</item>") + 7])
    site.pages["/slow.xml"] = Page(good, delay=2.5)
    names = ["good", "404", "500", "broken", "slow"]
    cfg = make_config(
        "sources:\n" + "".join(f"  - {{name: {n}, url: '{site.url}/{n}.xml'}}\n" for n in [*names, "truncated"]),
        "article_fetch: false\nfetch: {read_timeout: 1.0}\n",  # headroom for the good ones on a busy machine
    )
    settings = config.load(cfg, env={})
    with (tmp_path / "alerts.txt").open("w") as out, app.context(settings, deliverer=ConsoleDeliverer(out)) as ctx:
        reports = {r.source: r for r in app.run_once(ctx)}
        assert reports["good"].status == "ok" and reports["good"].alerts == 1
        assert reports["truncated"].status == "ok" and reports["truncated"].items == 1
        assert {n: reports[n].status for n in names[1:]} == dict.fromkeys(names[1:], "error")
        assert "HTTP 404" in (reports["404"].error or "")
        assert "HTTP 500" in (reports["500"].error or "")
        assert "not a feed" in (reports["broken"].error or "")
        assert "timed out" in (reports["slow"].error or "")
        app.run_once(ctx)
        assert ctx.store.source_state("500").consecutive_errors == 2
        assert ctx.store.source_state("good").consecutive_errors == 0

        site.pages["/500.xml"] = Page(rss([("Hello", f"{site.url}/h.html", ago(NOW, 1))]))
        app.run_once(ctx)
        recovered = ctx.store.source_state("500")
        assert recovered.consecutive_errors == 0 and recovered.last_success is not None
    assert (tmp_path / "alerts.txt").read_text().count("━━ #ai-deals ━━ Anthropic raises") == 1


def test_an_unchanged_broken_feed_is_not_parsed_again(site: Site, make_config: Callable[..., Path]) -> None:
    site.pages["/bad.xml"] = Page(b"<html><body>We moved our feed</body></html>", content_type="text/html")
    site.pages["/bad-novalidators.xml"] = Page(b"{not json nor xml", validators=False)
    cfg = make_config(
        f"sources:\n  - {{name: bad, url: '{site.url}/bad.xml'}}\n"
        f"  - {{name: bare, url: '{site.url}/bad-novalidators.xml'}}\n",
        "article_fetch: false\n",
    )
    with app.context(config.load(cfg, env={})) as ctx:
        first = {r.source: r for r in app.run_once(ctx)}
        second = {r.source: r for r in app.run_once(ctx)}
        assert "not a feed" in (first["bad"].error or "")
        for name in ("bad", "bare"):  # a 304 on the bad body's validators, or the same body hash
            assert second[name].status == "error"
            assert (second[name].error or "").startswith("unchanged since it failed: not a feed")
        bad_requests = [headers for path, headers in site.requests if path == "/bad.xml"]
        assert bad_requests[1].get("If-None-Match")  # the bad body's validators were kept: a 304
        site.pages["/bad.xml"] = Page(rss([("Hello", f"{site.url}/h.html", ago(NOW, 1))]))
        third = {r.source: r for r in app.run_once(ctx)}
        assert third["bad"].status == "ok" and ctx.store.source_state("bad").failed_body_hash is None
        assert ctx.store.source_state("bare").consecutive_errors == 3
