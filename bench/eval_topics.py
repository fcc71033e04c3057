"""Benchmark: precision and recall of the shipped topic rules on the labeled development set.

The labels (eval/topics_labels.jsonl) hold only stream ids and topics; the text is read from
../shared/data/news_stream.jsonl. Every labeled item runs through `service.detect.detect` with
config/topics.yaml; the table gives TP/FP/FN, precision, recall and F1 per topic, then every
false positive (with the words that matched) and false negative (with what each rule's groups
hit, `-` for a group that missed, rules separated by `|`; or the veto that fired). A few fixed
headlines, Korean included, are checked last. An optional argument names another topics file,
to try rule changes before editing config/. Prints figures; asserts nothing.

The grey zone: the near misses (`service.detect.near_misses`) an optional LLM classifier would be
asked about (`llm.classify`), per topic, and how many of them are labeled positives. The "upper
bound" row is precision and recall if that classifier were perfect (every positive in the grey
zone confirmed, every negative refused): a ceiling on what the LLM can add, not a measurement.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir
from service.detect import CompiledTopic, Document, detect, near_misses
from service.detect.rules import fold
from service.settings import load_entities, load_topics

ENTITIES = load_entities(Path(__file__).resolve().parents[1] / "config" / "entities.yaml")

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "eval" / "topics_labels.jsonl"

# (headline, topics it must get, topics it may also get)
HEADLINES: tuple[tuple[str, frozenset[str], frozenset[str]], ...] = (
    (
        "Microsoft free to build own AGI after ending restrictive OpenAI deal",
        frozenset({"agi", "partnership"}),
        frozenset(),
    ),
    (
        "마이크로소프트, 오픈AI와의 제약 해제 후 자체 AGI 개발 '자유' 얻다",
        frozenset({"agi", "partnership"}),
        frozenset(),
    ),
    ("Anthropic raises $13 billion at $183 billion valuation", frozenset({"funding"}), frozenset()),
    (
        "Nvidia to invest up to $100 billion in OpenAI as part of data center deal",
        frozenset({"partnership"}),
        frozenset({"funding"}),
    ),
    ("Meta's new metadata standard for photos", frozenset(), frozenset()),
)


@dataclass
class Tally:
    tp: int = 0
    fp: list[tuple[dict[str, Any], str]] = field(default_factory=list)
    fn: list[tuple[dict[str, Any], str]] = field(default_factory=list)

    grey: int = 0  # near misses: items the LLM classifier would be asked about
    grey_positive: int = 0  # of which labeled with the topic

    def row(self, topic: str) -> str:
        return _row(topic, self.tp, len(self.fp), len(self.fn))

    def upper_bound_row(self, topic: str) -> str:
        tp, fn = self.tp + self.grey_positive, len(self.fn) - self.grey_positive
        return _row(topic, tp, len(self.fp), fn) + f"   grey zone {self.grey:3d}, {self.grey_positive:2d} positive"


def _row(topic: str, tp: int, fp: int, fn: int) -> str:
    p = tp / (tp + fp) if tp + fp else float("nan")
    r = tp / (tp + fn) if tp + fn else float("nan")
    f1 = 2 * p * r / (p + r) if p + r else 0.0
    return f"  {topic:<14} {tp:4d} {fp:4d} {fn:4d}   {p:6.3f} {r:6.3f} {f1:6.3f}"


def _document(item: dict[str, Any]) -> Document:
    return Document(item.get("title") or "", item.get("summary") or "", item.get("content_text") or "")


def _load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _near_miss(topic: CompiledTopic, doc: Document) -> str:
    """Why a topic did not match: the veto that fired, or for each rule the groups that hit (or '-')."""
    folded = doc.folded()
    if topic.exclude is not None:
        for name, text in folded.items():
            if veto := topic.exclude.search(text):
                return f"vetoed by {veto.group(0)!r} in {name}"
    rules = []
    for rule in topic.rules:
        hits = [next((h.group(0) for n in rule.fields if (h := g.search(folded[n]))), "-") for g in rule.groups]
        rules.append(" + ".join(hits))
    return " | ".join(rules)


def evaluate(topics: tuple[CompiledTopic, ...], labeled: Iterable[tuple[dict[str, Any], set[str]]]) -> dict[str, Tally]:
    tallies = {t.id: Tally() for t in topics}
    for item, gold in labeled:
        doc = _document(item)
        found = {m.topic: m for m in detect(topics, doc, ENTITIES)}
        for near in near_misses(topics, doc, ENTITIES):
            tallies[near.topic].grey += 1
            tallies[near.topic].grey_positive += near.topic in gold
        for topic in topics:
            tally = tallies[topic.id]
            if topic.id in found and topic.id in gold:
                tally.tp += 1
            elif topic.id in found:
                tally.fp.append((item, ", ".join(found[topic.id].matched)))
            elif topic.id in gold:
                tally.fn.append((item, _near_miss(topic, doc)))
    return tallies


def _print_errors(tallies: dict[str, Tally]) -> None:
    for topic, tally in tallies.items():
        for kind, rows in (("false positives", tally.fp), ("false negatives", tally.fn)):
            if not rows:
                continue
            print(f"\n{topic}: {len(rows)} {kind}")
            for item, words in rows:
                title = " ".join((item.get("title") or "").split())
                print(f"  {item['id']:>6}  {title[:72]:<72}  [{words}]")


def _check_headlines(topics: tuple[CompiledTopic, ...]) -> None:
    print("\nheadlines:")
    for headline, must, may in HEADLINES:
        got = {m.topic for m in detect(topics, Document(headline), ENTITIES)}
        missing, extra = must - got, got - must - may
        verdict = "ok" if not missing and not extra else "MISS"
        detail = "".join([f" missing {sorted(missing)}" if missing else "", f" extra {sorted(extra)}" if extra else ""])
        print(f"  {verdict:<4} {headline}\n       got {sorted(got) or '[]'}{detail}")


def main(argv: list[str]) -> None:
    stream_path = data_dir() / "news_stream.jsonl"
    if not stream_path.exists():
        print(f"skipped: no stream at {stream_path}")
        return
    topics = load_topics(Path(argv[0]) if argv else ROOT / "config" / "topics.yaml", ENTITIES)
    stream = {item["id"]: item for item in _load_jsonl(stream_path)}
    labels = _load_jsonl(LABELS)
    labeled = [(stream[row["id"]], set(row["topics"])) for row in labels if row["id"] in stream]
    korean = sum(1 for item, _ in labeled if any("\uac00" <= ch <= "\ud7a3" for ch in fold(item["title"])))
    print(
        f"topic detection: {len(labeled)} labeled items ({len(labels) - len(labeled)} ids not in the stream), "
        f"{korean} with a Korean headline"
    )
    print(
        "  positives: "
        + ", ".join(f"{t.id} {sum(t.id in g for _, g in labeled)}" for t in topics)
        + f", none {sum(not g for _, g in labeled)}"
    )
    tallies = evaluate(topics, labeled)
    print(f"\n  {'topic':<14} {'TP':>4} {'FP':>4} {'FN':>4}   {'prec':>6} {'recall':>6} {'F1':>6}")
    for topic, tally in tallies.items():
        print(tally.row(topic))
    print("\n  upper bound with a perfect LLM classifier on the grey zone (near misses); not a measurement")
    for topic, tally in tallies.items():
        print(tally.upper_bound_row(topic))
    _print_errors(tallies)
    _check_headlines(topics)


if __name__ == "__main__":
    main(sys.argv[1:])
