"""Benchmark: feed parsing speed on the shared corpus (fastfeedparser, feedparser, our adapter).

Prints figures; asserts nothing. The baseline is feedparser, measured in the same run.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import fastfeedparser
import feedparser

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir, feed_files
from service.errors import ParseError
from service.models import FetchResult, Source
from service.sources import parse


def run(name: str, fn: Callable[[bytes], int], bodies: list[bytes]) -> float:
    started = time.perf_counter()
    items = failures = 0
    for body in bodies:
        try:
            items += fn(body)
        except Exception:
            failures += 1
    seconds = time.perf_counter() - started
    print(f"  {name:<34} {seconds:7.2f} s  {items:6d} items  {failures:3d} failed")
    return seconds


def _ours(body: bytes) -> int:
    source = Source(name="bench", kind="feed", url="http://example.com/feed", interval_seconds=600)
    try:
        return len(parse(source, FetchResult(url=source.url, final_url=source.url, status=200, body=body)))
    except ParseError:
        return 0


def main() -> None:
    files = feed_files()
    if not files:
        print(f"skipped: no corpus at {data_dir()}")
        return
    bodies = [p.read_bytes() for p in files]
    print(f"feed parsing: {len(files)} files, {sum(map(len, bodies)) / 1e6:.1f} MB")
    entries: Callable[[Any], int] = lambda r: len(r["entries"])  # noqa: E731
    base = run("feedparser (baseline)", lambda b: entries(feedparser.parse(b)), bodies)
    fast = run("fastfeedparser", lambda b: entries(fastfeedparser.parse(b)), bodies)
    ours = run("newsalert adapter (fast+fallback)", _ours, bodies)
    print(f"  ratio to feedparser: fastfeedparser {fast / base:.3f}x, newsalert adapter {ours / base:.3f}x")


if __name__ == "__main__":
    main()
