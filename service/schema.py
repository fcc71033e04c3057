"""The shapes of the config files: the pydantic models every YAML file is validated against.

Untrusted YAML goes through these models (`settings.load` turns them into frozen settings);
every unknown key is an error, and every error names its place, e.g.
`sources.yaml: sources[3].url: not an http(s) URL`. Durations may be written `90s`, `10m`, `6h`, `1d`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.triggers.cron import CronTrigger
from pydantic import BaseModel, ConfigDict, Field, field_validator

from service.stories.cluster import CLOSE_CALLS

DEFAULT_USER_AGENT = "newsalert/0.1 (+https://github.com/newsalert/newsalert; self-hosted news alerts)"
_HOST_NAME = re.compile(
    r"^(?=.{1,253}\.?$)[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*\.?$"
)
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)?\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}


MAX_DURATION = 1000 * 365 * 86400.0  # past this, a date computed from now would overflow


def parse_duration(value: Any) -> float:
    """`90`, `"90s"`, `"10m"`, `"24h"`, `"7d"` -> seconds: a finite number, 0 or more."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = _DURATION.match(str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 90s, 10m, 24h, 7d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    if not 0 <= seconds <= MAX_DURATION:  # also false for NaN
        raise ValueError(f"not a usable duration: {value!r} (0 to 1000 years)")
    return seconds


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value or ""):
        raise ValueError("not an http(s) URL")
    return value


class _Selectors(_Strict):
    item: str
    title: str | None = None
    link: str | None = None
    date: str | None = None
    summary: str | None = None


class _Mapping(_Strict):
    items: str
    title: str
    url: str
    id: str | None = None
    published: str | None = None
    summary: str | None = None
    url_template: str | None = None


class SourceEntry(_Strict):
    name: str = Field(min_length=1)
    kind: Literal["feed", "html", "json"] = "feed"
    url: str
    interval: float | None = None
    cron: str | None = None
    min_interval: float | None = None
    max_interval: float | None = None
    language: str | None = None
    enabled: bool = True
    fetch_articles: bool = True
    weight: float = Field(1.0, ge=0)
    cluster: bool = True
    selectors: _Selectors | None = None
    mapping: _Mapping | None = None

    _check_url = field_validator("url")(_http_url)

    @field_validator("interval", "min_interval", "max_interval", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float | None:
        seconds = None if v is None else parse_duration(v)
        if seconds is not None and seconds < 1:
            raise ValueError(f"an interval of at least 1 second, got {v!r}")
        return seconds

    @field_validator("cron")
    @classmethod
    def _cron(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                CronTrigger.from_crontab(v, timezone="UTC")
            except ValueError as e:
                raise ValueError(f"not a cron expression ({e})") from e
        return v

    def model_post_init(self, _: Any) -> None:
        if self.kind == "html" and self.selectors is None:
            raise ValueError("an html source needs `selectors` (at least `item`)")
        if self.kind == "json" and self.mapping is None:
            raise ValueError("a json source needs a `mapping` (items, title, url)")
        if self.interval is not None and self.cron is not None:
            raise ValueError("set `interval` or `cron`, not both")
        if self.min_interval is not None and self.max_interval is not None and self.min_interval > self.max_interval:
            raise ValueError("min_interval is above max_interval")


class SourcesFile(_Strict):
    sources: list[SourceEntry] = []


class _Fetch(_Strict):
    connect_timeout: float = Field(5.0, gt=0)
    read_timeout: float = Field(15.0, gt=0)
    deadline: float = Field(30.0, gt=0)
    max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    max_redirects: int = Field(5, ge=0, le=20)
    workers: int = Field(128, ge=1, le=256)
    per_host: int = Field(2, ge=1, le=16)
    per_host_spacing: float = Field(0.2, ge=0, le=60)
    user_agent: str = DEFAULT_USER_AGENT
    allow_private_hosts: tuple[str, ...] = ()

    @field_validator("allow_private_hosts")
    @classmethod
    def _hosts(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_private_host(entry) for entry in v)


def _private_host(entry: str) -> str:
    """An `allow_private_hosts` entry: a host name, an IP address or a CIDR block (`10.0.0.0/8`)."""
    entry = entry.strip().lower()
    try:
        return str(ipaddress.ip_network(entry, strict=False))
    except ValueError:
        pass
    if not _HOST_NAME.match(entry):
        raise ValueError(f"not a host name, IP address or CIDR block: {entry!r}")
    return entry.rstrip(".")


class RouteEntry(_Strict):
    channel: str
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$")


_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _clock(value: str) -> str:
    if not _CLOCK.match(value):
        raise ValueError(f"not a time of day: {value!r} (use HH:MM, e.g. 09:00)")
    return value


class ChannelEntry(_Strict):
    delivery: Literal["realtime", "digest", "both"] = "realtime"
    digest: Literal["hourly", "daily", "weekly"] = "daily"
    digest_at: str = "09:00"
    digest_day: Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"] = "monday"
    timezone: str = "UTC"
    quiet_hours: str | None = None
    urgent_score: float | None = Field(None, ge=0)
    min_score: float = Field(0.0, ge=0)
    min_outlets: int = Field(1, ge=1)

    _check_at = field_validator("digest_at")(_clock)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {v!r} (use an IANA name, e.g. Asia/Seoul)") from None
        return v

    @field_validator("quiet_hours")
    @classmethod
    def _quiet(cls, v: str | None) -> str | None:
        if v is not None:
            start, sep, end = v.partition("-")
            if not sep or start.strip() == end.strip():
                raise ValueError(f"quiet hours are a range of two different times, e.g. 22:00-08:00, got {v!r}")
            _clock(start.strip())
            _clock(end.strip())
        return v


class _Slack(_Strict):
    default_channel: str = "#ai-news"
    ops_channel: str = "#newsalert-ops"
    routes: dict[str, str | RouteEntry] = {}
    channels: dict[str, ChannelEntry] = {}
    api_url: str = "https://slack.com/api/"

    _check_url = field_validator("api_url")(_http_url)


class LLMSection(_Strict):
    provider: Literal["none", "openai", "anthropic"] = "none"
    base_url: str | None = None
    model: str = "gpt-4o-mini"
    timeout: float = Field(20, gt=0)
    deadline: float = Field(30, gt=0)
    max_input_chars: int = Field(12000, ge=500)
    daily_token_budget: int | None = Field(None, ge=1)
    concurrency: int = Field(2, ge=1, le=32)
    max_output_tokens: int = Field(1200, ge=100)
    max_attempts: int = Field(3, ge=1, le=10)
    json_mode: bool = True
    token_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    local: bool = False
    classify: bool = False
    classify_margin: float = Field(0.5, gt=0, le=1)
    same_story: bool = False
    same_story_band: tuple[float, float] = CLOSE_CALLS
    breaker_failures: int = Field(3, ge=1, le=100)
    breaker_cooldown: float = Field(300, gt=0)

    @field_validator("same_story_band")
    @classmethod
    def _band(cls, v: tuple[float, float]) -> tuple[float, float]:
        if not 0 <= v[0] < v[1] <= 1.5:
            raise ValueError("same_story_band must be [low, high] with 0 <= low < high <= 1.5")
        return v

    @field_validator("base_url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        return None if v is None else _http_url(v)

    @field_validator("timeout", "deadline", "breaker_cooldown", mode="before")
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)


class MetricsSection(_Strict):
    listen: str = Field("127.0.0.1:9464", pattern=r"^[^\s:]*:\d{1,5}$")  # IPv4 host:port (port 0: any free one)

    @field_validator("listen")
    @classmethod
    def _port(cls, v: str) -> str:
        if int(v.rpartition(":")[2]) > 65535:
            raise ValueError(f"port {v.rpartition(':')[2]} is above 65535")
        return v

    def address(self) -> tuple[str, int]:
        """(host, port); an empty host is loopback."""
        host, _, port = self.listen.rpartition(":")
        return host or "127.0.0.1", int(port)


class SettingsFile(_Strict):
    store: str = "data/newsalert.db"
    first_poll_window: float = 24 * 3600
    default_interval: float = 600
    min_interval: float = 120
    max_interval: float = 6 * 3600
    jitter: float = 30
    delivery_interval: float = 15
    summary_sentences: int = Field(3, ge=1, le=6)
    article_fetch: bool = True
    health_threshold: int = Field(3, ge=1)
    outbox_max_pending: int = Field(10_000, ge=10)
    language: str = Field("en", pattern=r"^[a-z]{2,3}$")
    topic_model: str | None = "topics.model.json"  # relative to the config directory; null: rules only
    llm: LLMSection = Field(default_factory=LLMSection)
    fetch: _Fetch = Field(default_factory=_Fetch)
    slack: _Slack = Field(default_factory=_Slack)
    metrics: MetricsSection | None = Field(default_factory=MetricsSection)  # false: no listener
    log_format: Literal["text", "json"] = "text"

    @field_validator(
        "first_poll_window",
        "default_interval",
        "min_interval",
        "max_interval",
        "jitter",
        "delivery_interval",
        mode="before",
    )
    @classmethod
    def _duration(cls, v: Any) -> float:
        return parse_duration(v)

    @field_validator("metrics", mode="before")
    @classmethod
    def _metrics_switch(cls, v: Any) -> Any:
        """`metrics: true` is the defaults, `metrics: false` no listener (no metrics, /healthz, /readyz)."""
        return {} if v is True else None if v is False else v

    @field_validator("default_interval", "min_interval", "max_interval", "delivery_interval")
    @classmethod
    def _at_least_a_second(cls, v: float) -> float:
        if v < 1:
            raise ValueError(f"at least 1 second, got {v:g}")
        return v

    def model_post_init(self, _: Any) -> None:
        if self.min_interval > self.max_interval:
            raise ValueError(f"min_interval ({self.min_interval:g}s) is above max_interval ({self.max_interval:g}s)")


class TopicsFile(_Strict):
    lists: dict[str, list[str]] = {}
    topics: list[dict[str, Any]]


class EntitiesFile(_Strict):
    organizations: dict[str, list[str]] = {}
    products: dict[str, list[str]] = {}
    words: dict[str, list[str]] = {}
