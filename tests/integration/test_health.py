"""`newsalert health` is honest: the heartbeat is touched only by a delivery run that succeeded."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import httpx

from service import app
from service import settings as config
from service.deliver.console import ConsoleDeliverer
from service.models import Alert
from service.scheduler import guarded_deliver
from tests.support.feeds import ago, rss
from tests.support.servers import FakeSlack, Page, Site

NOW = datetime.now(UTC).replace(microsecond=0)


def test_a_delivery_run_that_fails_on_a_read_only_store_leaves_the_daemon_unhealthy(
    make_config: Callable[..., Path], tmp_path: Path
) -> None:
    settings = replace(config.load(make_config("sources: []\n"), env={}), store_path=tmp_path / "s.db")
    beat = app.heartbeat_path(settings)
    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        now = datetime.now(UTC)
        ctx.store.enqueue_notice(
            Alert("n1", "#ops", "s", "Source 's' is failing", "https://x", now, (), kind="health"), now
        )
        ctx.store._db.execute("PRAGMA query_only = ON")  # the store turns read-only (as on a full disk)
        guarded_deliver(ctx, heartbeat=beat.touch)
        assert not beat.exists() and not app.healthy(settings)
        ctx.store._db.execute("PRAGMA query_only = OFF")  # writable again: the next run delivers and beats
        guarded_deliver(ctx, heartbeat=beat.touch)
        assert beat.exists() and app.healthy(settings)
        assert ctx.store.outbox_counts().get("sent") == 1  # nothing was lost


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_running_daemon_serves_metrics_and_health_over_http(
    make_config: Callable[..., Path], site: Site, slack: FakeSlack
) -> None:
    site.pages["/lab.xml"] = Page(
        rss([("Anthropic raises $13 billion at $183 billion valuation", f"{site.url}/a.html", ago(NOW, 1))])
    )
    port = _free_port()
    cfg = make_config(
        f"sources:\n  - {{name: Lab, url: '{site.url}/lab.xml', interval: 1s}}\n",
        f"delivery_interval: 1s\narticle_fetch: false\nmetrics: {{listen: '127.0.0.1:{port}'}}\n",
    )
    env = {**os.environ, "SLACK_BOT_TOKEN": FakeSlack.TOKEN, "SLACK_API_URL": slack.api_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "service.cli", "--config", str(cfg), "run"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            try:
                text = httpx.get(f"{base}/metrics").text
            except httpx.TransportError:
                text = ""
            if 'newsalert_alerts_total{result="sent"} 1.0' in text and "newsalert_polls_total" in text:
                break
            time.sleep(0.2)
        assert 'newsalert_polls_total{outcome="ok",source="Lab"} 1.0' in text
        assert 'newsalert_new_items_total{source="Lab"} 1.0' in text
        assert 'newsalert_matches_total{topic="funding"} 1.0' in text
        assert 'newsalert_alerts_total{result="sent"} 1.0' in text
        assert 'newsalert_outbox_alerts{status="sent"} 1.0' in text
        assert "newsalert_outbox_oldest_pending_seconds 0.0" in text
        assert "http" not in text.split("newsalert_polls_total")[1].split("\n")[0]  # no URL in labels
        assert httpx.get(f"{base}/healthz").status_code == 200
        assert httpx.get(f"{base}/readyz").status_code == 200
        assert httpx.get(f"{base}/other").status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert f"metrics=http://127.0.0.1:{port}/metrics" in err
