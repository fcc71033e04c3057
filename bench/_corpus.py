"""Where the shared real-world corpus is, and which of its files are feeds."""

from __future__ import annotations

import os
from pathlib import Path

SKIP_SUFFIXES = (".txt", ".serde.json", ".md", ".tsv", ".csv", ".py", ".json.expected")


def data_dir() -> Path:
    env = os.environ.get("NEWSALERT_SHARED_DATA")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "shared" / "data"


def feed_files() -> list[Path]:
    root = data_dir() / "feeds"
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and not p.name.endswith(SKIP_SUFFIXES)
        and not p.name.startswith("LICENSE")
        and "output" not in p.parts
    )
