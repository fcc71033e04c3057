"""Benchmark: topic detection on labelled news, tuned-on and held-out side by side, per language.

Two label sets (eval/README.md): the development set (eval/topics_labels.jsonl, 837 items of
../shared/data/news_stream.jsonl, mostly Hacker News and lab blogs) and the outlet set
(eval/outlets_topics.jsonl, ../shared/data/outlets_2026: TechCrunch, The Verge, VentureBeat, ZDNet,
MIT Technology Review and AI타임스), whose lines carry the frozen split of bench/_outlets.py.

Two layers are scored: the rules alone (config/topics.yaml) and the rules with the shipped model
(config/topics.model.json, trained on the tuned-on labels only). Tuned-on columns: the rules
in-sample (they were written against these items); the model out-of-fold (FOLDS-fold
cross-validation: each item judged by a model trained without it, the way `topics train` trains).
Held-out columns: items nobody tuned on. Only the tuned-on errors are printed: reading the
held-out ones would be tuning on them. Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir
from bench._outlets import outlet_items
from service import settings as config
from service.detect import CompiledTopic, Document, TopicModel, detect, parse_model
from service.detect.train import Example, examples, train

ROOT = Path(__file__).resolve().parents[1]
FOLDS = 5
ERRORS_SHOWN = 12

# (headline, topics it must get, topics it may also get): the detection issue's seed headlines.
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


@dataclass(frozen=True)
class Labelled:
    item: dict[str, Any]
    gold: frozenset[str]
    column: str  # dev, tuned en, tuned ko, held-out en, held-out ko
    line: dict[str, Any]  # the label line, as training reads it

    @property
    def tuned(self) -> bool:
        return not self.column.startswith("held-out")

    def document(self) -> Document:
        text = self.item.get("content_text") or self.item.get("text") or ""
        return Document(self.item.get("title") or "", self.item.get("summary") or "", text)


COLUMNS = ("dev", "tuned en", "tuned ko", "held-out en", "held-out ko")


def _jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def load() -> list[Labelled]:
    stream = {str(i["id"]): i for i in _jsonl(data_dir() / "news_stream.jsonl")}
    out = [
        Labelled(stream[str(r["id"])], frozenset(r["topics"]), "dev", r)
        for r in _jsonl(ROOT / "eval" / "topics_labels.jsonl")
        if str(r["id"]) in stream
    ]
    path = ROOT / "eval" / "outlets_topics.jsonl"
    if path.exists():
        outlets = {i["id"]: i for i in outlet_items()}
        for r in _jsonl(path):
            item = outlets[r["id"]]
            split = "held-out" if r.get("split") == "held-out" else "tuned"
            out.append(Labelled(item, frozenset(r["topics"]), f"{split} {item['lang']}", r))
    return out


Judge = Callable[[Labelled], set[str]]


def out_of_fold(settings: config.Settings, data: Sequence[Labelled]) -> dict[int, set[str]]:
    """Each tuned-on item's topics as judged by a model trained on the other folds."""
    tuned = [i for i, d in enumerate(data) if d.tuned]
    lines = [(f"{d.column}:{i}", d.line) for i, d in enumerate(data) if d.tuned]
    corpus = {str(d.line["id"]): d.item for d in data}
    everything = examples(lines, corpus, settings.topics, settings.entities)
    ids = [t.id for t in settings.topics]
    out: dict[int, set[str]] = {}
    for fold in range(FOLDS):
        held = {i for k, i in enumerate(tuned) if k % FOLDS == fold}
        rest: list[Example] = [e for k, e in zip(tuned, everything, strict=True) if k not in held]
        raw, _ = train(rest, ids)
        model = parse_model(raw, f"fold {fold}")
        for i in held:
            out[i] = _topics(settings, model, data[i])
    return out


def _topics(settings: config.Settings, model: TopicModel | None, d: Labelled) -> set[str]:
    return {m.topic for m in detect(settings.topics, d.document(), settings.entities, model)}


def _cell(tp: int, fp: int, fn: int) -> str:
    if tp + fp + fn == 0:
        return f"{'-':>18}"
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * tp / (2 * tp + fp + fn)
    return f"{p:.2f} {r:.2f} {f1:.2f} ({tp + fn:3d})"


def _counts(data: Sequence[Labelled], predicted: dict[int, set[str]], topic: str, keep: Callable[[Labelled], bool]):
    tp = fp = fn = 0
    for i, d in enumerate(data):
        if not keep(d):
            continue
        got, want = topic in predicted[i], topic in d.gold
        tp, fp, fn = tp + (got and want), fp + (got and not want), fn + (want and not got)
    return tp, fp, fn


def table(
    title: str, data: Sequence[Labelled], predicted: dict[int, set[str]], topics: Sequence[CompiledTopic]
) -> None:
    print(f"\n{title}\n  cells: precision recall F1 (labelled positives)")
    print(f"  {'topic':<14}" + "".join(f"{c:>22}" for c in COLUMNS) + f"{'F1 tuned-held':>16}")
    for t in topics:
        cells = [_cell(*_counts(data, predicted, t.id, lambda d, c=c: d.column == c)) for c in COLUMNS]
        tuned = _f1(*_counts(data, predicted, t.id, lambda d: d.tuned and d.column != "dev"))
        held = _f1(*_counts(data, predicted, t.id, lambda d: not d.tuned))
        gap = f"{tuned - held:+.2f}" if tuned == tuned and held == held else "-"
        print(f"  {t.id:<14}" + "".join(f"{c:>22}" for c in cells) + f"{gap:>16}")


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")


def errors(data: Sequence[Labelled], predicted: dict[int, set[str]], topics: Sequence[CompiledTopic]) -> None:
    print("\nerrors of rules + model on the tuned-on outlet items (out-of-fold; held-out errors are not shown)")
    for t in topics:
        for kind, wrong in (("false positives", (True, False)), ("misses", (False, True))):
            rows = [
                d
                for i, d in enumerate(data)
                if d.tuned and d.column != "dev" and (t.id in predicted[i], t.id in d.gold) == wrong
            ]
            if rows:
                print(f"  {t.id} {kind}: {len(rows)}")
                for d in rows[:ERRORS_SHOWN]:
                    print(f"    {d.item['id']:>10}  {' '.join(d.item['title'].split())[:100]}")


def headlines(settings: config.Settings) -> None:
    print("\nseed headlines (rules + model):")
    for headline, must, may in HEADLINES:
        got = {m.topic for m in detect(settings.topics, Document(headline), settings.entities, settings.model)}
        missing, extra = must - got, got - must - may
        verdict = "ok" if not missing and not extra else "MISS"
        print(f"  {verdict:<4} {headline}  -> {sorted(got)}")


def agreement(topics: Sequence[CompiledTopic]) -> None:
    """Cohen's kappa per topic between the two annotators of the outlet set, before adjudication."""
    path = ROOT / "eval" / "outlets_topics_annotators.jsonl"
    if not path.exists():
        return
    rows = _jsonl(path)
    cells = []
    for t in topics:
        a = [t.id in r["a"] for r in rows]
        b = [t.id in r["b"] for r in rows]
        n = len(rows)
        observed = sum(x == y for x, y in zip(a, b, strict=True)) / n
        pa, pb = sum(a) / n, sum(b) / n
        chance = pa * pb + (1 - pa) * (1 - pb)
        cells.append(f"{t.id} {(observed - chance) / (1 - chance) if chance < 1 else 1.0:.2f}")
    print(f"  annotators' agreement on the {len(rows)} outlet items (Cohen's kappa): " + ", ".join(cells))


def main() -> None:
    if not (data_dir() / "news_stream.jsonl").exists():
        print(f"skipped: no shared data at {data_dir()}")
        return
    settings = config.load(ROOT / "config", env={})
    data = load()
    print(
        f"topic detection: {len(data)} labelled items: "
        + ", ".join(f"{c} {sum(d.column == c for d in data)}" for c in COLUMNS)
    )
    print("  positives: " + ", ".join(f"{t.id} {sum(t.id in d.gold for d in data)}" for t in settings.topics))
    agreement(settings.topics)
    rules = {i: _topics(settings, None, d) for i, d in enumerate(data)}
    table("rules alone (tuned-on columns in-sample)", data, rules, settings.topics)
    if settings.model is None:
        print("\nno topic model in config/: `make train` makes one")
        return
    layered = {i: _topics(settings, settings.model, d) for i, d in enumerate(data) if not d.tuned}
    layered.update(out_of_fold(settings, data))
    table(
        f"rules + model {settings.model.id} (tuned-on columns out-of-fold, {FOLDS} folds)",
        data,
        layered,
        settings.topics,
    )
    headlines(settings)
    errors(data, layered, settings.topics)


if __name__ == "__main__":
    main()
