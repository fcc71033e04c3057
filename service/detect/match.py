"""Match a document against the topics: rules, the learned layer, then the deal events that explain a match.

Rules first (rules.py). Where a topic model is loaded (model.py) and covers the topic, its verdict
decides: a probability at or above the topic's threshold matches (with the rules' words when they
also hit, else the model's own reasons), one below it does not, even when a rule hit. Rules stay
in charge where they should: a topic the model does not cover (a team's own, without labels) runs
on its rules alone; a rule marked `force: true` matches whatever the model says; a topic's `none:`
veto holds either way. The verdict is kept on the match (`Match.model`), so the alert says why.

A topic with `event: partnership` (or funding, acquisition) looks for that event in a sentence
or the headline. With `event_alone: true` the event matches the topic even if no rule fired
(at EVENT_SCORE); otherwise it strengthens and explains a match: an event counts more than
loose terms (EVENT_BONUS), and the match carries its label and its sentence as evidence.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import replace

from service.detect.entities import Entities
from service.detect.events import Event, find_events
from service.detect.features import features
from service.detect.model import TopicModel, Verdict
from service.detect.rules import FIELDS, CompiledTopic, Document, Scan, forced, scanned, score
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


def _decide(topic: CompiledTopic, scan: Scan, match: Match | None, verdict: Verdict) -> Match | None:
    """The learned layer's decision for a topic it covers, the rules' force and veto kept."""
    if not verdict.passes and not (match is not None and forced(topic, scan)):
        return None
    if scan.vetoed(topic):
        return None
    if match is None:
        words = tuple(r.split(" +")[0] for r in verdict.reasons)
        match = Match(topic.id, topic.min_score, words)
    return replace(match, model=verdict.label())


def _verdicts(
    model: TopicModel | None, topics: Sequence[CompiledTopic], scan: Scan, entities: Entities | None
) -> dict[str, Verdict]:
    if model is None or not any(model.covers(t.id) for t in topics):
        return {}
    return model.judge(features(scan, topics, entities or Entities(None, {})))


def detect(
    topics: Iterable[CompiledTopic],
    document: Document | Scan,
    entities: Entities | None = None,
    model: TopicModel | None = None,
) -> tuple[Match, ...]:
    """Every topic the document matches, with its score, the words that matched and any event."""
    scan = scanned(document)
    topics = tuple(topics)
    verdicts = _verdicts(model, topics, scan, entities)
    events: dict[str, Event] | None = None
    out: list[Match] = []
    for topic in topics:
        match = score(topic, scan)
        if topic.id in verdicts:
            match = _decide(topic, scan, match, verdicts[topic.id])
        # An event only explains a match (the veto is already applied to it), unless it may
        # match alone: most items match nothing and are spared the veto and the events.
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
