"""`newsalert health` is honest: the heartbeat is touched only by a delivery run that succeeded."""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from service import app
from service import settings as config
from service.deliver.console import ConsoleDeliverer
from service.models import Alert
from service.scheduler import guarded_deliver


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
