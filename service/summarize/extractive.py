"""An embedded extractive summary: the 2-4 sentences of an article a reader needs, in its own language.

No model and no key. Sentences are split where a sentence ends, not at every period: not after an
abbreviation (`U.S.`, `Mr.`, `Inc.`, `e.g.`, `Jan.`), an initial (`J. K. Rowling`) or inside a number,
and a Korean sentence ends at its final ending (`...했다.`, `...합니다.`) even without a space after it.
Each sentence is scored by how many of the document's frequent content words it carries (Luhn's
frequency summarizer), by the headline's words it repeats, and by its place: news puts the news
first, so the lead weighs most. What readers skip weighs little: quotes, questions, feature
openings in the first person, and boilerplate (bylines, photo credits, "sign up", "read more").
The best are returned in their original order. Pure: text in, sentences out.
"""

from __future__ import annotations

import re
from collections import Counter

# Words that end in a period without ending a sentence (lower-cased, without the period).
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "st",
        "jr",
        "sr",
        "sen",
        "rep",
        "gov",
        "gen",
        "lt",
        "col",
        "sgt",
        "capt",
        "adm",
        "rev",
        "hon",
        "pres",
        "inc",
        "co",
        "corp",
        "ltd",
        "llc",
        "plc",
        "bros",
        "vs",
        "etc",
        "al",
        "approx",
        "est",
        "dept",
        "univ",
        "ave",
        "blvd",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "mon",
        "tue",
        "wed",
        "thu",
        "fri",
        "sat",
        "sun",
        "e.g",
        "i.e",
        "a.m",
        "p.m",
        "u.s",
        "u.k",
        "u.n",
        "e.u",
        "d.c",
        "u.s.a",
        "ph.d",
        "m.d",
        "b.a",
        "m.a",
    ]
)
_BEFORE_NUMBER = frozenset({"no", "nos", "vol", "fig", "art", "p", "pp"})  # "No. 5", "p. 12"
_CANDIDATE_END = re.compile(r"[.!?。！？]+[\"'”’)\]]*(?=\s)|(?<=[가-힣][다요죠까])\.(?=[\"'”’]?[^\s\d.,])|\n+")
_LAST_WORD = re.compile(r"([\w.]+)\.$")
_NEXT_CHAR = re.compile(r"\s*(\S)")
_WORD = re.compile(r"\w+", re.UNICODE)
_MIN_CHARS, _MAX_CHARS = 25, 400
_QUOTE_START = re.compile(r"^[\"“‘'«「『]")
_FIRST_PERSON = re.compile(r"^(?:i|i'm|i've|i'd|my|we|we're|our)\b", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"\b(?:sign up|subscribe|newsletter|read more|click here|all rights reserved|copyright|photo(?:graph)?s? by|"
    r"image credit|getty images|associated press contributed|follow us|share this|advertisement|related:|"
    r"this story (?:was|has been) (?:updated|corrected))\b|©",
    re.IGNORECASE,
)
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "at",
        "by",
        "from",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "he",
        "she",
        "they",
        "we",
        "you",
        "i",
        "his",
        "her",
        "their",
        "our",
        "your",
        "not",
        "no",
        "will",
        "would",
        "can",
        "could",
        "has",
        "have",
        "had",
        "do",
        "does",
        "did",
        "said",
        "says",
        "say",
        "also",
        "more",
        "most",
        "than",
        "then",
        "there",
        "which",
        "who",
        "whom",
        "what",
        "when",
        "where",
        "how",
        "after",
        "before",
        "about",
        "into",
        "over",
        "new",
        "one",
        "two",
        "may",
        "might",
        "just",
        "like",
        "so",
        "if",
    ]
)


def _ends_sentence(text: str, end: int) -> bool:
    """Whether the period before `end` closes a sentence, not an abbreviation or an initial."""
    head = text[max(0, end - 80) : end].rstrip("\"'”’)]")  # the last word is all it reads: linear in the text
    if not head.endswith("."):
        return True
    word = _LAST_WORD.search(head)
    if word is None:
        return True
    last = word.group(1).casefold()
    if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
        return False  # "U.S. officials", "J. K. Rowling"
    after = _NEXT_CHAR.match(text, end)
    nxt = after.group(1) if after else ""
    if last in _BEFORE_NUMBER and nxt.isdigit():
        return False
    return not (nxt and nxt.islower())  # "... approx. three", a sentence starts with a capital


def split(text: str) -> list[str]:
    """The sentences of a text, whitespace-normalized, in order (all of them, however short)."""
    out: list[str] = []
    start = 0
    for m in _CANDIDATE_END.finditer(text):
        if m.group(0).startswith("\n") or _ends_sentence(text, m.end()):
            piece = " ".join(text[start : m.end()].split())
            if piece:
                out.append(piece)
            start = m.end()
    tail = " ".join(text[start:].split())
    return [*out, tail] if tail else out


def sentences(text: str) -> list[str]:
    """The sentences a summary may use: of a readable length, with words in them."""
    return [s for s in split(text) if _MIN_CHARS <= len(s) <= _MAX_CHARS and _WORD.search(s)]


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if w not in _STOP and not w.isdigit() and len(w) > 1]


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def _kind(sentence: str) -> float:
    """How much a reader needs a sentence of this kind: facts 1, quotes, questions, first-person
    openings and boilerplate less."""
    if _BOILERPLATE.search(sentence):
        return 0.1
    factor = 1.0
    quoted = sum(sentence.count(q) for q in '"“”')
    if _QUOTE_START.match(sentence) or (quoted >= 2 and len(sentence) < 160):
        factor *= 0.5
    if sentence.rstrip("\"'”’)").endswith("?"):
        factor *= 0.4
    if _FIRST_PERSON.match(sentence):
        factor *= 0.5
    return factor


def _place(index: int) -> float:
    """The lead carries the news: the first sentence most, the next few more than the rest."""
    return 2.0 if index == 0 else 1.5 if index == 1 else 1.25 if index < 5 else 1.0


def summarize(text: str, title: str = "", max_sentences: int = 3) -> tuple[str, ...]:
    """Up to `max_sentences` sentences of `text`, the ones a reader needs, in document order."""
    headline_key = _key(title)
    candidates = [s for s in sentences(text) if _key(s) != headline_key]  # the alert shows the title already
    if len(candidates) <= max_sentences:
        return tuple(candidates)
    freq = Counter(w for s in candidates for w in set(_words(s)))
    headline = set(_words(title))

    def score(index: int, sentence: str) -> float:
        words = _words(sentence)
        if not words:
            return 0.0
        central = sum(freq[w] for w in words if freq[w] > 1) / len(words) ** 0.5
        echo = len(headline.intersection(words))
        return float((central + 2.0 * echo) * _place(index) * _kind(sentence))

    ranked = sorted(enumerate(candidates), key=lambda p: score(*p), reverse=True)
    chosen = sorted(i for i, _ in ranked[:max_sentences])
    return tuple(candidates[i] for i in chosen)
