"""Loopback servers for tests: a programmable HTTP site and a fake Slack Web API (port 0, threads)."""

from __future__ import annotations

import gzip
import hashlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Page:
    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    validators: bool = True  # send ETag and Last-Modified, and answer 304 to a matching request
    delay: float = 0.0
    drip: float = 0.0  # seconds between body bytes (a slow server)
    gzip: bool = False


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def _start(handler: type[BaseHTTPRequestHandler]) -> tuple[_Server, threading.Thread]:
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    return server, thread


class Site:
    """Serves `pages[path]`; records every request (path and headers)."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.starts: list[float] = []
        self._count = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with site._count:
                    site.requests.append((self.path, dict(self.headers)))
                    site.starts.append(time.monotonic())
                    site.in_flight += 1
                    site.max_in_flight = max(site.max_in_flight, site.in_flight)
                try:
                    page = site.pages.get(urlsplit(self.path).path)
                    if page is None:
                        self.send_error(404)
                    else:
                        site._answer(self, page)
                finally:
                    with site._count:
                        site.in_flight -= 1

        self.server, self.thread = _start(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def _answer(self, h: BaseHTTPRequestHandler, page: Page) -> None:
        time.sleep(page.delay)
        etag = '"' + hashlib.sha1(page.body).hexdigest()[:16] + '"'
        modified = "Mon, 27 Oct 2025 10:00:00 GMT"
        if page.validators and page.status == 200 and h.headers.get("If-None-Match") == etag:
            h.send_response(304)
            h.send_header("ETag", etag)
            h.end_headers()
            return
        body = gzip.compress(page.body) if page.gzip else page.body
        h.send_response(page.status)
        h.send_header("Content-Type", page.content_type)
        h.send_header("Content-Length", str(len(body)))
        if page.gzip:
            h.send_header("Content-Encoding", "gzip")
        if page.validators and page.status == 200:
            h.send_header("ETag", etag)
            h.send_header("Last-Modified", modified)
        for k, v in page.headers.items():
            h.send_header(k, v)
        h.end_headers()
        try:
            if page.drip:
                for i in range(len(body)):
                    h.wfile.write(body[i : i + 1])
                    h.wfile.flush()
                    time.sleep(page.drip)
            else:
                h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def hits(self, path: str) -> int:
        return sum(1 for p, _ in self.requests if urlsplit(p).path == path)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class SlackAnswer:
    status: int = 200
    body: dict[str, Any] | str | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeSlack:
    """Answers chat.postMessage as Slack does and records each accepted message.

    `fail` is a queue of answers given before the normal one (e.g. a 429 with Retry-After, a 500,
    `{"ok": false, "error": "channel_not_found"}`). `/hooks/...` acts as an incoming webhook.
    """

    TOKEN = "xoxb-test-token-123456"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.fail: list[SlackAnswer] = []
        self.lock = threading.Lock()
        self._ts = 1700000000
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                ctype = self.headers.get("Content-Type", "")
                payload: Any = (
                    json.loads(raw) if "json" in ctype else {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                )
                fake._handle(self, payload)

        self.server, self.thread = _start(Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.api_url = self.url + "/api/"
        self.webhook_url = self.url + "/hooks/T000/B000/secretwebhookpart"

    def _handle(self, h: BaseHTTPRequestHandler, payload: Any) -> None:
        with self.lock:
            self.requests.append((h.path, dict(h.headers), payload))
            answer = self.fail.pop(0) if self.fail else None
            if answer is None:
                answer = self._accept(h, payload)
        body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body or {})
        data = body.encode()
        h.send_response(answer.status)
        h.send_header("Content-Type", "text/plain" if isinstance(answer.body, str) else "application/json")
        h.send_header("Content-Length", str(len(data)))
        for k, v in answer.headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    def _accept(self, h: BaseHTTPRequestHandler, payload: Any) -> SlackAnswer:
        if h.path.startswith("/hooks/"):
            self.messages.append({"channel": "(webhook)", **payload})
            return SlackAnswer(body="ok")
        if h.path != "/api/chat.postMessage":
            return SlackAnswer(body={"ok": False, "error": "unknown_method"})
        if h.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return SlackAnswer(body={"ok": False, "error": "invalid_auth"})
        if not payload.get("channel"):
            return SlackAnswer(body={"ok": False, "error": "channel_not_found"})
        self._ts += 1
        ts = f"{self._ts}.000100"
        self.messages.append({**payload, "ts": ts})
        return SlackAnswer(body={"ok": True, "channel": payload["channel"], "ts": ts, "message": payload})

    def texts(self) -> Iterator[str]:
        return (m.get("text", "") for m in self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
