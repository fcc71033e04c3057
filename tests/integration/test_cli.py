"""The `newsalert` command end to end: check, detect, sources, import, preview, status, and the daemon."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service.cli import main
from tests.support.feeds import ago, article, rss
from tests.support.servers import FakeSlack, Page, Site

NOW = datetime.now(UTC)
PARAGRAPHS = [
    "Anthropic said on Tuesday it had raised $13 billion in a Series F round led by existing investors.",
    "The round values the company at $183 billion, nearly triple its valuation earlier in the year.",
    "The company plans to spend the money on computing capacity and international expansion.",
]


def test_check_lists_everything(make_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config("sources:\n  - {name: Lab, url: 'https://example.com/feed'}\n")
    assert main(["--config", str(cfg), "check"]) == 0
    out = capsys.readouterr().out
    assert "configuration OK" in out and "Lab" in out and "agi" in out and "#ai-deals" in out
    assert "delivery: console" in out


def test_check_fails_with_the_place(make_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    cfg = make_config("sources:\n  - {name: a, url: 'http://a'}\n  - {name: b, url: 'b.example.com/feed'}\n")
    assert main(["--config", str(cfg), "check"]) == 2
    assert "sources.yaml: sources[1].url: not an http(s) URL" in capsys.readouterr().err


def test_check_never_prints_secrets(
    make_config: Callable[..., Path], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-very-secret-value")
    assert main(["--config", str(make_config("sources: []\n")), "check"]) == 0
    out = capsys.readouterr().out
    assert "token set" in out and "xoxb-very-secret-value" not in out


def test_detect_jsonl(make_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    items = tmp_path / "items.jsonl"
    rows = [
        {"id": "1", "title": "Anthropic raises $13 billion at $183 billion valuation"},
        {"id": "2", "title": "Meta's new metadata standard for photos"},
        {"id": "3", "title": "마이크로소프트, 오픈AI와 새 계약", "summary": "", "text": ""},
    ]
    items.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    assert main(["--config", str(make_config("sources: []\n")), "detect", str(items)]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    (funding,) = out[0]["topics"]
    assert (funding["id"], funding["score"], funding["matched"]) == ("funding", 2.5, ["Anthropic", "raises"])
    assert funding["event"] == "funding: Anthropic, $13B"  # the shipped entities name the company
    assert out[1] == {"id": "2", "topics": []}
    assert [t["id"] for t in out[2]["topics"]] == ["partnership"]


def test_detect_reports_bad_lines(
    make_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "bad.jsonl"
    items.write_text('{"id": 1, "title": "x"}\nnot json\n')
    assert main(["--config", str(make_config("sources: []\n")), "detect", str(items)]) == 1
    assert "bad.jsonl:2: not JSON" in capsys.readouterr().err


def test_detect_reports_input_that_is_not_utf8_or_nested_too_deeply(
    make_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    items = tmp_path / "bin.jsonl"
    items.write_bytes(b'{"id": 1, "title": "x"}\n{"id": 2, "title": "\xff\xfe"}\n')
    assert main(["--config", str(make_config("sources: []\n")), "detect", str(items)]) == 1
    assert "bin.jsonl:2: not UTF-8" in capsys.readouterr().err
    items.write_text("[" * 100_000 + "]" * 100_000 + "\n")
    assert main(["--config", str(make_config("sources: []\n")), "detect", str(items)]) == 1
    assert "bin.jsonl:1: not JSON" in capsys.readouterr().err


def test_stories_clusters_a_file_and_explains_joins(
    make_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [
        {"id": "a", "title": "Anthropic's $1.5 billion copyright settlement is approved", "published": "2026-07-21"},
        {"id": "b", "title": "A new study finds coffee may protect the heart", "published": "2026-07-21"},
        {
            "id": "c",
            "title": "Judge approves Anthropic's $1.5B settlement with authors",
            "published": "2026-07-21T09:00Z",
        },
        {"id": "d", "title": "앤트로픽 '2조 원 저작권 합의' 법원 최종 승인", "published": "2026-07-22"},
        *({"id": f"x{i}", "title": t, "published": "2026-07-20"} for i, t in enumerate(BACKGROUND_TITLES)),
    ]
    items = tmp_path / "items.jsonl"
    items.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", "utf-8")
    assert main(["--config", str(make_config("sources: []\n")), "stories", str(items), "--explain"]) == 0
    out = {o["id"]: o for o in map(json.loads, capsys.readouterr().out.splitlines())}
    assert [out[k]["story"] for k in "abcd"] == ["a", "b", "a", "a"]
    assert out["a"]["why"] == "starts the story" and "score" in out["c"]["why"][0]
    assert "across scripts" in out["d"]["why"][0]


BACKGROUND_TITLES = [
    "Apple releases a new iPhone with a faster chip",
    "Microsoft reports quarterly earnings above expectations",
    "Google updates search with more AI answers",
    "Stocks fall as investors weigh new tariffs",
    "OpenAI launches a shopping feature in ChatGPT",
    "Meta opens a new data center in Texas",
    "Nvidia unveils a new GPU for gaming",
]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["detect", "{tmp}/missing.jsonl"], "missing.jsonl: No such file or directory"),
        (["replay", "{tmp}/missing.jsonl"], "missing.jsonl: No such file or directory"),
        (["sources", "import", "{tmp}/missing.opml"], "missing.opml"),
        (["detect", "{tmp}/list.jsonl"], "list.jsonl:1: not a JSON object"),
    ],
)
def test_cli_mistakes_get_a_message_not_a_traceback(
    make_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], expected: str
) -> None:
    (tmp_path / "list.jsonl").write_text("[1, 2]\n")
    argv = ["--config", str(make_config("sources: []\n")), *(a.format(tmp=tmp_path) for a in args)]
    assert main(argv) in (1, 2)
    assert expected in capsys.readouterr().err


def test_an_opml_import_never_leaves_a_config_the_daemon_refuses(
    make_config: Callable[..., Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = make_config("sources:\n  - {name: Old, url: 'https://old.example/feed', enabled: false}\n")
    opml = tmp_path / "catalog.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body>'
        '<outline text="   " xmlUrl="https://blank.example/feed"/>'  # no usable title: named by its URL
        '<outline text="Hostless" xmlUrl="https:///feed.xml"/>'  # no config could hold it: skipped
        '<outline text="Old again" xmlUrl="https://old.example/feed"/>'  # configured, if disabled
        '<outline text="AI타임스: 뉴스" xmlUrl="https://www.aitimes.com/rss/allArticle.xml"/>'
        "</body></opml>",
        encoding="utf-8",
    )
    assert main(["--config", str(cfg), "sources", "import", str(opml), "--interval", "30min"]) == 2
    assert "--interval" in capsys.readouterr().err and not (cfg / "sources.d").exists()
    assert main(["--config", str(cfg), "sources", "import", str(opml)]) == 0
    assert "added 2 source(s)" in capsys.readouterr().out
    assert main(["--config", str(cfg), "check"]) == 0
    out = capsys.readouterr().out
    assert "https://blank.example/feed" in out and "AI타임스: 뉴스" in out and "Old again" not in out


def test_import_opml_then_sources_table(
    make_config: Callable[..., Path], tmp_path: Path, site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = make_config(f"sources:\n  - {{name: Existing, url: '{site.url}/a.xml'}}\n")
    opml = tmp_path / "ai feeds.opml"
    opml.write_text(
        '<?xml version="1.0"?><opml version="2.0"><body><outline text="AI">'
        f'<outline text="Existing" xmlUrl="{site.url}/a.xml"/>'
        f'<outline text="Second" title="Second Feed" xmlUrl="{site.url}/b.xml"/>'
        '<outline text="Not http" xmlUrl="ftp://example.com/x"/>'
        f'<outline text="Existing" xmlUrl="{site.url}/c.xml"/>'
        "</outline></body></opml>"
    )
    assert main(["--config", str(cfg), "sources", "import", str(opml)]) == 0
    assert "added 2 source(s)" in capsys.readouterr().out
    assert main(["--config", str(cfg), "sources", "import", str(opml)]) == 0  # idempotent
    assert "added 0 source(s)" in capsys.readouterr().out
    assert main(["--config", str(cfg), "check"]) == 0
    out = capsys.readouterr().out
    assert "Second Feed" in out and "Existing (2)" in out

    site.pages["/a.xml"] = Page(rss([("Hello", f"{site.url}/h.html", ago(NOW, 1))]))
    site.pages["/b.xml"] = Page(b"<html>not a feed</html>", content_type="text/html")
    assert main(["--config", str(cfg), "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "sources"]) == 0
    table = capsys.readouterr().out
    existing = next(line for line in table.splitlines() if line.startswith("Existing "))
    second = next(line for line in table.splitlines() if line.startswith("Second Feed"))
    assert " ok " in existing and " failing " in second and "HTTP 404" in table
    header = table.splitlines()[0]
    assert all(col in header for col in ("last success", "errs", "next poll", "items 7d", "avg delay"))
    assert "s ago" in existing and " 1 " in existing  # one item seen this week


def test_preview_prints_the_message(
    make_config: Callable[..., Path], site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    title = "Anthropic raises $13 billion at $183 billion valuation"
    site.pages["/a.html"] = Page(article(title, PARAGRAPHS), content_type="text/html")
    cfg = make_config("sources: []\n")
    assert main(["--config", str(cfg), "preview", f"{site.url}/a.html"]) == 0
    out = capsys.readouterr().out
    assert "#ai-deals" in out and title in out and "funding (Anthropic, $13B; matched Anthropic, raises" in out
    assert "• " in out
    assert main(["--config", str(cfg), "preview", "--json", f"{site.url}/a.html"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["channel"] == "#ai-deals" and payload["blocks"][0]["type"] == "section"


def test_daemon_posts_then_stops_cleanly_on_sigterm(
    make_config: Callable[..., Path], site: Site, slack: FakeSlack
) -> None:
    site.pages["/lab.xml"] = Page(
        rss([("Anthropic raises $13 billion at $183 billion valuation", f"{site.url}/a.html", ago(NOW, 1))])
    )
    site.pages["/a.html"] = Page(article("Anthropic raises $13 billion", PARAGRAPHS), content_type="text/html")
    cfg = make_config(
        f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml', interval: 1s}}\n", "delivery_interval: 1s\n"
    )
    env = {**os.environ, "SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "--config", str(cfg), "--log-level", "DEBUG", "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 20
        while not slack.messages and time.monotonic() < deadline:
            time.sleep(0.1)
        while site.hits("/lab.xml") < 3 and time.monotonic() < deadline:
            time.sleep(0.1)  # a few more polls: all 304, nothing new
        assert main(["--config", str(cfg), "health"]) == 0
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert len(slack.messages) == 1 and slack.messages[0]["channel"] == "#ai-deals"
    assert "received SIGTERM" in err and "stopped" in err
    assert "source='Lab' status=ok items=1 new=1 alerts=1" in err
    assert "status=not-modified" in err
    assert FakeSlack.TOKEN not in err


def test_debug_logs_keep_webhook_url_and_token_secret(
    make_config: Callable[..., Path], site: Site, slack: FakeSlack
) -> None:
    site.pages["/lab.xml"] = Page(
        rss([("Anthropic raises $13 billion at $183 billion valuation", f"{site.url}/a.html", ago(NOW, 1))])
    )
    site.pages["/a.html"] = Page(article("Anthropic raises $13 billion", PARAGRAPHS), content_type="text/html")
    cfg = make_config(f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml'}}\n")
    for secret_env in ({"SLACK_WEBHOOK_URL": slack.webhook_url}, {"SLACK_BOT_TOKEN": FakeSlack.TOKEN}):
        for leftover in cfg.parent.glob("store.db*"):
            leftover.unlink()  # a fresh store, so the same item alerts again through the other target
        env = {**os.environ, "SLACK_API_URL": slack.api_url, **secret_env}
        done = subprocess.run(
            [sys.executable, "-m", "service.cli", "--config", str(cfg), "--log-level", "DEBUG", "run", "--once"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        assert "Sending a request" in done.stderr  # slack-sdk's own debug log was on
        assert "secretwebhookpart" not in done.stderr and FakeSlack.TOKEN not in done.stderr
        assert "[redacted]" in done.stderr
    assert len(slack.messages) == 2


def test_topics_test_replays_the_stored_history(
    make_config: Callable[..., Path], site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    site.pages["/lab.xml"] = Page(
        rss(
            [
                ("Anthropic raises $13 billion at $183 billion valuation", f"{site.url}/a.html", ago(NOW, 1)),
                ("Our favourite hiking trails", f"{site.url}/h.html", ago(NOW, 2)),
            ]
        )
    )
    cfg = make_config(f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml'}}\n", "article_fetch: false\n")
    assert main(["--config", str(cfg), "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "topics", "test", "funding", "--since", "7d"]) == 0
    out = capsys.readouterr().out
    assert "Anthropic raises $13 billion" in out and "hiking" not in out
    assert "funding: 1 of 2 items stored since" in out
    assert main(["--config", str(cfg), "topics", "test", "fundng"]) == 2
    assert "unknown topic 'fundng'" in capsys.readouterr().err


def test_status_shows_the_queue_and_its_age(
    make_config: Callable[..., Path], site: Site, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    site.pages["/lab.xml"] = Page(
        rss([("Anthropic raises $13 billion at $183 billion valuation", f"{site.url}/a.html", ago(NOW, 1))])
    )
    cfg = make_config(f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml'}}\n", "article_fetch: false\n")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-unreachable-slack")
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")  # nothing listens: Slack is down
    assert main(["--config", str(cfg), "run", "--once"]) == 0
    capsys.readouterr()
    assert main(["--config", str(cfg), "status"]) == 0
    out = capsys.readouterr().out
    assert "outbox: pending 1, sent 0, failed 0" in out
    assert "oldest pending: queued" in out and "holds at most 10000" in out


def test_retry_makes_waiting_alerts_due(make_config: Callable[..., Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(make_config("sources: []\n")), "retry"]) == 0
    assert "0 waiting alerts due now" in capsys.readouterr().out
