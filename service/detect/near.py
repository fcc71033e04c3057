"""Near misses (pure): topics a document almost matched, worth a second opinion (an optional LLM).

A topic that did not match, and whose `none:` veto did not fire, is a near miss when its near
score reaches `margin` x its `min_score`. The near score is the best of:

- the rules' own score, when a rule matched but the topic stayed under its `min_score`;
- OUT_OF_PLACE x a rule's weight, when every group of the rule hit, but not all where the rule
  looks (a headline rule whose deal word is only in the summary: "OpenAI ..." over "we partnered
  with ...") or not within the rule's `within` words. The text of the article counts only for
  rules that read it, so a long article does not make every topic a near miss;
- OUT_OF_PLACE x EVENT_SCORE, when the topic's deal event was read from a sentence but no rule
  matched (a topic whose event explains matches rather than triggering them; see match.py).

Each near miss is a `Match` holding its near score and evidence: the words that hit, and the
event's label and sentence. Nothing here decides a topic; `summarize.classify` asks the LLM.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from service.detect.entities import Entities
from service.detect.events import Event
from service.detect.match import EVENT_SCORE, EVIDENCE_CHARS, events_in
from service.detect.rules import FIELDS, CompiledTopic, Document, Rule, Scan, raw_score, rule_hits, scanned, score
from service.models import Match

OUT_OF_PLACE = 0.5  # a rule whose every group hit, but not where (or not as close as) it asks
NEAR_MARGIN = 0.5  # a near miss scores at least this share of the topic's min_score


def _widened(rule: Rule) -> Rule:
    """The rule over the headline and the summary too (and the text only if it read it), at any distance."""
    fields = tuple(f for f in FIELDS if f in rule.fields or f != "text")
    return replace(rule, fields=fields, within=None)


def _near(topic: CompiledTopic, scan: Scan, event: Event | None) -> Match | None:
    candidates: list[Match] = []
    scored = raw_score(topic, scan)
    if scored is not None:
        candidates.append(Match(topic.id, round(scored[0], 2), scored[1]))
    for rule in topic.rules:
        hits = rule_hits(_widened(rule), scan)
        if hits is not None:
            candidates.append(Match(topic.id, round(OUT_OF_PLACE * rule.weight, 2), tuple(hits[0])))
    if event is not None:
        candidates.append(Match(topic.id, round(OUT_OF_PLACE * EVENT_SCORE, 2), event.orgs))
    best = max(candidates, key=lambda m: m.score, default=None)
    if best is None or event is None:
        return best
    # The event's sentence is the best evidence there is, whichever candidate scored highest.
    evidence = " ".join(event.sentence.split())[:EVIDENCE_CHARS]
    return replace(best, event=f"{event.kind}: {event.label()}", evidence=evidence)


def near_misses(
    topics: Iterable[CompiledTopic],
    document: Document | Scan,
    entities: Entities | None = None,
    margin: float = NEAR_MARGIN,
) -> tuple[Match, ...]:
    """The topics the document did not match but came within `margin` of, with their evidence."""
    scan = scanned(document)
    events: dict[str, Event] | None = None
    out: list[Match] = []
    for topic in topics:
        if scan.vetoed(topic) or score(topic, scan) is not None:
            continue
        event = None
        if topic.event and entities is not None:
            events = events_in(scan, entities) if events is None else events
            event = events.get(topic.event)
            if event is not None and topic.event_alone:
                continue  # the event alone matched the topic
        near = _near(topic, scan, event)
        if near is not None and near.score >= margin * topic.min_score:
            out.append(near)
    return tuple(out)
