import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from service.detect.rules import fold
from service.settings import load_entities
from service.stories.cluster import (
    DocumentFrequencies,
    Features,
    Story,
    amounts,
    assign,
    best_match,
    bridge_terms,
    close_calls,
    features,
    matches,
    split_headline,
    stream,
    terms,
)

ENTITIES = load_entities(Path(__file__).resolve().parents[2] / "config" / "entities.yaml")
T0 = datetime(2026, 2, 17, 9, 0, tzinfo=UTC)

# Unrelated headlines, so that term weights look like a real stream's (common words weigh little).
BACKGROUND = [
    "Apple releases a new iPhone with a faster chip",
    "Microsoft reports quarterly earnings above expectations",
    "Google updates search with more AI answers",
    "Congress votes on the budget as a shutdown looms",
    "President signs an executive order on energy",
    "Stocks fall as investors weigh new tariffs",
    "OpenAI launches a shopping feature in ChatGPT",
    "Talks between unions and airlines resume",
    "Police arrest a suspect after a shooting downtown",
    "A new study finds coffee may protect the heart",
    "The company announces layoffs and a new strategy",
    "Government officials say the deal is close",
    "Anthropic publishes research on model interpretability",
    "Election results show a tight race in the capital",
]


def item(title: str, lead: str = "", hours: float = 0.0, key: str = "") -> Features:
    return features(title, lead, T0 + timedelta(hours=hours), ENTITIES, key=key or title)


def weights(*items: Features) -> DocumentFrequencies:
    return DocumentFrequencies.of([*(item(t) for t in BACKGROUND), *items])


# (case, a story's item, a new item, whether the new item joins the story)
CASES = [
    (
        "same event, two outlets, other words",
        item(
            "Peru's Congress votes to impeach President José Jerí",
            "Jerí is the latest Peruvian president to be removed from office by Congress.",
        ),
        item(
            "Peru ousts interim president over corruption probe",
            "Congress voted to impeach interim President Jose Jeri over secret meetings with businessmen.",
            hours=4,
        ),
        True,
    ),
    (
        "same company, other event",
        item(
            "Anthropic raises $30 billion in Series G funding at a $380 billion valuation",
            "The round was led by GIC and Coatue.",
        ),
        item(
            "Anthropic opens Bengaluru office and announces new partnerships across India",
            "Anthropic is opening its first office in India.",
            hours=6,
        ),
        False,
    ),
    (
        "same model family, other version",
        item("Claude Opus 4.5 is here", "Anthropic releases Claude Opus 4.5, its best coding model."),
        item("Claude Opus 4.6 is here", "Anthropic releases Claude Opus 4.6, its best coding model.", hours=20),
        False,
    ),
    (
        "same event, outside the window",
        item("Peru's Congress votes to impeach President José Jerí", "Congress removed Jerí from office."),
        item("Peru's Congress votes to impeach President José Jerí", "Congress removed Jerí from office.", hours=80),
        False,
    ),
    (
        "the story is only the headline's context",
        item("US and Iran hold a second round of nuclear talks in Geneva", "Negotiators met in Geneva on Tuesday."),
        item("Iran closes the Strait of Hormuz amid US nuclear talks", "Shipping was halted for hours.", hours=3),
        False,
    ),
    (
        "Korean headline of an English story: organizations and event agree",
        item(
            "Microsoft and OpenAI sign a new deal that frees Microsoft to pursue AGI",
            "Microsoft and OpenAI have signed a new agreement.",
        ),
        item("마이크로소프트, 오픈AI와 새 계약 체결…독자 AGI 개발 길 열려", hours=5),
        True,
    ),
    (
        "Korean funding headline: same company and amount in won-style units",
        item("Anthropic raises $30 billion at a $380 billion valuation", "The round was led by GIC and Coatue."),
        item("앤트로픽, 300억 달러 투자 유치…기업가치 3800억 달러", hours=8),
        True,
    ),
    (
        "Korean funding headline: same company, other amount",
        item("Anthropic raises $30 billion at a $380 billion valuation", "The round was led by GIC and Coatue."),
        item("앤트로픽, 50억 달러 투자 유치", hours=8),
        False,
    ),
    (
        "Korean headline, same company, other deal",
        item(
            "Microsoft and OpenAI sign a new deal that frees Microsoft to pursue AGI",
            "Microsoft and OpenAI have signed a new agreement.",
        ),
        item("오픈AI, 엔비디아와 100억 달러 규모 칩 공급 계약", hours=5),
        False,
    ),
]


@pytest.mark.parametrize(("case", "story_item", "new_item", "joins"), CASES, ids=[c[0] for c in CASES])
def test_assign(case: str, story_item: Features, new_item: Features, joins: bool) -> None:
    story = Story("s1", (story_item,))
    got = assign(new_item, [story], idf=weights(story_item, new_item))
    assert got == ("s1" if joins else None), best_match(new_item, [story], weights(story_item, new_item), threshold=-9)


def test_the_window_bounds_a_story() -> None:
    story_item = item("Peru's Congress votes to impeach President José Jerí", "Congress removed Jerí from office.")
    later = item("Peru's Congress votes to impeach President José Jerí", "Congress removed Jerí from office.", hours=80)
    stories, idf = [Story("s1", (story_item,))], weights(story_item, later)
    assert assign(later, stories, idf=idf) is None
    assert assign(later, stories, window_hours=96, idf=idf) == "s1"


def test_a_match_says_why() -> None:
    english = item("Microsoft and OpenAI sign a new deal", "Microsoft and OpenAI have signed a new agreement.")
    korean = item("마이크로소프트, 오픈AI와 새 계약 체결", hours=2)
    match = best_match(korean, [Story("s1", (english,))], weights(english, korean))
    assert match is not None
    assert match.shared_orgs == ("Microsoft", "OpenAI")
    assert match.event == "partnership: Microsoft, OpenAI"
    assert match.cross_script
    assert "across scripts" in match.why() and "Microsoft, OpenAI" in match.why()


def test_an_item_matching_two_stories_returns_both_best_first() -> None:
    a = item("Peru's Congress votes to impeach President José Jerí", "Congress removed Jerí over a corruption probe.")
    b = item("Peru ousts interim President Jerí", "Jerí faces a corruption probe over meetings.", hours=1)
    new = item(
        "Peru's Congress ousts interim President José Jerí", "Jerí was removed over a corruption probe.", hours=2
    )
    found = matches(new, [Story("a", (a,)), Story("b", (b,))], weights(a, b, new))
    assert {m.story for m in found} == {"a", "b"}
    assert found[0].score >= found[1].score
    assert Story("a", (a,)).merge(Story("b", (b,))).members == (a, b)


def test_without_document_frequencies_the_window_supplies_them() -> None:
    a = item("Tarique Rahman sworn in as Prime Minister of Bangladesh", "Rahman took the oath in Dhaka.")
    b = item("Tarique Rahman takes oath as Bangladesh's new prime minister", "The oath ceremony was in Dhaka.", 1)
    assert assign(b, [Story("s1", (a,))]) == "s1"


def test_features_round_trip_through_json() -> None:
    f = item(
        "Anthropic raises $30 billion in Series G funding",
        "Anthropic, 앤트로픽은 투자를 유치했다.",
        key="https://example.com/a",
    )
    assert f.events and f.orgs == ("Anthropic",)
    assert Features.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    story = Story("s1", (f, item("Anthropic closes its Series G", hours=1)))
    assert Story.from_dict(json.loads(json.dumps(story.to_dict()))) == story
    df = weights(f)
    again = DocumentFrequencies.from_dict(json.loads(json.dumps(df.to_dict())))
    assert again == df and again.idf("anthrop") == df.idf("anthrop")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("U.S. and Iran's talks", ["us", "iran", "talk"]),
        ("Agreed; the agreement; it agrees", ["agre", "agre", "agre"]),
        ("Iranian officials", ["iran", "officia"]),
        ("Peru impeaches Jerí", ["peru", "impeach", "jeri"]),
        ("Claude Opus 4.6", ["claud", "opus", "4.6"]),
        ("raises $30 billion", ["rais", "30b"]),
        ("앤트로픽은", ["앤트", "트로", "로픽"]),  # the particle 은 goes before the bigrams
        ("오픈AI와 계약", ["ai", "오픈", "계약"]),
        ("谷歌发布", ["谷歌", "歌发", "发布"]),
    ],
)
def test_terms(text: str, expected: list[str]) -> None:
    assert terms(text) == expected


@pytest.mark.parametrize(
    ("title", "main", "context"),
    [
        ("Iran closes Strait of Hormuz amid US nuclear talks", "Iran closes Strait of Hormuz", "US nuclear talks"),
        ("Amid threat of attack, Iran talks proceed", "Iran talks proceed", "threat of attack"),
        ("Peru ousts interim president", "Peru ousts interim president", ""),
    ],
)
def test_split_headline(title: str, main: str, context: str) -> None:
    assert split_headline(title) == (main, context)


# -- close calls and a judge's verdicts (llm.same_story) --------------------------------------------

NVIDIA = (
    "Nvidia to buy assets from Groq for $20B cash",
    "Nvidia just paid $20B for a company that missed its revenue targets",
)


def _pair(first: str, second: str) -> tuple[Features, Story, DocumentFrequencies]:
    a = features(first, "", T0, ENTITIES, key="a")
    b = features(second, "", T0 + timedelta(hours=1), ENTITIES, key="b")
    idf = DocumentFrequencies.of([features(t, "", T0) for t in BACKGROUND] + [a, b])
    return b, Story("s1", (a,)), idf


def test_a_close_call_is_the_stories_closest_member_within_the_band() -> None:
    item, story, idf = _pair(*NVIDIA)
    (score,) = [m.score for m in matches(item, [story], idf, threshold=-1.0)]
    ((call, member),) = close_calls(item, [story], idf, band=(score - 0.01, score + 0.01))
    assert call.story == "s1" and call.member_key == "a" and member.title == NVIDIA[0]
    assert close_calls(item, [story], idf, band=(score + 0.01, score + 0.5)) == []


def test_a_verdict_decides_a_close_call_either_way() -> None:
    item, story, idf = _pair(*NVIDIA)
    assert matches(item, [story], idf) == []  # the score alone keeps them apart
    (joined,) = matches(item, [story], idf, verdicts={"a": (True, "the same $20B deal")})
    assert joined.story == "s1" and "same event: the same $20B deal" in joined.why()
    twin, story, idf = _pair(NVIDIA[0], NVIDIA[0] + " , sources say")
    assert matches(twin, [story], idf) != []
    assert matches(twin, [story], idf, verdicts={"a": (False, "")}) == []


def test_the_lead_round_trips_for_the_judge() -> None:
    f = features("Title", "A lead " * 100, T0, key="k")
    assert len(f.lead) <= 400 and Features.from_dict(json.loads(json.dumps(f.to_dict()))) == f
    legacy = {k: v for k, v in f.to_dict().items() if k != "lead"}  # stored before the judge
    assert Features.from_dict(legacy).lead == ""


# Across languages, made-up reports of made-up events: the bridged names, products, news words and
# amounts carry the match (entities.yaml), never Hangul words against English ones.
CROSS = [
    (
        "a Korean report of a settlement, the amount in won",
        item("Anthropic's $1.5 billion copyright settlement is approved by the court", "A judge approved the deal."),
        item("앤트로픽 '2조 원 저작권 합의' 법원 최종 승인", hours=20),
        True,
    ),
    (
        "a Korean report of a product launch",
        item("Google renames NotebookLM to Gemini Notebook", "Google is rebranding its research assistant."),
        item("구글, '노트북LM' 이름 변경…'제미나이 노트북'으로 리브랜딩", hours=18),
        True,
    ),
    (
        "same company and product, another event",
        item("Google renames NotebookLM to Gemini Notebook", "Google is rebranding its research assistant."),
        item("구글, 제미나이 광고 요금제 출시", hours=18),
        False,
    ),
    (
        "one organization and a generic word are not a story",
        item("OpenAI launches a new model for doctors", "The model answers medical questions."),
        item("오픈AI, 일본에 새 사무소 개설", hours=10),
        False,
    ),
]


@pytest.mark.parametrize(("case", "story_item", "new_item", "joins"), CROSS, ids=[c[0] for c in CROSS])
def test_across_languages(case: str, story_item: Features, new_item: Features, joins: bool) -> None:
    story = Story("s1", (story_item,))
    idf = weights(story_item, new_item)
    assert assign(new_item, [story], idf=idf) == ("s1" if joins else None), best_match(
        new_item, [story], idf, threshold=-9
    )


@pytest.mark.parametrize(
    ("text", "dollars"),
    [
        ("$1.5B", [1.5e9]),
        ("us$ 20 million", [2e7]),
        ("2조 원", [2e12 / 1400]),
        ("1,500억 달러", [1.5e11]),
        ("2조5000억원", [2.5e12 / 1400]),
        ("€300m", [3.3e8]),
        ("$5 and 30만 원", []),  # small sums are not news money
    ],
)
def test_amounts_in_dollars(text: str, dollars: list[float]) -> None:
    assert amounts(fold(text)) == pytest.approx(dollars)


def test_amounts_within_a_few_percent_share_a_term_and_others_do_not() -> None:
    def terms_of(text: str) -> set[str]:
        return {t for t in bridge_terms(fold(text), ENTITIES) if t.startswith("~$")}

    assert terms_of("$1.5 billion") & terms_of("2조 원")  # 1.43B
    assert terms_of("$188B") & terms_of("280조 원")  # 200B
    assert not terms_of("$1.5 billion") & terms_of("$15 billion")
    assert not terms_of("$1.5 billion") & terms_of("$2 billion")


@pytest.mark.parametrize(
    "title",
    [
        "The Download: a robot that folds laundry, and chip tariffs",
        "[게시판] 알파, AI 교육 협약 등 단신",
        "[7월14일] 오늘의 AI 뉴스",
    ],
)
def test_a_roundup_joins_no_story_and_none_joins_it(title: str) -> None:
    lead = item("A robot that folds laundry goes on sale", "The robot folds laundry in minutes.")
    roundup = item(title, "A robot that folds laundry goes on sale. Chip tariffs rise.", hours=2)
    assert roundup.roundup
    assert assign(roundup, [Story("s1", (lead,))], idf=weights(lead, roundup)) is None
    later = item("Laundry-folding robot goes on sale", "The robot folds laundry.", hours=3)
    assert assign(later, [Story("r", (roundup,))], idf=weights(roundup, later)) is None


def test_no_chaining_through_the_other_language() -> None:
    """A story told in English and Korean: a new English report is compared with its English
    members only, so the Korean member's names cannot pull in English news of another event."""
    english = item("Google is rebranding its research assistant", "The company says the assistant gets a new look.")
    korean = item("구글, '노트북LM' 이름 변경…'제미나이 노트북'으로 리브랜딩", hours=18)
    other = item("Gemini Notebook: NotebookLM's new name comes with a price for ads", "Google will charge.", hours=20)
    idf = weights(english, korean, other)
    match = best_match(other, [Story("s1", (english, korean))], idf, threshold=-9)
    assert match is not None and match.member == english.title


def test_stream_files_items_in_time_order_and_names_stories_by_their_first_item() -> None:
    a = item("Peru's Congress votes to impeach President José Jerí", "Congress removed Jerí.", key="a")
    b = item("Peru ousts interim president Jeri over corruption probe", "Congress voted to impeach Jeri.", 4, key="b")
    c = item("A new study finds coffee may protect the heart", "Coffee and hearts.", 2, key="c")
    placed = stream([b, c, a], weights(a, b, c))
    assert [(j.key, j.story) for j in placed] == [("b", "a"), ("c", "c"), ("a", "a")]
    assert placed[0].matches and "Peru" in placed[0].matches[0].member
