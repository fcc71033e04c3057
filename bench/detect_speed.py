"""Benchmark: topic detection speed on the shared corpus's items, as a poll runs it.

Every item of the corpus's feeds (read by newsalert's adapter) goes through `may_match` then
`detect` on one shared Scan, with the shipped config/topics.yaml. The baseline, in the same run, is
the same topics with each group's literal terms as a plain alternation (`(?<![a-z0-9])(?:openai|
anthropic|...)`), the obvious way to write it. Prints one run of the baseline, the best of three of ours, and whether
both found the same matches (topics and scores). Then the learned layer (config/topics.model.json,
if present) on top of ours: the time it adds per item, against the target of at most half of the
rules' own time, and the model file's size and load time. Asserts nothing.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir, feed_files
from service.detect import Document, Scan, TopicModel, detect, may_match, rules
from service.errors import ParseError
from service.models import FetchResult, Source
from service.settings import load_entities, load_model, load_topics
from service.sources import parse

CONFIG = Path(__file__).resolve().parents[1] / "config"


def documents(files: list[Path]) -> list[Document]:
    docs: list[Document] = []
    for path in files:
        source = Source(name="bench", kind="feed", url="http://example.com/feed", interval_seconds=600)
        try:
            items = parse(source, FetchResult(url=source.url, final_url=source.url, status=200, body=path.read_bytes()))
        except ParseError:
            continue
        docs.extend(Document(i.title, i.summary, i.content) for i in items)
    return docs


def plain_alternation(terms: Sequence[tuple[str, str]]) -> str:
    """The baseline: every term its own branch, boundaries and endings as the rule language says."""
    endings = {"*": r"\w*", "b": r"(?![a-z0-9])", "": ""}
    return "|".join(
        ("(?<![a-z0-9])" if rules._edge(text[0]) else "")
        + r"\s+".join(map(re.escape, text.split(" ")))
        + endings[ending]
        for text, ending in terms
    )


def timed(
    topics: tuple[rules.CompiledTopic, ...], docs: list[Document], runs: int, model: TopicModel | None = None
) -> tuple[float, list[object]]:
    """Best seconds of `runs`, and each item's matches as (topic, score): the evidence quoted may
    differ where two terms start at one place (a trie quotes the longest)."""
    entities = load_entities(CONFIG / "entities.yaml")
    best, found = float("inf"), []
    for _ in range(runs):
        started = time.perf_counter()
        found = []
        for doc in docs:
            scan = Scan(doc)
            may_match(topics, scan)
            found.append([(m.topic, m.score) for m in detect(topics, scan, entities, model)])
        best = min(best, time.perf_counter() - started)
    return best, found


def compiled_with(pattern: Callable[[Sequence[tuple[str, str]]], str]) -> tuple[rules.CompiledTopic, ...]:
    shipped, rules.literal_pattern = rules.literal_pattern, pattern  # type: ignore[assignment]
    try:
        return load_topics(CONFIG / "topics.yaml", load_entities(CONFIG / "entities.yaml"))
    finally:
        rules.literal_pattern = shipped  # type: ignore[assignment]


def main() -> None:
    files = feed_files()
    if not files:
        print(f"skipped: no corpus at {data_dir()}")
        return
    docs = documents(files)
    print(f"topic detection: {len(docs)} items of {len(files)} feeds, shipped topics (may_match, then detect)")
    base, base_found = timed(compiled_with(plain_alternation), docs, runs=1)
    ours, ours_found = timed(compiled_with(rules.literal_pattern), docs, runs=3)
    print(f"  plain alternations (baseline)  {base:6.2f} s")
    print(f"  newsalert (one trie a group)   {ours:6.2f} s  {base / ours:.1f}x faster")
    print(f"  same matches on every item: {'yes' if base_found == ours_found else 'NO'}")
    path = CONFIG / "topics.model.json"
    started = time.perf_counter()
    model = load_model(path)
    loaded = time.perf_counter() - started
    if model is None:
        print("  no topic model in config/: the learned layer is not timed")
        return
    layered, _ = timed(compiled_with(rules.literal_pattern), docs, runs=3, model=model)
    added = (layered - ours) / len(docs) * 1e6
    print(
        f"  with the topic model {model.id}       {layered:6.2f} s  +{added:.0f} µs per item"
        f" ({(layered - ours) / ours:.0%} of the rules' time; target at most 50%)"
    )
    print(
        f"  model file {path.stat().st_size / 1024:.0f} KiB, {len(model.weights)} features, loads in {loaded * 1000:.0f} ms"
    )


if __name__ == "__main__":
    main()
