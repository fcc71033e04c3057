"""Organizations named in a text (pure): an editable list of canonical names and their aliases.

Aliases in any language map to one name (`오픈AI`, `OpenAI` -> OpenAI; `구글`, `Alphabet` ->
Google). Matching follows the topic rules: NFKC and case folding, whole Latin words only ("Meta"
is not "metadata"), other scripts may touch (a Korean particle: `오픈AI와`). All aliases are one
trie-factored pattern, so finding every organization in a text is a single scan.

Products (`클로드` -> Claude) and news words (`소송` -> lawsuit) of entities.yaml are a second
such pattern, `bridge`: the names a report shares with one in another language (story clustering).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from service.detect.rules import fold, literal_pattern
from service.errors import ConfigError


@dataclass(frozen=True)
class Mention:
    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Entities:
    pattern: re.Pattern[str] | None
    names: Mapping[str, str]  # folded alias -> canonical name
    bridge_pattern: re.Pattern[str] | None = None
    bridge_names: Mapping[str, str] | None = None  # folded alias -> "product:Claude" / "word:lawsuit"

    def find(self, folded_text: str) -> list[Mention]:
        """Every organization mention in a folded text, in order."""
        if self.pattern is None:
            return []
        return [
            Mention(self.names[" ".join(m.group(0).split())], m.start(), m.end())
            for m in self.pattern.finditer(folded_text)
        ]

    def aliases(self) -> list[str]:
        return sorted(self.names)

    def bridge(self, folded_text: str) -> list[str]:
        """The products and news words a folded text names, as language-neutral names, in order."""
        if self.bridge_pattern is None or self.bridge_names is None:
            return []
        return [self.bridge_names[" ".join(m.group(0).split())] for m in self.bridge_pattern.finditer(folded_text)]


def _edge(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def _names(section: str, table: Mapping[str, Sequence[str]], prefix: str = "") -> dict[str, str]:
    names: dict[str, str] = {}
    for name, aliases in table.items():
        for alias in [name, *aliases]:
            key = " ".join(fold(alias).split())
            if not key:
                raise ConfigError(f"{section}.{name}: empty alias")
            if names.get(key, prefix + name) != prefix + name:
                raise ConfigError(f"{section}.{name}: alias {alias!r} also names {names[key]}")
            names[key] = prefix + name
    return names


def _trie(names: Mapping[str, str]) -> re.Pattern[str] | None:
    # One trie (see rules.literal_pattern); a Latin-edged alias must not touch Latin letters or digits.
    return re.compile(literal_pattern([(key, "b" if _edge(key[-1]) else "") for key in names])) if names else None


def compile_entities(
    organizations: Mapping[str, Sequence[str]],
    products: Mapping[str, Sequence[str]] | None = None,
    words: Mapping[str, Sequence[str]] | None = None,
) -> Entities:
    names = _names("organizations", organizations)
    bridge = _names("products", products or {}, "product:")
    for key, name in _names("words", words or {}, "word:").items():
        bridge.setdefault(key, name)  # a product's name wins over a word of the same spelling
    return Entities(_trie(names), names, _trie(bridge), bridge)
