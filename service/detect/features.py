"""What the learned layer sees of an item (pure): words of the headline and lead, Hangul character
n-grams, and what the rules, organizations and deal events found.

One function, `features`, serves both training (`service.detect.train`) and the daemon
(`service.detect.model`), so the two can never see an item differently. Every feature is binary
except the rules' own score. Names are stable strings, so a model file keeps working when topics.yaml
changes: a rule is known by a hash of what it matches, and an edited rule is simply a new feature
the model has no weight for.

Words and events are read from the headline and the lead (the summary), not from the article text:
the labels were judged on those, and the daemon fetches the text only for some items, so a model
that read it would meet in production what it never saw in training. The rules are read where
they look (the shipped ones look at the headline and summary only).

- `t:` / `l:` words of the headline / lead (the first LEAD_CHARS of the summary, else of the text),
  digits written as `#` (`gpt-#.#`, `$#b`), and `t2:` pairs of neighbouring headline words. A
  Hangul word also gives its character pairs (`tk:` / `lk:`), which is how Korean is read without a
  segmenter (`투자를` -> `투자`, `자를`).
- `g:<group>` a group of the rules (a list such as `@deal_words`) hits the headline: the
  vocabulary of topics.yaml, which carries further than single words (the headline's searches are
  mostly done by the rules already; the summary's would double the layer's cost).
- `r:<topic>` a rule of the topic matched, `r:<topic>:<rule>` which one (`Rule.key`), `rs:<topic>`
  the rules' score (capped). A veto is not a feature: it vetoes (match.py).
- `e:<kind>` the headline states a deal event (partnership, funding, acquisition).
- `o:<n>` how many known organizations the headline names (0, 1, 2+), `o:new` the headline names
  one the list lacks (`service.detect.orgs`), `$:t` / `$:l` an amount of money.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence

from service.detect.entities import Entities
from service.detect.events import MONEY, Event, find_events
from service.detect.orgs import unlisted_orgs
from service.detect.rules import CompiledTopic, Document, Pattern, Scan, scanned

LEAD_CHARS = 400
SCORE_CAP = 3.0
_TOKEN = re.compile(r"[$€£₩¥]?[a-z0-9]+(?:[.'’&+-][a-z0-9]+)*%?|[가-힣]+")
_DIGITS = re.compile(r"\d+")


def _words(out: dict[str, float], prefix: str, text: str, pairs: bool) -> None:
    previous = ""
    for m in _TOKEN.finditer(text):
        word = _DIGITS.sub("#", m.group(0))
        out[f"{prefix}:{word}"] = 1.0
        if previous and pairs:
            out[f"{prefix}2:{previous} {word}"] = 1.0
        previous = word
        if "가" <= word[0] <= "힣" and len(word) > 2:
            for i in range(len(word) - 1):
                out[f"{prefix}k:{word[i : i + 2]}"] = 1.0


def lead(scan: Scan) -> str:
    """The lead the layer reads: the summary's start, else the text's."""
    return (scan.folded["summary"] or scan.folded["text"])[:LEAD_CHARS]


def _groups(topics: tuple[CompiledTopic, ...]) -> Sequence[tuple[str, Pattern]]:
    """Every distinct group of the topics' rules, with a stable key (a hash of its pattern); kept
    per set of compiled topics (by identity: hashing the topics themselves costs more than this)."""
    key = tuple(map(id, topics))
    if key not in _GROUPS:
        if len(_GROUPS) > 64:
            _GROUPS.clear()
        _GROUPS[key] = (topics, _distinct_groups(topics))
    return _GROUPS[key][1]


_GROUPS: dict[tuple[int, ...], tuple[tuple[CompiledTopic, ...], Sequence[tuple[str, Pattern]]]] = {}


def _distinct_groups(topics: tuple[CompiledTopic, ...]) -> Sequence[tuple[str, Pattern]]:
    seen: dict[str, Pattern] = {}
    for topic in topics:
        for rule in topic.rules:
            for group in rule.groups:
                seen.setdefault(group.pattern, group)
    return [(hashlib.blake2s(p.encode(), digest_size=4).hexdigest(), g) for p, g in seen.items()]


def _rules(out: dict[str, float], topics: tuple[CompiledTopic, ...], scan: Scan) -> None:
    for key, group in _groups(topics):
        if scan.search(group, "title"):
            out[f"g:{key}"] = 1.0
    for topic in topics:
        best, count = 0.0, 0
        for rule in topic.rules:
            hits = scan.rule(rule)
            if hits is None:
                continue
            out[f"r:{topic.id}:{rule.key}"] = 1.0
            best = max(best, rule.weight * (1.5 if hits[1] else 1.0))
            count += 1
        if count:
            out[f"r:{topic.id}"] = 1.0
            out[f"rs:{topic.id}"] = min(best + 0.25 * (count - 1), SCORE_CAP) / SCORE_CAP


def _events(out: dict[str, float], events: Iterable[Event]) -> None:
    for event in events:
        out[f"e:{event.kind}"] = 1.0


def features(document: Document | Scan, topics: Iterable[CompiledTopic], entities: Entities) -> dict[str, float]:
    """The item as the learned layer sees it."""
    scan = scanned(document)
    title = scan.folded["title"]
    out: dict[str, float] = {}
    _words(out, "t", title, pairs=True)
    _words(out, "l", lead(scan), pairs=False)
    _rules(out, tuple(topics), scan)
    # Events of the headline only: the lead's cost half the layer's time and moved no
    # cross-validated F1 on the tuned-on labels.
    pairs = {"title": (title, scan.originals()["title"]), "summary": ("", ""), "text": ("", "")}
    _events(out, find_events(pairs, entities))
    known = {m.name for m in entities.find(title)}
    out[f"o:{min(len(known), 2)}"] = 1.0
    if unlisted_orgs(scan.originals()["title"], entities):
        out["o:new"] = 1.0
    if MONEY.search(title):
        out["$:t"] = 1.0
    if MONEY.search(lead(scan)):
        out["$:l"] = 1.0
    return out
