"""Delivery targets for tests that wrap the real Slack bot target."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from service.deliver.slack import SlackBotDeliverer
from service.errors import RetryableDelivery
from service.models import Alert


class LostAnswer:
    """The bot, except that the answer to the first post `lose` picks never comes back (a read
    timeout after Slack posted). By default that is the very first post."""

    name = "slack"
    threads = True

    def __init__(self, bot: SlackBotDeliverer, lose: Callable[[Alert], bool] = lambda _: True) -> None:
        self.bot = bot
        self.lose = lose
        self.lost = False

    def post(self, alert: Alert, thread_ts: str | None = None) -> str | None:
        ts = self.bot.post(alert, thread_ts)
        if not self.lost and self.lose(alert):
            self.lost = True
            raise RetryableDelivery("slack: ReadTimeout: the read operation timed out")
        return ts

    def update(self, alert: Alert, ts: str) -> None:
        self.bot.update(alert, ts)

    def find_posted(self, alert: Alert, since: datetime, thread_ts: str | None = None) -> str | None:
        return self.bot.find_posted(alert, since, thread_ts)
