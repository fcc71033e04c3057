"""Slack targets through slack-sdk: chat.postMessage with a bot token, or one incoming webhook.

Slack's answers are translated here into RetryableDelivery (rate limits with their Retry-After,
5xx, connection errors, unknown errors) or PermanentDelivery (a channel or token that will not work
by retrying). The outbox decides when to try again, so a long outage survives restarts; slack-sdk's
own connection-error retry handles the brief blips.
"""

from __future__ import annotations

import urllib.error

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler
from slack_sdk.webhook import WebhookClient

from service.deliver.blocks import fallback_text, render
from service.errors import PermanentDelivery, RetryableDelivery
from service.fetch.client import parse_retry_after
from service.models import Alert

PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
        "invalid_blocks",
        "invalid_blocks_format",
        "msg_too_long",
        "no_text",
    }
)
TIMEOUT = 15


class SlackBotDeliverer:
    name = "slack"

    def __init__(self, token: str, base_url: str) -> None:
        self.client = WebClient(
            token=token, base_url=base_url, timeout=TIMEOUT, retry_handlers=[ConnectionErrorRetryHandler(1)]
        )

    def post(self, alert: Alert) -> str | None:
        try:
            response = self.client.chat_postMessage(
                channel=alert.channel,
                text=fallback_text(alert),
                blocks=render(alert),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as e:
            raise _api_error(e) from None
        except (SlackClientError, urllib.error.URLError, OSError) as e:
            raise RetryableDelivery(f"slack: {type(e).__name__}: {e}") from None
        ts = response.get("ts")
        return str(ts) if ts else None


def _api_error(e: SlackApiError) -> RetryableDelivery | PermanentDelivery:
    status = e.response.status_code
    code = e.response.get("error") if isinstance(e.response.data, dict) else None
    if status == 429 or code == "ratelimited":
        return RetryableDelivery("slack: rate limited", parse_retry_after(e.response.headers.get("Retry-After")))
    if code in PERMANENT_ERRORS:
        return PermanentDelivery(f"slack: {code}")
    return RetryableDelivery(f"slack: HTTP {status} {code or ''}".strip())


class SlackWebhookDeliverer:
    name = "webhook"

    def __init__(self, url: str) -> None:
        self.client = WebhookClient(url, timeout=TIMEOUT, retry_handlers=[ConnectionErrorRetryHandler(1)])

    def post(self, alert: Alert) -> str | None:
        try:
            response = self.client.send(text=fallback_text(alert), blocks=render(alert))
        except (SlackClientError, urllib.error.URLError, OSError) as e:
            raise RetryableDelivery(f"webhook: {type(e).__name__}") from None
        if response.status_code == 200:
            return None
        retry_after = parse_retry_after((response.headers or {}).get("Retry-After"))
        body = (response.body or "").strip()[:100]
        if response.status_code == 429 or response.status_code >= 500:
            raise RetryableDelivery(f"webhook: HTTP {response.status_code}", retry_after)
        if response.status_code in (403, 404, 410) or body in PERMANENT_ERRORS:
            raise PermanentDelivery(f"webhook: HTTP {response.status_code} {body}")
        raise RetryableDelivery(f"webhook: HTTP {response.status_code} {body}")
