"""Read config/ and the environment once, validate them, and return typed, frozen settings.

This is the only module that reads `os.environ`. Files: `settings.yaml` (store, fetching, Slack
routes), `sources.yaml` plus any `sources.d/*.yaml` (what to poll), `topics.yaml` (what to alert on).
Untrusted YAML goes through the pydantic models of `schema`; every error names its place, e.g.
`sources.yaml: sources[3].url: not an http(s) URL`. Secrets come only from the environment
(`SLACK_BOT_TOKEN`, `SLACK_WEBHOOK_URL`, or the same names with `_FILE` pointing at a file).
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ValidationError

from service.detect import CompiledTopic, Entities, TopicModel, compile_entities, compile_topics, parse_model
from service.errors import ConfigError
from service.models import HtmlSelectors, JsonMapping, Source
from service.schema import (
    DEFAULT_USER_AGENT,
    ChannelEntry,
    EntitiesFile,
    LLMSection,
    RouteEntry,
    SettingsFile,
    SourceEntry,
    SourcesFile,
    TopicsFile,
)
from service.stories.digest import ChannelPolicy
from service.summarize.llm import DEFAULT_BASE_URLS, LLMConfig


@dataclass(frozen=True)
class FetchSettings:
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    deadline: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    workers: int = 64
    per_host: int = 2
    per_host_spacing: float = 0.2
    user_agent: str = DEFAULT_USER_AGENT
    # Host names, IPs and CIDR blocks the address guard lets through although they are private.
    allow_private_hosts: tuple[str, ...] = ()


@dataclass(frozen=True)
class SlackSettings:
    default_channel: str = "#ai-news"
    ops_channel: str = "#newsalert-ops"
    routes: Mapping[str, str] = field(default_factory=dict)
    languages: Mapping[str, str] = field(default_factory=dict)  # channel -> brief language
    channels: Mapping[str, ChannelPolicy] = field(default_factory=dict)  # channel -> when and what to post
    api_url: str = "https://slack.com/api/"
    bot_token: str | None = None
    webhook_url: str | None = None

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.bot_token, self.webhook_url) if s)


@dataclass(frozen=True)
class Settings:
    """Everything configured, validated; `secrets()` lists the values logs must never show."""

    config_dir: Path
    store_path: Path
    sources: tuple[Source, ...]
    topics: tuple[CompiledTopic, ...]
    entities: Entities = field(default_factory=lambda: compile_entities({}))
    model: TopicModel | None = None  # the learned layer over the rules (topics.model.json), if any
    model_path: Path | None = None  # where it is read from (and `topics train` writes); None: rules only
    fetch: FetchSettings = FetchSettings()
    slack: SlackSettings = SlackSettings()
    first_poll_window: float = 24 * 3600
    jitter: float = 30
    delivery_interval: float = 15
    summary_sentences: int = 3
    article_fetch: bool = True
    health_threshold: int = 3
    outbox_max_pending: int = 10_000
    language: str = "en"  # the team's language: LLM briefs are written in it
    llm: LLMConfig | None = None  # None: the embedded extractive summary only
    metrics_listen: tuple[str, int] | None = None  # host, port of /metrics, /healthz, /readyz (None: off)
    log_format: str = "text"  # text | json (settings `log_format`, or NEWSALERT_LOG_FORMAT)

    def secrets(self) -> tuple[str, ...]:
        llm_key = (self.llm.api_key,) if self.llm and self.llm.api_key else ()
        return self.slack.secrets() + llm_key


def _format_errors(name: str, err: ValidationError) -> str:
    lines = []
    for e in err.errors():
        loc = ""
        for part in e["loc"]:
            loc += f"[{part}]" if isinstance(part, int) else (f".{part}" if loc else str(part))
        msg = e["msg"].removeprefix("Value error, ")
        lines.append(f"{name}: {loc}: {msg}" if loc else f"{name}: {msg}")
    return "\n".join(lines)


MAX_CONFIG_BYTES = 2 * 1024 * 1024  # a config file larger than this is a mistake (10 MB took 50 s and 1.1 GB)


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a key repeated in one mapping (where the last silently won)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # `<<: *base`: merged keys may be overridden, as YAML means
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str | int | float | bool):
                continue
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice in one mapping", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _log_format(value: str) -> str:
    if value not in ("text", "json"):
        raise ConfigError(f"NEWSALERT_LOG_FORMAT: 'text' or 'json', got {value!r}")
    return value


def _load_yaml(path: Path) -> Any:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path.name}: {size:,} bytes, over the {MAX_CONFIG_BYTES:,}-byte limit")
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_UniqueKeyLoader) or {}
    except RecursionError as e:
        raise ConfigError(f"{path.name}: nested too deeply") from e
    except FileNotFoundError as e:
        raise ConfigError(f"{path}: file not found") from e
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path.name}: not UTF-8 (byte {e.start}); save it as UTF-8") from e
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path.name}:{where} {getattr(e, 'problem', e)}") from e


def _validate(model: type[BaseModel], path: Path, data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_format_errors(path.name, e)) from e


def _to_source(s: SourceEntry, bounds: tuple[float, float, float]) -> Source:
    default, low, high = bounds
    return Source(
        name=s.name,
        kind=s.kind,
        url=s.url,
        interval_seconds=int(s.interval or default),
        pinned=s.interval is not None,
        cron=s.cron,
        min_interval=int(s.min_interval or low),
        max_interval=int(s.max_interval or high),
        language=s.language,
        fetch_articles=s.fetch_articles,
        weight=s.weight,
        cluster=s.cluster,
        html=HtmlSelectors(**s.selectors.model_dump()) if s.selectors else None,
        json=JsonMapping(**s.mapping.model_dump()) if s.mapping else None,
    )


def source_files(config_dir: Path) -> list[Path]:
    return [config_dir / "sources.yaml", *sorted((config_dir / "sources.d").glob("*.yaml"))]


def load_sources(config_dir: Path, bounds: tuple[float, float, float] = (600, 120, 6 * 3600)) -> tuple[Source, ...]:
    """Every enabled source; `bounds` are the default, minimum and maximum poll intervals."""
    out: list[Source] = []
    seen: dict[str, Path] = {}
    for path in source_files(config_dir):
        parsed: SourcesFile = _validate(SourcesFile, path, _load_yaml(path))
        for i, s in enumerate(parsed.sources):
            if s.name in seen:
                raise ConfigError(f"{path.name}: sources[{i}].name: {s.name!r} is also in {seen[s.name].name}")
            seen[s.name] = path
            if s.enabled:
                out.append(_to_source(s, bounds))
    return tuple(out)


def load_entities(path: Path) -> Entities:
    """Organizations and their aliases (entities.yaml); none if the file is absent."""
    if not path.exists():
        return compile_entities({})
    parsed: EntitiesFile = _validate(EntitiesFile, path, _load_yaml(path))
    try:
        return compile_entities(parsed.organizations, parsed.products, parsed.words)
    except ConfigError as e:
        raise ConfigError(f"{path.name}: {e}") from e


def load_topics(path: Path, entities: Entities | None = None) -> tuple[CompiledTopic, ...]:
    """Compile topics.yaml; `@organizations` names every alias of entities.yaml."""
    parsed: TopicsFile = _validate(TopicsFile, path, _load_yaml(path))
    lists = dict(parsed.lists)
    if entities is not None and entities.names:
        lists.setdefault("organizations", entities.aliases())
    try:
        topics = compile_topics(parsed.topics, lists)
    except ConfigError as e:
        raise ConfigError(f"{path.name}: {e}") from e
    ids = [t.id for t in topics]
    dupes = {i for i in ids if ids.count(i) > 1}
    if dupes:
        raise ConfigError(f"{path.name}: duplicate topic id(s): {', '.join(sorted(dupes))}")
    return topics


MODEL_MAX_BYTES = 64 * 1024 * 1024


def load_model(path: Path, required: bool = False) -> TopicModel | None:
    """The topic model file; None when it is absent (rules alone) unless the settings named it."""
    try:
        if path.stat().st_size > MODEL_MAX_BYTES:
            raise ConfigError(f"{path.name}: larger than {MODEL_MAX_BYTES >> 20} MiB; not a topic model")
        raw = json.loads(path.read_bytes())
    except FileNotFoundError as e:
        if required:
            raise ConfigError(f"settings.yaml: topic_model: {path} not found (run `newsalert topics train`)") from e
        return None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from e
    except (ValueError, RecursionError) as e:
        raise ConfigError(f"{path.name}: not valid JSON ({e})") from e
    return parse_model(raw, path.name)


def _secret(env: Mapping[str, str], name: str) -> str | None:
    """A token or key from the environment, or from the file `{name}_FILE` names (a BOM and
    surrounding whitespace dropped). It goes into HTTP headers, so it must be printable ASCII;
    the error never repeats it."""
    value = env.get(name, "").strip()
    file = env.get(f"{name}_FILE")
    if not value and file:
        try:
            value = Path(file).read_text(encoding="utf-8-sig").strip()
        except OSError as e:
            raise ConfigError(f"{name}_FILE: cannot read {file}: {e.strerror}") from e
    if value and not (value.isascii() and value.isprintable()):
        where = f"{name}_FILE ({file})" if file and not env.get(name, "").strip() else name
        raise ConfigError(f"{where}: the secret holds characters no HTTP header can carry (not shown)")
    return value or None


def load(config_dir: Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read and validate the whole configuration; raises ConfigError with every problem's place."""
    env = os.environ if env is None else env
    config_dir = Path(config_dir or env.get("NEWSALERT_CONFIG") or "config")
    main_path = config_dir / "settings.yaml"
    main: SettingsFile = _validate(SettingsFile, main_path, _load_yaml(main_path) if main_path.exists() else {})
    entities = load_entities(config_dir / "entities.yaml")
    topics = load_topics(config_dir / "topics.yaml", entities)
    model_path = config_dir / main.topic_model if main.topic_model else None
    model = load_model(model_path, required="topic_model" in main.model_fields_set) if model_path else None
    routed = set(main.slack.routes) - {t.id for t in topics}
    if routed:
        raise ConfigError(f"settings.yaml: slack.routes: unknown topic(s): {', '.join(sorted(routed))}")
    targets = {r if isinstance(r, str) else r.channel for r in main.slack.routes.values()}
    stray = set(main.slack.channels) - targets - {main.slack.default_channel, main.slack.ops_channel}
    if stray:  # a policy nobody's alerts reach, e.g. "ai-deals" where the routes say "#ai-deals"
        raise ConfigError(
            f"settings.yaml: slack.channels: no route or default channel sends alerts to {', '.join(sorted(stray))}"
            f" (routes go to {', '.join(sorted(targets | {main.slack.default_channel}))})"
        )
    store = Path(env.get("NEWSALERT_STORE") or main.store).resolve()  # one lock for every path to it (symlinks)
    if store.is_dir():
        raise ConfigError(f"settings.yaml: store: {store} is a directory; name a file, e.g. {store / 'newsalert.db'}")
    return Settings(
        config_dir=config_dir,
        store_path=store,
        sources=load_sources(config_dir, (main.default_interval, main.min_interval, main.max_interval)),
        topics=topics,
        entities=entities,
        model=model,
        model_path=model_path,
        fetch=FetchSettings(**main.fetch.model_dump()),
        slack=SlackSettings(
            default_channel=main.slack.default_channel,
            ops_channel=main.slack.ops_channel,
            routes={t: r if isinstance(r, str) else r.channel for t, r in main.slack.routes.items()},
            languages={
                r.channel: r.language for r in main.slack.routes.values() if isinstance(r, RouteEntry) and r.language
            },
            channels={name: _policy(c) for name, c in main.slack.channels.items()},
            api_url=env.get("SLACK_API_URL") or main.slack.api_url,
            bot_token=_secret(env, "SLACK_BOT_TOKEN"),
            webhook_url=_secret(env, "SLACK_WEBHOOK_URL"),
        ),
        first_poll_window=main.first_poll_window,
        jitter=main.jitter,
        delivery_interval=main.delivery_interval,
        summary_sentences=main.summary_sentences,
        article_fetch=main.article_fetch,
        health_threshold=main.health_threshold,
        outbox_max_pending=main.outbox_max_pending,
        language=main.language,
        llm=_llm(main.llm, env),
        metrics_listen=main.metrics.address() if main.metrics else None,
        log_format=_log_format(env.get("NEWSALERT_LOG_FORMAT") or main.log_format),
    )


def _policy(raw: ChannelEntry) -> ChannelPolicy:
    quiet = None
    if raw.quiet_hours:
        start, _, end = raw.quiet_hours.partition("-")
        quiet = (start.strip(), end.strip())
    return ChannelPolicy(
        delivery=raw.delivery,
        digest=raw.digest,
        digest_at=raw.digest_at,
        digest_day=raw.digest_day,
        timezone=raw.timezone,
        quiet_hours=quiet,
        urgent_score=raw.urgent_score,
        min_score=raw.min_score,
        min_outlets=raw.min_outlets,
    )


def private_endpoint(host: str) -> str | None:
    """Why the address guard would refuse a host written as an IP (in any spelling: `127.1`, `[::1]`)
    or as `localhost`, else None; names are resolved by `newsalert check`, not here (no DNS in config)."""
    # Imported here: the fetch package imports this module (FetchSettings) when it loads.
    from service.fetch.addresses import normal_host, refusal

    host = normal_host(host).strip("[]")
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback address"
    try:
        return refusal(str(ipaddress.ip_address(host)))
    except ValueError:
        pass
    try:
        return refusal(socket.inet_ntoa(socket.inet_aton(host)))  # 127.1, 2130706433, 0x7f.1: pure parsing
    except OSError:
        return None


def _llm(raw: LLMSection, env: Mapping[str, str]) -> LLMConfig | None:
    """The LLM backend, with its key from the environment; the base URL only ever from config."""
    if raw.provider == "none":
        return None
    vendor_key = "OPENAI_API_KEY" if raw.provider == "openai" else "ANTHROPIC_API_KEY"
    fields = raw.model_dump(exclude={"provider", "base_url"})
    base_url = raw.base_url or DEFAULT_BASE_URLS[raw.provider]
    refused = private_endpoint(urlsplit(base_url).hostname or "")
    if refused and not raw.local:
        raise ConfigError(
            f"settings.yaml: llm.base_url: {refused}; if the LLM runs on this machine or network on purpose"
            " (Ollama, vLLM), set llm.local: true"
        )
    return LLMConfig(
        provider=raw.provider,
        base_url=base_url,
        api_key=_secret(env, "NEWSALERT_LLM_API_KEY") or _secret(env, vendor_key),
        **fields,
    )
