"""Two cycles over changing feeds, a restart, a third cycle: exactly the expected Slack messages."""

from __future__ import annotations

import html
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service import app
from service import settings as config
from tests.support.feeds import ago, article, atom, rss
from tests.support.servers import FakeSlack, Page, Site

NOW = datetime.now(UTC).replace(microsecond=0)
LOREM = [
    "The agreement, announced on Tuesday, changes how the two companies share technology and revenue.",
    "Analysts said the change could reshape the competitive landscape for large AI labs over the next year.",
    "Neither company disclosed the financial terms, but people familiar with the talks described them as lengthy.",
    "The deal still needs approval from regulators in several countries before it takes effect.",
]


def _sources(site: Site) -> str:
    return f"""
    sources:
      - name: Lab Blog
        url: {site.url}/lab.xml
      - name: Tech Desk
        url: {site.url}/desk.atom
    """


def _serve_pages(site: Site) -> None:
    for slug, title in [
        ("agi", "Microsoft free to build its own AGI after renegotiating its OpenAI deal"),
        ("funding", "Anthropic raises $13 billion at $183 billion valuation"),
        ("deal", "Nvidia to invest up to $100 billion in OpenAI as part of data center deal"),
        ("reg", "EU lawmakers agree on rules for general-purpose AI under the AI Act"),
    ]:
        site.pages[f"/{slug}.html"] = Page(article(title, LOREM), content_type="text/html; charset=utf-8")


def _load(cfg: Path, slack: FakeSlack) -> config.Settings:
    return config.load(cfg, env={"SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url})


def test_cycles_restart_exactly_once(site: Site, slack: FakeSlack, make_config: Callable[..., Path]) -> None:
    _serve_pages(site)
    u = site.url
    site.pages["/lab.xml"] = Page(
        rss(
            [
                (
                    "Microsoft free to build its own AGI after renegotiating its OpenAI deal",
                    f"{u}/agi.html",
                    ago(NOW, 1),
                ),
                ("Our favourite hiking trails this autumn", f"{u}/hiking.html", ago(NOW, 2)),
                ("OpenAI and Microsoft sign AGI clause deal", f"{u}/old.html", ago(NOW, 72)),  # older than 24 h
            ]
        )
    )
    site.pages["/desk.atom"] = Page(
        atom(
            [
                (
                    "Anthropic raises $13 billion at $183 billion valuation",
                    f"{u}/funding.html?utm_source=rss",
                    ago(NOW, 3),
                ),
            ]
        ),
        content_type="application/atom+xml",
    )
    cfg = make_config(_sources(site))
    settings = _load(cfg, slack)

    with app.context(settings) as ctx:
        reports = app.run_once(ctx)
        # Every item is done with (the hiking one matched nothing; the 72-hour-old one is `old`).
        statuses = ctx.store._db.execute("SELECT title, status, matches FROM items ORDER BY title").fetchall()
    assert [r.status for r in reports] == ["ok", "ok"]
    assert [(t[:20], s, m == "[]") for t, s, m in statuses] == [
        ("Anthropic raises $13", "processed", False),
        ("Microsoft free to bu", "processed", False),
        ("OpenAI and Microsoft", "old", True),
        ("Our favourite hiking", "processed", True),
    ]
    # Both sources are polled concurrently, so only the set of the first cycle's messages is fixed.
    assert sorted((m["channel"], m["text"].split("] ")[1][:30]) for m in slack.messages) == [
        ("#ai-agi", "Microsoft free to build its ow"),
        ("#ai-deals", "Anthropic raises $13 billion a"),
        ("#ai-deals", "Microsoft free to build its ow"),
    ]

    # Cycle 2: the lab feed gains an item; the desk feed is unchanged (answered 304).
    site.pages["/lab.xml"] = Page(
        rss(
            [
                (
                    "Nvidia to invest up to $100 billion in OpenAI as part of data center deal",
                    f"{u}/deal.html",
                    ago(NOW, 0.5),
                ),
                (
                    "Microsoft free to build its own AGI after renegotiating its OpenAI deal",
                    f"{u}/agi.html",
                    ago(NOW, 1),
                ),
                ("Our favourite hiking trails this autumn", f"{u}/hiking.html", ago(NOW, 2)),
            ]
        )
    )
    with app.context(settings) as ctx:
        reports = app.run_once(ctx)
    assert [r.status for r in reports] == ["ok", "not-modified"]
    assert len(slack.messages) == 4
    assert slack.messages[3]["channel"] == "#ai-deals" and "Nvidia" in slack.messages[3]["text"]

    # Restart (a new process would reload settings and reopen the store), then a third cycle where
    # another outlet repeats a known link (with tracking parameters) and adds a new story.
    site.pages["/desk.atom"] = Page(
        atom(
            [
                ("EU lawmakers agree on rules for general-purpose AI under the AI Act", f"{u}/reg.html", ago(NOW, 0.2)),
                ("Microsoft can now pursue AGI on its own", f"{u}/agi.html?utm_medium=social#top", ago(NOW, 0.3)),
                (
                    "Anthropic raises $13 billion at $183 billion valuation",
                    f"{u}/funding.html?utm_source=rss",
                    ago(NOW, 3),
                ),
            ]
        ),
        content_type="application/atom+xml",
    )
    settings = _load(cfg, slack)
    with app.context(settings) as ctx:
        app.run_once(ctx)
        assert ctx.store.outbox_counts() == {"sent": 5}
    assert [m["channel"] for m in slack.messages[3:]] == ["#ai-deals", "#ai-policy"]
    keys = [(m["channel"], m["text"]) for m in slack.messages]
    assert len(set(keys)) == len(keys)
    # The conditional GET round trip happened: the second desk poll sent the validator back.
    desk = [h for p, h in site.requests if p == "/desk.atom"]
    assert "If-None-Match" not in desk[0] and desk[1].get("If-None-Match")


def test_console_without_credentials(site: Site, make_config: Callable[..., Path], capsys: object) -> None:
    _serve_pages(site)
    site.pages["/lab.xml"] = Page(
        rss(
            [
                ("Anthropic raises $13 billion at $183 billion valuation", f"{site.url}/funding.html", ago(NOW, 1)),
            ]
        )
    )
    settings = config.load(make_config(f"sources:\n  - name: Lab\n    url: {site.url}/lab.xml\n"), env={})
    with app.context(settings) as ctx:
        assert ctx.deliverer.name == "console"
        app.run_once(ctx)
    out = capsys.readouterr().out  # type: ignore[attr-defined]
    assert "Anthropic raises $13 billion" in out
    assert "funding (Anthropic, $13B; matched Anthropic, raises" in out
    assert f"{site.url}/funding.html" in out


def test_same_article_under_another_link_alerts_once(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    title = "Anthropic raises $13 billion at $183 billion valuation"
    page = article(title, LOREM).replace(b"<head>", f'<head><link rel="canonical" href="{site.url}/story">'.encode())
    site.pages["/story"] = Page(page, content_type="text/html")
    site.pages["/syndicated/copy-123"] = Page(page, content_type="text/html")
    site.pages["/lab.xml"] = Page(rss([(title, f"{site.url}/story", ago(NOW, 1))]))
    site.pages["/desk.atom"] = Page(atom([(title, f"{site.url}/syndicated/copy-123", ago(NOW, 1))]))
    settings = _load(make_config(_sources(site), "fetch: {workers: 1}\n"), slack)
    with app.context(settings) as ctx:
        reports = app.run_once(ctx)
    assert [r.new for r in reports] == [1, 1]
    assert len(slack.messages) == 1 and title in slack.messages[0]["text"]


@pytest.mark.parametrize(
    "hostile",
    [
        "<!channel> Anthropic raises $13 billion",
        "<!here> Anthropic raises $13 billion",
        "<!everyone> Anthropic raises $13 billion",
        "<@U123> Anthropic raises $13 billion",
        "<http://evil.example|click> Anthropic raises $13 billion",
        "&lt;!channel&gt; Anthropic raises $13 billion",  # the feed parser decodes it to <!channel>
    ],
)
def test_mentions_and_links_in_a_feed_reach_slack_inert(
    hostile: str, site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    title = html.escape(hostile)  # as it travels inside the XML
    body = rss([("placeholder", f"{site.url}/a.html", ago(NOW, 1))]).replace(b"placeholder", title.encode(), 1)
    site.pages["/lab.xml"] = Page(body)
    cfg = make_config(f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml'}}\n", "article_fetch: false\n")
    with app.context(_load(cfg, slack)) as ctx:
        app.run_once(ctx)
    (message,) = slack.messages
    posted = message["text"] + str(message["blocks"])
    for raw in ("<!channel>", "<!here>", "<!everyone>", "<@U123>", "<http://evil"):
        assert raw not in posted
    assert "Anthropic raises $13 billion" in posted  # the story still arrives (the mention escaped or stripped)
