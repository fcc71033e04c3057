"""Compile topic rules into matchers and score documents against them. Pure: no I/O.

The rule language (config/topics.yaml) is meant to be read by a non-programmer:

- a term is a word or phrase (`OpenAI`, `licensing deal`), matched case- and width-insensitively
  after NFKC folding; Latin letters and digits at its edges must not touch other Latin letters or
  digits (so `Meta` is not found in `metadata`), while any other script may touch it, which lets a
  Korean particle follow (`오픈AI와` contains `오픈AI`);
- `word*` matches any continuation (`acquisition*` finds `acquisitions`);
- `/regex/` is a Python regular expression over the folded text, run with a time bound (the
  `regex` module's timeout): one that backtracks catastrophically on a probe is refused when the
  config loads, and any search that overruns its bound counts as no hit and is logged once;
- `@name` pulls in a named list of terms from `lists:`.

A topic matches when one of its rules matches and none of its `none` terms is present. A rule is
`any: [terms]` (one hit is enough) or `all: [group, group, ...]` (every group needs a hit, a group
being a term, `@list` or a list of terms), optionally limited to fields with `in: [title, ...]`.
"""

from __future__ import annotations

import bisect
import functools
import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import regex

from service.errors import ConfigError
from service.models import Match

FIELDS = ("title", "summary", "text")
TITLE_BONUS = 1.5  # a rule whose every group hits the headline is stronger evidence than body text
EXTRA_RULE = 0.25  # each further matching rule adds a little
_ENDINGS = {"*": r"\w*", "b": r"(?![a-z0-9])", "": ""}
REGEX_TIMEOUT = 0.05  # seconds a group with a user `/regex/` may search one field
PROBE_TIMEOUT = 0.2  # seconds a probe may take before a `/regex/` is refused at load
log = logging.getLogger(__name__)


class BoundedPattern:
    """A group holding user `/regex/` terms: its literal terms stay one `re` trie, its regexes run
    in the `regex` module with every search bounded in time. An overrun is no hit (a rule cannot
    freeze the daemon), logged once per pattern. Matches as the alternation `literals|regexes` would."""

    def __init__(self, literals: str | None, regexes: str) -> None:
        self.pattern = "|".join(p for p in (literals, regexes) if p)
        self._literals = re.compile(literals) if literals else None
        self._regexes = regex.compile(regexes, regex.V0)
        self._reported = False

    def _overrun(self) -> None:
        if not self._reported:
            self._reported = True
            log.warning(
                "a topic regex took over %.2fs on one text and was skipped: %.120s", REGEX_TIMEOUT, self.pattern
            )

    def search(self, text: str) -> Hit | None:
        literal = self._literals.search(text) if self._literals else None
        if literal is not None and literal.start() == 0:
            return literal  # nothing starts earlier, and at one position the literals come first
        try:
            found = self._regexes.search(text, timeout=REGEX_TIMEOUT)  # the whole text: `$`, lookaheads
        except TimeoutError:
            self._overrun()
            found = None
        return found if found is not None and (literal is None or found.start() < literal.start()) else literal

    def finditer(self, text: str) -> list[Hit]:
        hits: list[Hit] = list(self._literals.finditer(text)) if self._literals else []
        try:
            hits += self._regexes.finditer(text, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            self._overrun()
        return sorted(hits, key=lambda h: h.start())


Pattern: TypeAlias = re.Pattern[str] | BoundedPattern
Hit: TypeAlias = "re.Match[str] | regex.Match[str]"


def fold(text: str) -> str:
    """NFKC (width, compatibility forms) then casefold: the form both rules and text are matched in."""
    return unicodedata.normalize("NFKC", text).casefold()


@dataclass(frozen=True)
class Document:
    title: str
    summary: str = ""
    text: str = ""

    def folded(self) -> dict[str, str]:
        return {"title": fold(self.title), "summary": fold(self.summary), "text": fold(self.text)}

    def originals(self) -> dict[str, str]:
        """NFKC without case folding: where evidence is quoted from when offsets line up."""
        return {name: unicodedata.normalize("NFKC", getattr(self, name)) for name in FIELDS}


@dataclass(frozen=True)
class Rule:
    groups: tuple[Pattern, ...]
    fields: tuple[str, ...]
    weight: float
    within: int | None = None  # every group's hit within this many words of the first group's, in one field
    force: bool = False  # its match alerts whatever the learned layer says (see match.py)
    key: str = ""  # a short stable name: the hash of what it matches and where (the learned layer's feature)


EVENT_KINDS = ("partnership", "funding", "acquisition")


@dataclass(frozen=True)
class CompiledTopic:
    id: str
    description: str
    rules: tuple[Rule, ...]
    exclude: Pattern | None
    min_score: float
    event: str | None = None  # an event kind that explains this topic's matches (see match.py)
    event_alone: bool = False  # the event matches the topic even when no rule does
    priority: float = 1.0  # weighs a story's importance (digest rank, route thresholds)
    exclude_fields: tuple[str, ...] = FIELDS  # where the `none:` veto looks (`none_in:`)


def _edge(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _regex_term(term: str, where: str) -> str | None:
    """The body of a `/regex/` term (checked), or None for a literal term."""
    if not (len(term) > 2 and term.startswith("/") and term.endswith("/")):
        return None
    try:
        compiled = regex.compile(term[1:-1], regex.V0)
    except regex.error as e:
        raise ConfigError(f"{where}: bad regular expression at position {e.pos}: {e.msg}") from e  # type: ignore[attr-defined]
    for probe in _probes(term[1:-1]):
        try:
            compiled.search(probe, timeout=PROBE_TIMEOUT)
        except TimeoutError:
            raise ConfigError(
                f"{where}: regular expression {term} backtracks catastrophically "
                f"(over {PROBE_TIMEOUT}s on a {len(probe)}-character text); nest no repeats such as (a+)+"
            ) from None
    return f"(?:{term[1:-1]})"


def _probes(body: str) -> list[str]:
    """Texts that make a catastrophically backtracking pattern blow up: a run of each character the
    pattern names (and of a letter, a digit and a space) that ends in something that fails to match."""
    chars = {c for c in body if c.isalnum() or c in " -_."} | {"a", "1", " "}
    return [c * 40 + tail for c in sorted(chars) for tail in ("\x00", "!")]


def _literal(term: str, where: str) -> tuple[str, str]:
    """A literal term -> (folded text, its ending).

    The ending is `*` for a wildcard, `b` when a trailing boundary is needed, `` otherwise.
    """
    text = fold(term.strip())
    wildcard = text.endswith("*")
    text = " ".join(text.rstrip("*").split())
    if not text:
        raise ConfigError(f"{where}: empty term")
    ending = "*" if wildcard else "b" if _edge(text[-1]) else ""
    return text, ending


def _expand(value: Any, lists: Mapping[str, Sequence[str]], where: str) -> list[tuple[str, str]]:
    """A group (a term, `@list` or list of them) -> (term, where) pairs."""
    values = value if isinstance(value, list) else [value]
    out: list[tuple[str, str]] = []
    for i, term in enumerate(values):
        here = f"{where}[{i}]" if isinstance(value, list) else where
        if not isinstance(term, str):
            raise ConfigError(f"{here}: a term must be a string, got {type(term).__name__}")
        if term.startswith("@"):
            if term[1:] not in lists:
                raise ConfigError(f"{here}: unknown list {term} (known: {', '.join(sorted(lists))})")
            for j, t in enumerate(lists[term[1:]]):
                if str(t).startswith("@"):
                    # It would be a literal "@name" that never matches: say so rather than ignore it.
                    raise ConfigError(f"lists.{term[1:]}[{j}]: a list cannot name another list ({t})")
                out.append((t, f"lists.{term[1:]}[{j}]"))
        else:
            out.append((term, here))
    return out


def _group(value: Any, lists: Mapping[str, Sequence[str]], where: str) -> Pattern:
    terms = _expand(value, lists, where)
    if not terms:
        raise ConfigError(f"{where}: empty group")
    regexes: list[str] = []
    literals: list[tuple[str, str]] = []
    for term, here in terms:
        body = _regex_term(term, here)
        if body is not None:
            regexes.append(body)
        else:
            literals.append(_literal(term, here))
    if regexes:
        return _bounded(literal_pattern(literals) if literals else None, "|".join(regexes))
    return _compiled(literal_pattern(literals))


def literal_pattern(terms: Sequence[tuple[str, str]]) -> str:
    """One regex for a group's literal terms (folded text, ending): a trie whose first level is
    plain characters, so `re` skips, in C, every position whose character starts no term before
    trying the pattern there (its "charset prefix"). On the shared corpus this made the shipped
    groups' searches 1.4x faster than one trie per kind of term joined by `|`, with the same hits.

    A term starting with a Latin letter or digit must not follow one: checked right after that
    first character (`(?<![a-z0-9][\\s\\S])`), which keeps the first level plain. At a node where
    terms end, longer terms are tried first, then the endings (`\\w*`, a boundary, or nothing).
    """
    root: dict[str, Any] = {}
    for text, ending in terms:
        node = root
        for ch in text:
            node = node.setdefault(ch, {})
        node.setdefault("", set()).add(ending)

    def emit(node: dict[str, Any], first: bool) -> str:
        branches = []
        for ch, sub in sorted((k, v) for k, v in node.items() if k):
            piece = r"\s+" if ch == " " else re.escape(ch)
            if first and _edge(ch):
                piece += r"(?<![a-z0-9][\s\S])"
            branches.append(piece + emit(sub, False))
        branches += [_ENDINGS[e] for e in sorted(node.get("", ()), key=("*", "b", "").index)]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(root, True)


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    """One pattern object per distinct group, so a document searches a shared list only once."""
    return re.compile(pattern)


@functools.lru_cache(maxsize=4096)
def _bounded(literals: str | None, regexes: str) -> BoundedPattern:
    """The same for groups with user `/regex/` terms."""
    return BoundedPattern(literals, regexes)


def _rule(raw: Mapping[str, Any], lists: Mapping[str, Sequence[str]], where: str) -> Rule:
    unknown = set(raw) - {"any", "all", "in", "weight", "within", "force"}
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
    if ("any" in raw) == ("all" in raw):
        raise ConfigError(f"{where}: a rule needs exactly one of `any` or `all`")
    groups: tuple[Pattern, ...]
    if "any" in raw:
        groups = (_group(raw["any"], lists, f"{where}.any"),)
    else:
        if not isinstance(raw["all"], list) or not raw["all"]:
            raise ConfigError(f"{where}.all: must be a non-empty list of groups")
        groups = tuple(_group(g, lists, f"{where}.all[{i}]") for i, g in enumerate(raw["all"]))
    fields = raw.get("in", list(FIELDS))
    fields = [fields] if isinstance(fields, str) else fields
    bad = [f for f in fields if f not in FIELDS]
    if bad:
        raise ConfigError(f"{where}.in: unknown field {bad[0]!r} (use {', '.join(FIELDS)})")
    within = raw.get("within")
    if within is not None and (not isinstance(within, int) or isinstance(within, bool) or within < 1):
        raise ConfigError(f"{where}.within: a number of words (1 or more), got {within!r}")
    force = raw.get("force", False)
    if not isinstance(force, bool):
        raise ConfigError(f"{where}.force: true or false, got {force!r}")
    text = "\x1f".join([*(g.pattern for g in groups), *fields, str(within)])
    key = hashlib.blake2s(text.encode(), digest_size=4).hexdigest()
    return Rule(groups, tuple(fields), _number(raw, "weight", 1.0, where), within, force, key)


def compile_topic(raw: Mapping[str, Any], lists: Mapping[str, Sequence[str]], where: str) -> CompiledTopic:
    rules: list[Rule] = []
    if "any" in raw:
        rules.append(_rule({"any": raw["any"]}, lists, where))
    if "id" not in raw:
        raise ConfigError(f"{where}: a topic needs an `id`")
    if not isinstance(raw.get("rules") or [], list):
        raise ConfigError(f"{where}.rules: a list of rules")
    for i, r in enumerate(raw.get("rules") or []):
        if not isinstance(r, dict):
            raise ConfigError(f"{where}.rules[{i}]: a rule is a mapping with `any` or `all`")
        rules.append(_rule(r, lists, f"{where}.rules[{i}]"))
    if not rules:
        raise ConfigError(f"{where}: a topic needs `any` terms or `rules`")
    exclude = _group(raw["none"], lists, f"{where}.none") if raw.get("none") else None
    none_in = raw.get("none_in", list(FIELDS))
    none_in = [none_in] if isinstance(none_in, str) else none_in
    if not isinstance(none_in, list) or not none_in or any(f not in FIELDS for f in none_in):
        raise ConfigError(f"{where}.none_in: a list of fields ({', '.join(FIELDS)}), got {none_in!r}")
    event = raw.get("event")
    if event is not None and event not in EVENT_KINDS:
        raise ConfigError(f"{where}.event: {event!r} is not one of {', '.join(EVENT_KINDS)}")
    return CompiledTopic(
        id=str(raw["id"]),
        description=str(raw.get("description", "")),
        rules=tuple(rules),
        exclude=exclude,
        exclude_fields=tuple(none_in),
        min_score=_number(raw, "min_score", 1.0, where),
        event=event,
        event_alone=bool(raw.get("event_alone", False)),
        priority=_number(raw, "priority", 1.0, where),
    )


def _number(raw: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ConfigError(f"{where}.{key}: a number, got {value!r}")
    return float(value)


def compile_topics(
    topics: Sequence[Mapping[str, Any]], lists: Mapping[str, Sequence[str]]
) -> tuple[CompiledTopic, ...]:
    return tuple(compile_topic(t, lists, f"topics[{i}]") for i, t in enumerate(topics))


def _quote(hit: Hit, folded: str, original: str) -> str:
    """The matched words as written (casefolding rarely changes lengths; when it did, the folded form)."""
    return original[hit.start() : hit.end()] if len(original) == len(folded) else hit.group(0)


class Scan:
    """One document being matched: each (group, field) is searched once, however many rules or
    topics share the group (the shipped lists appear in several topics)."""

    def __init__(self, document: Document) -> None:
        self.document = document
        self.folded = document.folded()
        self._hits: dict[tuple[int, str], Hit | None] = {}
        self._rules: dict[int, tuple[list[str], bool] | None] = {}
        self._originals: dict[str, str] | None = None

    def search(self, group: Pattern, field: str) -> Hit | None:
        key = (id(group), field)
        if key not in self._hits:
            self._hits[key] = group.search(self.folded[field])
        return self._hits[key]

    def rule(self, rule: Rule) -> tuple[list[str], bool] | None:
        """`rule_hits` of a compiled topic's rule, once per document (detection and the learned
        layer both read it). Keyed by identity: only for rules that outlive the scan."""
        key = id(rule)
        if key not in self._rules:
            self._rules[key] = rule_hits(rule, self)
        return self._rules[key]

    def originals(self) -> dict[str, str]:
        if self._originals is None:
            self._originals = self.document.originals()
        return self._originals

    def quote(self, hit: Hit, field: str) -> str:
        return _quote(hit, self.folded[field], self.originals()[field])

    def vetoed(self, topic: CompiledTopic) -> bool:
        return topic.exclude is not None and any(self.search(topic.exclude, name) for name in topic.exclude_fields)


def _near_hits(rule: Rule, scan: Scan, within: int) -> tuple[list[str], bool] | None:
    """Like `rule_hits`, but every group must hit within `within` words of the first, in one field."""
    for name in rule.fields:
        text = scan.folded[name]
        starts = [m.start() for m in re.finditer(r"\S+", text)]
        spans: list[list[Hit]] = [list(g.finditer(text)) for g in rule.groups]
        for anchor in spans[0]:
            at = bisect.bisect_right(starts, anchor.start())
            near = [
                next((h for h in hits if abs(bisect.bisect_right(starts, h.start()) - at) <= within), None)
                for hits in spans[1:]
            ]
            if all(h is not None for h in near):
                return [scan.quote(h, name) for h in (anchor, *near) if h is not None], name == "title"
    return None


def rule_hits(rule: Rule, scan: Scan) -> tuple[list[str], bool] | None:
    """The matched words of a rule, and whether every group hit the title; None if it does not match."""
    if rule.within is not None:
        # Cheap test first: without a hit of every group anywhere, proximity cannot hold.
        if any(all(scan.search(g, name) is None for name in rule.fields) for g in rule.groups):
            return None
        return _near_hits(rule, scan, rule.within)
    words: list[str] = []
    all_in_title = True
    for group in rule.groups:
        found = next(((name, hit) for name in rule.fields if (hit := scan.search(group, name))), None)
        if found is None:
            return None
        name, hit = found
        all_in_title &= name == "title"
        words.append(scan.quote(hit, name))
    return words, all_in_title


def raw_score(topic: CompiledTopic, scan: Scan) -> tuple[float, tuple[str, ...]] | None:
    """The rules' score and matched words, before the veto and `min_score`; None if no rule matches."""
    scores: list[float] = []
    words: list[str] = []
    for rule in topic.rules:
        hits = scan.rule(rule)
        if hits is None:
            continue
        scores.append(rule.weight * (TITLE_BONUS if hits[1] else 1.0))
        words.extend(w for w in hits[0] if w not in words)
    if not scores:
        return None
    return max(scores) + EXTRA_RULE * (len(scores) - 1), tuple(words)


def forced(topic: CompiledTopic, scan: Scan) -> bool:
    """A rule marked `force: true` matched (the veto aside)."""
    return any(rule.force and scan.rule(rule) is not None for rule in topic.rules)


def score(topic: CompiledTopic, scan: Scan) -> Match | None:
    scored = raw_score(topic, scan)
    # The veto is looked for only once a rule matched: most items match nothing, and it scans every field.
    if scored is None or scan.vetoed(topic):
        return None
    value, words = scored
    return Match(topic.id, round(value, 2), words) if value >= topic.min_score else None


def scanned(document: Document | Scan) -> Scan:
    """A document being matched; a Scan passed on keeps what earlier stages searched."""
    return document if isinstance(document, Scan) else Scan(document)


def may_match(topics: Iterable[CompiledTopic], document: Document | Scan) -> bool:
    """True when some group of some rule already hits: worth fetching the full article to decide.

    Given a Scan, its searches are kept: when no article is fetched, `detect` on the same Scan
    repeats none of them (for most items, which match nothing, that halves detection)."""
    scan = scanned(document)
    return any(scan.search(group, name) for t in topics for r in t.rules for group in r.groups for name in r.fields)
