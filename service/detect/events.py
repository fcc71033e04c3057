"""Deal events in a sentence (pure): who partnered, who raised how much, who bought whom.

An event is recognized inside one sentence (or the headline): a partnership is two different
organizations plus deal language; an acquisition is two organizations plus acquisition language
(the first named is taken as the buyer); a funding event is an organization plus a round, amount
or valuation with fundraising language. The label is what an alert shows:
`partnership: Microsoft + OpenAI (renegotiated)`, `funding: Anthropic, $13B, Series F`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from service.detect.entities import Entities, Mention
from service.detect.orgs import unlisted_orgs

KINDS = ("partnership", "funding", "acquisition")
_SENTENCE = re.compile(r"(?<=[.!?。])\s+|\n+")
_DEAL = re.compile(
    r"partner\w*|alliance|\bdeals?\b|\bpacts?\b|agreement|contracts?\b|licens\w*|joint venture|teams? up|teamed up|"
    r"collaborat\w*|tie-up|\binvest\w*|\bstake\b|renegotiat\w*|제휴|파트너십|협력|계약|협약|투자|맞손|손잡|동맹|합작|"
    r"제약 해제|독점|협상"
)
_ACQUIRE = re.compile(r"acquir\w*|acquisition|\bbuys\b|\bbought\b|to buy\b|merger|merges? with|takeover|인수|합병")
_RAISE = re.compile(
    r"\brais\w*|funding|valuation|valued at|\bipo\b|tender offer|stealth|\b(?:lands|landed|secures|secured|nabs|snags|bags)\b|"
    r"투자 ?유치|펀딩|기업 ?가치|밸류에이션"
)
_INVEST = re.compile(r"\binvest\w*|investment")
MONEY = re.compile(
    r"(?:us\$|[$€£₩])\s?(\d[\d,]*(?:\.\d+)?)\s?(trillion|billion|million|tn|bn|b|m|k)?\b"
    r"|(\d[\d,]*(?:\.\d+)?)\s?(조|억)\s?(원|달러)?"
)
_ROUND = re.compile(r"series ([a-h])\b|시리즈 ?([a-h])(?![a-z])|(pre-seed|seed) round|(ipo)\b|(tender offer)")
_QUALIFIERS = (
    ("renegotiated", re.compile(r"renegotiat\w*|restructur\w*|재협상|재조정")),
    ("ended", re.compile(r"\bend(?:s|ed|ing)?\b|terminat\w*|scrap\w*|exit\w*|해지|종료|해제")),
    ("extended", re.compile(r"\bextend\w*|renew\w*|연장")),
    ("expanded", re.compile(r"\bexpand\w*|deepen\w*|확대")),
)
# Any word without which no event can be read (_ACQUIRE, _DEAL, _RAISE, _INVEST): one scan of a field
# decides whether its sentences need their organizations found, the costly part.
_TRIGGER = re.compile("|".join(f"(?:{rx.pattern})" for rx in (_ACQUIRE, _DEAL, _RAISE, _INVEST)))
_UNITS = {"trillion": "T", "tn": "T", "billion": "B", "bn": "B", "b": "B", "million": "M", "m": "M", "k": "K"}


@dataclass(frozen=True)
class Event:
    kind: str
    orgs: tuple[str, ...]
    details: tuple[str, ...]
    sentence: str

    def label(self) -> str:
        if self.kind == "funding":
            return ", ".join((*self.orgs, *self.details))
        joiner = " + " if self.kind == "partnership" else " buys "
        qualifier = f" ({', '.join(self.details)})" if self.details else ""
        return joiner.join(self.orgs) + qualifier


def _sentences(folded: str, original: str) -> Iterator[tuple[str, str]]:
    """(folded, original) sentence pairs; the original only when the offsets line up."""
    same = len(folded) == len(original)
    start = 0
    for m in [*_SENTENCE.finditer(folded), None]:
        end = m.start() if m else len(folded)
        if end > start:
            yield folded[start:end], (original[start:end] if same else folded[start:end])
        start = m.end() if m else end


def _distinct(mentions: list[Mention]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(m.name for m in sorted(mentions, key=lambda m: m.start)))


def _organizations(folded: str, original: str, entities: Entities) -> tuple[str, ...]:
    """The organizations a sentence names, listed (entities.yaml) or read from its wording
    (`service.detect.orgs`), in the order they appear."""
    mentions = entities.find(folded)
    for name in unlisted_orgs(original, entities):
        at = original.find(name)
        mentions.append(Mention(name, at, at + len(name)))
    return _distinct(mentions)


def _amount(sentence: str) -> str | None:
    m = MONEY.search(sentence)
    if m is None:
        return None
    if m.group(1):
        number, unit = m.group(1).replace(",", ""), _UNITS.get((m.group(2) or "").lower(), "")
        symbol = next((c for c in "$€£₩" if c in m.group(0)), "$")
        return f"{symbol}{number}{unit}"
    return f"{m.group(3)}{m.group(4)} {m.group(5) or '원'}"


def _round(sentence: str) -> str | None:
    m = _ROUND.search(sentence)
    if m is None:
        return None
    letter = m.group(1) or m.group(2)
    if letter:
        return f"Series {letter.upper()}"
    return "IPO" if m.group(4) else "tender offer" if m.group(5) else f"{m.group(3)} round"


def _in_sentence(folded: str, original: str, entities: Entities) -> Iterator[Event]:
    orgs = _organizations(folded, original, entities)
    if not orgs:
        return
    if len(orgs) >= 2 and _ACQUIRE.search(folded):
        yield Event("acquisition", orgs[:2], (), original)
    if len(orgs) >= 2 and _DEAL.search(folded):
        qualifiers = tuple(name for name, rx in _QUALIFIERS if rx.search(folded))
        yield Event("partnership", orgs[:2], qualifiers[:1], original)
    amount, round_ = _amount(folded), _round(folded)
    if (amount or round_) and _RAISE.search(folded):
        yield Event("funding", orgs[:1], tuple(d for d in (amount, round_) if d), original)
    elif amount and len(orgs) >= 2 and _INVEST.search(folded):
        # "Nvidia to invest $100B in OpenAI": money flows to the second organization named.
        yield Event("funding", orgs[1:2], (amount,), original)


def find_events(fields: dict[str, tuple[str, str]], entities: Entities, text_chars: int = 3000) -> list[Event]:
    """Events in the headline, the summary and the start of the text, first one of each kind."""
    found: dict[str, Event] = {}
    for name in ("title", "summary", "text"):
        folded, original = fields[name]
        if name == "text":
            folded, original = folded[:text_chars], original[:text_chars]
        if not _TRIGGER.search(folded):
            continue  # every event needs one of these words in its sentence: skip the field's sentences
        for f, o in _sentences(folded, original):
            for event in _in_sentence(f, o, entities):
                found.setdefault(event.kind, event)
        if len(found) == len(KINDS):
            break
    return list(found.values())
