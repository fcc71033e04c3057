"""Slack targets through slack-sdk: chat.postMessage with a bot token, or one incoming webhook.

Slack's answers are translated here, by class (https://api.slack.com/methods/chat.postMessage#errors):
- rate limits (429 with Retry-After; a webhook's 429 comes back as a response, not an exception),
  5xx, connection errors and unknown errors: RetryableDelivery; the outbox decides when to try
  again, so a long outage survives restarts; slack-sdk's own retry handles brief blips;
- blocks Slack refuses (`invalid_blocks`, `invalid_blocks_format`) or a message too long
  (`msg_too_long`): repaired here, by posting the plain-text fallback alone, cut to 3,000
  characters (well inside the 40,000 Slack accepts); refused metadata is dropped the same way;
- a channel or token that will not work by retrying: RouteFailure, naming the channel (None for
  the token or the webhook, which break every post) with what would fix it;
- anything else Slack blames on the message (`no_text`, blocks still refused): PermanentDelivery.

The bot tags each message with its alert key (message metadata, event type `newsalert_alert`)
and can look for it in the channel's history (`find_posted`), which makes delivery effectively
once across crashes (see outbox.py). That needs the `channels:history` scope (`groups:history` for
private channels) and, for a route given by name rather than ID, `channels:read` (`groups:read`) to
find the channel's ID; without them an alert caught in a crash may be posted twice, never lost.
"""

from __future__ import annotations

import http.client
import logging
import re
import urllib.error
from collections.abc import Callable
from datetime import datetime
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web import SlackResponse
from slack_sdk.webhook import WebhookClient

from service.deliver.blocks import fallback_text, render
from service.deliver.text import cut, escape
from service.errors import DeliveryError, PermanentDelivery, RetryableDelivery, RouteFailure
from service.models import Alert
from service.retry_after import parse_retry_after

log = logging.getLogger(__name__)

BLOCK_ERRORS = frozenset({"invalid_blocks", "invalid_blocks_format", "msg_too_long", "msg_blocks_too_long"})
METADATA_ERRORS = frozenset({"invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large"})
CHANNEL_ERRORS = {
    "channel_not_found": "no such channel, or the bot cannot see it: check the route, or invite the bot",
    "not_in_channel": "the bot is not in the channel: invite it (/invite @your-bot)",
    "is_archived": "the channel is archived: unarchive it or change the route",
}
TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "ekm_access_denied",
    }
)
MESSAGE_ERRORS = frozenset({"no_text", "too_many_attachments", *BLOCK_ERRORS, *METADATA_ERRORS})
# chat.update: the parent was deleted, is not ours, or is too old to edit.
UPDATE_ERRORS = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
PERMANENT_ERRORS = frozenset({*CHANNEL_ERRORS, *TOKEN_ERRORS, *MESSAGE_ERRORS})
# Slack's own trouble, worth another try; any other refusal is settled (failed), never looped on:
# an unknown code retried forever would hold up every alert queued behind it.
TRANSIENT_ERRORS = frozenset({"internal_error", "fatal_error", "service_unavailable", "request_timeout"})
# An incoming webhook answers errors as plain text: https://api.slack.com/messaging/webhooks#handling_errors
WEBHOOK_ROUTE_ERRORS = frozenset(
    {
        "invalid_token",
        "no_service",
        "no_service_id",
        "no_team",
        "team_disabled",
        "no_active_hooks",
        "channel_not_found",
        "channel_is_archived",
        "action_prohibited",
        "posting_to_general_channel_denied",
        "user_not_found",
    }
)
PLAIN_LIMIT = 3000
EVENT_TYPE = "newsalert_alert"
TIMEOUT = 15
HISTORY_PAGES = 20  # 200 messages each, from the attempt time on
LIST_PAGES = 50  # 1,000 channels each
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{6,}")
# HTTPException: an answer cut off mid-body (IncompleteRead) is not an OSError.
NETWORK_ERRORS = (SlackClientError, urllib.error.URLError, OSError, http.client.HTTPException)


def plain_text(alert: Alert) -> str:
    """The repaired message: the fallback text and the summary (a digest: its stories), as plain
    text, at most 3,000 characters."""
    stories = (f"• {cut(x.title, 200)} · {x.outlets[0]} {x.url if len(x.url) <= 500 else ''}" for x in alert.lines)
    lines = [fallback_text(alert), *(f"• {escape(s)}" for s in alert.summary), *map(escape, stories)]
    return cut("\n".join(lines), PLAIN_LIMIT)


def metadata(alert: Alert) -> dict[str, Any]:
    return {"event_type": EVENT_TYPE, "event_payload": {"key": alert.key}}


def _repair(message: dict[str, Any], alert: Alert, code: str | None) -> dict[str, Any] | None:
    """The message without what Slack refused, or None when nothing is left to take out."""
    if code in BLOCK_ERRORS and "blocks" in message:
        return {k: v for k, v in message.items() if k != "blocks"} | {"text": plain_text(alert)}
    if code in METADATA_ERRORS and "metadata" in message:
        return {k: v for k, v in message.items() if k != "metadata"}
    return None


class SlackBotDeliverer:
    name = "slack"
    threads = True

    def __init__(self, token: str, base_url: str) -> None:
        # No retry inside slack-sdk: a connection dropped after the request went out may follow a
        # post Slack made, and only the outbox's retry looks for it before posting again.
        self.client = WebClient(token=token, base_url=base_url, timeout=TIMEOUT, retry_handlers=[])
        self._ids: dict[str, str] = {}  # channel name (without '#') -> ID, learned from Slack's answers

    def post(self, alert: Alert, thread_ts: str | None = None) -> str | None:
        message: dict[str, Any] = {"text": fallback_text(alert), "blocks": render(alert), "metadata": metadata(alert)}
        if thread_ts:
            message["thread_ts"] = thread_ts
        while True:
            try:
                response = self._post(alert.channel, message)
            except SlackApiError as e:
                repaired = _repair(message, alert, _code(e))
                if repaired is None:
                    raise _api_error(e, alert.channel) from None
                log.warning("slack refused alert key=%s (%s): posting it again, repaired", alert.key, _code(e))
                message = repaired
                continue
            if response.get("channel"):
                self._ids[alert.channel.lstrip("#")] = str(response["channel"])
            ts = response.get("ts")
            return str(ts) if ts else None

    def _post(self, channel: str, message: dict[str, Any]) -> SlackResponse:
        return _network(
            lambda: self.client.chat_postMessage(channel=channel, unfurl_links=False, unfurl_media=False, **message)
        )

    def update(self, alert: Alert, ts: str) -> None:
        """chat.update of a thread's parent (it takes only channel IDs); the blocks are repaired
        like a post's, and a message that cannot be edited any more is a PermanentDelivery."""
        channel = self.channel_id(alert.channel)
        message: dict[str, Any] = {"text": fallback_text(alert), "blocks": render(alert)}
        while True:
            try:
                self._update(channel, ts, message)
                return
            except SlackApiError as e:
                if _code(e) in UPDATE_ERRORS:
                    raise PermanentDelivery(f"slack: {_code(e)} (the parent message cannot be updated)") from None
                repaired = _repair(message, alert, _code(e))
                if repaired is None:
                    raise _api_error(e, alert.channel) from None
                message = repaired

    def _update(self, channel: str, ts: str, message: dict[str, Any]) -> None:
        _network(lambda: self.client.chat_update(channel=channel, ts=ts, **message))

    def find_posted(self, alert: Alert, since: datetime, thread_ts: str | None = None) -> str | None:
        """The ts of the message carrying `alert`'s key in its channel (or in the thread of
        `thread_ts`: replies are not in the channel's history) since `since`, if any."""
        channel = self.channel_id(alert.channel)
        cursor = None
        method = self.client.conversations_replies if thread_ts else self.client.conversations_history
        for _ in range(HISTORY_PAGES):
            page = self._api(
                method,
                alert.channel,
                channel=channel,
                ts=thread_ts,
                oldest=f"{since.timestamp():.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for message in page.get("messages") or []:
                meta = message.get("metadata") or {}
                if meta.get("event_type") == EVENT_TYPE and (meta.get("event_payload") or {}).get("key") == alert.key:
                    return str(message["ts"])
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not page.get("has_more") or not cursor:
                return None
        raise PermanentDelivery(f"slack: more than {HISTORY_PAGES * 200} messages in {alert.channel} to look through")

    def channel_id(self, channel: str) -> str:
        """Slack's ID for a route (conversations.history takes only IDs; chat.postMessage takes names)."""
        name = channel.lstrip("#")
        if CHANNEL_ID.fullmatch(channel):
            return channel
        cursor = None
        for _ in range(LIST_PAGES):
            if name in self._ids:
                break
            page = self._api(
                self.client.conversations_list,
                channel,
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            self._ids.update({str(c["name"]): str(c["id"]) for c in page.get("channels") or []})
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        if name not in self._ids:
            raise PermanentDelivery(f"slack: no channel named {channel} visible to the bot")
        return self._ids[name]

    @staticmethod
    def _api(method: Callable[..., SlackResponse], route: str, **kwargs: Any) -> SlackResponse:
        try:
            return _network(lambda: method(**{k: v for k, v in kwargs.items() if v is not None}))
        except SlackApiError as e:
            raise _api_error(e, route) from None


def _network(call: Callable[[], SlackResponse]) -> SlackResponse:
    """Run a Web API call; a transport failure is retryable (Slack's own errors pass through)."""
    try:
        return call()
    except SlackApiError:
        raise
    except NETWORK_ERRORS as e:
        raise RetryableDelivery(f"slack: {type(e).__name__}: {e}") from None


def _code(e: SlackApiError) -> str | None:
    error = e.response.get("error") if isinstance(e.response.data, dict) else None
    return str(error) if error else None


def _api_error(e: SlackApiError, channel: str) -> DeliveryError:
    status = e.response.status_code
    code = _code(e)
    if status == 429 or code == "ratelimited":
        return RetryableDelivery("slack: rate limited", parse_retry_after(e.response.headers.get("Retry-After")))
    if code in CHANNEL_ERRORS:
        return RouteFailure(f"slack: {code} ({CHANNEL_ERRORS[code]})", channel)
    if code == "missing_scope":
        needed = e.response.get("needed") if isinstance(e.response.data, dict) else None
        return RouteFailure(f"slack: missing_scope (the token needs {needed or 'another scope'})", None)
    if code in TOKEN_ERRORS:
        return RouteFailure(f"slack: {code} (check SLACK_BOT_TOKEN: revoked, expired or wrong)", None)
    if code in MESSAGE_ERRORS or (status < 500 and code and code not in TRANSIENT_ERRORS):
        return PermanentDelivery(f"slack: {code}")
    return RetryableDelivery(f"slack: HTTP {status} {code or ''}".strip())


class SlackWebhookDeliverer:
    """An incoming webhook: one channel, no history to look in, so at-least-once (see outbox.py);
    no threads and no edits, so later coverage of a story goes into the digest instead."""

    name = "webhook"
    threads = False

    def __init__(self, url: str) -> None:
        self.client = WebhookClient(url, timeout=TIMEOUT, retry_handlers=[])  # the outbox retries (see the bot's)

    def update(self, alert: Alert, ts: str) -> None:
        """A webhook cannot edit a message; nothing to do (updates are not queued for it)."""

    def post(self, alert: Alert, thread_ts: str | None = None) -> str | None:
        try:
            self._send(text=fallback_text(alert), blocks=render(alert))
        except _Refused as e:
            log.warning("webhook refused alert key=%s (%s): posting the plain text alone", alert.key, e.code)
            try:
                self._send(text=plain_text(alert))
            except _Refused as again:
                raise PermanentDelivery(f"webhook: {again.code} (also as plain text)") from None
        return None

    def _send(self, **message: Any) -> None:
        try:
            response = self.client.send(**message)
        except NETWORK_ERRORS as e:
            raise RetryableDelivery(f"webhook: {type(e).__name__}") from None
        if response.status_code == 200:
            return
        retry_after = parse_retry_after((response.headers or {}).get("Retry-After"))
        body = (response.body or "").strip()[:100]
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableDelivery(f"webhook: HTTP {response.status_code}", retry_after)
        if body in BLOCK_ERRORS:
            raise _Refused(body)
        if response.status_code in (403, 404, 410) or body in WEBHOOK_ROUTE_ERRORS or body in TOKEN_ERRORS:
            raise RouteFailure(f"webhook: HTTP {response.status_code} {body} (check SLACK_WEBHOOK_URL)", None)
        if body in MESSAGE_ERRORS or body == "invalid_payload" or 400 <= response.status_code < 500:
            raise PermanentDelivery(f"webhook: HTTP {response.status_code} {body}")
        raise RetryableDelivery(f"webhook: HTTP {response.status_code} {body}")


class _Refused(Exception):
    """The webhook refused the blocks or the length; the plain text may pass."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code
