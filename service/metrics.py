"""Prometheus metrics and the health endpoints, on one HTTP listener (`metrics.listen`).

`Metrics` holds the counters the stages report to (one registry per context, so two daemons in one
test process do not share counts); label sets are bounded: source names and topics come from the
config, outcomes and kinds from fixed lists, never URLs. The outbox gauges are read from the store
when scraped. `serve` runs prometheus-client's WSGI app in a daemon thread (wsgiref, one request at
a time, which a scrape every 15 s does not notice) beside `/healthz` (the scheduler runs) and
`/readyz` (a delivery run succeeded recently: `app.healthy`).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Counter, Histogram, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

OUTCOMES = frozenset({"ok", "not-modified", "unchanged", "error", "held"})


class _Outbox(Collector):
    """Pending alerts and the age of the oldest, read from the store at scrape time."""

    def __init__(
        self, counts: Callable[[], dict[str, int]], oldest: Callable[[], datetime | None], clock: Callable[[], datetime]
    ) -> None:
        self._counts, self._oldest, self._clock = counts, oldest, clock

    def collect(self) -> Iterable[Metric]:
        counts = self._counts()
        pending = GaugeMetricFamily("newsalert_outbox_alerts", "Alerts in the outbox by status", labels=["status"])
        for status in ("pending", "sent", "failed"):  # pending includes the one being posted
            pending.add_metric([status], counts.get(status, 0))
        yield pending
        oldest = self._oldest()
        age = (self._clock() - oldest).total_seconds() if oldest else 0.0
        yield GaugeMetricFamily(
            "newsalert_outbox_oldest_pending_seconds", "Age of the oldest undelivered alert (0: none)", value=age
        )


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.polls = Counter(
            "newsalert_polls", "Polls by source and outcome", ["source", "outcome"], registry=self.registry
        )
        self.poll_seconds = Histogram(
            "newsalert_poll_duration_seconds",
            "Time of one poll (fetch, parse, detect, queue)",
            buckets=(0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.new_items = Counter("newsalert_new_items", "New items by source", ["source"], registry=self.registry)
        self.matches = Counter("newsalert_matches", "Matches by topic", ["topic"], registry=self.registry)
        self.alerts = Counter(
            "newsalert_alerts",
            "Alerts delivered, failed or deferred by a delivery run",
            ["result"],
            registry=self.registry,
        )
        self.delivery_errors = Counter(
            "newsalert_delivery_runs_failed", "Delivery runs that raised (store, disk)", registry=self.registry
        )

    def watch_outbox(
        self,
        counts: Callable[[], dict[str, int]],
        oldest: Callable[[], datetime | None],
        clock: Callable[[], datetime],
    ) -> None:
        self.registry.register(_Outbox(counts, oldest, clock))

    def poll(self, source: str, outcome: str, new: int, seconds: float) -> None:
        self.polls.labels(source, outcome if outcome in OUTCOMES else "error").inc()
        self.poll_seconds.observe(seconds)
        if new:
            self.new_items.labels(source).inc(new)

    def matched(self, topics: Iterable[str]) -> None:
        for topic in topics:
            self.matches.labels(topic).inc()

    def delivered(self, sent: int, failed: int, deferred: int) -> None:
        for result, n in (("sent", sent), ("failed", failed), ("deferred", deferred)):
            if n:
                self.alerts.labels(result).inc(n)


class _Quiet(WSGIRequestHandler):
    timeout = 10  # seconds: an idle connection cannot hold the one-request-at-a-time listener

    def log_message(self, format: str, *args: Any) -> None:
        """Not logged: a scrape every 15 s would flood the log."""


def serve(metrics: Metrics, host: str, port: int, alive: Callable[[], bool], ready: Callable[[], bool]) -> WSGIServer:
    """Start the listener in a daemon thread; `server.server_address` is where it listens (port 0
    picks one; IPv4); `stop` ends it and frees its socket."""
    scrape = make_wsgi_app(metrics.registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterator[bytes] | list[bytes]:
        path = environ.get("PATH_INFO", "")
        for route, check in (("/healthz", alive), ("/readyz", ready)):
            if path == route:
                ok = check()
                start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "text/plain")])
                return [b"ok\n" if ok else b"not ready\n"]
        if path == "/metrics":
            return scrape(environ, start_response)  # type: ignore[no-any-return]
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"/metrics, /healthz, /readyz\n"]

    server = make_server(host, port, app, handler_class=_Quiet)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def stop(server: WSGIServer) -> None:
    server.shutdown()
    server.server_close()
