"""The outbox and the Slack targets against the fake Slack Web API and a real SQLite file."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.deliver.outbox import backoff, deliver_due
from service.deliver.slack import SlackBotDeliverer, SlackWebhookDeliverer
from service.logs import RedactingFilter
from service.models import Alert, Item, Match
from service.store import Store
from service.stories.route import build_alerts
from tests.support.servers import FakeSlack, SlackAnswer

NOW = datetime(2025, 10, 28, 12, 0, tzinfo=UTC)


def enqueue(store: Store, n: int, channel: str = "#ai-news") -> None:
    for i in range(n):
        item = Item(
            source="s",
            guid=f"g{i}",
            url=f"https://example.com/{i}",
            title=f"Story {i}",
            canonical_url=f"https://example.com/{i}",
        )
        _, (stored,) = store.record_items("s", [item], NOW, None)
        alerts = build_alerts(item, [Match("agi", 1.5, ("AGI",))], None, {}, channel)
        store.finish_item(stored.id, [Match("agi", 1.5, ("AGI",))], alerts, NOW)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "x.db")
    yield s  # type: ignore[misc]
    s.close()


def test_posts_in_order_and_marks_sent(store: Store, slack: FakeSlack) -> None:
    enqueue(store, 3)
    bot = SlackBotDeliverer(FakeSlack.TOKEN, slack.api_url)
    report = deliver_due(store, bot, NOW)
    assert report.sent == 3
    assert [m["text"].split("] ")[1][:7] for m in slack.messages] == ["Story 0", "Story 1", "Story 2"]
    assert slack.messages[0]["blocks"][0]["type"] == "section" and slack.messages[0]["unfurl_links"] is False
    assert deliver_due(store, bot, NOW + timedelta(hours=1)).sent == 0  # never twice
    assert store.outbox_counts() == {"sent": 3}


def test_rate_limit_honours_retry_after_and_keeps_order(store: Store, slack: FakeSlack) -> None:
    enqueue(store, 3)
    slack.fail = [SlackAnswer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "7"})]
    bot = SlackBotDeliverer(FakeSlack.TOKEN, slack.api_url)
    report = deliver_due(store, bot, NOW)
    assert (report.sent, report.deferred) == (0, 1) and slack.messages == []
    assert deliver_due(store, bot, NOW + timedelta(seconds=6)).sent == 0  # not yet due; order kept
    assert deliver_due(store, bot, NOW + timedelta(seconds=8)).sent == 3
    assert [m["text"].split("] ")[1][:7] for m in slack.messages] == ["Story 0", "Story 1", "Story 2"]


def test_outage_then_recovery_loses_nothing(store: Store, slack: FakeSlack) -> None:
    enqueue(store, 2)
    slack.fail = [SlackAnswer(500, "oops")] * 3 + [SlackAnswer(503, "down")]
    bot = SlackBotDeliverer(FakeSlack.TOKEN, slack.api_url)
    t = NOW
    for _ in range(4):
        assert deliver_due(store, bot, t).deferred == 1
        t += timedelta(hours=2)
    assert deliver_due(store, bot, t).sent == 2 and len(slack.messages) == 2


def test_permanent_error_is_recorded_and_others_go_on(store: Store, slack: FakeSlack) -> None:
    enqueue(store, 2)
    slack.fail = [SlackAnswer(200, {"ok": False, "error": "channel_not_found"})]
    report = deliver_due(store, SlackBotDeliverer(FakeSlack.TOKEN, slack.api_url), NOW)
    assert (report.sent, report.failed) == (1, 1)
    assert store.outbox_counts() == {"failed": 1, "sent": 1}


def test_a_wrong_token_holds_alerts_instead_of_failing_them(store: Store, slack: FakeSlack) -> None:
    enqueue(store, 1)
    report = deliver_due(store, SlackBotDeliverer("xoxb-wrong", slack.api_url), NOW)
    assert (report.failed, report.deferred) == (0, 1) and slack.messages == []
    assert store.outbox_counts() == {"pending": 1}


def test_webhook_target_and_its_429(store: Store, slack: FakeSlack) -> None:
    enqueue(store, 2)
    slack.fail = [SlackAnswer(429, "rate_limited", {"Retry-After": "30"})]
    hook = SlackWebhookDeliverer(slack.webhook_url)
    assert deliver_due(store, hook, NOW).deferred == 1
    assert deliver_due(store, hook, NOW + timedelta(seconds=31)).sent == 2
    assert [m["channel"] for m in slack.messages] == ["(webhook)", "(webhook)"]


def test_slack_unreachable_is_retryable(store: Store) -> None:
    enqueue(store, 1)
    assert deliver_due(store, SlackBotDeliverer(FakeSlack.TOKEN, "http://127.0.0.1:9/api/"), NOW).deferred == 1
    assert store.outbox_counts() == {"pending": 1}


def test_backoff_grows_and_is_capped() -> None:
    assert [backoff(n) for n in (1, 2, 3)] == [30, 60, 120]
    assert backoff(30) == 3600 and backoff(1, retry_after=5) == 5


def test_secrets_never_reach_the_logs(caplog: pytest.LogCaptureFixture) -> None:
    f = RedactingFilter(["xoxb-test-token-123456"])
    record = logging.LogRecord(
        "slack_sdk",
        logging.DEBUG,
        "",
        0,
        "headers %s url %s",
        ({"Authorization": "Bearer xoxb-test-token-123456"}, "https://hooks.slack.com/services/T0/B0/abc"),
        None,
    )
    f.filter(record)
    text = record.getMessage()
    assert "xoxb-test" not in text and "hooks.slack.com/services" not in text and "[redacted]" in text


def test_alert_keys_are_unique_per_channel(store: Store) -> None:
    enqueue(store, 1)
    item = Item(
        source="s", guid="g0", url="https://example.com/0", title="Story 0", canonical_url="https://example.com/0"
    )
    again = build_alerts(item, [Match("agi", 1, ())], None, {}, "#ai-news")
    assert store.finish_item(1, [], again, NOW) == 0  # the same story in the same channel is refused
    assert isinstance(again[0], Alert)
