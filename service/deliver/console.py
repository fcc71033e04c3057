"""The console target: prints each alert readably; used when no Slack credentials are configured."""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from service.deliver.blocks import console_text
from service.deliver.story_blocks import console_update
from service.models import Alert


class ConsoleDeliverer:
    """Replies print indented under their story, updates as one line: a thread, read top-down."""

    name = "console"
    threads = True

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._posted = 0

    def post(self, alert: Alert, thread_ts: str | None = None) -> str | None:
        """Print the alert; its id is a running number, so replies and updates find their parent."""
        with self._lock:
            print(console_text(alert), file=self.stream, flush=True)
            self._posted += 1
            return f"console-{self._posted}"

    def update(self, alert: Alert, ts: str) -> None:
        with self._lock:
            print(console_update(alert), file=self.stream, flush=True)
