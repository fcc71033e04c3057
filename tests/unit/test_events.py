from pathlib import Path

import pytest

from service.detect import Document, compile_topics, detect
from service.detect.entities import compile_entities
from service.detect.events import find_events
from service.detect.rules import fold
from service.errors import ConfigError
from service.settings import load_entities

ENTITIES = load_entities(Path(__file__).resolve().parents[2] / "config" / "entities.yaml")


def events(title: str, summary: str = "") -> list[str]:
    fields = {"title": (fold(title), title), "summary": (fold(summary), summary), "text": ("", "")}
    return [f"{e.kind}: {e.label()}" for e in find_events(fields, ENTITIES)]


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        (
            "Microsoft free to build own AGI after ending restrictive OpenAI deal",
            ["partnership: Microsoft + OpenAI (ended)"],
        ),
        ("Microsoft and OpenAI renegotiate their partnership", ["partnership: Microsoft + OpenAI (renegotiated)"]),
        (
            "Anthropic raises $13 billion at $183 billion valuation in a Series F",
            ["funding: Anthropic, $13B, Series F"],
        ),
        (
            "Nvidia to invest up to $100 billion in OpenAI as part of data center deal",
            ["partnership: NVIDIA + OpenAI", "funding: OpenAI, $100B"],
        ),
        # an organization the list lacks, read from its place in the sentence (service.detect.orgs)
        (
            "Salesforce to acquire Informatica and Slack deal closes",
            [
                "acquisition: Salesforce buys Informatica",
                "partnership: Salesforce + Informatica",
            ],
        ),
        ("Google to buy Wiz-like startup; Alphabet confirms", []),  # two aliases of one organization
        ("마이크로소프트, 오픈AI와의 제약 해제 후 자체 AGI 개발", ["partnership: Microsoft + OpenAI (ended)"]),
        ("앤트로픽, 시리즈 F로 130억 달러 투자 유치", ["funding: Anthropic, 130억 달러, Series F"]),
        ("Meta's new metadata standard for photos", []),
        # aliases that are common words are left out: "figure" is not Figure AI, 암 (cancer) is not Arm
        ("Figure 2 shows what Meta bought in the quarter", []),
        ("삼성, 암 진단 AI 협력 확대", []),
        (
            "SoftBank buys Ampere. Arm and SoftBank extend their chip pact.",
            ["acquisition: SoftBank buys Ampere", "partnership: Arm + SoftBank (extended)"],
        ),
        ("Start-up Quill emerges from stealth with $15M", ["funding: Quill, $15M"]),
        ("(주)알파테크, 시리즈 B 150억 원 투자 유치", ["funding: 알파테크, 150억 원, Series B"]),
        (
            "SoftBank agrees to buy Arm in a $32 billion deal",
            ["acquisition: SoftBank buys Arm", "partnership: SoftBank + Arm"],
        ),
    ],
)
def test_events(title: str, expected: list[str]) -> None:
    assert events(title) == expected


def test_event_lets_a_topic_match_and_explains_it() -> None:
    topics_yaml = {"id": "partnership", "rules": [{"any": ["/never-matches-xyz/"]}], "event": "partnership"}
    assert detect(compile_topics([topics_yaml], {}), Document("Microsoft and OpenAI sign a cloud deal"), ENTITIES) == ()
    topics_yaml["event_alone"] = True
    (m,) = detect(compile_topics([topics_yaml], {}), Document("Microsoft and OpenAI sign a cloud deal"), ENTITIES)
    assert m.event == "partnership: Microsoft + OpenAI" and m.score == 2.0
    assert m.evidence == "Microsoft and OpenAI sign a cloud deal"


def test_event_adds_to_a_rule_match_and_vetoes_hold() -> None:
    raw = {"id": "p", "any": ["deal"], "event": "partnership", "none": ["lawsuit"]}
    t = compile_topics([raw], {})
    (m,) = detect(t, Document("Microsoft and OpenAI sign a deal"), ENTITIES)
    assert m.score == 2.5  # 1.5 for the headline rule, +1 for the event
    assert detect(t, Document("Microsoft and OpenAI deal ends in a lawsuit"), ENTITIES) == ()


def test_alias_conflicts_and_bad_event_kinds_are_config_errors() -> None:
    with pytest.raises(ConfigError, match=r"organizations\.B: alias 'open' also names A"):
        compile_entities({"A": ["Open"], "B": ["open"]})
    with pytest.raises(ConfigError, match=r"topics\[0\]\.event: 'merger' is not one of"):
        compile_topics([{"id": "x", "any": ["a"], "event": "merger"}], {})
