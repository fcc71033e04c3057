"""The LLM brief through the whole pipeline: configured in settings, posted to the fake Slack."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service import app
from service import settings as config
from service.cli import main
from tests.support.fake_llm import KEY, FakeLLM, brief_json
from tests.support.feeds import ago, article, rss
from tests.support.servers import FakeSlack, Page, Site

NOW = datetime.now(UTC)
TITLE = "Microsoft free to build its own AGI after renegotiating its OpenAI deal"
PARAGRAPHS = [
    "Microsoft said its previous agreement with OpenAI had barred it from building its own AGI models.",
    "The renegotiated contract now lets the company pursue artificial general intelligence on its own.",
    "It has formed a new team dedicated to superintelligence research, led by its AI chief.",
    "Analysts said the change puts Microsoft in direct competition with OpenAI for the first time.",
]


def _run(
    site: Site,
    slack: FakeSlack,
    llm: FakeLLM,
    make_config: Callable[..., Path],
    env_key: str = "OPENAI_API_KEY",
    routes: str = "{agi: '#ai-agi'}",
    local: bool = True,
) -> Path:
    """One cycle over one AGI story, with the LLM at `llm` and briefs in Korean by default."""
    site.pages["/lab.xml"] = Page(rss([(TITLE, f"{site.url}/agi.html", ago(NOW, 1))]))
    site.pages["/agi.html"] = Page(article(TITLE, PARAGRAPHS), content_type="text/html")
    llm_yaml = f"{{provider: openai, base_url: '{llm.base_url}', model: m, timeout: 2, deadline: 3, local: {local}}}"
    cfg = make_config(
        f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml'}}\n",
        f"language: ko\nllm: {llm_yaml}\nslack: {{routes: {routes}, default_channel: '#ai-news'}}\n",
    )
    env = {"SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url, env_key: KEY}
    with app.context(config.load(cfg, env=env)) as ctx:
        app.run_once(ctx)
    return cfg


def test_korean_brief_reaches_slack(
    site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    llm.say(brief_json("ko"))
    cfg = _run(site, slack, llm, make_config)
    assert len(llm.requests) == 1  # two channels, one brief: summarized once per item
    assert llm.requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert "superintelligence research" in llm.requests[0].user  # the extracted article, fenced
    blocks = [m["blocks"] for m in slack.messages]
    assert len(blocks) == 2 and all(b[0]["type"] == "header" for b in blocks)
    assert blocks[0][0]["text"]["text"].startswith("마이크로소프트, 오픈AI와 계약 재조정")
    assert "핵심 요약" in str(blocks[0]) and "편집자 노트" in str(blocks[0])
    assert main(["--config", str(cfg), "status"]) == 0
    assert "LLM tokens today (UTC): 100 (no budget set)" in capsys.readouterr().out


def test_llm_down_falls_back_visibly(
    site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path]
) -> None:
    llm.fail(500, times=10)
    _run(site, slack, llm, make_config, "NEWSALERT_LLM_API_KEY")
    assert len(slack.messages) == 2
    text = str(slack.messages[0]["blocks"])
    assert "요약: 추출 요약, LLM 사용 불가" in text  # the team's language (before: English under Korean headings)
    assert "renegotiated contract" in text  # the extractive summary of the article


def test_a_route_can_ask_for_its_own_language(
    site: Site, slack: FakeSlack, llm: FakeLLM, make_config: Callable[..., Path]
) -> None:
    llm.say(brief_json("ko"), brief_json("en"))
    _run(site, slack, llm, make_config, routes="{agi: '#ai-agi', partnership: {channel: '#deals-en', language: en}}")
    headers = {m["channel"]: m["blocks"][0]["text"]["text"] for m in slack.messages}
    assert headers["#ai-agi"].startswith("마이크로소프트") and headers["#deals-en"].startswith("Microsoft may now")
    assert len(llm.requests) == 2  # one brief per language


def test_a_private_llm_endpoint_needs_local_true(
    llm: FakeLLM, make_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused at `check` (before: accepted, then every brief refused at run time and fell back)."""
    for url in (llm.base_url, "http://127.1:11434/v1", "http://localhost:11434/v1", "http://[::1]:8000/v1"):
        cfg = make_config("sources: []\n", f"llm: {{provider: openai, base_url: '{url}', model: m}}\n")
        assert main(["--config", str(cfg), "check"]) == 2
        err = capsys.readouterr().err
        assert "llm.base_url:" in err and "loopback" in err and "llm.local: true" in err, err
    cfg = make_config(
        "sources: []\n", f"llm: {{provider: openai, base_url: '{llm.base_url}', model: m, local: true}}\n"
    )
    assert main(["--config", str(cfg), "check"]) == 0


HOSTILE_TITLE = "Microsoft free to build its own AGI <http://evil.example|after its OpenAI deal> evil.zip"
LINKLIKE = ("http://evil", "evil.example", "evil.zip", "bit.ly/", "phish.page")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
@pytest.mark.parametrize("mode", ["bot", "webhook"])
def test_no_link_but_the_items_own_reaches_slack(
    site: Site, slack: FakeSlack, make_config: Callable[..., Path], provider: str, mode: str
) -> None:
    """A hostile feed title and an LLM that obeyed an injected instruction: whatever the provider and
    the Slack mode, the message links only the article (before: masked links became bare links and
    `.zip`/`.page` domains passed a fixed suffix list)."""
    llm = FakeLLM(provider)
    try:
        llm.say(
            brief_json(
                "ko",
                headline="긴급 <http://evil.example/x|원문 보기>",
                key_points=["bit.ly/abc 에서 확인하세요.", "phish.page 로그인.", "셋째."],
                details="자세한 내용: https://evil.example/phish",
            )
        )
        site.pages["/lab.xml"] = Page(rss([(HOSTILE_TITLE, f"{site.url}/agi.html", ago(NOW, 1))]))
        site.pages["/agi.html"] = Page(article(TITLE, PARAGRAPHS), content_type="text/html")
        llm_yaml = (
            f"{{provider: {provider}, base_url: '{llm.base_url}', model: m, timeout: 2, deadline: 3, local: true}}"
        )
        cfg = make_config(
            f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml'}}\n",
            f"language: ko\nllm: {llm_yaml}\nslack: {{routes: {{agi: '#ai-agi'}}, default_channel: '#ai-news'}}\n",
        )
        secret = {"SLACK_BOT_TOKEN": FakeSlack.TOKEN} if mode == "bot" else {"SLACK_WEBHOOK_URL": slack.webhook_url}
        env = {**secret, "SLACK_API_URL": slack.api_url, "NEWSALERT_LLM_API_KEY": KEY}
        with app.context(config.load(cfg, env=env)) as ctx:
            app.run_once(ctx)
    finally:
        llm.close()
    assert slack.messages and llm.requests
    for message in slack.messages:
        payload = str(message)
        for bad in LINKLIKE:
            assert bad not in payload, (bad, payload)
        assert f"{site.url}/agi.html" in payload  # the item's own link is there
