"""An embedded extractive summary: the 2-4 most central sentences of an article, in its own language.

No model and no key: sentences are scored by how many of the document's frequent content words
they carry (a classic frequency summarizer, Luhn 1958), with a bonus for the lead and for words of
the headline, then the best are returned in their original order. Pure: text in, sentences out.
"""

from __future__ import annotations

import re
from collections import Counter

# Split after . ! ? 。 ！ ？ (and Korean sentences end in "다." which the period covers) followed by space.
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+|\n+")
_WORD = re.compile(r"\w+", re.UNICODE)
_MIN_CHARS, _MAX_CHARS = 25, 400
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


def sentences(text: str) -> list[str]:
    parts = (" ".join(p.split()) for p in _SENTENCE_END.split(text))
    return [p for p in parts if _MIN_CHARS <= len(p) <= _MAX_CHARS and _WORD.search(p)]


def _words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.casefold()) if w not in _STOP and not w.isdigit() and len(w) > 1]


def _key(text: str) -> str:
    return " ".join(_WORD.findall(text.casefold()))


def summarize(text: str, title: str = "", max_sentences: int = 3) -> tuple[str, ...]:
    """Up to `max_sentences` sentences of `text`, chosen for centrality, in document order."""
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
        lead = 1.5 if index == 0 else 1.2 if index < 3 else 1.0
        return float(central * lead + 2.0 * len(headline.intersection(words)))

    ranked = sorted(enumerate(candidates), key=lambda p: score(*p), reverse=True)
    chosen = sorted(i for i, _ in ranked[:max_sentences])
    return tuple(candidates[i] for i in chosen)
