"""Slack's errors by class, against the fake Slack Web API and a real SQLite outbox.

Refused blocks or length are repaired to plain text; a broken channel or token is settled at once
(each alert tried once, never looped on), logged as an ERROR once and told to the ops channel once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.deliver.outbox import Once, deliver_due
from service.deliver.slack import PLAIN_LIMIT, SlackBotDeliverer, SlackWebhookDeliverer
from service.models import Item, Match
from service.store import Store
from service.stories.route import build_alerts
from tests.support.servers import FakeSlack, SlackAnswer

NOW = datetime(2025, 10, 28, 12, 0, tzinfo=UTC)
OPS = "#newsalert-ops"


def enqueue(store: Store, channel: str, n: int = 1, summary: tuple[str, ...] = ()) -> None:
    start = store.item_count()
    for i in range(start, start + n):
        url = f"https://example.com/{i}"
        item = Item(source="s", guid=f"g{i}", url=url, title=f"Story {i}", canonical_url=url)
        _, pending = store.record_items("s", [item], NOW, None)
        (alert,) = build_alerts(item, [Match("agi", 1.5, ("AGI",))], None, {}, channel)
        store.finish_item(pending[-1].id, alert.matches, [replace(alert, summary=summary)], NOW)


def posts(slack: FakeSlack) -> list[dict[str, object]]:
    return [p for path, _, p in slack.requests if path.startswith("/api/chat.postMessage")]


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store(tmp_path / "x.db")
    yield s
    s.close()


@pytest.fixture
def bot(slack: FakeSlack) -> SlackBotDeliverer:
    return SlackBotDeliverer(FakeSlack.TOKEN, slack.api_url)


@pytest.mark.parametrize("code", ["invalid_blocks", "invalid_blocks_format", "msg_too_long"])
def test_refused_blocks_are_repaired_to_plain_text(
    store: Store, slack: FakeSlack, bot: SlackBotDeliverer, code: str
) -> None:
    enqueue(store, "#ai-agi", summary=tuple("A long sentence about <AGI> & more. " * 15 for _ in range(10)))
    slack.fail = [SlackAnswer(200, {"ok": False, "error": code})]
    assert deliver_due(store, bot, NOW).sent == 1
    first, second = posts(slack)
    assert first["blocks"] and "blocks" not in second
    (message,) = slack.messages
    assert len(message["text"]) <= PLAIN_LIMIT and message["text"].startswith("[agi] Story 0")
    assert "&lt;AGI&gt; &amp;" in message["text"] and "<AGI>" not in message["text"]  # still escaped
    assert message["metadata"]["event_payload"]["key"] == first["metadata"]["event_payload"]["key"]
    assert store.outbox_counts() == {"sent": 1}


def test_blocks_refused_again_fail_after_two_tries(store: Store, slack: FakeSlack, bot: SlackBotDeliverer) -> None:
    enqueue(store, "#ai-agi", 2)
    slack.fail = [SlackAnswer(200, {"ok": False, "error": "invalid_blocks"})] * 2
    report = deliver_due(store, bot, NOW)
    assert (report.sent, report.failed) == (1, 1) and len(posts(slack)) == 3  # 2 for the first, 1 for the next
    assert store.outbox_counts() == {"failed": 1, "sent": 1}


def test_refused_metadata_is_dropped(store: Store, slack: FakeSlack, bot: SlackBotDeliverer) -> None:
    enqueue(store, "#ai-agi")
    slack.fail = [SlackAnswer(200, {"ok": False, "error": "invalid_metadata_format"})]
    assert deliver_due(store, bot, NOW).sent == 1
    (message,) = slack.messages
    assert "metadata" not in message and message["blocks"]


def test_webhook_repairs_refused_blocks(store: Store, slack: FakeSlack) -> None:
    enqueue(store, "#ai-agi")
    slack.fail = [SlackAnswer(400, "invalid_blocks")]
    assert deliver_due(store, SlackWebhookDeliverer(slack.webhook_url), NOW).sent == 1
    (message,) = slack.messages
    assert "blocks" not in message and message["text"].startswith("[agi] Story 0")


def test_broken_channel_is_reported_once_and_never_looped_on(
    store: Store, slack: FakeSlack, bot: SlackBotDeliverer, caplog: pytest.LogCaptureFixture
) -> None:
    slack.channel_errors["#gone"] = "is_archived"
    enqueue(store, "#gone", 3)
    enqueue(store, "#ai-agi", 1)
    once = Once()
    with caplog.at_level(logging.INFO):
        report = deliver_due(store, bot, NOW, ops_channel=OPS, once=once)
        assert (report.sent, report.failed) == (1, 3)
        assert len(posts(slack)) == 4  # each alert tried exactly once
        enqueue(store, "#gone", 2)  # later alerts to the same channel: tried, failed, not reported again
        report = deliver_due(store, bot, NOW + timedelta(minutes=1), ops_channel=OPS, once=once)
    assert (report.sent, report.failed) == (1, 2)  # the ops notice went out
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "#gone" in errors[0] and "is_archived" in errors[0] and "unarchive" in errors[0]
    notices = [m for m in slack.messages if m["channel"] == OPS]
    assert len(notices) == 1 and "#gone" in notices[0]["text"] and "is_archived" in notices[0]["text"]
    assert [m["channel"] for m in slack.messages] == ["#ai-agi", OPS]
    assert store.outbox_counts() == {"failed": 5, "sent": 2}
    assert deliver_due(store, bot, NOW + timedelta(hours=1), ops_channel=OPS, once=once).sent == 0


def test_broken_ops_channel_is_not_told_about_itself(store: Store, slack: FakeSlack, bot: SlackBotDeliverer) -> None:
    slack.channel_errors[OPS] = "not_in_channel"
    enqueue(store, OPS, 2)
    assert deliver_due(store, bot, NOW, ops_channel=OPS, once=Once()).failed == 2
    assert deliver_due(store, bot, NOW + timedelta(minutes=1), ops_channel=OPS).sent == 0  # nothing queued
    assert len(posts(slack)) == 2 and store.outbox_counts() == {"failed": 2}


def test_a_bad_token_holds_the_backlog_until_it_is_fixed_and_logs_once(
    store: Store, slack: FakeSlack, bot: SlackBotDeliverer, caplog: pytest.LogCaptureFixture
) -> None:
    enqueue(store, "#ai-agi", 2)
    enqueue(store, "#ai-deals", 1)
    wrong, once = SlackBotDeliverer("xoxb-wrong", slack.api_url), Once()
    with caplog.at_level(logging.INFO):
        for hour in range(3):  # a revoked token, for hours: one try an hour, nothing failed, one ERROR
            report = deliver_due(store, wrong, NOW + timedelta(hours=hour, seconds=1), ops_channel=OPS, once=once)
            assert (report.failed, report.deferred) == (0, 1)
    assert len(posts(slack)) == 3 and slack.messages == []
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "invalid_auth" in errors[0] and "SLACK_BOT_TOKEN" in errors[0]
    assert store.outbox_counts() == {"pending": 3}  # no notice queued: the ops channel needs the same token
    assert deliver_due(store, bot, NOW + timedelta(hours=4)).sent == 3  # the token fixed: all of it goes out


def test_webhook_gone_is_a_route_failure(store: Store, slack: FakeSlack, caplog: pytest.LogCaptureFixture) -> None:
    enqueue(store, "#ai-agi", 2)
    slack.fail = [SlackAnswer(404, "no_service"), SlackAnswer(404, "no_service")]
    with caplog.at_level(logging.INFO):
        report = deliver_due(store, SlackWebhookDeliverer(slack.webhook_url), NOW, once=Once())
    assert (report.failed, report.deferred) == (0, 1) and len(slack.requests) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "no_service" in errors[0] and "SLACK_WEBHOOK_URL" in errors[0]
    assert store.outbox_counts() == {"pending": 2}


def test_server_errors_and_rate_limits_stay_queued(store: Store, slack: FakeSlack, bot: SlackBotDeliverer) -> None:
    enqueue(store, "#ai-agi", 2)
    slack.fail = [
        SlackAnswer(502, "bad gateway"),
        SlackAnswer(429, {"ok": False, "error": "ratelimited"}, {"Retry-After": "3"}),
    ]
    assert deliver_due(store, bot, NOW).deferred == 1
    assert deliver_due(store, bot, NOW + timedelta(seconds=31)).deferred == 1  # the history check was limited
    assert deliver_due(store, bot, NOW + timedelta(seconds=33)).sent == 0
    assert deliver_due(store, bot, NOW + timedelta(seconds=35)).sent == 2
    assert [m["text"][:13] for m in slack.messages] == ["[agi] Story 0", "[agi] Story 1"]


@pytest.mark.parametrize("lost", ["hang up", "truncated"])
def test_an_answer_lost_after_slack_posted_is_reconciled_not_posted_twice(
    store: Store, slack: FakeSlack, bot: SlackBotDeliverer, lost: str
) -> None:
    enqueue(store, "#ai-agi")
    slack.fail = [SlackAnswer(lost=lost)]  # Slack posts it, and the answer never arrives whole
    assert deliver_due(store, bot, NOW).deferred == 1  # no second post inside the attempt
    assert deliver_due(store, bot, NOW + timedelta(seconds=31)).sent == 1  # found in the channel
    assert len(posts(slack)) == 1 and len(slack.messages) == 1
    assert store.outbox_counts() == {"sent": 1}


@pytest.mark.parametrize("code", ["restricted_action_read_only_channel", "some_future_error"])
def test_a_refusal_we_do_not_know_is_settled_not_looped_on(
    store: Store, slack: FakeSlack, bot: SlackBotDeliverer, code: str
) -> None:
    enqueue(store, "#ai-agi", 2)
    slack.fail = [SlackAnswer(200, {"ok": False, "error": code})]
    report = deliver_due(store, bot, NOW)
    assert (report.sent, report.failed, report.deferred) == (1, 1, 0)  # the next alert is not held up
    assert store.outbox_counts() == {"failed": 1, "sent": 1}


def test_a_webhook_refusal_we_do_not_know_is_settled(store: Store, slack: FakeSlack) -> None:
    enqueue(store, "#ai-agi", 2)
    slack.fail = [SlackAnswer(400, "some_future_error")]
    report = deliver_due(store, SlackWebhookDeliverer(slack.webhook_url), NOW)
    assert (report.sent, report.failed, report.deferred) == (1, 1, 0)


def test_a_fixed_token_works_at_once_after_retry(store: Store, slack: FakeSlack, bot: SlackBotDeliverer) -> None:
    enqueue(store, "#ai-agi", 2)
    wrong = SlackBotDeliverer("xoxb-wrong", slack.api_url)
    assert deliver_due(store, wrong, NOW, ops_channel=OPS, once=Once()).deferred == 1  # held for an hour
    later = NOW + timedelta(minutes=5)
    assert deliver_due(store, bot, later).sent == 0  # the token is fixed, but the backlog waits its hour
    assert store.retry_now(later) == 1  # `newsalert retry`, and every daemon start, do this
    assert deliver_due(store, bot, later).sent == 2 and store.outbox_counts() == {"sent": 2}
    assert store.retry_now(later) == 0
