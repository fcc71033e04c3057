"""Same-story clustering (pure): which recent story, if any, a new item reports on.

Many outlets report one event within hours; newsalert should alert once per story. Canonical URLs
and GUIDs are matched upstream by the store; this module catches the same event told in other
words. The score of an item against a story member is a TF-IDF similarity of headline and lead
(Salton & Buckley's term weighting, the usual near-duplicate baseline for news), mixed with a
weighted overlap coefficient so that a bare Hacker News headline can match a full report; plus the
organizations and deal events `service.detect` reads; minus a little for each day between them.
A headline's context clause ("Iran closes Hormuz amid US nuclear talks", "Amid threat of attack,
talks proceed") weighs like the lead, not like the headline: it often names a neighbouring story. An item joins the
best-scoring story active within the window (72 h from the story's latest item) above a threshold,
else it starts a story. Across scripts (a Korean headline of an English story) few words are
shared, so there the organizations and the event must agree.

Text is folded like the topic rules (`rules.fold`), Latin letters lose their accents and words a
light English suffix (`agreement`, `agreed` -> `agre`; `Iranian` -> `iran`); Han, kana and Hangul
runs become character bigrams, the usual CJK indexing unit, once a Korean particle is cut from a
run's end (`앤트로픽은` -> `앤트로픽`). Every match carries its reasons, and features round-trip
through JSON, so the pipeline can keep the window's stories in memory or in SQLite.
"""

from __future__ import annotations

import functools
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from service.detect.entities import Entities
from service.detect.events import find_events
from service.detect.rules import fold

# Tuned on eval/story_clusters.jsonl with bench/eval_clusters.py (see eval/CLUSTERS.md).
WINDOW_HOURS = 72
THRESHOLD = 0.37
TITLE_WEIGHT = 2.0  # a headline word counts twice a lead or context word
OVERLAP_SHARE = 0.3  # similarity = 0.7 cosine + 0.3 weighted overlap coefficient
DECAY_PER_DAY = 0.1  # reports of one event come in hours; a day apart costs a tenth
ORG_BONUS = 0.05  # per shared organization, at most two
EVENT_BONUS = 0.15  # both items state the same deal event
EVENT_CONFLICT = 0.25  # both state an event of one kind, between different parties or amounts
VERSION_CONFLICT = 0.3  # both headlines name versions and none is shared: Opus 4.5 is not Opus 4.6
CROSS_SCRIPT_BONUS = 0.35  # across scripts, an agreeing event and organization stand in for words
ACTION_CONFLICT = 0.3  # both headlines say what happened, and it differs
CROSS_SHARED = 3  # across scripts, the bridged terms two items must share (one an organization, product or amount)
CROSS_SCALE = 0.6  # a bridged similarity counts this much of a same-script one
LEAD_CHARS = 400
MIN_SHARED_TERMS = 2  # one shared word never makes a story ("Don't trust AI agents", "You don't have to")
# Close calls: scores an optional judge (the LLM, `llm.same_story`) decides instead of THRESHOLD.
# On the labeled set a perfect judge of this band lifts pairwise F1 from 0.86 to 0.95, one wrong
# on 5% of questions to 0.92; a wider band gains more with a perfect judge and loses more with a
# fallible one (a wrong "same" chains two stories together), so the band stays narrow.
CLOSE_CALLS = (0.3, 0.55)

_STOPWORD_TEXT = """a about after against ago all also am amid among an and any are as at be been before being
    between both but by can could did do does doing down during each few for from further had has have having
    he her here hers him his how i if in into is it its itself just me more most my new no nor not now of off on
    once only or other our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up upon very was we were what when where which while
    who whom why will with would you your yours says said say saying according report reports reported update
    updates live watch video photos know need here's what's how's it's year years day days week weeks time today
    first one two don't doesn't didn't can't won't isn't aren't i'm i've you're you've we're we've they're that's
    there's let's hn"""
_STOPWORDS = frozenset(_STOPWORD_TEXT.split())
_ACCENTED = re.compile(r"[\u0080-\u024f]+")  # Latin-1 Supplement to Latin Extended-B
_LATIN = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7a3]+")
_MONEY = re.compile(r"(\d+(?:\.\d+)?)\s*(trillion|billion|million|bn|tn)\b")
_UNITS = {"trillion": "t", "tn": "t", "billion": "b", "bn": "b", "million": "m"}
_ABBREVIATIONS = {"u.s": "us", "u.k": "uk", "u.n": "un", "e.u": "eu"}
_VERSION = re.compile(r"[a-z0-9]*\d\.\d[a-z0-9.]*")  # 4.6, gpt-5.2 -> 5.2, qwen3.5, m2.5
_AMOUNT_TERM = re.compile(r"\d+(?:\.\d+)?[bmt]")  # `$3.5 billion` became `3.5b`: an amount, not a version
# A suffix goes only when four letters remain (`news`, `data` stay whole); long ones first.
_SUFFIXES = ("ations", "ation", "ements", "ement", "ments", "ment", "ians", "ian", "ings", "ing", "ies", "ied")
_SHORT_SUFFIXES = ("ed", "es", "ly", "s")
_PARTICLE_TEXT = "에서는 에게서 으로서 으로써 으로는 이라는 에서 에게 으로 부터 까지 처럼 보다 라는 이라 와의 과의 에는 은 는 이 가 을 를 의 에 와 과 로 도 만"
_PARTICLES = tuple(sorted(_PARTICLE_TEXT.split(), key=len, reverse=True))  # `에서는` before `는`
# "Main clause amid context", "Amid context, main clause". ` as ` also splits "sworn in as prime
# minister"; measured on the labeled set, keeping it is still better than dropping it.
_CONTEXT = re.compile(r"\s(?:amid|as|after|during|ahead of|following|despite|while|before)\s", re.IGNORECASE)
_HN_PREFIX = re.compile(r"^(?:ask|show|tell|launch) hn:\s*", re.IGNORECASE)  # Hacker News boilerplate
_LEADING_CONTEXT = re.compile(r"^(?:amid|after|despite|following|as|during|ahead of)\s+([^,]+),\s*(.+)$", re.I)


def _unaccent(text: str) -> str:
    """Latin letters without their marks (`jerí` -> `jeri`); other scripts untouched (Hangul would decompose)."""
    if text.isascii():
        return text
    return _ACCENTED.sub(lambda m: _strip_marks(m.group(0)), text)


def _strip_marks(run: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", run) if not unicodedata.combining(c))


def _suffix(word: str) -> str:
    """The suffix to cut: a long one if four letters remain, else a short one (not the `s` of `-ss`, `-us`, `-is`)."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4:
            return suffix
    for suffix in _SHORT_SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 4 and not word.endswith(("ss", "us", "is")):
            return suffix
    return ""


@functools.lru_cache(maxsize=1 << 16)
def _stem(word: str) -> str:
    if any(c.isdigit() for c in word):
        return word  # versions and amounts are identities: `4.5` is not `4.6`
    word = word.removesuffix("'s")
    word = _ABBREVIATIONS.get(word, word)
    word = word[: len(word) - len(_suffix(word))]
    if word.endswith(("e", "y")) and len(word) > 4:
        word = word[:-1]
    return word[:7]


def _cjk_terms(run: str) -> list[str]:
    particle = next((p for p in _PARTICLES if run.endswith(p) and len(run) - len(p) >= 2), "")
    run = run[: len(run) - len(particle)]
    if run in _PARTICLES:
        return []
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """Index terms of a text: stemmed Latin words without stopwords, CJK character bigrams."""
    folded = _unaccent(fold(text)).replace("\u2019", "'")
    folded = _MONEY.sub(lambda m: m.group(1) + _UNITS[m.group(2)], folded)
    out: list[str] = []
    for piece in _CJK_RUN.split(folded):
        out.extend(_stem(w) for w in _LATIN.findall(piece) if w not in _STOPWORDS and (len(w) > 1 or w.isdigit()))
    for run in _CJK_RUN.findall(folded):
        out.extend(_cjk_terms(run))
    return out


# Amounts of money, as a report writes them: "$1.5B", "$188 billion", "2조 원", "1,500억 달러", "34만원".
_AMOUNT = re.compile(
    r"(?:(us\$|[$€£])\s?(\d[\d,]*(?:\.\d+)?)\s?(trillion|billion|million|tn|bn|[tbmk])?(?![a-z0-9])"
    r"|(\d[\d,]*(?:\.\d+)?)\s?(조|억|만)\s?(?:(\d[\d,]*)\s?(억|만)\s?)?(원|달러|유로|파운드)?)"
)
_SCALE = {"trillion": 1e12, "tn": 1e12, "t": 1e12, "billion": 1e9, "bn": 1e9, "b": 1e9, "million": 1e6, "m": 1e6}
_SCALE.update({"k": 1e3, "조": 1e12, "억": 1e8, "만": 1e4, "": 1.0})
# Rough rates to the dollar, only so that "$1.5B" and "2조 원" meet: amounts match within about 25%.
_TO_USD = {"$": 1.0, "us$": 1.0, "€": 1.1, "£": 1.3, "원": 1 / 1400, "달러": 1.0, "유로": 1.1, "파운드": 1.3}


def amounts(folded: str) -> list[float]:
    """The amounts of money a folded text states, in dollars (Korean amounts without a unit are won)."""
    out: list[float] = []
    for m in _AMOUNT.finditer(folded):
        if m.group(2):
            value = float(m.group(2).replace(",", "")) * _SCALE[m.group(3) or ""] * _TO_USD[m.group(1)]
        else:
            value = float(m.group(4).replace(",", "")) * _SCALE[m.group(5)]
            if m.group(6):
                value += float(m.group(6).replace(",", "")) * _SCALE[m.group(7)]
            value *= _TO_USD[m.group(8) or "원"]
        if value >= 1e5:  # "$5", "3억" of anything small is not news money
            out.append(value)
    return out


def _amount_terms(value: float) -> list[str]:
    """Two buckets of a tenth of a decade, offset by half a bucket: amounts within ~12% share one."""
    x = math.log10(value) * 10
    return [f"~$a{math.floor(x)}", f"~$b{math.floor(x + 0.5)}"]


def bridge_terms(folded: str, entities: Entities | None) -> list[str]:
    """Language-neutral terms of a folded text: its organizations, products and news words under
    their English names (entities.yaml), and its amounts of money in dollars."""
    out = [f"~{m}" for m in entities.bridge(folded)] if entities is not None else []
    if entities is not None:
        out += [f"~org:{m.name}" for m in entities.find(folded)]
    for value in amounts(folded):
        out += _amount_terms(value)
    return out


def index_terms(title: str, lead: str, entities: Entities | None) -> set[str]:
    """Every term an item contributes to the document frequencies (`DocumentFrequencies`)."""
    text = f"{title}\n{lead[:LEAD_CHARS]}"
    return {*terms(text), *bridge_terms(fold(text), entities)}


# A roundup tells several stories in one item (a newsletter issue, a digest of briefs): it joins none
# and none joins it. Sources that are only roundups set `cluster: false`; these are the headlines
# that say so themselves: "The Download: ...", "[게시판] ... 등 단신", "[7월14일] ...", "This week in AI".
_ROUNDUP = re.compile(
    r"^\s*(?:the download|the batch|the algorithm|the variable|tldr\b[^:]*|import ai|this week in [^:]+|"
    r"week in review|weekly recap|daily digest|morning brief|evening brief)\s*[:|—-]"
    r"|^\s*\[(?:게시판|브리핑|주간|오늘의|\d{1,2}월 ?\d{1,2}일)[^\]]*\]|등 단신\s*$",
    re.IGNORECASE,
)


def is_roundup(title: str) -> bool:
    """The headline of a roundup: a newsletter issue or a digest of several stories."""
    return bool(_ROUNDUP.search(title))


def split_headline(title: str) -> tuple[str, str]:
    """(main clause, context clause): `Iran closes Hormuz amid US talks` -> the closure, the talks."""
    if m := _LEADING_CONTEXT.match(title):
        return m.group(2), m.group(1)
    if m := _CONTEXT.search(title):
        return title[: m.start()], title[m.end() :]
    return title, ""


def script(text: str) -> str:
    """The writing system most of a text's letters belong to: `hangul`, `han`, `kana` or `latin`."""
    counts: Counter[str] = Counter()
    for ch in text:
        if "\uac00" <= ch <= "\ud7a3":
            counts["hangul"] += 1
        elif "\u3040" <= ch <= "\u30ff":
            counts["kana"] += 1
        elif "\u3400" <= ch <= "\u9fff":
            counts["han"] += 1
        elif ch.isalpha():
            counts["latin"] += 1
    if counts["kana"]:
        counts["kana"] += counts.pop("han", 0)  # Japanese mixes kanji and kana
    return counts.most_common(1)[0][0] if counts else "latin"


@dataclass(frozen=True)
class EventKey:
    """A deal event as far as matching needs it: its kind, parties and any amount or round stated."""

    kind: str
    orgs: tuple[str, ...]
    details: tuple[str, ...] = ()

    def label(self) -> str:
        return f"{self.kind}: {', '.join((*self.orgs, *self.details))}"


@dataclass(frozen=True)
class Features:
    """What clustering knows of one item; `key` names it (a store id or URL) in explanations."""

    key: str
    title: str
    published: datetime
    title_terms: Mapping[str, int]  # the headline's main clause
    lead_terms: Mapping[str, int]  # the lead and the headline's context clause
    orgs: tuple[str, ...] = ()
    events: tuple[EventKey, ...] = ()
    script: str = "latin"
    lead: str = ""  # the lead as read (its first LEAD_CHARS), for a judge of close calls
    roundup: bool = False  # several stories in one item: it joins none, none joins it

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "published": self.published.isoformat(),
            "title_terms": dict(self.title_terms),
            "lead_terms": dict(self.lead_terms),
            "orgs": list(self.orgs),
            "events": [{"kind": e.kind, "orgs": list(e.orgs), "details": list(e.details)} for e in self.events],
            "script": self.script,
            "lead": self.lead,
            "roundup": self.roundup,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Features:
        return cls(
            key=data["key"],
            title=data["title"],
            published=datetime.fromisoformat(data["published"]),
            title_terms=dict(data["title_terms"]),
            lead_terms=dict(data["lead_terms"]),
            orgs=tuple(data["orgs"]),
            events=tuple(EventKey(e["kind"], tuple(e["orgs"]), tuple(e["details"])) for e in data["events"]),
            script=data["script"],
            lead=data.get("lead", ""),
            roundup=bool(data.get("roundup", False)),
        )


def features(title: str, lead: str, published: datetime, entities: Entities | None = None, key: str = "") -> Features:
    """Features of an item from its headline and lead (the feed summary, or the text's start)."""
    title, lead = " ".join(title.split()), " ".join(lead.split())[:LEAD_CHARS]
    main, context = split_headline(_HN_PREFIX.sub("", title))
    orgs: tuple[str, ...] = ()
    events: tuple[EventKey, ...] = ()
    if entities is not None:
        folded_title, folded_lead = fold(title), fold(lead)
        orgs = tuple(dict.fromkeys(m.name for m in entities.find(f"{folded_title}\n{folded_lead}")))
        fields = {"title": (folded_title, title), "summary": (folded_lead, lead), "text": ("", "")}
        events = tuple(EventKey(e.kind, e.orgs, e.details) for e in find_events(fields, entities))
    return Features(
        key=key,
        title=title,
        published=published,
        title_terms=Counter([*terms(main), *bridge_terms(fold(main), entities)]),
        lead_terms=Counter([*terms(f"{context}\n{lead}"), *bridge_terms(fold(f"{context}\n{lead}"), entities)]),
        orgs=orgs,
        events=events,
        script=script(title or lead),
        lead=lead,
        roundup=is_roundup(title),
    )


@dataclass
class DocumentFrequencies:
    """In how many items each term occurred; rare terms weigh more (smoothed IDF).

    The pipeline keeps one over the items of recent weeks and saves it beside the stories.
    """

    docs: int = 0
    df: dict[str, int] = field(default_factory=dict)

    def add(self, item: Features) -> None:
        self.docs += 1
        for term in {*item.title_terms, *item.lead_terms}:
            self.df[term] = self.df.get(term, 0) + 1

    def idf(self, term: str) -> float:
        return math.log((self.docs + 1) / (self.df.get(term, 0) + 1)) + 1.0

    def to_dict(self) -> dict[str, Any]:
        return {"docs": self.docs, "df": dict(self.df)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DocumentFrequencies:
        return cls(int(data["docs"]), {str(k): int(v) for k, v in data["df"].items()})

    @classmethod
    def of(cls, items: Iterable[Features]) -> DocumentFrequencies:
        out = cls()
        for item in items:
            out.add(item)
        return out


@dataclass(frozen=True)
class Story:
    """A story's members' features, in arrival order; `id` is whatever the pipeline calls it."""

    id: str
    members: tuple[Features, ...]

    @property
    def last_published(self) -> datetime:
        return max(m.published for m in self.members)

    def add(self, item: Features) -> Story:
        return Story(self.id, (*self.members, item))

    def merge(self, other: Story) -> Story:
        """One story from two that an item matched both of: they told the same event."""
        return Story(self.id, (*self.members, *other.members))

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "members": [m.to_dict() for m in self.members]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Story:
        return cls(data["id"], tuple(Features.from_dict(m) for m in data["members"]))


@dataclass(frozen=True)
class StoryMatch:
    """Why an item joins a story: its closest member and what the score is made of."""

    story: str
    score: float
    similarity: float  # the text part: 0.7 cosine + 0.3 overlap
    member: str  # the closest member's title
    days_apart: float = 0.0
    shared_orgs: tuple[str, ...] = ()
    event: str | None = None  # the event both state, e.g. "partnership: Microsoft, OpenAI"
    cross_script: bool = False
    member_key: str = ""
    judged: str | None = None  # a close call's verdict: "same event: <reason>"

    def why(self) -> str:
        parts = [f"score {self.score:.2f}: text {self.similarity:.2f} with {self.member!r}"]
        if self.days_apart >= 0.1:
            parts.append(f"{self.days_apart:.1f} days apart")
        if self.shared_orgs:
            parts.append("shared " + ", ".join(self.shared_orgs))
        if self.event:
            parts.append(f"same event {self.event}")
        if self.cross_script:
            parts.append("across scripts")
        if self.judged:
            parts.append(self.judged)
        return "; ".join(parts)


def _weights(item: Features, idf: DocumentFrequencies) -> dict[str, float]:
    weights: dict[str, float] = {}
    for bag, factor in ((item.title_terms, TITLE_WEIGHT), (item.lead_terms, 1.0)):
        for term, count in bag.items():
            weights[term] = weights.get(term, 0.0) + factor * count * idf.idf(term)
    return weights


def _similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """0.7 cosine + 0.3 weighted overlap coefficient (shared weight over the lighter item's)."""
    if len(b) < len(a):
        a, b = b, a
    if sum(1 for t in a if t in b) < MIN_SHARED_TERMS:
        return 0.0
    dot = sum(w * b.get(t, 0.0) for t, w in a.items())
    norms = math.sqrt(sum(w * w for w in a.values()) * sum(w * w for w in b.values()))
    lighter = min(sum(a.values()), sum(b.values()))
    if not norms or not lighter:
        return 0.0
    overlap = sum(min(w, b[t]) for t, w in a.items() if t in b) / lighter
    return (1 - OVERLAP_SHARE) * dot / norms + OVERLAP_SHARE * overlap


def _versions(item: Features) -> set[str]:
    return {t for t in item.title_terms if _VERSION.fullmatch(t) and not _AMOUNT_TERM.fullmatch(t)}


def _amount(detail: str) -> float | None:
    """`$13B` or `130억 달러` -> dollars; None for anything else (other currencies, rounds)."""
    if m := re.fullmatch(r"\$(\d+(?:\.\d+)?)([TBMK]?)", detail):
        return float(m.group(1)) * {"T": 1e12, "B": 1e9, "M": 1e6, "K": 1e3, "": 1.0}[m.group(2)]
    if m := re.fullmatch(r"(\d+(?:\.\d+)?)(조|억) 달러", detail):
        return float(m.group(1)) * (1e12 if m.group(2) == "조" else 1e8)
    return None


def _same_event(a: EventKey, b: EventKey) -> bool | None:
    """True when two events of one kind agree, False when they contradict, None if unrelated."""
    if a.kind != b.kind:
        return None
    if set(a.orgs) != set(b.orgs):
        return False if a.kind == "funding" or not set(a.orgs) & set(b.orgs) else None
    amounts_a = {v for d in a.details if (v := _amount(d)) is not None}
    amounts_b = {v for d in b.details if (v := _amount(d)) is not None}
    return not (amounts_a and amounts_b and not amounts_a & amounts_b)


def _events(a: Features, b: Features) -> tuple[EventKey | None, bool]:
    """The event both items state, and whether instead they state contradicting ones."""
    verdicts = [(ea, _same_event(ea, eb)) for ea in a.events for eb in b.events]
    agreed = next((e for e, v in verdicts if v), None)
    return agreed, agreed is None and any(v is False for _, v in verdicts)


def _bridged(weights: Mapping[str, float]) -> dict[str, float]:
    """The terms two scripts can share: language-neutral names and amounts, and versions ("k3", "5.6")."""
    return {t: w for t, w in weights.items() if t.startswith("~") or (t.isascii() and any(c.isdigit() for c in t))}


_ANCHOR = ("~org:", "~product:", "~$")


def _own(weights: Mapping[str, float]) -> dict[str, float]:
    """The terms of the item's own words (not the language-neutral `~` names): within one script."""
    return {t: w for t, w in weights.items() if not t.startswith("~")}


def _cross_similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    """Across scripts: the similarity of the bridged terms, when they share an organization,
    product or amount and at least CROSS_SHARED terms in all (a company and "launch" are not a story)."""
    a, b = _bridged(a), _bridged(b)
    shared = [t for t in a if t in b]
    if len(shared) < CROSS_SHARED or not any(t.startswith(_ANCHOR) for t in shared):
        return 0.0
    return _similarity(a, b)


def _score(item: Features, weights: Mapping[str, float], member: Features, idf: DocumentFrequencies) -> StoryMatch:
    cross = item.script != member.script
    member_weights = _weights(member, idf)
    similarity = (
        _cross_similarity(weights, member_weights) if cross else _similarity(_own(weights), _own(member_weights))
    )
    if cross:
        similarity *= CROSS_SCALE
    days = abs((item.published - member.published).total_seconds()) / 86400
    shared = tuple(o for o in item.orgs if o in member.orgs)
    agreed, conflict = _events(item, member)
    score = similarity - DECAY_PER_DAY * days + ORG_BONUS * min(len(shared), 2)
    score += (EVENT_BONUS if agreed else 0.0) - (EVENT_CONFLICT if conflict else 0.0)
    versions, member_versions = _versions(item), _versions(member)
    if versions and member_versions and not versions & member_versions:
        score -= VERSION_CONFLICT
    if cross and agreed and shared:
        score += CROSS_SCRIPT_BONUS  # another script shares few words; parties and event carry the match
    return StoryMatch(
        story="",
        score=round(score, 4),
        similarity=round(similarity, 4),
        member=member.title,
        days_apart=round(days, 2),
        shared_orgs=shared,
        event=agreed.label() if agreed else None,
        cross_script=cross,
        member_key=member.key,
    )


def _closest(
    item: Features, recent_stories: Sequence[Story], idf: DocumentFrequencies | None, window_hours: float
) -> list[StoryMatch]:
    """Each story within the window, through its closest member (single link), best first."""
    window = timedelta(hours=window_hours)
    if item.roundup:
        return []
    active = [
        s
        for s in recent_stories
        if abs(item.published - s.last_published) <= window and not all(m.roundup for m in s.members)
    ]
    if not active:
        return []
    if idf is None:
        idf = DocumentFrequencies.of([item, *(m for s in active for m in s.members)])
    weights = _weights(item, idf)
    found = [
        replace(
            max((_score(item, weights, m, idf) for m in _comparable(item, story)), key=lambda m: m.score),
            story=story.id,
        )
        for story in active
    ]
    return sorted(found, key=lambda m: m.score, reverse=True)


def _comparable(item: Features, story: Story) -> list[Features]:
    """The members an item is compared with: those in its own script when the story has any (a
    match across scripts is weaker evidence, and chaining through one joins unrelated reports in
    the other language), else all of them."""
    members = [m for m in story.members if not m.roundup]
    own = [m for m in members if m.script == item.script]
    return own or members


def matches(
    item: Features,
    recent_stories: Sequence[Story],
    idf: DocumentFrequencies | None = None,
    window_hours: float = WINDOW_HOURS,
    threshold: float = THRESHOLD,
    verdicts: Mapping[str, tuple[bool, str]] | None = None,
) -> list[StoryMatch]:
    """Every story within the window the item matches above the threshold, best first, with reasons.

    A story is compared through its closest member (single link). More than one match means those
    stories tell one event: the pipeline merges them into the first. Without `idf`, term weights
    come from the stories given and the item itself. `verdicts` (member key -> same event?, why)
    decide the close calls a judge looked at (`close_calls`), whatever their score.
    """
    found: list[StoryMatch] = []
    for best in _closest(item, recent_stories, idf, window_hours):
        verdict = (verdicts or {}).get(best.member_key)
        if verdict is not None:
            same, reason = verdict
            if same:
                found.append(replace(best, judged=f"same event: {reason}" if reason else "same event"))
        elif best.score >= threshold:
            found.append(best)
    return found


def close_calls(
    item: Features,
    recent_stories: Sequence[Story],
    idf: DocumentFrequencies | None = None,
    window_hours: float = WINDOW_HOURS,
    band: tuple[float, float] = CLOSE_CALLS,
) -> list[tuple[StoryMatch, Features]]:
    """The stories whose closest member scores within `band`, with that member: for a judge."""
    members = {m.key: m for s in recent_stories for m in s.members}
    return [
        (m, members[m.member_key])
        for m in _closest(item, recent_stories, idf, window_hours)
        if band[0] <= m.score < band[1] and m.member_key in members
    ]


def best_match(
    item: Features,
    recent_stories: Sequence[Story],
    idf: DocumentFrequencies | None = None,
    window_hours: float = WINDOW_HOURS,
    threshold: float = THRESHOLD,
) -> StoryMatch | None:
    """The story the item matches best, with reasons, or None."""
    found = matches(item, recent_stories, idf, window_hours, threshold)
    return found[0] if found else None


def assign(
    item_features: Features,
    recent_stories: Sequence[Story],
    window_hours: float = WINDOW_HOURS,
    idf: DocumentFrequencies | None = None,
    threshold: float = THRESHOLD,
) -> str | None:
    """The id of the story the item belongs to, or None when it starts a new story."""
    match = best_match(item_features, recent_stories, idf, window_hours, threshold)
    return match.story if match else None


@dataclass(frozen=True)
class Joined:
    """Where `stream` put one item: its story (the key of the story's first item) and why."""

    key: str
    story: str
    matches: tuple[StoryMatch, ...] = ()  # the story it joined first, then any it merged


def stream(
    items: Sequence[Features],
    idf: DocumentFrequencies,
    window_hours: float = WINDOW_HOURS,
    threshold: float = THRESHOLD,
    judge: Callable[[Features, Features], tuple[bool, str] | None] | None = None,
) -> list[Joined]:
    """Cluster items in publication order as the daemon files alerted items: each joins the best
    story active within the window and merges any other it also matched, or starts a story.
    `judge` decides the close calls (an LLM, `llm.same_story`). Returns one Joined per item, in
    the order given; a story is named by its first item's key (after merges, the survivor's)."""
    stories: dict[str, Story] = {}
    story_of: dict[str, str] = {}
    joins: dict[str, tuple[StoryMatch, ...]] = {}
    for f in sorted(items, key=lambda f: (f.published, f.key)):
        stories = {k: s for k, s in stories.items() if f.published - s.last_published <= timedelta(hours=window_hours)}
        verdicts: dict[str, tuple[bool, str]] = {}
        for call, member in close_calls(f, list(stories.values()), idf, window_hours) if judge else ():
            verdict = judge(f, member) if judge else None
            if verdict is not None:
                verdicts[call.member_key] = verdict
        found = matches(f, list(stories.values()), idf, window_hours, threshold, verdicts)
        if not found:
            story = Story(f.key, (f,))
        else:
            joins[f.key] = tuple(found)
            story = stories[found[0].story].add(f)
            for other in found[1:]:
                story = story.merge(stories.pop(other.story))
                story_of.update({k: story.id for k, sid in story_of.items() if sid == other.story})
        stories[story.id] = story
        story_of[f.key] = story.id
    return [Joined(f.key, story_of[f.key], joins.get(f.key, ())) for f in items]
