"""Match a document against the topics: rules, then the deal events that explain a match.

A topic with `event: partnership` (or funding, acquisition) looks for that event in a sentence
or the headline. With `event_alone: true` the event matches the topic even if no rule fired
(at EVENT_SCORE); otherwise it strengthens and explains a rule's match: an event counts more than
loose terms (EVENT_BONUS), and the match carries its label and its sentence as evidence. On the
labeled set, events alone cost partnership 5 points of precision for 1 of recall, so the shipped
topics use them to explain, not to trigger. A topic's `none:` veto holds either way.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from service.detect.entities import Entities
from service.detect.events import Event, find_events
from service.detect.rules import FIELDS, CompiledTopic, Document, Scan, scanned, score
from service.models import Match

EVENT_SCORE = 2.0
EVENT_BONUS = 1.0
EVIDENCE_CHARS = 300


def _with_event(topic: CompiledTopic, match: Match | None, event: Event) -> Match:
    label = f"{event.kind}: {event.label()}"
    evidence = " ".join(event.sentence.split())[:EVIDENCE_CHARS]
    if match is None:
        return Match(topic.id, EVENT_SCORE, event.orgs, label, evidence)
    return replace(match, score=round(match.score + EVENT_BONUS, 2), event=label, evidence=evidence)


def events_in(scan: Scan, entities: Entities) -> dict[str, Event]:
    """The deal events of a document being matched, by kind."""
    pairs = {name: (scan.folded[name], scan.originals()[name]) for name in FIELDS}
    return {e.kind: e for e in find_events(pairs, entities)}


def detect(
    topics: Iterable[CompiledTopic], document: Document | Scan, entities: Entities | None = None
) -> tuple[Match, ...]:
    """Every topic the document matches, with its score, the words that matched and any event."""
    scan = scanned(document)
    events: dict[str, Event] | None = None
    out: list[Match] = []
    for topic in topics:
        match = score(topic, scan)
        # An event only explains a rule's match (score() already applied the veto to it), unless
        # it may match alone: most items match nothing and are spared the veto and the events.
        if (
            topic.event
            and entities is not None
            and (match is not None or (topic.event_alone and not scan.vetoed(topic)))
        ):
            if events is None:
                events = events_in(scan, entities)
            if topic.event in events and (match is not None or topic.event_alone):
                match = _with_event(topic, match, events[topic.event])
        if match is not None:
            out.append(match)
    return tuple(out)
