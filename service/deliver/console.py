"""The console target: prints each alert readably; used when no Slack credentials are configured."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from service.deliver.blocks import console_text
from service.models import Alert


class ConsoleDeliverer:
    """Replies print indented under their story, updates as one line: a thread, read top-down."""

    name = "console"
    threads = True

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()

    def post(self, alert: Alert, thread_ts: str | None = None) -> str | None:
        with self._lock:
            print(console_text(alert), file=self.stream, flush=True)
        return None

    def update(self, alert: Alert, ts: str) -> None:
        self.post(alert)
