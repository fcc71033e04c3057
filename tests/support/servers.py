"""Loopback servers for tests: a programmable HTTP site and a fake Slack Web API (port 0, threads)."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import json
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
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


BodyHandler = Callable[[BaseHTTPRequestHandler, bytes], None]


def serve_api(on_post: BodyHandler, on_get: BodyHandler | None = None) -> tuple[_Server, threading.Thread, str]:
    """A loopback API server: each POST's raw body (a GET's query string) goes to the callback."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            on_post(self, self.rfile.read(int(self.headers.get("Content-Length") or 0)))

        def do_GET(self) -> None:
            if on_get is None:
                self.send_error(405)
            else:
                on_get(self, urlsplit(self.path).query.encode())

    server, thread = _start(Handler)
    return server, thread, f"http://127.0.0.1:{server.server_address[1]}"


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
    # "hang up": the request is handled as usual (a post is posted), then the connection closes
    # unanswered; "truncated": the normal answer, cut off in its body.
    lost: str | None = None


def _block_problem(payload: dict[str, Any]) -> str | None:
    """What real Slack would refuse in a message: too many blocks, a section over 3,000 characters, text over 40,000."""
    blocks = payload.get("blocks") or []
    if isinstance(blocks, str):
        blocks = json.loads(blocks)
    texts = [b.get("text", {}).get("text", "") for b in blocks if isinstance(b.get("text"), dict)]
    if len(blocks) > 50 or any(len(t) > 3000 for t in texts):
        return "invalid_blocks"
    if len(payload.get("text") or "") > 40000:
        return "msg_too_long"
    if not payload.get("text") and not blocks:
        return "no_text"
    return None


def _client_gone(h: BaseHTTPRequestHandler) -> bool:
    """The client closed its connection (a killed process): readable, with nothing left to read."""
    readable, _, _ = select.select([h.connection], [], [], 0)
    if not readable:
        return False
    try:
        return h.connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class FakeSlack:
    """Answers chat.postMessage, chat.update, conversations.history, .replies and .list as Slack
    does, and records each accepted message (with its `ts`, its `channel_id`, any `thread_ts` and
    `metadata`) and each update.

    `fail` is a queue of answers given before the normal one to any request (e.g. a 429 with
    Retry-After, a 500, `{"ok": false, "error": "channel_not_found"}`). `channel_errors` makes a
    channel refuse every post (e.g. `{"#gone": "is_archived"}`). Like Slack, posts take a channel
    name or ID and answer with the ID; history takes only an ID. `post_delay` makes each post
    slow both ways: it arrives after that delay (dropped if the client is gone by then, as a
    request still on its way would be), and its answer leaves that long after the message is
    recorded (a crash then falls between Slack's post and our mark).
    `/hooks/...` acts as an incoming webhook.
    """

    TOKEN = "xoxb-test-token-123456"

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        self.requests: list[tuple[str, dict[str, str], Any]] = []
        self.fail: list[SlackAnswer] = []
        self.channel_errors: dict[str, str] = {}
        self.channels: dict[str, str] = {}  # name (without '#') -> ID
        self.post_delay = 0.0
        self.lock = threading.Lock()
        self._ts = time.time()
        self.server, self.thread, self.url = serve_api(self._on_post, self._on_get)
        self.api_url = self.url + "/api/"
        self.webhook_url = self.url + "/hooks/T000/B000/secretwebhookpart"

    def _on_post(self, h: BaseHTTPRequestHandler, raw: bytes) -> None:
        json_body = "json" in h.headers.get("Content-Type", "")
        self._handle(h, json.loads(raw) if json_body else {k: v[0] for k, v in parse_qs(raw.decode()).items()})

    def _on_get(self, h: BaseHTTPRequestHandler, query: bytes) -> None:
        self._handle(h, {k: v[0] for k, v in parse_qs(query.decode()).items()})

    def _handle(self, h: BaseHTTPRequestHandler, payload: Any) -> None:
        slow = self.post_delay > 0 and urlsplit(h.path).path == "/api/chat.postMessage"
        if slow:
            time.sleep(self.post_delay)
            if _client_gone(h):
                return
        with self.lock:
            self.requests.append((h.path, dict(h.headers), payload))
            answer = self.fail.pop(0) if self.fail else None
            lost = answer.lost if answer is not None else None
            if answer is None or lost:
                answer = self._accept(h, payload)
        if lost == "hang up":
            h.close_connection = True
            return
        if slow:
            time.sleep(self.post_delay)
        body = answer.body if isinstance(answer.body, str) else json.dumps(answer.body or {})
        data = body.encode()
        # A client gone meanwhile (a killed daemon) changes nothing: the message stays posted, as on Slack.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            h.send_response(answer.status)
            h.send_header("Content-Type", "text/plain" if isinstance(answer.body, str) else "application/json")
            h.send_header("Content-Length", str(len(data)))
            for k, v in answer.headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data[: len(data) // 2] if lost == "truncated" else data)
            if lost == "truncated":
                h.close_connection = True

    def _accept(self, h: BaseHTTPRequestHandler, payload: Any) -> SlackAnswer:
        path = urlsplit(h.path).path
        if path.startswith("/hooks/"):
            problem = _block_problem(payload)
            if problem:
                return SlackAnswer(400, problem)
            self.messages.append({"channel": "(webhook)", **payload})
            return SlackAnswer(body="ok")
        methods = {
            "/api/chat.postMessage": self._post,
            "/api/conversations.history": self._history,
            "/api/conversations.replies": self._replies,
            "/api/conversations.list": self._list,
            "/api/chat.update": self._update,
        }
        if path not in methods:
            return SlackAnswer(body={"ok": False, "error": "unknown_method"})
        if h.headers.get("Authorization") != f"Bearer {self.TOKEN}":
            return SlackAnswer(body={"ok": False, "error": "invalid_auth"})
        return methods[path](payload)

    def channel_id(self, channel: str) -> str:
        """The ID of a channel (created on first use, as if it existed)."""
        if channel in self.channels.values():
            return channel
        return self.channels.setdefault(channel.lstrip("#"), f"C{len(self.channels) + 1:08d}")

    def _post(self, payload: dict[str, Any]) -> SlackAnswer:
        channel = payload.get("channel")
        if not channel:
            return SlackAnswer(body={"ok": False, "error": "channel_not_found"})
        error = self.channel_errors.get(channel) or _block_problem(payload)
        meta = payload.get("metadata")
        if meta is not None and not (isinstance(meta, dict) and meta.get("event_type")):
            error = error or "invalid_metadata_format"
        if error:
            return SlackAnswer(body={"ok": False, "error": error})
        self._ts = max(time.time(), self._ts + 0.000001)
        ts = f"{self._ts:.6f}"
        cid = self.channel_id(channel)
        self.messages.append({**payload, "ts": ts, "channel_id": cid})
        return SlackAnswer(body={"ok": True, "channel": cid, "ts": ts, "message": payload})

    def _update(self, payload: dict[str, Any]) -> SlackAnswer:
        """chat.update: only by channel ID and ts, as Slack; recorded in `updates`, in order."""
        target = next(
            (
                m
                for m in self.messages
                if m.get("channel_id") == payload.get("channel") and m["ts"] == payload.get("ts")
            ),
            None,
        )
        if target is None:
            return SlackAnswer(body={"ok": False, "error": "message_not_found"})
        error = _block_problem(payload)
        if error:
            return SlackAnswer(body={"ok": False, "error": error})
        target.update({k: payload[k] for k in ("text", "blocks") if k in payload})
        self.updates.append({"channel": payload["channel"], "ts": payload["ts"], "text": payload.get("text", "")})
        return SlackAnswer(body={"ok": True, "channel": payload["channel"], "ts": payload["ts"]})

    def _replies(self, q: dict[str, str]) -> SlackAnswer:
        """A thread: its parent and replies (oldest first), after `oldest`."""
        if q.get("channel") not in self.channels.values():
            return SlackAnswer(body={"ok": False, "error": "channel_not_found"})
        oldest = float(q.get("oldest") or 0)
        found = [
            m
            for m in self.messages
            if m.get("channel_id") == q["channel"]
            and q.get("ts") in (m["ts"], m.get("thread_ts"))
            and float(m["ts"]) > oldest
        ]
        return self._page(q, "messages", self._shown(found, q))

    def _history(self, q: dict[str, str]) -> SlackAnswer:
        """Newest first, after `oldest`, `limit` per page; metadata only with include_all_metadata.
        Like Slack's, the history holds no thread replies."""
        if q.get("channel") not in self.channels.values():
            return SlackAnswer(body={"ok": False, "error": "channel_not_found"})
        oldest = float(q.get("oldest") or 0)
        found = [
            m
            for m in reversed(self.messages)
            if m.get("channel_id") == q["channel"] and float(m["ts"]) > oldest and not m.get("thread_ts")
        ]
        return self._page(q, "messages", self._shown(found, q))

    @staticmethod
    def _shown(found: list[dict[str, Any]], q: dict[str, str]) -> list[dict[str, Any]]:
        with_meta = q.get("include_all_metadata") in ("1", "true", "True")
        shown = [
            {"type": "message", "ts": m["ts"], "text": m.get("text", "")}
            | ({"metadata": m["metadata"]} if with_meta and m.get("metadata") else {})
            for m in found
        ]
        return shown

    def _list(self, q: dict[str, str]) -> SlackAnswer:
        return self._page(q, "channels", [{"id": i, "name": n} for n, i in self.channels.items()])

    @staticmethod
    def _page(q: dict[str, str], name: str, rows: list[dict[str, Any]]) -> SlackAnswer:
        start, limit = int(q.get("cursor") or 0), int(q.get("limit") or 100)
        more = start + limit < len(rows)
        meta = {"next_cursor": str(start + limit) if more else ""}
        return SlackAnswer(
            body={"ok": True, name: rows[start : start + limit], "has_more": more, "response_metadata": meta}
        )

    def keys(self) -> list[str]:
        """The alert key in each posted message's metadata, in posting order."""
        return [m["metadata"]["event_payload"]["key"] for m in self.messages if m.get("metadata")]

    def texts(self) -> Iterator[str]:
        return (m.get("text", "") for m in self.messages)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
