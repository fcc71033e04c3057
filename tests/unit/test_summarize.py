from service.summarize import summarize
from service.summarize.extractive import sentences, split

ARTICLE = """Microsoft and OpenAI have signed a new agreement that lets Microsoft pursue AGI on its own.
The weather in Redmond was mild on Tuesday. Under the new agreement, OpenAI keeps its cloud commitments
to Microsoft while gaining the freedom to work with other providers. Analysts said the agreement reshapes
the partnership between Microsoft and OpenAI. A spokesperson declined to comment further on the matter.
The cafeteria menu featured soup. Microsoft will also keep rights to OpenAI models until AGI is declared."""


def test_picks_central_sentences_in_order() -> None:
    out = summarize(ARTICLE, "Microsoft free to build its own AGI after renegotiating its OpenAI deal", 3)
    assert len(out) == 3
    assert out[0].startswith("Microsoft and OpenAI have signed")
    assert not any("cafeteria" in s or "weather" in s for s in out)
    positions = [ARTICLE.replace("\n", " ").index(s[:30]) for s in out]
    assert positions == sorted(positions)


def test_korean_sentences() -> None:
    text = (
        "마이크로소프트가 오픈AI와의 계약을 재조정했다. 이에 따라 마이크로소프트는 자체 AGI 개발이 가능해졌다. "
        "업계는 이번 계약이 AI 경쟁 구도를 바꿀 것으로 본다. 날씨는 맑았다고 한다 그리고 아무 관련이 없다."
    )
    out = summarize(text, "마이크로소프트, 오픈AI 계약 재조정", 2)
    assert len(out) == 2 and all("다." in s for s in out)


def test_short_text_is_returned_whole_and_empty_is_empty() -> None:
    assert summarize("Only one sentence here, and it is long enough.", "t") == (
        "Only one sentence here, and it is long enough.",
    )
    assert summarize("", "t") == ()
    assert sentences("Hi. Ok.") == []


def test_the_headline_is_not_repeated_as_a_summary_sentence() -> None:
    title = "Anthropic raises $13 billion at $183 billion valuation"
    assert summarize(f"{title}. The round was led by existing investors in the company.", title) == (
        "The round was led by existing investors in the company.",
    )


def test_abbreviations_and_initials_do_not_end_a_sentence() -> None:
    text = (
        "U.S. officials met Mr. Altman and J. K. Rowling in Washington on Friday. "
        "The deal, ranked No. 5 this year, closes in May. Is it final? Yes."
    )
    assert split(text) == [
        "U.S. officials met Mr. Altman and J. K. Rowling in Washington on Friday.",
        "The deal, ranked No. 5 this year, closes in May.",
        "Is it final?",
        "Yes.",
    ]


def test_korean_endings_split_without_a_space() -> None:
    assert split("네이버가 새 모델을 공개했다.회사는 다음 달 출시한다고 밝혔다. 3.5배 빠르다.") == [
        "네이버가 새 모델을 공개했다.",
        "회사는 다음 달 출시한다고 밝혔다.",
        "3.5배 빠르다.",
    ]


def test_facts_are_preferred_to_quotes_questions_and_asides() -> None:
    # the same words in each sentence: only the kind of sentence differs
    text = (
        "Acme's chip design cuts the cost of training large models by half. "
        "Will Acme's chip design cut the cost of training large models by half? "
        '"Acme\'s chip design cuts the cost of training large models by half," said its founder. '
        "I think Acme's chip design cuts the cost of training large models by half. "
        "Acme's chip design cuts the cost of training large models by half, its tests show. "
        "Acme's chip design cuts the cost of training large models by half, buyers report."
    )
    out = summarize(text, "Acme unveils a chip design", 3)
    assert not any(s.startswith(('"', "Will", "I think")) for s in out), out
