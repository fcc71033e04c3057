"""Organizations named in a text (pure): an editable list of canonical names and their aliases.

Aliases in any language map to one name (`오픈AI`, `OpenAI` -> OpenAI; `구글`, `Alphabet` ->
Google). Matching follows the topic rules: NFKC and case folding, whole Latin words only ("Meta"
is not "metadata"), other scripts may touch (a Korean particle: `오픈AI와`). All aliases are one
trie-factored pattern, so finding every organization in a text is a single scan.
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


def _edge(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def compile_entities(organizations: Mapping[str, Sequence[str]]) -> Entities:
    names: dict[str, str] = {}
    for name, aliases in organizations.items():
        for alias in [name, *aliases]:
            key = " ".join(fold(alias).split())
            if not key:
                raise ConfigError(f"organizations.{name}: empty alias")
            if names.get(key, name) != name:
                raise ConfigError(f"organizations.{name}: alias {alias!r} also names {names[key]}")
            names[key] = name
    if not names:
        return Entities(None, {})
    # One trie (see rules.literal_pattern); a Latin-edged alias must not touch Latin letters or digits.
    pattern = literal_pattern([(key, "b" if _edge(key[-1]) else "") for key in names])
    return Entities(re.compile(pattern), names)
