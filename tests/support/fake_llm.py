"""Loopback fakes of an OpenAI-compatible chat-completions API and of Anthropic's Messages API.

`FakeLLM("openai")` answers `POST /v1/chat/completions`, `FakeLLM("anthropic")` answers
`POST /v1/messages`; both record every request and give the queued answers in order: a canned
reply (`say`), an HTTP error (`fail`, e.g. 429 with Retry-After, 500) or a hang (`hang`: no answer
until the deadline has long passed). With nothing queued they answer 500. They also count the
requests in flight, so a test can see the concurrency limit.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from service.summarize.llm import LLMConfig, Provider
from tests.support.servers import serve_api

KEY = "sk-test-key-0123456789"


@dataclass
class LLMAnswer:
    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class LLMRequest:
    path: str
    headers: dict[str, str]  # lower-case names
    body: dict[str, Any]

    @property
    def system(self) -> str:
        if "system" in self.body:
            return str(self.body["system"])
        return next((str(m["content"]) for m in self.body["messages"] if m["role"] == "system"), "")

    @property
    def turns(self) -> list[dict[str, str]]:
        return [m for m in self.body["messages"] if m["role"] != "system"]

    @property
    def user(self) -> str:
        """The first user message: the one with the fenced article."""
        return next(m["content"] for m in self.turns if m["role"] == "user")


class FakeLLM:
    def __init__(self, provider: Provider = "openai") -> None:
        self.provider = provider
        self.requests: list[LLMRequest] = []
        self.answers: list[LLMAnswer] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self.server, self.thread, self.url = serve_api(self._handle)
        self.base_url = self.url + "/v1" if provider == "openai" else self.url
        self.path = "/v1/chat/completions" if provider == "openai" else "/v1/messages"

    def config(self, **overrides: Any) -> LLMConfig:
        values: dict[str, Any] = {
            "provider": self.provider,
            "base_url": self.base_url,
            "model": "fake-model-1",
            "api_key": KEY,
            "timeout": 2.0,
            "deadline": 5.0,
        }
        return LLMConfig(**{**values, **overrides})

    # -- queueing answers -------------------------------------------------------------------

    def reply(self, content: str | dict[str, Any], tokens: int = 100) -> LLMAnswer:
        text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
        prompt, completion = tokens * 3 // 4, tokens - tokens * 3 // 4
        if self.provider == "anthropic":
            body: dict[str, Any] = {
                "id": "msg_01",
                "type": "message",
                "role": "assistant",
                "model": "fake-model-1",
                "content": [{"type": "text", "text": text}],
                "stop_reason": "end_turn",
                "usage": {"input_tokens": prompt, "output_tokens": completion},
            }
        else:
            body = {
                "id": "chatcmpl-01",
                "object": "chat.completion",
                "model": "fake-model-1",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": tokens},
            }
        return LLMAnswer(body=body)

    def say(self, *contents: str | dict[str, Any], tokens: int = 100, delay: float = 0.0) -> None:
        for content in contents:
            answer = self.reply(content, tokens)
            answer.delay = delay
            self.answers.append(answer)

    def fail(self, status: int, retry_after: str | None = None, times: int = 1) -> None:
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        error = {"error": {"type": "fake_error", "message": f"fake HTTP {status}"}}
        self.answers += [LLMAnswer(status, error, dict(headers)) for _ in range(times)]

    def hang(self, seconds: float) -> None:
        self.answers.append(LLMAnswer(delay=seconds, body=self.reply("{}").body))

    # -- serving ----------------------------------------------------------------------------

    def _handle(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        with self.lock:
            self.requests.append(LLMRequest(h.path, {k.lower(): v for k, v in h.headers.items()}, json.loads(raw)))
            answer = self.answers.pop(0) if self.answers else LLMAnswer(500, {"error": "no answer queued"})
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if h.path != self.path:
                answer = LLMAnswer(404, {"error": f"unknown path {h.path}"})
            if answer.delay:
                self._stop.wait(answer.delay)
            self._send(h, answer)
        finally:
            with self.lock:
                self.in_flight -= 1

    def _send(self, h: BaseHTTPRequestHandler, answer: LLMAnswer) -> None:
        data = (answer.body if isinstance(answer.body, str) else json.dumps(answer.body or {})).encode()
        try:
            h.send_response(answer.status)
            h.send_header("Content-Type", "text/plain" if isinstance(answer.body, str) else "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in answer.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its deadline passed)

    def close(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()


def brief_json(language: str = "ko", **overrides: Any) -> dict[str, Any]:
    """A valid answer in the shape the prompt asks for (Korean or English)."""
    if language == "ko":
        data: dict[str, Any] = {
            "headline": "마이크로소프트, 오픈AI와 계약 재조정… 자체 AGI 개발 길 열려",
            "original_title": "Microsoft free to build its own AGI after renegotiating its OpenAI deal",
            "key_points": [
                "마이크로소프트는 오픈AI와의 기존 계약 때문에 자체 AGI 모델을 만들 수 없었다고 밝혔습니다.",
                "새 계약으로 마이크로소프트는 독자적인 AGI 연구를 시작할 수 있게 되었습니다.",
                "회사는 이를 위해 초지능 연구를 전담하는 새 조직을 꾸렸습니다.",
            ],
            "details": "마이크로소프트 AI 책임자는 인터뷰에서 기존 계약의 제약을 설명했습니다.\n\n"
            "재조정된 계약에 따라 회사는 자체 모델 개발과 인프라 투자에 나섭니다.",
            "editor_note": "두 회사의 관계 변화는 AGI 경쟁 구도를 바꿀 수 있는 신호입니다.",
            "language": "ko",
        }
    else:
        data = {
            "headline": "Microsoft may now build its own AGI after a new OpenAI deal",
            "original_title": "Microsoft free to build its own AGI after renegotiating its OpenAI deal",
            "key_points": [
                "Microsoft says its old OpenAI contract barred it from building its own AGI.",
                "The renegotiated deal lets Microsoft pursue AGI research on its own.",
                "It has set up a new team dedicated to superintelligence research.",
            ],
            "details": "Microsoft's AI chief described the old limits in an interview.\n\n"
            "Under the new terms the company will build its own models and infrastructure.",
            "editor_note": "The shift puts Microsoft in direct competition with the AI labs it funds.",
            "language": "en",
        }
    return {**data, **overrides}
