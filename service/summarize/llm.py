"""LLM briefs over HTTP: one client for OpenAI-compatible and Anthropic APIs, and a writer that never blocks.

`LLMClient` speaks the two wire formats with plain httpx: OpenAI chat completions (OpenAI, Azure
OpenAI's v1 API, Ollama, vLLM, LM Studio, llama.cpp: `POST {base}/chat/completions`) and Anthropic's
Messages API (`POST {base}/v1/messages`). 429 and 5xx answers and transport errors are retried with
backoff (Retry-After honoured) as long as the per-alert deadline allows; at most `concurrency`
requests are in flight. `BriefWriter.write` runs cache -> budget -> call -> validate -> one repair
request -> and otherwise falls back to the extractive brief with a visible note. It never raises
for LLM trouble; anything else is a bug and propagates.

NewsalertError
└── LLMError             no usable brief from the LLM; `note` says why on the fallback brief
    ├── LLMUnavailable   transport error, timeout, deadline, non-2xx answer, malformed envelope
    ├── LLMBadOutput     the answer was no valid brief, even after one repair request
    └── LLMOverBudget    today's token budget (as reported by the API) is spent
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal, Protocol
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import BaseModel, Field, ValidationError

from service.deadline import DeadlineExceeded
from service.deadline import deadline as hard_deadline
from service.errors import NewsalertError
from service.models import Brief
from service.retry_after import parse_retry_after as retry_after_seconds
from service.stories.cluster import CLOSE_CALLS
from service.summarize.brief import (
    HEADLINE_PROMPT_VERSION,
    BriefModel,
    HeadlineModel,
    brief_from_model,
    build_headline_messages,
    build_messages,
    cache_key,
    describe_error,
    extractive_brief,
    grounded,
    headings,
    headline_brief,
    parse_headline,
    parse_output,
    repair_prompt,
    sanitize,
    truncate_input,
)

log = logging.getLogger("newsalert.summarize")

Provider = Literal["openai", "anthropic"]
Role = Literal["user", "assistant"]
Turn = tuple[Role, str]

DEFAULT_BASE_URLS: dict[str, str] = {"openai": "https://api.openai.com/v1", "anthropic": "https://api.anthropic.com"}
ANTHROPIC_VERSION = "2023-06-01"
USER_AGENT = "newsalert/0.1 (+https://github.com/newsalert/newsalert)"
MAX_RESPONSE_BYTES = 2 * 1024 * 1024
# 408/425 are timeouts, 529 is Anthropic's "overloaded"; other 4xx (bad key, unknown model) will not heal.
RETRYABLE = frozenset({408, 425, 429, 500, 502, 503, 504, 529})
BACKOFF = 0.5  # seconds before the second attempt; doubled each time


class LLMError(NewsalertError):
    note = "LLM unavailable"
    reason = "unavailable"  # the Headings field that says it in the team's language


class LLMUnavailable(LLMError):
    def __init__(
        self, reason: str, *, status: int | None = None, retry_after: float | None = None, retryable: bool = False
    ) -> None:
        super().__init__(reason)
        self.status = status
        self.retry_after = retry_after
        self.retryable = retryable


class LLMBadOutput(LLMError):
    note = "LLM invalid output"
    reason = "invalid"


class LLMOverBudget(LLMError):
    note = "LLM over budget"
    reason = "over_budget"


def fallback_note(error: LLMError, language: str = "en") -> str:
    """The note on an extractive fallback, in the team's language: "요약: 추출 요약, LLM 사용 불가"."""
    words = headings(language)
    return f"{words.extractive}, {getattr(words, error.reason)}"


@dataclass(frozen=True)
class LLMConfig:
    """Where and how to ask. `deadline` bounds one brief: every attempt, backoff and the repair."""

    provider: Provider
    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = 20.0
    deadline: float = 30.0
    max_input_chars: int = 12000
    daily_token_budget: int | None = None
    concurrency: int = 2
    max_output_tokens: int = 1200
    max_attempts: int = 3
    json_mode: bool = True  # OpenAI's response_format json_object; off for servers that reject it (LM Studio)
    # OpenAI's reasoning models (o-series, gpt-5) want max_completion_tokens; most other servers max_tokens.
    token_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"
    local: bool = False  # the endpoint is on this machine or network on purpose (Ollama): the address guard lets it be
    classify: bool = False  # also ask about items in a topic's grey zone (summarize.classify)
    classify_margin: float = 0.5  # the grey zone: a near score of at least this share of min_score
    same_story: bool = False  # also ask whether close calls of story clustering tell one event
    same_story_band: tuple[float, float] = CLOSE_CALLS  # the close calls: clustering scores in [low, high)
    breaker_failures: int = 3  # calls failing in a row (after their retries) that open the circuit
    breaker_cooldown: float = 300.0  # seconds the LLM is skipped once the circuit is open, before a probe


def parse_retry_after(headers: httpx.Headers, now: float | None = None) -> float | None:
    """Seconds from `retry-after-ms` (OpenAI) or `Retry-After` (delta-seconds or an HTTP date)."""
    try:
        if headers.get("retry-after-ms"):
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
    except ValueError:
        return None
    return retry_after_seconds(headers.get("retry-after"), now)


# -- the wire formats (pydantic: the API's JSON is untrusted input) -----------------------------


class _OpenAIMessage(BaseModel):
    content: str | None = None


class _OpenAIChoice(BaseModel):
    message: _OpenAIMessage


class _OpenAIUsage(BaseModel):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int | None = None


class _OpenAIResponse(BaseModel):
    choices: list[_OpenAIChoice] = Field(min_length=1)
    usage: _OpenAIUsage | None = None

    def result(self) -> tuple[str, int | None]:
        u = self.usage
        tokens = None if u is None else (u.total_tokens or u.prompt_tokens + u.completion_tokens)
        return self.choices[0].message.content or "", tokens


class _AnthropicBlock(BaseModel):
    type: str
    text: str = ""


class _AnthropicUsage(BaseModel):
    input_tokens: int = 0
    output_tokens: int = 0


class _AnthropicResponse(BaseModel):
    content: list[_AnthropicBlock]
    usage: _AnthropicUsage | None = None

    def result(self) -> tuple[str, int | None]:
        text = "".join(b.text for b in self.content if b.type == "text")
        return text, None if self.usage is None else self.usage.input_tokens + self.usage.output_tokens


@dataclass(frozen=True)
class _Request:
    url: str
    headers: dict[str, str]
    body: dict[str, Any]


def _endpoint(base: str, path: str) -> str:
    """`path` under the base URL's path, keeping its query (Azure's `?api-version=`)."""
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))


def _messages(turns: Sequence[Turn]) -> list[dict[str, str]]:
    return [{"role": role, "content": text or "(empty answer)"} for role, text in turns]


def _build_request(config: LLMConfig, system: str, turns: Sequence[Turn]) -> _Request:
    if config.provider == "anthropic":
        path = "/messages" if urlsplit(config.base_url).path.rstrip("/").endswith("/v1") else "/v1/messages"
        headers = {"anthropic-version": ANTHROPIC_VERSION, **({"x-api-key": config.api_key} if config.api_key else {})}
        body: dict[str, Any] = {
            "model": config.model,
            "max_tokens": config.max_output_tokens,
            "system": system,
            "messages": _messages(turns),
        }
        return _Request(_endpoint(config.base_url, path), headers, body)
    body = {
        "model": config.model,
        "messages": [{"role": "system", "content": system}, *_messages(turns)],
        config.token_field: config.max_output_tokens,
    }
    if config.json_mode:
        body["response_format"] = {"type": "json_object"}
    headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
    return _Request(_endpoint(config.base_url, "/chat/completions"), headers, body)


class Breaker:
    """A circuit breaker: after `failures` calls in a row fail, calls are refused at once for
    `cooldown` seconds (the alert falls back without waiting out a deadline), then one call probes
    the LLM; its success closes the circuit, its failure opens it again. `skipped` counts the
    calls refused while open. Thread-safe: poll workers share one client."""

    def __init__(self, failures: int, cooldown: float, monotonic: Callable[[], float]) -> None:
        self.failures, self.cooldown, self._monotonic = max(1, failures), cooldown, monotonic
        self._lock = threading.Lock()
        self._in_a_row = 0
        self._open_until: float | None = None
        self._probing = False
        self.skipped = 0

    def before(self) -> None:
        """Raises LLMUnavailable while the circuit is open (and while another call probes it)."""
        with self._lock:
            if self._open_until is None:
                return
            if self._monotonic() >= self._open_until and not self._probing:
                self._probing = True  # this call is the probe
                return
            self.skipped += 1
            left = max(0.0, self._open_until - self._monotonic())
        raise LLMUnavailable(f"circuit open after {self.failures} failures in a row; next probe in {left:.0f}s")

    def success(self) -> None:
        with self._lock:
            if self._open_until is not None:
                log.warning("llm circuit closed: the LLM answered again (%d calls skipped meanwhile)", self.skipped)
            self._in_a_row, self._open_until, self._probing = 0, None, False

    def failure(self) -> None:
        with self._lock:
            self._in_a_row += 1
            probe_failed = self._probing
            self._probing = False
            if self._in_a_row >= self.failures or probe_failed:
                if self._open_until is None or probe_failed:
                    log.warning(
                        "llm circuit open: %d calls failed in a row; skipping the LLM for %gs (fallback at once)",
                        self._in_a_row,
                        self.cooldown,
                    )
                self._open_until = self._monotonic() + self.cooldown


class LLMClient:
    """One thread-safe `httpx.Client`; at most `concurrency` requests in flight; retries within a
    deadline; a circuit breaker that stops waiting on an LLM that keeps failing."""

    def __init__(
        self,
        config: LLMConfig,
        transport: httpx.BaseTransport | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self._sleep = sleep
        self._monotonic = monotonic
        self._slots = threading.BoundedSemaphore(max(1, config.concurrency))
        self.breaker = Breaker(config.breaker_failures, config.breaker_cooldown, monotonic)
        self._http = httpx.Client(
            timeout=config.timeout,
            follow_redirects=False,  # the base URL is configuration; a redirect would carry the key elsewhere
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=max(1, config.concurrency) * 2),
            transport=transport,
        )

    def close(self) -> None:
        self._http.close()

    def complete(
        self, system: str, user: str, *, prior: Sequence[Turn] = (), deadline: float | None = None
    ) -> tuple[str, int]:
        """The model's text answer and the tokens it cost (reported, else estimated at 4 characters each)."""
        deadline = self._monotonic() + self.config.deadline if deadline is None else deadline
        turns = [*prior, ("user", user)]
        request = _build_request(self.config, system, turns)
        self.breaker.before()
        try:
            text, tokens = self._attempts(request, deadline)
        except LLMUnavailable:
            self.breaker.failure()
            raise
        self.breaker.success()
        if tokens is None:
            tokens = (len(system) + sum(len(t) for _, t in turns) + len(text)) // 4
        return text, tokens

    def _attempts(self, request: _Request, deadline: float) -> tuple[str, int | None]:
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                return self._attempt(request, deadline)
            except LLMUnavailable as e:
                self._wait_or_raise(e, attempt, deadline)
        raise AssertionError("unreachable: the last attempt raises")  # pragma: no cover

    def _wait_or_raise(self, error: LLMUnavailable, attempt: int, deadline: float) -> None:
        if not error.retryable or attempt >= self.config.max_attempts:
            raise error
        wait = error.retry_after if error.retry_after is not None else BACKOFF * 2 ** (attempt - 1)
        if self._monotonic() + wait >= deadline:
            raise LLMUnavailable(
                f"{error}; a retry in {wait:g}s would pass the deadline", status=error.status
            ) from error
        log.info("llm retry attempt=%d wait_s=%g reason=%r", attempt + 1, wait, str(error))
        self._sleep(wait)

    def _attempt(self, request: _Request, deadline: float) -> tuple[str, int | None]:
        remaining = deadline - self._monotonic()
        if remaining <= 0 or not self._slots.acquire(timeout=remaining):
            raise LLMUnavailable("deadline reached waiting for a free LLM slot")
        try:
            remaining = deadline - self._monotonic()  # what is left once a slot is ours
            if remaining <= 0:
                raise LLMUnavailable("deadline reached waiting for a free LLM slot")
            timeout = httpx.Timeout(min(self.config.timeout, remaining))
            # httpx's timeouts bound each read; the guarded transport bounds the whole exchange
            # (a server dripping its headers a byte at a time), on the real clock.
            with (
                hard_deadline(time.monotonic() + remaining),
                self._http.stream(
                    "POST", request.url, json=request.body, headers=request.headers, timeout=timeout
                ) as r,
            ):
                body = self._read(r, deadline)
                status, headers = r.status_code, r.headers
        except DeadlineExceeded as e:
            raise LLMUnavailable("deadline reached during the request") from e
        except httpx.TimeoutException as e:
            raise LLMUnavailable(f"timed out ({type(e).__name__})", retryable=True) from e
        except httpx.TransportError as e:
            raise LLMUnavailable(f"{type(e).__name__}: {e}", retryable=True) from e
        except httpx.HTTPError as e:  # an undecodable body and the like: the answer is unusable
            raise LLMUnavailable(f"{type(e).__name__}: {e}") from e
        finally:
            self._slots.release()
        return self._result(status, headers, body)

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise LLMUnavailable(f"response larger than {MAX_RESPONSE_BYTES} bytes")
            if self._monotonic() > deadline:
                raise LLMUnavailable("deadline reached while reading the answer")
            chunks.append(chunk)
        return b"".join(chunks)

    def _result(self, status: int, headers: httpx.Headers, body: bytes) -> tuple[str, int | None]:
        if status != 200:
            detail = body[:300].decode("utf-8", "replace").strip()
            raise LLMUnavailable(
                f"HTTP {status}: {detail}",
                status=status,
                retry_after=parse_retry_after(headers),
                retryable=status in RETRYABLE,
            )
        envelope = _AnthropicResponse if self.config.provider == "anthropic" else _OpenAIResponse
        try:
            return envelope.model_validate_json(body).result()
        except ValidationError as e:
            raise LLMUnavailable(f"malformed API response: {describe_error(e)}") from e


# -- the cache and the budget -------------------------------------------------------------------


class BriefCache(Protocol):
    """Validated LLM answers by `cache_key`, and tokens spent per UTC day (store.llm_cache.LLMCache)."""

    def get(self, key: str) -> str | None: ...

    def put(self, key: str, brief: str, now: datetime) -> None: ...

    def add_tokens(self, day: date, tokens: int) -> int: ...

    def tokens_today(self, today: date) -> int: ...


class MemoryCache:
    """A BriefCache for one process (the `preview` command, tests): forgets everything on exit."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._briefs: dict[str, str] = {}
        self._tokens: dict[date, int] = {}

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._briefs.get(key)

    def put(self, key: str, brief: str, now: datetime) -> None:
        with self._lock:
            self._briefs[key] = brief

    def add_tokens(self, day: date, tokens: int) -> int:
        with self._lock:
            self._tokens[day] = self._tokens.get(day, 0) + tokens
            return self._tokens[day]

    def tokens_today(self, today: date) -> int:
        with self._lock:
            return self._tokens.get(today, 0)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def estimate_tokens(config: LLMConfig, *texts: str) -> int:
    """What a call may cost at most: its input (4 ASCII characters a token, a token for every other
    character: Hangul and CJK cost about one each), and a full answer."""
    chars = sum(len(t) for t in texts)
    other = sum(1 for t in texts for c in t if not c.isascii())
    return (chars - other) // 4 + other + config.max_output_tokens


class TokenBudget:
    """The daily token budget (`daily_token_budget`, None: unlimited), counted in the cache's store
    and shared by everything that asks the LLM; its end is logged once a day, with what it means."""

    def __init__(self, limit: int | None, cache: BriefCache, clock: Callable[[], datetime], meaning: str) -> None:
        self.limit, self.cache, self.clock, self.meaning = limit, cache, clock, meaning
        self._logged: date | None = None
        self._lock = threading.Lock()
        self._in_flight = 0  # tokens held by calls not yet answered (`held`)

    def today(self) -> date:
        return self.clock().astimezone(UTC).date()

    def check(self, held: int = 0, need: int = 0) -> None:
        """Raises LLMOverBudget unless `need` more tokens fit in what today's budget has left,
        counting `held` tokens (calls in flight) as spent: the budget is a cap, not a trigger."""
        if self.limit is None:
            return
        today = self.today()
        used = self.cache.tokens_today(today) + held
        if used + need > self.limit:
            self._log(today, used, self.limit)
            raise LLMOverBudget(
                f"{used} of {self.limit} tokens used or in flight on {today}; a call needs up to {need}"
            )

    @contextmanager
    def held(self, estimate: int) -> Iterator[None]:
        """Reserve `estimate` tokens (a call's most) while the call is in flight, or raise
        LLMOverBudget if they do not fit: threads asking at once would otherwise all pass the
        check before any had spent (`spend` records what the call cost)."""
        with self._lock:
            self.check(self._in_flight, estimate)
            self._in_flight += estimate
        try:
            yield
        finally:
            with self._lock:
                self._in_flight -= estimate

    def spend(self, tokens: int) -> None:
        today = self.today()
        total = self.cache.add_tokens(today, tokens)
        if self.limit is not None and total >= self.limit:
            self._log(today, total, self.limit)

    def _log(self, today: date, used: int, limit: int) -> None:
        if self._logged != today:
            self._logged = today
            log.warning(
                "llm daily token budget reached: %d of %d tokens on %s; %s until 00:00 UTC",
                used,
                limit,
                today,
                self.meaning,
            )


class BriefWriter:
    """Writes a Brief with the LLM, or the extractive one with a note saying why; see the module docstring."""

    def __init__(
        self,
        config: LLMConfig,
        cache: BriefCache | None = None,
        *,
        client: LLMClient | None = None,
        clock: Callable[[], datetime] = _utcnow,
        max_sentences: int = 3,
    ) -> None:
        self.config = config
        self.cache: BriefCache = cache if cache is not None else MemoryCache()
        self.client = client or LLMClient(config)
        self.clock = clock
        self.max_sentences = max_sentences
        self._monotonic = time.monotonic
        self.budget = TokenBudget(config.daily_token_budget, self.cache, clock, "briefs are extractive")

    def close(self) -> None:
        self.client.close()

    def write(self, title: str, source: str, text: str, language: str) -> Brief:
        started = self._monotonic()
        article = truncate_input(text, self.config.max_input_chars)
        whole = grounded(title, article)
        try:
            deadline = started + self.config.deadline
            if whole:
                model, how = self._model(title, source, article, language, deadline)
                brief = brief_from_model(model, title, language)
            else:
                line, how = self._headline(title, source, article, language, deadline)
                brief = headline_brief(line, title, language)
        except LLMError as e:
            log.warning("brief origin=extractive reason=%r error=%r title=%r", e.note, str(e), title[:120])
            return extractive_brief(title, text, language, fallback_note(e, language), self.max_sentences)
        kind = "llm" if whole else "llm-headline-only"
        elapsed = (self._monotonic() - started) * 1000
        log.info("brief origin=%s %s duration_ms=%d title=%r", kind, how, elapsed, title[:120])
        return sanitize(brief)

    def _headline(
        self, title: str, source: str, article: str, language: str, deadline: float
    ) -> tuple[HeadlineModel, str]:
        """A headline in the team's language and one line, when the article's text is too short to
        brief from: a model asked for a whole brief would invent it. No repair request: a bad
        answer falls back to the extractive brief (the headline itself)."""
        key = cache_key(title, article, language, self.config.model, HEADLINE_PROMPT_VERSION)
        cached = self.cache.get(key)
        if cached is not None:
            with contextlib.suppress(ValueError):
                return parse_headline(cached, language), "cache=hit"
        system, user = build_headline_messages(title, source, article, language)
        with self.budget.held(estimate_tokens(self.config, system, user)):
            raw, spent = self._ask(system, user, (), deadline)
        try:
            model = parse_headline(raw, language)
        except ValueError as e:
            raise LLMBadOutput(f"invalid headline-only output: {describe_error(e)}") from e
        self.cache.put(key, model.model_dump_json(), self.clock())
        return model, f"cache=miss tokens={spent}"

    def _model(self, title: str, source: str, article: str, language: str, deadline: float) -> tuple[BriefModel, str]:
        key = cache_key(title, article, language, self.config.model)
        cached = self._cached(key, language)
        if cached is not None:
            return cached, "cache=hit"
        system, user = build_messages(title, source, article, language)
        with self.budget.held(estimate_tokens(self.config, system, user)):
            raw, spent = self._ask(system, user, (), deadline)
        try:
            model = parse_output(raw, language)
        except ValueError as e:
            log.info("llm invalid output, asking once for a repair: %s", describe_error(e))
            repair = repair_prompt(e)
            with self.budget.held(estimate_tokens(self.config, system, user, raw, repair)):
                repaired, more = self._ask(system, repair, (("user", user), ("assistant", raw)), deadline)
                spent += more
                try:
                    model = parse_output(repaired, language)
                except ValueError as e2:
                    raise LLMBadOutput(f"invalid output after one repair: {describe_error(e2)}") from e2
        self.cache.put(key, model.model_dump_json(), self.clock())
        return model, f"cache=miss tokens={spent}"

    def _cached(self, key: str, language: str) -> BriefModel | None:
        raw = self.cache.get(key)
        if raw is None:
            return None
        try:
            return parse_output(raw, language)
        except ValueError:
            return None  # written by an older schema: ask again

    def _ask(self, system: str, user: str, prior: Sequence[Turn], deadline: float) -> tuple[str, int]:
        text, tokens = self.client.complete(system, user, prior=prior, deadline=deadline)
        self.budget.spend(tokens)
        return text, tokens
