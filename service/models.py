"""Frozen dataclasses passed between the stages; nothing here does I/O or imports a stage."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

SourceKind = Literal["feed", "html", "json"]
Origin = Literal["llm", "extractive"]


@dataclass(frozen=True)
class HtmlSelectors:
    """CSS selectors for an HTML listing page; title/link/date are relative to each item."""

    item: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    summary: str | None = None


@dataclass(frozen=True)
class JsonMapping:
    """Where items live in a JSON API response and which dotted paths give their fields."""

    items: str
    title: str
    url: str
    id: str | None = None
    published: str | None = None
    summary: str | None = None
    url_template: str | None = None  # used when `url` is empty, e.g. "https://news.ycombinator.com/item?id={id}"


@dataclass(frozen=True)
class Source:
    name: str
    kind: SourceKind
    url: str
    interval_seconds: int  # where adaptive polling starts, or the interval itself when pinned
    language: str | None = None
    pinned: bool = False  # the user set `interval`: no adaptation
    cron: str | None = None  # the user set a cron expression instead
    min_interval: int = 120
    max_interval: int = 6 * 3600
    fetch_articles: bool = True
    weight: float = 1.0  # how much this outlet's coverage adds to a story's importance
    cluster: bool = True  # False for roundups (one item, many stories): its items never join a story
    html: HtmlSelectors | None = None
    json: JsonMapping | None = None


@dataclass(frozen=True)
class SourceState:
    """What the store remembers about a source between polls."""

    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    last_success: datetime | None = None
    consecutive_errors: int = 0
    last_error: str | None = None
    polled_before: bool = False
    next_poll_at: datetime | None = None
    failed_body_hash: str | None = None  # the last body that failed to parse (unchanged: same failure)
    health: str = "ok"  # "down" once the ops channel was told the source is failing
    ttl: float | None = None  # the feed's RSS <ttl> in seconds, as of its last full answer


@dataclass(frozen=True)
class FetchResult:
    url: str
    final_url: str
    status: int
    body: bytes
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None
    max_age: float | None = None  # how long the server says the response stays fresh

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass(frozen=True)
class Item:
    """One entry of a source, as parsed (untrusted text, already stripped of markup)."""

    source: str
    guid: str
    url: str
    title: str
    summary: str = ""
    content: str = ""
    published: datetime | None = None
    canonical_url: str = ""


@dataclass(frozen=True)
class Article:
    """The main text and metadata extracted from an article page."""

    url: str
    text: str
    title: str = ""
    canonical_url: str | None = None
    published: datetime | None = None
    language: str | None = None


@dataclass(frozen=True)
class Match:
    """A topic that an item matched, with its score and the words that matched."""

    topic: str
    score: float
    matched: tuple[str, ...]
    event: str | None = None  # e.g. "partnership: Microsoft + OpenAI (renegotiated)"
    evidence: str | None = None  # the sentence the event was read from
    model: str | None = None  # the learned layer's verdict, e.g. "model 0.93 (headline 'raises' +1.2, ...)"


@dataclass(frozen=True)
class Brief:
    """`language` is the team's language (headings); an extractive brief keeps the article's words."""

    headline: str
    original_title: str
    key_points: tuple[str, ...]
    details: str
    editor_note: str
    language: str
    origin: Origin
    note: str | None = None
    headline_only: bool = False  # the article's text was too short to brief: a headline and one line

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Brief:
        return cls(**{**data, "key_points": tuple(data["key_points"])})


@dataclass(frozen=True)
class DigestLine:
    """One story in a digest: its headline and link, the outlets that covered it, its topics."""

    topic: str
    title: str
    url: str
    outlets: tuple[str, ...]
    score: float


AlertKind = Literal["story", "reply", "update", "digest", "health"]


@dataclass(frozen=True)
class Alert:
    """One message for one channel; `key` makes posting it idempotent.

    `story` is a story's first alert in a channel (the thread's parent); `reply` is later coverage
    of that story, posted in the parent's thread; `update` rewrites the parent with the outlets
    covering the story so far (`outlets`); `digest` is one message of ranked stories (`lines`);
    `health` is a notice to the ops channel. A reply and an update name their parent's key in
    `thread_of`; the outbox finds the parent's message when it delivers them.
    """

    key: str
    channel: str
    source: str
    title: str
    url: str
    published: datetime | None
    matches: tuple[Match, ...]
    summary: tuple[str, ...] = field(default_factory=tuple)
    kind: AlertKind = "story"
    brief: Brief | None = None  # the summarizer's brief (the LLM's, or the extractive fallback)
    story_id: int | None = None
    thread_of: str | None = None  # the parent alert's key (reply, update)
    outlets: tuple[str, ...] = ()  # every outlet covering the story so far, the first one first
    lines: tuple[DigestLine, ...] = ()  # a digest's stories, best first within each topic
    period: str = ""  # a digest's span, e.g. "since 2026-12-01 09:00 KST"
