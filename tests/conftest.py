"""Shared fixtures: loopback servers, a config directory factory, the shared corpus location."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.fake_llm import FakeLLM
from tests.support.servers import FakeSlack, Site

REPO = Path(__file__).resolve().parents[1]


def shared_data() -> Path:
    return Path(os.environ.get("NEWSALERT_SHARED_DATA") or REPO.parent / "shared" / "data")


@pytest.fixture
def site() -> Iterator[Site]:
    s = Site()
    yield s
    s.close()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    s = FakeSlack()
    yield s
    s.close()


@pytest.fixture
def llm() -> Iterator[FakeLLM]:
    """A loopback OpenAI-compatible LLM (tests.support.fake_llm)."""
    fake = FakeLLM("openai")
    yield fake
    fake.close()


@pytest.fixture
def make_config(tmp_path: Path) -> Callable[..., Path]:
    """Write a config dir: the given sources, the shipped settings (updated by `settings`), topics
    and entities."""

    def make(sources: str, settings: str = "", topics: str | None = None) -> Path:
        cfg = tmp_path / "config"
        cfg.mkdir(exist_ok=True)
        (cfg / "sources.yaml").write_text(textwrap.dedent(sources), "utf-8")
        merged = yaml.safe_load((REPO / "config" / "settings.yaml").read_text("utf-8"))
        # A free port per daemon: tests run daemons while others may hold the default 9464.
        merged.update(store=str(tmp_path / "store.db"), jitter=0, metrics={"listen": "127.0.0.1:0"})
        # Every test site is one host: no spacing between its requests keeps the tests quick. The
        # sites, their articles and the fake Slack are on loopback, which the address guard refuses
        # unless it is allowed.
        fetch = {**merged.get("fetch", {}), "per_host_spacing": 0, "allow_private_hosts": ["127.0.0.0/8"]}
        override = yaml.safe_load(textwrap.dedent(settings)) or {}
        merged.update(override, fetch={**fetch, **override.get("fetch", {})})
        (cfg / "settings.yaml").write_text(yaml.safe_dump(merged), "utf-8")
        shipped = (REPO / "config" / "topics.yaml").read_text("utf-8")
        (cfg / "topics.yaml").write_text(textwrap.dedent(topics) if topics else shipped, "utf-8")
        (cfg / "entities.yaml").write_text((REPO / "config" / "entities.yaml").read_text("utf-8"), "utf-8")
        return cfg

    return make
