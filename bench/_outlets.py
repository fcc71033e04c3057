"""The outlet corpus (../shared/data/outlets_2026) and its frozen split into tuned-on and held-out.

The split was fixed before any label was read or any rule tuned on this corpus, and is a rule on
each item's outlet and date rather than a random draw, so whole outlets and whole months are held
out (eval/README.md, "Outlet news"):

- held out: ZDNet and MIT Technology Review (every month), March 2026 (every outlet), and 22-31
  July 2026 (every outlet, so about half of the AI타임스 days);
- tuned on: everything else (TechCrunch, The Verge and VentureBeat in other months, and AI타임스
  13-21 July).

Story windows follow the same dates: two tuned-on windows and two held-out ones.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._corpus import data_dir

HELD_OUT_OUTLETS = frozenset({"ZDNet", "MIT Technology Review"})
HELD_OUT_MONTHS = frozenset({"2026-03"})
HELD_OUT_DAYS = ("2026-07-22", "2026-07-31")  # inclusive

# name -> (first day, last day, split)
STORY_WINDOWS: dict[str, tuple[str, str, str]] = {
    "2026-01 (2 weeks)": ("2026-01-12", "2026-01-25", "tuned"),
    "2026-07 1-21": ("2026-07-01", "2026-07-21", "tuned"),
    "2026-03 (2 weeks)": ("2026-03-09", "2026-03-22", "held-out"),
    "2026-07 22-31": ("2026-07-22", "2026-07-31", "held-out"),
}


def split_of(item: dict[str, Any]) -> str:
    """'held-out' or 'tuned' for an item of the outlet corpus."""
    day = str(item.get("published") or "")[:10]
    if item.get("feed_title") in HELD_OUT_OUTLETS or day[:7] in HELD_OUT_MONTHS:
        return "held-out"
    if HELD_OUT_DAYS[0] <= day <= HELD_OUT_DAYS[1]:
        return "held-out"
    return "tuned"


def window_of(item: dict[str, Any]) -> str | None:
    """The story window an item falls in, if any."""
    day = str(item.get("published") or "")[:10]
    for name, (first, last, _split) in STORY_WINDOWS.items():
        if first <= day <= last:
            return name
    return None


def outlet_items(path: Path | None = None) -> Iterator[dict[str, Any]]:
    """Every item of the outlet corpus, in file order."""
    path = path or data_dir() / "outlets_2026" / "items.jsonl"
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)
