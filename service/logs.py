"""Logging setup: one line per event, with secrets redacted from every logger (ours and libraries').

Text by default; `log_format: json` (or NEWSALERT_LOG_FORMAT=json) writes one JSON object a line
with stable fields: `time`, `level`, `logger`, `message`, the message's own `key=value` pairs as
fields of their own (`source`, `status`, `new`, ...; never overriding the four), and `error` with
the traceback when there is one.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime

_PATTERNS = (
    re.compile(r"xox[abposre]-[A-Za-z0-9-]+"),  # Slack tokens
    re.compile(r"https://hooks\.slack(?:-gov)?\.com/[^\s'\"<>]+"),  # incoming webhook URLs
    re.compile(r"sk-(?:ant-|proj-)?[A-Za-z0-9_-]{16,}"),  # OpenAI / Anthropic API keys
    re.compile(r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?(?:bearer\s+)?)[^\s'\",}]+"),
)


class RedactingFilter(logging.Filter):
    """Replaces known secret values and secret-shaped strings in the final message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets = tuple(s for s in secrets if len(s) >= 6)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        for pattern in _PATTERNS:
            text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + "[redacted]", text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.msg = self.redact(message)
        record.args = None
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


_PAIR = re.compile(r"(?<![\w.])([a-z_]+)=('(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s,]+)")
_FIXED = ("time", "level", "logger", "message", "error")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        out: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": message,
        }
        for key, value in _PAIR.findall(message):
            if key not in _FIXED:
                out.setdefault(key, value[1:-1] if value[:1] in "'\"" else value)
        if record.exc_text or record.exc_info:
            out["error"] = record.exc_text or self.formatException(record.exc_info)  # type: ignore[arg-type]
        return json.dumps(out, ensure_ascii=False)


def setup(level: str = "INFO", secrets: Iterable[str] = (), fmt: str = "text") -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(
        JsonFormatter() if fmt == "json" else logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    debug = level.upper() == "DEBUG"
    # Library chatter (every request line) only when asked for.
    for noisy in ("httpx", "httpcore", "charset_normalizer", "apscheduler"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if debug else logging.WARNING)
    # trafilatura and htmldate report each verdict on a page at WARNING/ERROR; every one already
    # reaches us as an ExtractError or a missing field (service/extract.py), so they stay quiet.
    for verdicts in ("trafilatura", "htmldate"):
        logging.getLogger(verdicts).setLevel(logging.DEBUG if debug else logging.CRITICAL)
