"""The one exception hierarchy of newsalert; every I/O module translates foreign errors into it.

NewsalertError
├── ConfigError              bad configuration file or rule; the CLI exits non-zero
├── SourceError              one source failed this cycle; recorded on the source, others go on
│   ├── FetchError           transport failure, timeout, deadline, redirect loop
│   │   ├── HTTPStatusError  a non-2xx, non-304 answer (carries the status and Retry-After)
│   │   ├── TooLargeError    the body passed the size cap (counted after decompression)
│   │   └── BlockedAddressError  not http(s), or the host is (or resolves to) a refused address
│   └── ParseError           the body is not a feed / page / JSON document we can read
├── ExtractError             an article page could not be fetched or read (the feed text is used)
├── OutboxFull               too many undelivered alerts: new items wait, pending, until Slack drains
└── DeliveryError            a post to Slack failed
    ├── RetryableDelivery    rate limit, 5xx, connection: try again later (after `retry_after`)
    └── PermanentDelivery    bad blocks even after repair: retrying will not help
        └── RouteFailure     a channel or token that fails every post until someone fixes it
"""

from __future__ import annotations


class NewsalertError(Exception):
    """Base of every error newsalert raises on purpose."""


class ConfigError(NewsalertError):
    """The configuration is invalid; the message names the place (`sources[3].url: ...`)."""


class SourceError(NewsalertError):
    """A source failed for this cycle."""


class FetchError(SourceError):
    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"{reason} ({url})")
        self.url = url
        self.reason = reason


class HTTPStatusError(FetchError):
    def __init__(self, url: str, status: int, retry_after: float | None = None) -> None:
        super().__init__(url, f"HTTP {status}")
        self.status = status
        self.retry_after = retry_after


class TooLargeError(FetchError):
    pass


class BlockedAddressError(FetchError):
    """The URL is not http(s), or its host is (or resolves to) an address the guard refuses."""


class ParseError(SourceError):
    pass


class ExtractError(NewsalertError):
    pass


class OutboxFull(NewsalertError):
    """The outbox holds `max_pending` undelivered alerts: the item is left pending, nothing is lost."""


class DeliveryError(NewsalertError):
    pass


class RetryableDelivery(DeliveryError):
    def __init__(self, reason: str, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class PermanentDelivery(DeliveryError):
    pass


class RouteFailure(PermanentDelivery):
    """Every post to `channel` will fail until someone fixes it (None: every channel of the target)."""

    def __init__(self, reason: str, channel: str | None) -> None:
        super().__init__(reason)
        self.channel = channel
