"""One alert per story: five outlets, one thread (a parent, four replies, the parent updated), across
a restart; digests that carry exactly the held alerts once; quiet hours; webhook folding."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from service import app
from service import settings as config
from service.cli import main
from service.deliver.console import ConsoleDeliverer
from service.deliver.slack import SlackBotDeliverer, SlackWebhookDeliverer
from service.pipeline import deliver
from service.store.stories import StoryStore
from tests.support.feeds import ago, rss
from tests.support.servers import FakeSlack, Page, Site
from tests.support.targets import LostAnswer

NOW = datetime.now(UTC).replace(microsecond=0)
COVERAGE = [
    ("Lab Blog", "Microsoft and OpenAI renegotiate their deal, freeing Microsoft to pursue AGI"),
    ("Tech Desk", "Microsoft free to build its own AGI after renegotiating OpenAI deal"),
    ("The Verge", "OpenAI and Microsoft sign a new deal: Microsoft can now pursue AGI on its own"),
    ("Hacker News", "Microsoft can pursue AGI independently under renegotiated OpenAI deal"),
    ("Korea Desk", "마이크로소프트, 오픈AI와 계약 재협상…자체 AGI 개발 가능"),
]
ROUTES = "  routes: {agi: '#ai-agi', partnership: '#ai-deals', funding: '#ai-deals'}\n"
OTHER = "Anthropic raises $13 billion at $183 billion valuation"


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def _serve(site: Site, outlets: list[tuple[str, str]], extra: tuple[str, str] | None = None) -> None:
    for i, (name, title) in enumerate(outlets):
        items = [(title, f"{site.url}/{_slug(name)}/story.html", ago(NOW, 5 - i))]
        if extra and extra[0] == name:
            items.append((extra[1], f"{site.url}/{_slug(name)}/other.html", ago(NOW, 5 - i)))
        site.pages[f"/{_slug(name)}.xml"] = Page(rss(items, title=name))


def _config(make_config: Callable[..., Path], site: Site, settings: str = "") -> Path:
    lines = "".join(f"  - {{name: {n}, url: '{site.url}/{_slug(n)}.xml'}}\n" for n, _ in COVERAGE)
    return make_config("sources:\n" + lines, "article_fetch: false\n" + settings)


def _bot(cfg: Path, slack: FakeSlack) -> config.Settings:
    return config.load(cfg, env={"SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url})


def _threads(slack: FakeSlack, channel: str) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    cid = slack.channel_id(channel)
    mine = [m for m in slack.messages if m["channel_id"] == cid]
    return [m for m in mine if not m.get("thread_ts")], [m for m in mine if m.get("thread_ts")]


def test_five_outlets_make_one_thread_across_a_restart(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    empty = [(name, "") for name, _ in COVERAGE[3:]]
    _serve(site, COVERAGE[:3])
    for name, _ in empty:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    cfg = _config(make_config, site)
    with app.context(_bot(cfg, slack)) as ctx:
        app.run_once(ctx)
    _serve(site, COVERAGE)  # the last two outlets report it after the restart
    with app.context(_bot(cfg, slack)) as ctx:
        app.run_once(ctx)
        stories = StoryStore(ctx.store).story_count()
    assert stories == 1
    for channel in ("#ai-agi", "#ai-deals"):  # the story matches agi and partnership
        parents, replies = _threads(slack, channel)
        assert len(parents) == 1 and len(replies) == 4
        assert {r["thread_ts"] for r in replies} == {parents[0]["ts"]}
        assert all(str(r["text"]).startswith("Also reported by ") for r in replies)
        updates = [u for u in slack.updates if u["channel"] == slack.channel_id(channel)]
        assert [u["ts"] for u in updates] == [parents[0]["ts"]] * 4
        counts = [next(b for b in m["blocks"] if b["type"] == "context" and "Covered by" in str(b)) for m in parents]
        assert "Covered by 5 outlets" in str(counts[0])  # the parent, as last updated
    # In order: each reply is posted before the parent is updated with its outlet.
    assert len(slack.messages) == 2 * 5


def test_a_second_run_posts_nothing_more(site: Site, slack: FakeSlack, make_config: Callable[..., Path]) -> None:
    _serve(site, COVERAGE, extra=("Lab Blog", OTHER))
    cfg = _config(make_config, site)
    for _ in range(2):
        with app.context(_bot(cfg, slack)) as ctx:
            app.run_once(ctx)
    assert len(slack.messages) == 2 * 5 + 1  # the funding story is a story of its own
    assert len(slack.updates) == 2 * 4


def _held_config(make_config: Callable[..., Path], site: Site) -> Path:
    policy = f"slack:\n{ROUTES}  channels:\n    '#ai-agi': {{delivery: digest, digest: hourly, timezone: Asia/Seoul}}\n"
    return _config(make_config, site, policy)


def test_a_digest_carries_exactly_the_held_stories_once(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    _serve(site, COVERAGE[:2], extra=("Tech Desk", "OpenAI reorganizes its AGI safety team"))
    for name, _ in COVERAGE[2:]:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    cfg = _held_config(make_config, site)
    clock = [NOW.replace(minute=10)]
    with app.context(_bot(cfg, slack), clock=lambda: clock[0]) as ctx:
        app.run_once(ctx)
        agi_parents, _ = _threads(slack, "#ai-agi")
        assert agi_parents == []  # held: the channel takes hourly digests only
        assert len(StoryStore(ctx.store).held("#ai-agi")) == 3  # two outlets of one story, one other story
    clock[0] = NOW.replace(minute=10) + timedelta(hours=1)  # the next hour has begun
    for _ in range(2):  # a restart, and the same digest time again: nothing twice
        with app.context(_bot(cfg, slack), clock=lambda: clock[0]) as ctx:
            app.run_once(ctx)
            assert StoryStore(ctx.store).held("#ai-agi") == []
    digests, _ = _threads(slack, "#ai-agi")
    assert len(digests) == 1
    text = str(digests[0]["blocks"])
    assert "2 stories" in str(digests[0]["text"])
    first = COVERAGE[0][1] in text or COVERAGE[1][1] in text  # whichever outlet was polled first
    assert first and "(+1 more)" in text and "AGI safety team" in text
    assert "KST" in str(digests[0]["text"])
    with app.context(_bot(cfg, slack), clock=lambda: clock[0]) as ctx:  # housekeeping, a month on
        assert StoryStore(ctx.store).prune(clock[0] - timedelta(days=30)) == 0
        assert StoryStore(ctx.store).prune(clock[0] + timedelta(seconds=1)) == 3


def test_quiet_hours_hold_alerts_until_their_end(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    _serve(site, COVERAGE[:1])
    for name, _ in COVERAGE[1:]:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    seoul = NOW.astimezone(ZoneInfo("Asia/Seoul"))
    start, end = (seoul - timedelta(hours=1)).strftime("%H:00"), (seoul + timedelta(hours=2)).strftime("%H:00")
    quiet = f"slack:\n{ROUTES}  channels:\n    '#ai-agi': {{quiet_hours: '{start}-{end}', timezone: Asia/Seoul}}\n"
    cfg = _config(make_config, site, quiet)
    clock = [NOW]  # inside the quiet hours
    with app.context(_bot(cfg, slack), clock=lambda: clock[0]) as ctx:
        app.run_once(ctx)
    assert _threads(slack, "#ai-agi")[0] == [] and len(_threads(slack, "#ai-deals")[0]) == 1
    clock[0] = NOW + timedelta(hours=3)  # after them: what they held comes as one digest
    with app.context(_bot(cfg, slack), clock=lambda: clock[0]) as ctx:
        app.run_once(ctx)
    (digest,) = _threads(slack, "#ai-agi")[0]
    assert "1 stories" in str(digest["text"]) and "Microsoft and OpenAI renegotiate" in str(digest["blocks"])


def test_a_story_that_breaks_through_quiet_hours_is_not_in_their_digest(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    for name, _ in COVERAGE:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    seoul = NOW.astimezone(ZoneInfo("Asia/Seoul"))
    start, end = (seoul - timedelta(hours=1)).strftime("%H:00"), (seoul + timedelta(hours=2)).strftime("%H:00")
    # One outlet scores about 0.87 (five hours old), two about 1.8: the second outlet makes it urgent.
    policy = f"{{quiet_hours: '{start}-{end}', timezone: Asia/Seoul, urgent_score: 1.5}}"
    cfg = _config(make_config, site, f"slack:\n{ROUTES}  channels:\n    '#ai-agi': {policy}\n")
    clock = [NOW]
    for outlets in (1, 2):  # inside the quiet hours: held, then posted once a second outlet has it
        _serve(site, COVERAGE[:outlets])
        with app.context(_bot(cfg, slack), clock=lambda: clock[0]) as ctx:
            app.run_once(ctx)
    (posted,) = _threads(slack, "#ai-agi")[0]
    assert "Microsoft" in str(posted["text"])
    clock[0] = NOW + timedelta(hours=3)  # after the quiet hours: nothing held is left to tell
    with app.context(_bot(cfg, slack), clock=lambda: clock[0]) as ctx:
        app.run_once(ctx)
        assert StoryStore(ctx.store).held("#ai-agi") == []
    assert _threads(slack, "#ai-agi")[0] == [posted]


def test_a_story_kept_back_for_its_outlets_is_posted_when_coverage_arrives_under_another_topic(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    second = ("Tech Desk", "Microsoft and OpenAI renegotiate their deal after months of talks")  # no AGI
    for name, _ in COVERAGE:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    cfg = _config(make_config, site, f"slack:\n{ROUTES}  channels:\n    '#ai-agi': {{min_outlets: 2}}\n")
    _serve(site, COVERAGE[:1])
    with app.context(_bot(cfg, slack)) as ctx:
        app.run_once(ctx)
    assert _threads(slack, "#ai-agi")[0] == []  # one outlet: kept back
    _serve(site, [COVERAGE[0], second])  # the second outlet's headline matches partnership only
    with app.context(_bot(cfg, slack)) as ctx:  # a restart between the two, too
        app.run_once(ctx)
        assert StoryStore(ctx.store).story_count() == 1
    (parent,) = _threads(slack, "#ai-agi")[0]
    assert "Covered by 2 outlets" in str(parent["blocks"])
    parents, replies = _threads(slack, "#ai-deals")
    assert len(parents) == 1 and len(replies) == 1  # the partnership channel as before


def test_a_webhook_folds_later_coverage_into_the_digest(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    _serve(site, COVERAGE[:3])
    for name, _ in COVERAGE[3:]:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    cfg = _config(make_config, site, "slack:\n  routes: {agi: '#ai-agi'}\n")
    settings = config.load(cfg, env={"SLACK_WEBHOOK_URL": slack.webhook_url})
    with app.context(settings, deliverer=SlackWebhookDeliverer(slack.webhook_url)) as ctx:
        app.run_once(ctx)
        held = StoryStore(ctx.store).held()
    # one story, matching topics routed to two channels: a webhook has one channel, so one post
    # with both topics (it was posted twice), no replies, no updates; later coverage in its digest
    (message,) = slack.messages
    assert "agi" in str(message["blocks"]) and "partnership" in str(message["blocks"])
    assert len(held) == 2 and {channel for channel, _ in held} == {"#ai-news"}


def test_the_console_prints_a_thread(site: Site, make_config: Callable[..., Path]) -> None:
    _serve(site, COVERAGE[:2])
    for name, _ in COVERAGE[2:]:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    cfg = _config(make_config, site, "slack:\n  routes: {agi: '#ai-agi', partnership: '#ai-agi'}\n")
    out = io.StringIO()
    with app.context(config.load(cfg, env={}), deliverer=ConsoleDeliverer(out)) as ctx:
        app.run_once(ctx)
    text = out.getvalue()
    assert text.count("━━ #ai-agi ━━") == 1 and text.count("↳ #ai-agi also reported by") == 1
    assert "story now: Covered by 2 outlets" in text


def test_replay_shows_stories_not_item_floods(
    make_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = tmp_path / "stream.jsonl"
    start = datetime(2026, 2, 17, 9, 0, tzinfo=UTC)
    rows = [
        {
            "id": i,
            "feed_title": name,
            "title": title,
            "link": f"https://{_slug(name)}.example/a",
            "summary": title,
            "published": (start + timedelta(minutes=20 * i)).isoformat(),
        }
        for i, (name, title) in enumerate(COVERAGE)
    ]
    rows.append(
        {
            "id": 9,
            "feed_title": "Desk",
            "title": OTHER,
            "link": "https://desk.example/b",
            "published": start.isoformat(),
        }
    )
    rows.append(
        {
            "id": 10,
            "feed_title": "Desk",
            "title": "A recipe for autumn soup",
            "link": "https://desk.example/c",
            "published": start.isoformat(),
        }
    )
    stream.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    cfg = make_config("sources: []\n")
    assert main(["--config", str(cfg), "--log-level", "WARNING", "replay", str(stream), "--day", "2026-02-17"]) == 0
    out = capsys.readouterr().out
    assert "items replayed: 7; matching a topic: 6; stories: 2" in out
    # Two channels (agi, deals) for the big story, one for the funding story; later coverage as replies.
    assert "posted: reply 8, story 3, update 8" in out
    assert out.count("also reported by") == 8


def test_term_counts_survive_a_restart(site: Site, make_config: Callable[..., Path]) -> None:
    _serve(site, COVERAGE, extra=("Lab Blog", "A recipe for autumn soup"))
    cfg = _config(make_config, site)
    settings = config.load(cfg, env={})
    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        app.run_once(ctx)
        assert ctx.stories.df.docs == 6  # every new item, alerted or not
    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        docs, df = StoryStore(ctx.store).terms()
        assert docs == ctx.stories.df.docs == 6 and df["soup"] == 1 and df["microso"] == 4


def test_term_counts_age_by_halving_in_step_with_the_store(site: Site, make_config: Callable[..., Path]) -> None:
    _serve(site, COVERAGE, extra=("Lab Blog", "A recipe for autumn soup"))
    settings = config.load(_config(make_config, site), env={})
    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        app.run_once(ctx)  # 6 items: "microso" in 4, "soup" in 1
        assert ctx.stories.age_terms(max_docs=6) == 0
        assert ctx.stories.age_terms(max_docs=2) == 2  # 6 -> 3 -> 1
        in_memory = (ctx.stories.df.docs, dict(ctx.stories.df.df))
    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        assert StoryStore(ctx.store).terms() == in_memory
        assert in_memory[0] == 1 and in_memory[1]["microso"] == 1 and "soup" not in in_memory[1]


def test_a_reply_caught_in_a_timeout_is_found_in_its_thread_not_posted_twice(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    _serve(site, COVERAGE[:2])
    for name, _ in COVERAGE[2:]:
        site.pages[f"/{_slug(name)}.xml"] = Page(rss([], title=name))
    cfg = _config(make_config, site, f"slack:\n{ROUTES}")
    settings = _bot(cfg, slack)
    target = LostAnswer(SlackBotDeliverer(FakeSlack.TOKEN, slack.api_url), lose=lambda a: a.kind == "reply")
    clock = [NOW]
    with app.context(settings, deliverer=target, clock=lambda: clock[0]) as ctx:
        app.run_once(ctx)
        clock[0] = NOW + timedelta(minutes=5)  # past the retry's backoff
        deliver(ctx)
        assert set(ctx.store.outbox_counts()) == {"sent"}
    for channel in ("#ai-agi", "#ai-deals"):
        parents, replies = _threads(slack, channel)
        assert len(parents) == 1 and len(replies) == 1
    assert any("/conversations.replies" in path for path, _, _ in slack.requests)


def test_a_publishers_edit_updates_the_item_and_never_alerts_again(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    name, title = COVERAGE[0]
    link = f"{site.url}/{_slug(name)}/story.html"
    site.pages[f"/{_slug(name)}.xml"] = Page(rss([(title, link, ago(NOW, 2))], title=name))
    for other, _ in COVERAGE[1:]:
        site.pages[f"/{_slug(other)}.xml"] = Page(rss([], title=other))
    cfg = _config(make_config, site, f"slack:\n{ROUTES}")
    with app.context(_bot(cfg, slack)) as ctx:
        app.run_once(ctx)
    edited = title + " (updated)"
    site.pages[f"/{_slug(name)}.xml"] = Page(rss([(edited, link, ago(NOW, 1))], title=name))
    with app.context(_bot(cfg, slack)) as ctx:
        app.run_once(ctx)
        (stored,) = ctx.store.items_since(NOW - timedelta(days=1))
    assert stored.title == edited and stored.published == ago(NOW, 1)
    # The publisher moves the item to a new GUID and edits it again: the same link, the same item.
    again = rss([(edited + " again", link, ago(NOW, 1))], title=name).replace(b"<guid>", b"<guid>urn:v2:")
    site.pages[f"/{_slug(name)}.xml"] = Page(again)
    with app.context(_bot(cfg, slack)) as ctx:
        app.run_once(ctx)
        (stored,) = ctx.store.items_since(NOW - timedelta(days=1))
    assert stored.title == edited + " again"
    assert len(slack.messages) == 2 and slack.updates == []  # one alert per channel, from the first poll


def test_the_same_outlet_twice_is_no_reply_in_its_own_thread(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path]
) -> None:
    """One outlet listing its post under two URLs (Anthropic's `/news//news/...`): the second copy
    joins the story but is no "Also reported by Lab Blog" under Lab Blog's own post."""
    name, title = COVERAGE[0]
    items = [
        (title, f"{site.url}/{_slug(name)}/story.html", ago(NOW, 5)),
        (title, f"{site.url}/{_slug(name)}//news/story.html", ago(NOW, 4)),
    ]
    site.pages[f"/{_slug(name)}.xml"] = Page(rss(items, title=name))
    for other, _ in COVERAGE[1:]:
        site.pages[f"/{_slug(other)}.xml"] = Page(rss([], title=other))
    with app.context(_bot(_config(make_config, site), slack)) as ctx:
        app.run_once(ctx)
    parents, replies = _threads(slack, "#ai-agi")
    assert len(parents) == 1 and replies == [] and slack.updates == []  # before: a reply and an update


def test_covered_by_counts_in_words() -> None:
    from service.deliver.story_blocks import outlets_text

    assert outlets_text(["A"]) == "Covered by 1 outlet: A" and outlets_text(["A", "B"]) == "Covered by 2 outlets: A, B"
