"""When to poll a source next (pure): adaptive to its publishing rate, polite to its hints.

- A pinned `interval` is used as is; otherwise the interval follows the source's observed rate,
  like Miniflux's entry-frequency scheduler: a week divided by the items published in the last
  week, within the source's bounds (default 2 min to 6 h). No dated items at all: the default.
- The server's own hints are honoured: RSS `<ttl>`, `Cache-Control: max-age`, `Expires` (we never
  poll sooner than they allow, within the upper bound).
- A possible gap (every item in the response was new) polls again at the lower bound.
- Failures back off exponentially from the normal interval, capped (6 h by default), never
  suspending a source for good; a `Retry-After` on 429/503 is honoured when it asks for longer,
  up to the same cap.
"""

from __future__ import annotations

from dataclasses import dataclass

WEEK = 7 * 24 * 3600.0


@dataclass(frozen=True)
class Policy:
    default: float = 600.0
    minimum: float = 120.0
    maximum: float = 6 * 3600.0
    fixed: float | None = None
    max_backoff: float = 6 * 3600.0


@dataclass(frozen=True)
class Observation:
    """What one poll showed. `published_this_week`: how many of the source's items were published
    in the last week; None when none of its items carries a date."""

    ok: bool
    consecutive_errors: int = 0
    retry_after: float | None = None
    server_hint: float | None = None
    published_this_week: int | None = None
    gap: bool = False


def _clamp(value: float, policy: Policy) -> float:
    return min(policy.maximum, max(policy.minimum, value))


def rate_interval(published_this_week: int | None, policy: Policy) -> float:
    """A week over the number of items published in the last week, within bounds: the upper bound
    for a dated source quiet all week, the default for one that never dates its items."""
    if published_this_week is None:
        return policy.default
    return policy.maximum if published_this_week == 0 else _clamp(WEEK / published_this_week, policy)


def next_interval(policy: Policy, obs: Observation) -> float:
    """Seconds until the next poll."""
    normal = policy.fixed if policy.fixed is not None else rate_interval(obs.published_this_week, policy)
    if not obs.ok:
        backoff = min(policy.max_backoff, max(normal, policy.minimum) * 2.0 ** max(0, obs.consecutive_errors - 1))
        # A server may ask for longer (Retry-After), up to the cap: a source is never suspended for good.
        return max(backoff, min(obs.retry_after or 0.0, policy.max_backoff))
    if policy.fixed is not None:
        return policy.fixed
    if obs.gap:
        return policy.minimum
    if obs.server_hint:
        return min(policy.maximum, max(normal, obs.server_hint))
    return normal
