"""log_format: json writes one JSON object a line, with stable fields and secrets redacted."""

import json
import logging
from collections.abc import Callable
from pathlib import Path

import pytest

from service import logs
from service import settings as config
from service.errors import ConfigError


def test_json_logs_have_stable_fields_and_no_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    before = (root.handlers[:], root.level)
    logs.setup("INFO", ["xoxb-not-a-real-token-123"], "json")
    log = logging.getLogger("newsalert.pipeline")
    log.warning("source=%r status=%s new=%d level=%s url=%s", "Lab news", "error", 3, "x", "xoxb-not-a-real-token-123")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("internal error in delivery")
    root.handlers[:], level = before
    root.setLevel(level)
    first, second = (json.loads(line) for line in capsys.readouterr().err.splitlines())
    assert first["level"] == "WARNING" and first["logger"] == "newsalert.pipeline"
    assert (first["source"], first["status"], first["new"]) == ("Lab news", "error", "3")
    assert first["url"] == "[redacted]" and "xoxb" not in json.dumps(first)
    assert "time" in first and first["message"].startswith("source='Lab news'")
    assert second["message"] == "internal error in delivery" and "ValueError: boom" in second["error"]


def test_a_bad_log_format_is_a_config_error(make_config: Callable[..., Path]) -> None:
    with pytest.raises(ConfigError, match="NEWSALERT_LOG_FORMAT: 'text' or 'json'"):
        config.load(make_config("sources: []\n"), env={"NEWSALERT_LOG_FORMAT": "xml"})
    cfg = make_config("sources: []\n", "log_format: yaml\n")
    with pytest.raises(ConfigError, match="log_format"):
        config.load(cfg, env={})
