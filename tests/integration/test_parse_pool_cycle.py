"""A cycle that parses in a worker process stores and alerts exactly what an in-thread cycle does."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from service import app
from service import settings as config
from service.deliver.console import ConsoleDeliverer
from service.sources import pool
from tests.support.feeds import ago, atom, rss
from tests.support.servers import Page, Site

NOW = datetime.now(UTC).replace(microsecond=0)


def _cycle(cfg: Path, store: Path) -> tuple[list[tuple[str, str, int, int]], list[tuple[str, str]]]:
    settings = config.load(cfg, env={})
    settings = replace(settings, store_path=store)
    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        reports = app.run_once(ctx)
        stored = sorted((i.guid, i.canonical_url) for i in ctx.store.items_since(ago(NOW, 1000)))
    return [(r.source, r.status, r.items, r.new) for r in reports], stored


def test_parsing_in_a_worker_changes_nothing(
    site: Site, make_config: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    u = site.url
    site.pages["/lab.xml"] = Page(
        rss([("OpenAI and Microsoft sign a new AGI deal", f"{u}/agi.html?utm_source=rss", ago(NOW, 1))])
    )
    site.pages["/desk.atom"] = Page(
        atom([("Anthropic raises $13 billion", f"{u}/funding.html", ago(NOW, 2))]),
        content_type="application/atom+xml",
    )
    site.pages["/broken.xml"] = Page(b"<html><body>not a feed</body></html>")
    cfg = make_config(
        f"""
        sources:
          - {{name: Lab, url: "{u}/lab.xml"}}
          - {{name: Desk, url: "{u}/desk.atom"}}
          - {{name: Broken, url: "{u}/broken.xml"}}
        """,
        settings="article_fetch: false",
    )
    in_thread = _cycle(cfg, tmp_path / "in-thread.db")
    monkeypatch.setattr(pool, "MIN_SOURCES", 1)
    in_worker = _cycle(cfg, tmp_path / "in-worker.db")
    assert in_worker == in_thread
    assert in_thread[0] == [("Lab", "ok", 1, 1), ("Desk", "ok", 1, 1), ("Broken", "error", 0, 0)]
    assert in_thread[1][0] == (f"{u}/agi.html?utm_source=rss", f"{u.replace('http:', 'https:')}/agi.html")
