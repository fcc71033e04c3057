"""Near misses: the topics an item almost matched (the grey zone an optional LLM looks at)."""

from pathlib import Path

import pytest

from service.detect import Document, compile_topics, detect, near_misses
from service.settings import load_entities, load_topics

CONFIG = Path(__file__).resolve().parents[2] / "config"
ENTITIES = load_entities(CONFIG / "entities.yaml")
SHIPPED = load_topics(CONFIG / "topics.yaml", ENTITIES)

DEAL = compile_topics(
    [
        {
            "id": "deal",
            "rules": [{"all": [["Acme"], ["deal"]], "in": ["title"]}],
            "none": ["lawsuit"],
        },
        {"id": "near", "rules": [{"all": [["Acme"], ["merger"]], "within": 2}]},
        {"id": "strict", "min_score": 2, "rules": [{"all": [["Acme"], ["deal"]], "in": ["title"]}]},
    ],
    {},
)


def near(title: str, summary: str = "", text: str = "", margin: float = 0.5) -> dict[str, float]:
    return {m.topic: m.score for m in near_misses(DEAL, Document(title, summary, text), None, margin)}


@pytest.mark.parametrize(
    ("title", "summary", "text", "expected"),
    [
        # every group hit, one of them outside the rule's fields (a headline rule, a summary word)
        ("Acme news", "They signed a deal.", "", {"deal": 0.5}),
        # a rule's score under the topic's min_score
        ("Acme signs a deal", "", "", {"strict": 1.5}),
        # not within the rule's words of each other
        ("Acme said on Monday, after weeks of talks, that a merger", "", "", {"near": 0.5}),
        ("Acme merger", "", "", {}),  # "near" matched
        # the article text counts only for rules that read it
        ("Acme news", "", "A deal was signed.", {}),
        # a veto holds in the grey zone too
        ("Acme news", "A deal, and a lawsuit.", "", {}),
        ("Nothing here", "", "", {}),
    ],
)
def test_near_scores(title: str, summary: str, text: str, expected: dict[str, float]) -> None:
    assert near(title, summary, text) == expected


def test_the_margin_bounds_the_grey_zone() -> None:
    assert near("Acme news", "They signed a deal.", margin=0.6) == {}
    assert near("Acme signs a deal", margin=0.75) == {"strict": 1.5}  # 1.5 of min_score 2
    assert near("Acme signs a deal", margin=0.8) == {}


def test_a_near_miss_never_duplicates_a_match() -> None:
    doc = Document("Acme signs a deal")
    matched = {m.topic for m in detect(DEAL, doc)}
    assert matched == {"deal"} and not matched & {m.topic for m in near_misses(DEAL, doc)}


def test_the_evidence_is_the_words_that_hit() -> None:
    (miss,) = near_misses(DEAL, Document("Acme news", "They signed a deal."))
    assert miss.topic == "deal" and miss.matched == ("Acme", "deal") and miss.event is None


def test_a_deal_event_no_rule_saw_is_a_near_miss_with_its_sentence() -> None:
    doc = Document("A quiet week in AI", "", "Microsoft signed a new contract with OpenAI. Markets were calm.")
    assert detect(SHIPPED, doc, ENTITIES) == ()
    (miss,) = near_misses(SHIPPED, doc, ENTITIES)
    assert miss.topic == "partnership" and miss.score == 1.0
    assert miss.event == "partnership: Microsoft + OpenAI"
    assert miss.evidence == "Microsoft signed a new contract with OpenAI."


def test_without_entities_there_are_no_events() -> None:
    doc = Document("A quiet week in AI", "", "Microsoft signed a new contract with OpenAI.")
    assert near_misses(SHIPPED, doc) == ()


def test_an_event_alone_topic_matched_so_it_is_no_near_miss() -> None:
    topics = compile_topics([{"id": "p", "event": "partnership", "event_alone": True, "any": ["zzz"]}], {})
    doc = Document("Microsoft signs a contract with OpenAI")
    assert [m.topic for m in detect(topics, doc, ENTITIES)] == ["p"]
    assert near_misses(topics, doc, ENTITIES) == ()


def test_shipped_headlines_outside_the_grey_zone() -> None:
    for title in ("Meta's new metadata standard for photos", "Local bakery raises $2 million"):
        assert near_misses(SHIPPED, Document(title), ENTITIES) == ()
