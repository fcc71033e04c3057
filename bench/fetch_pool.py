"""Benchmark: the fetcher alone over N loopback feeds on W threads, by connections kept alive.

httpcore's connection pool walks its connections on every request and response, and for each idle
one walks them all again, so how connections are pooled and kept decides what a cycle's fetching
costs in CPU. The guarded transport keeps one pool per origin (service/fetch/pools.py), and idle
connections for `keepalive` origins. Serves the corpus like bench/cycle.py (bench/static_server.py,
its own process, 50 loopback addresses) and fetches every URL with `Fetcher.get` on W threads,
four rounds per setting. Prints wall and CPU seconds per round; asserts nothing.

    python bench/fetch_pool.py [N [W [DELAY]]]
"""

from __future__ import annotations

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench._corpus import feed_files  # noqa: E402
from bench.cycle import serve, urls  # noqa: E402
from service.fetch import Fetcher  # noqa: E402
from service.fetch.addresses import AddressPolicy  # noqa: E402
from service.fetch.transport import GuardedTransport  # noqa: E402
from service.settings import FetchSettings  # noqa: E402

ROUNDS = 4


def rounds(targets: list[str], workers: int, keepalive: int) -> list[tuple[float, float]]:
    settings = FetchSettings(workers=workers, per_host=2, per_host_spacing=0, allow_private_hosts=("127.0.0.0/8",))
    limits = httpx.Limits(max_connections=workers * 2, max_keepalive_connections=keepalive)
    fetcher = Fetcher(settings, GuardedTransport(AddressPolicy.allowing(settings.allow_private_hosts), limits))
    out = []
    try:
        for _ in range(ROUNDS):
            wall, cpu = time.perf_counter(), time.process_time()
            with ThreadPoolExecutor(workers) as pool:
                list(pool.map(fetcher.get, targets))
            out.append((time.perf_counter() - wall, time.process_time() - cpu))
    finally:
        fetcher.close()
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    workers = int(sys.argv[2]) if len(sys.argv) > 2 else 32
    delay = float(sys.argv[3]) if len(sys.argv) > 3 else 0.0
    files = feed_files()
    if not files:
        print("skipped: no corpus")
        return
    server, port = serve(files, n, delay, Path(tempfile.mkdtemp()))
    try:
        for keepalive in (0, 8, workers, workers * 2):
            figures = " ".join(f"{w:.2f}/{c:.2f}" for w, c in rounds(urls(n, port), workers, keepalive))
            print(f"N={n} workers={workers} delay={delay:g}s keepalive={keepalive:<4} wall/cpu s: {figures}")
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
