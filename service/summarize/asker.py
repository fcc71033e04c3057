"""One yes/no question to the LLM at a time, cached and within the daily token budget.

What the grey-zone classifier (`classify.py`) and the close-call judge of stories
(`same_story.py`) share: an answer is looked up in the store by its content key first; otherwise
the budget is checked, the LLM asked, its answer validated by the caller's `parse` (a ValueError
means invalid output) and cached with the tokens it cost. LLM trouble is raised as `LLMError`;
each caller decides what it means (both read it as "no").
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar

from service.summarize.brief import describe_error
from service.summarize.llm import (
    BriefCache,
    LLMBadOutput,
    LLMClient,
    LLMConfig,
    MemoryCache,
    TokenBudget,
    _utcnow,
    estimate_tokens,
)

T = TypeVar("T")


class CachedAsker:
    """Subclasses name themselves (`name`, in the log) and say what a spent budget means."""

    name = "llm"
    over_budget = "answers are no"

    def __init__(
        self,
        config: LLMConfig,
        cache: BriefCache | None = None,
        *,
        client: LLMClient | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.config = config
        self.cache: BriefCache = cache if cache is not None else MemoryCache()
        self.client = client or LLMClient(config)
        self.budget = TokenBudget(config.daily_token_budget, self.cache, clock, f"{self.name}: {self.over_budget}")

    def close(self) -> None:
        self.client.close()

    def ask(
        self, key: str, system: str, user: str, parse: Callable[[str], T], dump: Callable[[T], str]
    ) -> tuple[T, str]:
        """The answer (cached, else asked) and how it was had: "cache=hit" or "cache=miss tokens=N"."""
        cached = self.cache.get(key)
        if cached is not None:
            with contextlib.suppress(ValueError):  # written by an older schema: ask again
                return parse(cached), "cache=hit"
        with self.budget.held(estimate_tokens(self.config, system, user)):
            raw, tokens = self.client.complete(system, user)
            self.budget.spend(tokens)
        try:
            answer = parse(raw)
        except ValueError as e:
            raise LLMBadOutput(f"invalid answer: {describe_error(e)}") from e
        self.cache.put(key, dump(answer), self.budget.clock())
        return answer, f"cache=miss tokens={tokens}"
