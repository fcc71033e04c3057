"""The learned layer: features, training, the served probability (equal to scikit-learn's), and
how its verdict combines with the rules (force, veto, topics it does not cover)."""

from __future__ import annotations

import math
import re
from typing import Any

import pytest

from service.detect import Document, compile_entities, compile_topics, detect, parse_model
from service.detect.features import features
from service.detect.train import LabelError, examples, int32_indices, train
from service.errors import ConfigError

TOPICS = compile_topics(
    [
        {"id": "funding", "rules": [{"all": ["@orgs", ["raises", "funding"]], "in": ["title"]}], "none": ["grants"]},
        {"id": "mine", "any": ["quantum"]},
        {"id": "release", "rules": [{"any": ["launches"], "in": ["title"], "force": True}]},
    ],
    {"orgs": ["Acme", "Zeta"]},
)
ENTITIES = compile_entities({"Acme": ["에이크미"], "Zeta": []})

FUNDED = [
    "Acme raises $20M Series A",
    "Zeta lands $9M seed to build agents",
    "Start-up Orbit emerges from stealth with $12M",
    "Acme said to discuss an $11B valuation",
    "Zeta closes $40M round led by Sequoia",
    "Nimbus Labs secures $5M in funding",
    "에이크미, 시리즈 B 투자 유치",
    "Helio AI raises $30M for robot brains",
]
OTHER = [
    "Acme launches a new phone",
    "Zeta raises alarms about chip supply",
    "Acme reports record revenue",
    "The best laptops of the year",
    "Zeta's CEO on the future of work",
    "Acme raises prices for its cloud",
    "Quantum computing explained",
    "에이크미 새 스마트폰 공개",
]


def _lines(funded: list[str], other: list[str]) -> list[tuple[str, dict[str, Any]]]:
    rows = [{"title": t, "topics": ["funding"]} for t in funded] + [{"title": t, "topics": []} for t in other]
    return [(f"labels.jsonl:{i + 1}", row) for i, row in enumerate(rows)]


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    data = examples(_lines(FUNDED * 2, OTHER * 2), {}, TOPICS, ENTITIES)
    raw, report = train(data, ["funding", "mine", "release"], c=1.0)
    assert "not trained" in report["mine"]  # no positives: rules alone
    return raw


def test_features_read_words_hangul_pairs_rules_and_events() -> None:
    f = features(Document("에이크미, 시리즈 B 투자를 유치", "Acme raised $20M."), TOPICS, ENTITIES)
    assert f["t:투자를"] == 1 and f["tk:투자"] == 1 and f["tk:자를"] == 1
    assert f["l:$#m"] == 1 and f["$:l"] == 1
    f = features(Document("Acme raises $20M Series A"), TOPICS, ENTITIES)
    assert f["t2:raises $#m"] == 1 and f["r:funding"] == 1
    assert f[f"r:funding:{TOPICS[0].rules[0].key}"] == 1 and f["e:funding"] == 1
    assert "r:mine" not in f and f["o:1"] == 1


def test_rule_keys_follow_what_a_rule_matches_not_its_position() -> None:
    moved = compile_topics([{"id": "x", "any": ["other"]}, *[{"id": "funding", "rules": [r]} for r in ()]], {})
    assert TOPICS[0].rules[0].key != moved[0].rules[0].key
    again = compile_topics(
        [{"id": "funding", "rules": [{"all": ["@orgs", ["raises", "funding"]], "in": ["title"]}]}],
        {"orgs": ["Acme", "Zeta"]},
    )
    assert again[0].rules[0].key == TOPICS[0].rules[0].key


def test_served_probability_is_scikit_learns(model: dict[str, Any]) -> None:
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression

    data = examples(_lines(FUNDED * 2, OTHER * 2), {}, TOPICS, ENTITIES)
    vectorizer = DictVectorizer()
    x = int32_indices(vectorizer.fit_transform([e.features for e in data]))
    y = [e.labels["funding"] for e in data]
    reference = LogisticRegression(C=1.0, solver="liblinear").fit(x, y)
    served = parse_model(model, "test")
    i = served.topics.index("funding")
    for title in ["Orbit raises $7M", "Acme launches a tablet", "에이크미 투자 유치"]:
        f = features(Document(title), TOPICS, ENTITIES)
        margin = reference.decision_function(vectorizer.transform([f]))[0]
        expected = 1 / (1 + math.exp(-(served.scale[i] * margin + served.offset[i])))
        assert served.judge(f)["funding"].probability == pytest.approx(expected, abs=2e-3)


def test_the_model_finds_funding_the_rules_miss_and_says_why(model: dict[str, Any]) -> None:
    served = parse_model(model, "test")
    doc = Document("Start-up Quill emerges from stealth with $15M")
    assert not detect(TOPICS, doc, ENTITIES)  # no listed organization: the rule cannot match
    (match,) = detect(TOPICS, doc, ENTITIES, served)
    assert match.topic == "funding" and match.model is not None
    assert re.fullmatch(r"model [01]\.\d\d \(.*event funding.*\)", match.model)
    assert len(set(match.matched)) == len(match.matched)  # each reason once


def test_the_model_overrules_a_rule_below_its_threshold_but_not_a_forced_rule_or_the_veto(
    model: dict[str, Any],
) -> None:
    served = parse_model(model, "test")
    assert [m.topic for m in detect(TOPICS, Document("Zeta raises alarms about chip supply"), ENTITIES)] == ["funding"]
    assert not detect(TOPICS, Document("Zeta raises alarms about chip supply"), ENTITIES, served)
    # `force: true` on a rule of a topic the model covers: the rule decides
    forced = compile_topics([{"id": "funding", "rules": [{"any": ["alarms"], "force": True}]}], {})
    assert [m.topic for m in detect(forced, Document("Zeta raises alarms about chip supply"), ENTITIES, served)] == [
        "funding"
    ]
    # the veto holds over the model
    assert not detect(TOPICS, Document("Acme raises $20M Series A for grants"), ENTITIES, served)


def test_topics_the_model_does_not_cover_run_on_rules(model: dict[str, Any]) -> None:
    served = parse_model(model, "test")
    assert [m.topic for m in detect(TOPICS, Document("Quantum computing explained"), ENTITIES, served)] == ["mine"]
    assert [m.topic for m in detect(TOPICS, Document("Acme launches a new phone"), ENTITIES, served)] == ["release"]


def test_partial_labels_train_only_their_topic() -> None:
    rows = [(f"f:{i}", {"title": t, "labels": {"funding": True}}) for i, t in enumerate(FUNDED)]
    rows += [(f"f:n{i}", {"title": t, "labels": {"funding": False}}) for i, t in enumerate(OTHER)]
    data = examples(rows, {}, TOPICS, ENTITIES)
    assert all(set(e.labels) == {"funding"} for e in data)
    raw, report = train(data, ["funding", "release"], c=1.0)
    assert raw["topics"] == ["funding"] and "not trained" in report["release"]


def test_held_out_lines_are_skipped_unless_asked() -> None:
    rows = [("a:1", {"title": "x", "topics": [], "split": "held-out"}), ("a:2", {"title": "y", "topics": []})]
    assert len(examples(rows, {}, TOPICS, ENTITIES)) == 1
    assert len(examples(rows, {}, TOPICS, ENTITIES, held_out=True)) == 2


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ({"id": "nope", "topics": []}, "id 'nope' is in no corpus file"),
        ({"title": "x"}, "needs `topics`"),
        ({"title": "x", "labels": {"funding": "yes"}}, "true or false"),
        ({"title": 3, "topics": []}, "must be strings"),
        ([1, 2], "a JSON object"),
    ],
)
def test_bad_label_lines_name_their_place(line: Any, message: str) -> None:
    with pytest.raises(LabelError, match=f"labels.jsonl:7: .*{message}"):
        examples([("labels.jsonl:7", line)], {}, TOPICS, ENTITIES)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"format": "x"}, "not a newsalert topic model"),
        ({"version": 99}, "version 99"),
        ({"bias": [1.0, 2.0]}, "bias: expected 1 numbers"),
        ({"threshold": [float("nan")]}, "finite"),
        ({"features": {"t:x": ["a"]}}, "features\\['t:x'\\]"),
        ({"topics": []}, "topics: a list"),
    ],
)
def test_a_broken_model_file_is_a_config_error(model: dict[str, Any], change: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_model({**model, **change}, "topics.model.json")
