"""Benchmark: newsalert's poll cycle over N real feeds on loopback, against the floor.

For N = 100 and 1000 (the shared corpus's 395 feeds, repeated), with and without ~100 ms added to
every response: a static server (bench/static_server.py, its own process) serves the feeds from
many loopback addresses with validators on; newsalert is configured through `sources import` of
a generated OPML and runs, in a fresh process, one cold cycle (everything new: fetch, parse, dedup,
detect, store; article fetching off) and one warm cycle (everything unchanged: 304s). The floors
are measured in the same run: `curl --parallel` fetching the same URLs into /dev/null; a plain
httpx loop of full GETs, then of conditional GETs all answered 304 (the warm cycle's floor with
httpx); and newsalert's parsing of the same bodies alone, in one process (CPU a cold cycle spends
whichever core does it). Wall seconds are the figures; CPU seconds (this process, and the parse worker it
spawns for a big cycle) say how much of a wall figure was other jobs on a shared machine. Peak
RSS is the cycle's process and, separately, its largest child. Prints figures; asserts nothing.

With --grouped the sources are listed host by host (as an OPML export sorted by site would be)
instead of alternating between the addresses.

    python bench/cycle.py [--workers W] [--grouped] [N ...]
"""

from __future__ import annotations

import contextlib
import io
import json
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
from bench._corpus import data_dir, feed_files  # noqa: E402

ADDRESSES = 50
WORKERS = 128
DELAY = 0.1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def urls(n: int, port: int, grouped: bool = False) -> list[str]:
    host = (lambda i: 1 + i * ADDRESSES // n) if grouped else (lambda i: 1 + i % ADDRESSES)
    return [f"http://127.0.0.{host(i)}:{port}/{i}.xml" for i in range(n)]


def serve(files: list[Path], n: int, delay: float, tmp: Path) -> tuple[subprocess.Popen[str], int]:
    listing = tmp / "files.txt"
    listing.write_text("\n".join(str(files[i % len(files)]) for i in range(n)))
    port = free_port()
    cmd = [
        sys.executable,
        str(REPO / "bench" / "static_server.py"),
        str(listing),
        str(port),
        str(ADDRESSES),
        str(delay),
    ]
    server = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None and server.stdout.readline().strip() == "ready"
    return server, port


def curl_floor(targets: list[str], tmp: Path) -> float | None:
    if not shutil.which("curl"):
        return None
    config = tmp / "curl.cfg"
    config.write_text("".join(f'url = "{u}"\noutput = "/dev/null"\n' for u in targets))
    started = time.perf_counter()
    subprocess.run(
        ["curl", "--parallel", "--parallel-max", "64", "-s", "-K", str(config)], check=True, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def httpx_floor(targets: list[str]) -> tuple[float, float]:
    """A plain httpx loop over the URLs: full GETs (the cold floor), then conditional GETs with
    the validators they returned, every answer a 304 (the warm floor)."""
    import httpx

    started = time.perf_counter()
    with httpx.Client() as client:
        validators = [client.get(u).headers for u in targets]
    full = time.perf_counter() - started
    conditions = [
        {k: v for k, v in (("If-None-Match", h.get("ETag")), ("If-Modified-Since", h.get("Last-Modified"))) if v}
        for h in validators
    ]
    started = time.perf_counter()
    with httpx.Client() as client:
        for u, headers in zip(targets, conditions, strict=True):
            client.get(u, headers=headers)
    return full, time.perf_counter() - started


def parse_floor(files: list[Path], n: int) -> float:
    """newsalert's parsing alone (adapter, text cleaning, canonical URLs), in one process, of the
    N bodies a cold cycle reads: the CPU a cold cycle cannot avoid, whichever core does it."""
    from service.errors import ParseError
    from service.models import FetchResult, Source
    from service.sources.pool import parse_items

    bodies = [files[i % len(files)].read_bytes() for i in range(n)]
    started = time.perf_counter()
    for i, body in enumerate(bodies):
        source = Source(name=f"feed {i}", kind="feed", url=f"http://127.0.0.1/{i}.xml", interval_seconds=600)
        with contextlib.suppress(ParseError):  # the corpus's broken feeds fail here as in the cycle
            parse_items(source, FetchResult(url=source.url, final_url=source.url, status=200, body=body))
    return time.perf_counter() - started


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) used so far by this process, and by its children that ended."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime


def child(n: int, port: int, workers: int, grouped: bool) -> None:
    """In a fresh process: configure through OPML import, then time a cold and a warm cycle."""
    from service import app, opml
    from service import settings as config
    from service.deliver.console import ConsoleDeliverer
    from service.pipeline import run_cycle

    tmp = Path(tempfile.mkdtemp())
    cfg = tmp / "config"
    cfg.mkdir()
    (cfg / "sources.yaml").write_text("sources: []\n")
    (cfg / "topics.yaml").write_text((REPO / "config" / "topics.yaml").read_text())
    (cfg / "settings.yaml").write_text(
        f"store: {tmp / 'bench.db'}\narticle_fetch: false\nfirst_poll_window: 100000d\n"
        f"fetch: {{workers: {workers}, per_host: 2, per_host_spacing: 0, allow_private_hosts: [127.0.0.0/8]}}\n"
    )
    outlines = "".join(f'<outline text="feed {i}" xmlUrl="{u}"/>' for i, u in enumerate(urls(n, port, grouped)))
    (tmp / "bench.opml").write_text(f'<?xml version="1.0"?><opml version="2.0"><body>{outlines}</body></opml>')
    opml.import_opml(cfg, tmp / "bench.opml")
    settings = config.load(cfg, env={})
    with app.context(settings, deliverer=ConsoleDeliverer(io.StringIO())) as ctx:
        started, cpu = time.perf_counter(), cpu_seconds()
        cold = run_cycle(ctx, settings.sources)
        cold_s, cold_cpu = time.perf_counter() - started, cpu_seconds()
        warm = run_cycle(ctx, settings.sources)
        warm_s, warm_cpu = time.perf_counter() - started - cold_s, cpu_seconds()
    print(
        json.dumps(
            {
                "cold": cold_s,
                "warm": warm_s,
                "items": sum(r.items for r in cold),
                "errors": sum(r.status == "error" for r in cold),
                "not_modified": sum(r.status == "not-modified" for r in warm),
                "cold_cpu": [cold_cpu[0] - cpu[0], cold_cpu[1] - cpu[1]],
                "warm_cpu": [warm_cpu[0] - cold_cpu[0], warm_cpu[1] - cold_cpu[1]],
                "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                "child_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
            }
        )
    )


def run(files: list[Path], n: int, delay: float, workers: int, grouped: bool) -> None:
    tmp = Path(tempfile.mkdtemp())
    server, port = serve(files, n, delay, tmp)
    try:
        targets = urls(n, port, grouped)
        curl = curl_floor(targets, tmp)
        loop = httpx_floor(targets) if not delay else None
        parsing = parse_floor(files, n) if not delay else None
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n), str(port), str(workers), str(int(grouped))],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(out.stdout.strip().splitlines()[-1])
    finally:
        server.terminate()
        server.wait()
    label = f"N={n:<5} {'+100 ms' if delay else 'loopback':<8}"
    ratios = [f"{r['cold'] / curl:.1f}x curl"] if curl else []
    floors = [f"curl --parallel {curl:.2f} s"] if curl else []
    warm_ratio = ""
    if loop:
        ratios.append(f"{r['cold'] / loop[0]:.1f}x httpx loop")
        floors.append(f"httpx loop {loop[0]:.2f} s, of 304s {loop[1]:.2f} s")
        warm_ratio = f"; {r['warm'] / loop[1]:.1f}x the httpx 304 loop"
    if parsing:
        floors.append(f"parsing alone {parsing:.2f} s")
    cold_cpu, warm_cpu = r["cold_cpu"], r["warm_cpu"]
    print(
        f"{label} cold {r['cold']:6.2f} s ({r['items'] / r['cold']:7,.0f} items/s, {r['items']} items,"
        f" {r['errors']} failed; {', '.join(ratios)}; CPU {cold_cpu[0]:.2f} s + worker {cold_cpu[1]:.2f} s)"
        f"  warm {r['warm']:5.2f} s ({r['not_modified']} 304s{warm_ratio}; CPU {warm_cpu[0]:.2f} s)"
        f"  peak RSS {r['rss_mb']:4.0f} MB (+ worker {r['child_rss_mb']:.0f} MB)  | floor: {', '.join(floors)}"
    )


def main() -> None:
    if sys.argv[1:2] == ["--child"]:
        child(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1")
        return
    args = sys.argv[1:]
    workers = WORKERS
    if args[:1] == ["--workers"]:
        workers, args = int(args[1]), args[2:]
    grouped = args[:1] == ["--grouped"]
    args = args[1:] if grouped else args
    files = feed_files()
    if not files:
        print(f"skipped: no corpus at {data_dir()}")
        return
    sizes = [int(a) for a in args] or [100, 1000]
    print(
        f"poll cycle over real feeds ({len(files)} distinct, repeated), {ADDRESSES} loopback addresses, "
        f"{workers} workers, 2 per host{', sources grouped by host' if grouped else ''}"
    )
    for n in sizes:
        for delay in (0.0, DELAY):
            run(files, n, delay, workers, grouped)


if __name__ == "__main__":
    main()
