"""`newsalert sources import FILE.opml`: OPML outlines -> a sources file under config/sources.d/.

OPML is parsed with lxml with entity resolution and network access off (an OPML file is as
untrusted as a feed). Imported sources go to their own file so the comments in sources.yaml stay
untouched; URLs already configured are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from lxml import etree
from pydantic import ValidationError

from service.errors import ConfigError
from service.schema import SourceEntry, parse_duration
from service.settings import load_sources, source_files

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True)


@dataclass(frozen=True)
class ImportReport:
    path: Path
    added: int
    skipped: int


def parse_opml(data: bytes) -> list[tuple[str, str]]:
    """(title, xmlUrl) of every outline with an http(s) feed URL, in document order."""
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as e:
        raise ConfigError(f"not an OPML file: {e}") from e
    if root is None:
        raise ConfigError("not an OPML file: empty document")
    out = []
    for node in root.iter("outline"):
        url = (node.get("xmlUrl") or node.get("xmlurl") or "").strip()
        if re.match(r"^https?://", url):
            title = " ".join((node.get("title") or node.get("text") or "").split())
            out.append((title or url, url))
    return out


def _unique(name: str, taken: set[str]) -> str:
    candidate, n = name, 2
    while candidate in taken:
        candidate, n = f"{name} ({n})", n + 1
    taken.add(candidate)
    return candidate


def import_opml(config_dir: Path, opml_path: Path, interval: str | None = None) -> ImportReport:
    """Add the OPML file's feeds that are not configured yet (enabled or not); every entry written
    is checked as `newsalert check` would, so an import never leaves a config the daemon refuses."""
    if interval is not None:
        try:
            parse_duration(interval)
        except ValueError as e:
            raise ConfigError(f"--interval: {e}") from e
    outlines = parse_opml(opml_path.read_bytes())
    load_sources(config_dir)  # the current files must be valid before anything is added to them
    known_urls: set[str] = set()
    names: set[str] = set()
    for path in source_files(config_dir):
        if path.exists():
            for s in (yaml.safe_load(path.read_text("utf-8")) or {}).get("sources", []):
                names.add(str(s.get("name", "")))
                known_urls.add(str(s.get("url", "")))
    target = config_dir / "sources.d" / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', opml_path.stem)}.yaml"
    previous = yaml.safe_load(target.read_text("utf-8")) if target.exists() else None
    entries = list((previous or {}).get("sources", []))
    added = 0
    for title, url in outlines:
        if url in known_urls:
            continue
        known_urls.add(url)
        entry: dict[str, object] = {"name": _unique(title, names), "kind": "feed", "url": url}
        if interval:
            entry["interval"] = interval
        try:
            SourceEntry.model_validate(entry)
        except ValidationError:
            continue  # an outline no config could hold ("https:///feed.xml"): skipped, counted below
        entries.append(entry)
        added += 1
    target.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Imported from {opml_path.name} by `newsalert sources import`; edit freely.\n"
    target.write_text(header + yaml.safe_dump({"sources": entries}, allow_unicode=True, sort_keys=False), "utf-8")
    return ImportReport(target, added, len(outlines) - added)
