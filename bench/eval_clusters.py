"""Benchmark: same-story clustering (service/stories/cluster.py) on the labeled set of real stories.

The labels (eval/story_clusters.jsonl) hold only stream ids and story slugs; the text is read from
../shared/data/news_stream.jsonl. The labeled items are replayed in publication order through
`matches`, as the daemon would see them: each joins the best story active within the window (and
merges any other story it also matched) or starts a new one. Term weights (IDF) come from the whole
20k-item stream, standing in for the store's recent items. Prints pairwise and B-cubed
precision/recall/F1, predicted vs true stories, the alert reduction (predicted stories per item),
then (with `--errors`) every predicted story that mixes true ones, with the reason of each join, and
every true story that was split. `--sweep` adds the figures for a range of thresholds.

First, the outlet windows (eval/outlets_stories.jsonl, ../shared/data/outlets_2026): every item of
each window replayed in time order, pairwise figures per window and per language pair (en-en,
en-ko, ko-ko); `--errors` prints the errors of the tuned-on windows only (reading the held-out
ones would be tuning on them). Asserts nothing.
"""

from __future__ import annotations

import json
import random
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import combinations
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir
from bench._outlets import STORY_WINDOWS, outlet_items
from service.settings import load_entities
from service.sources._dates import parse_date
from service.stories.cluster import (
    CLOSE_CALLS,
    THRESHOLD,
    WINDOW_HOURS,
    DocumentFrequencies,
    Features,
    StoryMatch,
    index_terms,
    stream,
)
from service.stories.cluster import features as item_features

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "eval" / "story_clusters.jsonl"
OUTLET_LABELS = ROOT / "eval" / "outlets_stories.jsonl"
ENTITIES = load_entities(ROOT / "config" / "entities.yaml")
FAR_FUTURE = datetime(9000, 1, 1, tzinfo=UTC)  # the stream is a fixed snapshot: accept every real date


Judge = Callable[[Features, Features], "tuple[bool, str] | None"]  # a close call: same event?, why


@dataclass
class Replay:
    predicted: dict[int, str]  # item id -> predicted story id
    joins: dict[int, list[StoryMatch]]  # item id -> why it joined its story (and merged any others)
    seconds: float
    judged: int = 0  # close calls put to the judge


def _load_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def _lead(item: dict[str, Any]) -> str:
    return item.get("summary") or item.get("content_text") or ""


def _published(item: dict[str, Any]) -> datetime:
    parsed = parse_date(item.get("published") or "", FAR_FUTURE)
    if parsed is None:
        raise ValueError(f"labeled item {item['id']} has no usable date")
    return parsed


def background_idf(stream: Iterable[dict[str, Any]]) -> DocumentFrequencies:
    """Term counts over the items, as the daemon's StoryBook.observe counts every item it sees."""
    idf = DocumentFrequencies()
    for item in stream:
        idf.docs += 1
        for term in index_terms(item.get("title") or "", _lead(item), ENTITIES):
            idf.df[term] = idf.df.get(term, 0) + 1
    return idf


def replay(
    items: list[dict[str, Any]], idf: DocumentFrequencies, threshold: float, window: float, judge: Judge | None = None
) -> Replay:
    """Stream the items as the daemon would (`cluster.stream`): join the best story, merge the
    others it also matched. With a `judge`, the close calls are decided by it, as `llm.same_story` does."""
    started = time.perf_counter()
    asked = [0]

    def counted(a: Features, b: Features) -> tuple[bool, str] | None:
        asked[0] += 1
        return judge(a, b) if judge else None

    by_key = {str(item["id"]): item["id"] for item in items}
    feats = [
        item_features(item["title"], _lead(item), _published(item), ENTITIES, key=str(item["id"])) for item in items
    ]
    placed = stream(feats, idf, window, threshold, counted if judge else None)
    predicted = {by_key[j.key]: j.story for j in placed}
    joins = {by_key[j.key]: list(j.matches) for j in placed if j.matches}
    return Replay(predicted, joins, time.perf_counter() - started, asked[0])


def _prf(tp: float, predicted: float, actual: float) -> tuple[float, float, float]:
    p = tp / predicted if predicted else 1.0
    r = tp / actual if actual else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def pairwise(gold: dict[int, str], predicted: dict[int, str]) -> tuple[float, float, float]:
    ids = sorted(gold)
    same_gold = {(a, b) for a, b in combinations(ids, 2) if gold[a] == gold[b]}
    same_pred = {(a, b) for a, b in combinations(ids, 2) if predicted[a] == predicted[b]}
    return _prf(len(same_gold & same_pred), len(same_pred), len(same_gold))


def bcubed(gold: dict[int, str], predicted: dict[int, str]) -> tuple[float, float, float]:
    """Bagga & Baldwin's B-cubed: per item, the overlap of its true and its predicted cluster."""
    by_gold: dict[str, set[int]] = defaultdict(set)
    by_pred: dict[str, set[int]] = defaultdict(set)
    for i in gold:
        by_gold[gold[i]].add(i)
        by_pred[predicted[i]].add(i)
    p = sum(len(by_gold[gold[i]] & by_pred[predicted[i]]) / len(by_pred[predicted[i]]) for i in gold) / len(gold)
    r = sum(len(by_gold[gold[i]] & by_pred[predicted[i]]) / len(by_gold[gold[i]]) for i in gold) / len(gold)
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def _title(item: dict[str, Any]) -> str:
    return " ".join((item.get("title") or "").split())[:90]


def _print_merges(gold: dict[int, str], run: Replay, stream: dict[int, dict[str, Any]]) -> None:
    """Each predicted story that mixes true stories: its items by true story, and why each joined."""
    wrong = sum(
        1 for a, b in combinations(sorted(gold), 2) if run.predicted[a] == run.predicted[b] and gold[a] != gold[b]
    )
    by_pred: dict[str, list[int]] = defaultdict(list)
    for i in sorted(gold, key=lambda i: _published(stream[i])):
        by_pred[run.predicted[i]].append(i)
    mixed = {k: ids for k, ids in by_pred.items() if len({gold[i] for i in ids}) > 1}
    print(f"\nwrongly merged pairs: {wrong}, in {len(mixed)} predicted stories that mix true ones")
    for ids in mixed.values():
        print("  predicted story:")
        for slug in dict.fromkeys(gold[i] for i in ids):
            print(f"    [{slug}]")
            for i in (i for i in ids if gold[i] == slug):
                found = run.joins.get(i, [])
                why = f"  <- {found[0].why()}" if found else ""
                print(f"      {i:>6} {_title(stream[i])}{why}")
                for other in found[1:]:
                    print(f"             and merged the story of {other.member!r}: {other.why()}")


def _print_splits(gold: dict[int, str], run: Replay, stream: dict[int, dict[str, Any]]) -> None:
    by_gold: dict[str, list[int]] = defaultdict(list)
    for i, slug in gold.items():
        by_gold[slug].append(i)
    split = {slug: ids for slug, ids in by_gold.items() if len({run.predicted[i] for i in ids}) > 1}
    missed = sum(1 for ids in split.values() for a, b in combinations(ids, 2) if run.predicted[a] != run.predicted[b])
    print(f"\nmissed pairs: {missed}, in {len(split)} split stories (each line a predicted fragment)")
    for slug, ids in sorted(split.items()):
        print(f"  {slug}")
        fragments: dict[str, list[int]] = defaultdict(list)
        for i in sorted(ids, key=lambda i: _published(stream[i])):
            fragments[run.predicted[i]].append(i)
        for members in fragments.values():
            print("    - " + " | ".join(f"{i} {_title(stream[i])[:60]}" for i in members))


def report(
    gold: dict[Any, str],
    run: Replay,
    stream: dict[Any, dict[str, Any]],
    threshold: float,
    verbose: bool = False,
    quiet: bool = False,
) -> None:
    if quiet:
        _print_merges(gold, run, stream)
        _print_splits(gold, run, stream)
        return
    pp, pr, pf = pairwise(gold, run.predicted)
    bp, br, bf = bcubed(gold, run.predicted)
    true_stories, predicted_stories = len(set(gold.values())), len(set(run.predicted.values()))
    multi = sum(1 for n in Counter(gold.values()).values() if n > 1)
    print(f"threshold {threshold}, window {WINDOW_HOURS} h, {len(gold)} items")
    print(f"  pairwise   P {pp:.3f}  R {pr:.3f}  F1 {pf:.3f}")
    print(f"  B-cubed    P {bp:.3f}  R {br:.3f}  F1 {bf:.3f}")
    print(f"  stories    predicted {predicted_stories}, true {true_stories} ({multi} with several items)")
    print(
        f"  alerts     {predicted_stories / len(gold):.3f} predicted stories per item "
        f"(true {true_stories / len(gold):.3f}; one alert per item would be 1.000)"
    )
    print(f"  time       {run.seconds * 1000 / len(gold):.2f} ms per item")
    if verbose:
        _print_merges(gold, run, stream)
        _print_splits(gold, run, stream)


def sweep(gold: dict[int, str], items: list[dict[str, Any]], idf: DocumentFrequencies) -> None:
    print("\nthreshold sweep:   pairwise P / R / F1      B-cubed P / R / F1    stories")
    for step in range(24, 51, 2):
        threshold = step / 100
        run = replay(items, idf, threshold, WINDOW_HOURS)
        pp, pr, pf = pairwise(gold, run.predicted)
        bp, br, bf = bcubed(gold, run.predicted)
        stories = len(set(run.predicted.values()))
        print(f"  {threshold:.2f}   {pp:.3f} {pr:.3f} {pf:.3f}    {bp:.3f} {br:.3f} {bf:.3f}    {stories}")


def main(argv: list[str]) -> None:
    stream_path = data_dir() / "news_stream.jsonl"
    if not stream_path.exists():
        print(f"skipped: no stream at {stream_path}")
        return
    stream_items = _load_jsonl(stream_path)
    stream = {item["id"]: item for item in stream_items}
    outlets = list(outlet_items()) if OUTLET_LABELS.exists() else []
    idf = background_idf([*stream_items, *outlets])
    if outlets:
        outlet_windows(outlets, idf, verbose="--errors" in argv)
    gold = {row["id"]: row["story"] for row in _load_jsonl(LABELS) if row["id"] in stream}
    items = [stream[i] for i in gold]
    print(f"\ndevelopment set (eval/story_clusters.jsonl): {len(gold)} labeled items, IDF over {idf.docs} items")
    report(gold, replay(items, idf, THRESHOLD, WINDOW_HOURS), stream, THRESHOLD, verbose="--errors" in argv)
    if "--sweep" in argv:
        sweep(gold, items, idf)
    _judged(gold, items, idf, argv)


def _pair_kind(a: dict[str, Any], b: dict[str, Any]) -> str:
    return "-".join(sorted((a.get("lang") or "en", b.get("lang") or "en")))


def _pair_counts(gold: dict[Any, str], predicted: dict[Any, str], items: dict[Any, dict[str, Any]]) -> Counter[str]:
    """True, predicted and correct same-story pairs, by language pair (en-en, en-ko, ko-ko)."""
    counts: Counter[str] = Counter()
    for a, b in combinations(sorted(gold), 2):
        kind = _pair_kind(items[a], items[b])
        same, said = gold[a] == gold[b], predicted[a] == predicted[b]
        counts[f"{kind} true"] += same
        counts[f"{kind} said"] += said
        counts[f"{kind} right"] += same and said
    return counts


def _prf_cell(counts: Counter[str], kinds: tuple[str, ...]) -> str:
    right = sum(counts[f"{k} right"] for k in kinds)
    said = sum(counts[f"{k} said"] for k in kinds)
    true = sum(counts[f"{k} true"] for k in kinds)
    if not true and not said:
        return f"{'-':>22}"
    p, r, f = _prf(right, said, true)
    return f"{p:.2f} {r:.2f} {f:.2f} ({true:4d})"


def outlet_windows(outlets: list[dict[str, Any]], idf: DocumentFrequencies, verbose: bool) -> None:
    """The outlet windows of eval/outlets_stories.jsonl, each replayed on its own, in time order."""
    labels = _load_jsonl(OUTLET_LABELS)
    by_id = {item["id"]: item for item in outlets}
    annotators = {r["id"]: r for r in _load_jsonl(OUTLET_LABELS.with_name("outlets_stories_annotators.jsonl"))}
    print("same-story clustering on outlet news (eval/outlets_stories.jsonl), every item of each window")
    print("  cells: pairwise precision recall F1 (true same-story pairs)")
    header = f"  {'window':<20}{'split':<10}{'items':>6}{'all pairs':>23}{'en-en':>23}{'en-ko':>23}{'ko-ko':>23}"
    print(header)
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    agreed = []
    for name, (_first, _last, split) in STORY_WINDOWS.items():
        gold = {row["id"]: row["story"] for row in labels if row["window"] == name}
        a = {i: annotators[i]["a"] for i in gold}
        agreed.append(f"{name} {pairwise(a, {i: annotators[i]['b'] for i in gold})[2]:.2f}")
        run = replay([by_id[i] for i in gold], idf, THRESHOLD, WINDOW_HOURS)
        counts = _pair_counts(gold, run.predicted, by_id)
        totals[split] += counts
        cells = [_prf_cell(counts, k) for k in (("en-en", "en-ko", "ko-ko"), ("en-en",), ("en-ko",), ("ko-ko",))]
        print(f"  {name:<20}{split:<10}{len(gold):>6}" + "".join(f"{c:>23}" for c in cells))
        if verbose and split == "tuned":
            report(gold, run, by_id, THRESHOLD, verbose=True, quiet=True)
    for split, counts in totals.items():
        cells = [_prf_cell(counts, k) for k in (("en-en", "en-ko", "ko-ko"), ("en-en",), ("en-ko",), ("ko-ko",))]
        print(f"  {'all ' + split:<20}{split:<10}{'':>6}" + "".join(f"{c:>23}" for c in cells))
    print("  annotators' agreement before adjudication (pairwise F1): " + ", ".join(agreed))


def _judged(gold: dict[int, str], items: list[dict[str, Any]], idf: DocumentFrequencies, argv: list[str]) -> None:
    """The close calls decided by the labels (a perfect judge: a ceiling, not a measurement), by
    judges wrong on a share of questions at random (mean and worst of five seeds), and, with
    `--llm CONFIG_DIR`, by that config's LLM (`llm.same_story`'s judge, for real)."""

    def truth(a: Features, b: Features) -> tuple[bool, str]:
        return gold[int(a.key)] == gold[int(b.key)], ""

    def sloppy(wrong: float, seed: int) -> Judge:
        coin = random.Random(seed)
        return lambda a, b: (truth(a, b)[0] != (coin.random() < wrong), "")

    low, high = CLOSE_CALLS
    print(f"\nclose calls (scores {low}-{high}) decided by a judge, as with llm.same_story:")
    run = replay(items, idf, THRESHOLD, WINDOW_HOURS, truth)
    pp, pr, pf = pairwise(gold, run.predicted)
    print(f"  perfect judge (the labels; a ceiling): pairwise P {pp:.3f}  R {pr:.3f}  F1 {pf:.3f}; ", end="")
    print(f"B-cubed F1 {bcubed(gold, run.predicted)[2]:.3f}; {run.judged / len(items):.2f} questions per item")
    for wrong in (0.05, 0.1):
        f1s = [
            pairwise(gold, replay(items, idf, THRESHOLD, WINDOW_HOURS, sloppy(wrong, s)).predicted)[2] for s in range(5)
        ]
        print(f"  a judge wrong on {wrong:.0%} of questions: pairwise F1 {sum(f1s) / 5:.3f} (worst {min(f1s):.3f})")
    if "--llm" in argv:
        run = replay(items, idf, THRESHOLD, WINDOW_HOURS, _llm_judge(Path(argv[argv.index("--llm") + 1])))
        pp, pr, pf = pairwise(gold, run.predicted)
        print(f"  the configured LLM: pairwise P {pp:.3f}  R {pr:.3f}  F1 {pf:.3f}; {run.judged} questions")


def _llm_judge(config_dir: Path) -> Judge:
    from service.settings import load
    from service.summarize.same_story import StoryJudge

    llm = load(config_dir).llm
    if llm is None:
        raise SystemExit(f"{config_dir}: no llm configured")
    return StoryJudge(llm).same


if __name__ == "__main__":
    main(sys.argv[1:])
