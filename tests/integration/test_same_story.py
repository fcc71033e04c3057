"""`llm.same_story`: the LLM decides clustering's close calls, through the whole pipeline into the fake Slack.

Two outlets report a deal an hour apart; the second report is polled after the first has posted.
The judge's "same" joins a pair the score alone would keep apart, its "different" keeps apart a
pair the score would join; when the LLM fails, or the judge is off, the score decides."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service import app
from service import settings as config
from service.store.stories import StoryStore
from tests.support.fake_llm import KEY, FakeLLM, brief_json
from tests.support.feeds import ago, rss
from tests.support.servers import FakeSlack, Page, Site

NOW = datetime.now(UTC).replace(microsecond=0)
# Scores without a judge: the licensing pair about 0.5 (one story), the Nvidia pair about 0.25 (two).
LICENSING = (
    "OpenAI signs content licensing deal with Axel Springer",
    "Axel Springer and OpenAI partner on AI news summaries in ChatGPT",
)
NVIDIA = (
    "Nvidia to buy assets from Groq for $20B cash",
    "Nvidia just paid $20B for a company that missed its revenue targets",
)


def _run(
    site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path], titles: tuple[str, str], judge: bool
) -> int:
    """Poll the first outlet, then both; return the number of stories."""
    llm_yaml = (
        f"{{provider: openai, base_url: '{llm.base_url}', model: m, timeout: 2, deadline: 3, local: true, max_attempts: 1,"
        f" same_story: {str(judge).lower()}, same_story_band: [0.1, 0.9]}}"
    )
    cfg = make_config(
        f"sources:\n  - {{name: Wire, url: '{site.url}/wire.xml'}}\n  - {{name: Desk, url: '{site.url}/desk.xml'}}\n",
        f"article_fetch: false\nlanguage: en\nllm: {llm_yaml}\nslack: {{default_channel: '#ai-news', routes: {{}}}}\n",
    )
    env = {"SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url, "OPENAI_API_KEY": KEY}
    site.pages["/wire.xml"] = Page(rss([(titles[0], f"{site.url}/wire/1.html", ago(NOW, 2))], title="Wire"))
    site.pages["/desk.xml"] = Page(rss([], title="Desk"))
    with app.context(config.load(cfg, env=env)) as ctx:
        app.run_once(ctx)
    site.pages["/desk.xml"] = Page(rss([(titles[1], f"{site.url}/desk/1.html", ago(NOW, 1))], title="Desk"))
    with app.context(config.load(cfg, env=env)) as ctx:
        app.run_once(ctx)
        return StoryStore(ctx.store).story_count()


def _parents_and_replies(slack: FakeSlack) -> tuple[int, int]:
    replies = sum(1 for m in slack.messages if m.get("thread_ts"))
    return len(slack.messages) - replies, replies


def test_same_joins_a_pair_the_score_keeps_apart(
    site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path], tmp_path: Path
) -> None:
    llm.say(brief_json("en"), {"same": True, "reason": "Both report the $20B Groq deal."})
    assert _run(site, slack, llm, make_config, NVIDIA, judge=True) == 1
    assert _parents_and_replies(slack) == (1, 1)
    question = llm.requests[1].user
    assert NVIDIA[0] in question and NVIDIA[1] in question and '"same"' in llm.requests[1].system
    with sqlite3.connect(tmp_path / "store.db") as db:  # make_config's store
        (why,) = db.execute("SELECT why FROM story_items WHERE why IS NOT NULL").fetchone()
    assert "same event: Both report the $20B Groq deal." in why


def test_different_keeps_apart_a_pair_the_score_joins(
    site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path]
) -> None:
    llm.say(brief_json("en"), {"same": False, "reason": "A licence and a product partnership."}, brief_json("en"))
    assert _run(site, slack, llm, make_config, LICENSING, judge=True) == 2
    assert _parents_and_replies(slack) == (2, 0)
    assert len(llm.requests) == 3  # brief, question, brief


@pytest.mark.parametrize(("titles", "stories"), [(LICENSING, 1), (NVIDIA, 2)])
@pytest.mark.parametrize("judge", [True, False])
def test_without_an_answer_the_score_decides(
    site: Site,
    slack: FakeSlack,
    llm: FakeLLM,
    make_config: Callable[..., Path],
    titles: tuple[str, str],
    stories: int,
    judge: bool,
) -> None:
    """The judge's answer is invalid, or the judge is off (and nothing is asked)."""
    llm.say(brief_json("en"), *(["not JSON at all"] if judge else []), brief_json("en"))
    assert _run(site, slack, llm, make_config, titles, judge=judge) == stories
    assert ['"same"' in r.system for r in llm.requests] == [False, judge, False][: len(llm.requests)]
    assert len(llm.requests) == (1 + judge + (stories == 2))  # the second brief only for a second story
