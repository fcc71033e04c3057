"""The grey-zone LLM classifier through the whole pipeline: configured in settings, posted to the fake Slack."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from service import app
from service import settings as config
from tests.support.fake_llm import KEY, FakeLLM, brief_json
from tests.support.feeds import ago, article, rss
from tests.support.servers import FakeSlack, Page, Site

ENTITIES = Path(__file__).resolve().parents[2] / "config" / "entities.yaml"
NOW = datetime.now(UTC)
TITLE = "A quiet week in AI"
# No rule matches; the article's first sentence is a partnership event: a near miss.
PARAGRAPHS = [
    "Microsoft signed a new contract with OpenAI on Tuesday, people familiar with the matter said.",
    "Markets were calm and most of the industry was on holiday, so little else happened.",
    "Analysts expect more news in January when the conferences begin again in earnest.",
]


def _run(site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path], classify: bool) -> None:
    site.pages["/lab.xml"] = Page(rss([(TITLE, f"{site.url}/a.html", ago(NOW, 1))]))
    site.pages["/a.html"] = Page(article(TITLE, PARAGRAPHS), content_type="text/html")
    llm_yaml = (
        f"{{provider: openai, base_url: '{llm.base_url}', model: m, timeout: 2, deadline: 3, local: true,"
        f" classify: {str(classify).lower()}}}"
    )
    cfg = make_config(
        f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml'}}\n",
        f"language: en\nllm: {llm_yaml}\nslack: {{routes: {{partnership: '#deals'}}, default_channel: '#ai-news'}}\n",
    )
    (cfg / "entities.yaml").write_text(ENTITIES.read_text("utf-8"), "utf-8")
    env = {"SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url, "OPENAI_API_KEY": KEY}
    with app.context(config.load(cfg, env=env)) as ctx:
        app.run_once(ctx)


def test_a_yes_alerts_with_the_llms_reason(
    site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path]
) -> None:
    llm.say({"fits": True, "reason": "Microsoft and OpenAI signed a contract."}, brief_json("en"))
    _run(site, slack, llm, make_config, classify=True)
    assert len(llm.requests) == 2 and "Topic: partnership" in llm.requests[0].user
    (message,) = slack.messages
    assert message["channel"] == "#deals"
    assert "llm: Microsoft and OpenAI signed a contract." in json.dumps(message["blocks"])


def test_a_no_alerts_nothing(site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path]) -> None:
    llm.say({"fits": False, "reason": "No arrangement."})
    _run(site, slack, llm, make_config, classify=True)
    assert len(llm.requests) == 1 and slack.messages == []


def test_off_unless_switched_on(site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path]) -> None:
    _run(site, slack, llm, make_config, classify=False)
    assert llm.requests == [] and slack.messages == []
