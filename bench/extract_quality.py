"""Benchmark of the extraction stage on mozilla/readability's test pages; prints figures, asserts nothing.

Each page of `pages/readability/*/` in the shared data holds `source.html`, `expected.html` (the article
as readability.js extracts it) and `expected-metadata.json`. We score `service.extract.extract` and, as a
baseline in the same run, readability-lxml: token precision/recall/F1 of the extracted text against the
text of `expected.html` (lowercased words as a bag with counts; CJK characters count one by one), the
share of titles equal to the expected title, and the time spent. A page an extractor fails on scores 0.
`--sweep` compares trafilatura option sets (service.extract.Tuning) to choose `TUNING`.

Run: `python bench/extract_quality.py [--sweep] [--worst N]`. The data is found at $NEWSALERT_SHARED_DATA
or ../shared/data (bench/_corpus.py); without it the script says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import lxml.html
from lxml.html.defs import block_tags
from readability import Document as ReadabilityDocument

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir
from service.errors import ExtractError
from service.extract import TUNING, Tuning, extract, language_code

# The address readability's own test-suite gives every page; relative links resolve against it.
PAGE_URL = "http://fakehost/test/page.html"

# Elements that end a line of text; lxml's list predates HTML5's sectioning elements.
_HTML5_BLOCKS = "article aside br dd dt figcaption figure footer header li main nav section td th tr"
_BLOCKS = block_tags | frozenset(_HTML5_BLOCKS.split())
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_TOKEN = re.compile(rf"[{_CJK}]|[^\W{_CJK}]+")

# (text, title) for a page, or an exception when the extractor gives up on it.
Extractor = Callable[[bytes], tuple[str, str]]


@dataclass(frozen=True)
class Page:
    name: str
    source: bytes
    expected_text: str
    expected_title: str
    expected_published: datetime | None
    expected_language: str | None


@dataclass(frozen=True)
class Score:
    precision: float
    recall: float
    f1: float
    title_match: bool
    title_overlap: bool
    failed: bool
    seconds: float


def corpus_dir() -> Path | None:
    """pages/readability in the shared data, or None when this checkout runs without it."""
    folder = data_dir() / "pages" / "readability"
    return folder if folder.is_dir() else None


def load_pages(corpus: Path) -> list[Page]:
    return [_load_page(folder) for folder in sorted(corpus.iterdir()) if _is_page(folder)]


def _is_page(folder: Path) -> bool:
    return (folder / "source.html").is_file() and (folder / "expected.html").is_file()


def _load_page(folder: Path) -> Page:
    metadata_file = folder / "expected-metadata.json"
    metadata = json.loads(metadata_file.read_text("utf-8")) if metadata_file.is_file() else {}
    return Page(
        name=folder.name,
        source=(folder / "source.html").read_bytes(),
        expected_text=html_text((folder / "expected.html").read_text("utf-8")),
        expected_title=str(metadata.get("title") or ""),
        expected_published=_timestamp(metadata.get("publishedTime")),
        expected_language=language_code(metadata.get("lang")),
    )


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def html_text(html: str) -> str:
    """The visible text of an HTML fragment, with a line break at every block boundary."""
    if not html.strip():
        return ""
    root = lxml.html.fragment_fromstring(html, create_parent="div")
    for element in list(root.iter("script", "style", "noscript")):
        element.drop_tree()
    for element in root.iter():
        if element.tag in _BLOCKS:
            element.tail = "\n" + (element.tail or "")
    return str(root.text_content())


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(unicodedata.normalize("NFKC", text).lower()))


def token_prf(predicted: str, expected: str) -> tuple[float, float, float]:
    """Bag-of-words precision, recall and F1 of `predicted` against `expected`."""
    got, want = tokens(predicted), tokens(expected)
    common = sum((got & want).values())
    if not got or not want:
        return (1.0, 1.0, 1.0) if got == want else (0.0, 0.0, 0.0)
    precision, recall = common / sum(got.values()), common / sum(want.values())
    f1 = 2 * precision * recall / (precision + recall) if common else 0.0
    return precision, recall, f1


def _norm_title(title: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", title).casefold().split())


def same_title(got: str, want: str) -> bool:
    return _norm_title(got) == _norm_title(want)


def overlapping_title(got: str, want: str) -> bool:
    """One title contains the other: the same headline with or without the site's name."""
    mine, theirs = _norm_title(got), _norm_title(want)
    return bool(mine and theirs) and (mine in theirs or theirs in mine)


def trafilatura_extractor(tuning: Tuning = TUNING) -> Extractor:
    def run(source: bytes) -> tuple[str, str]:
        article = extract(source, PAGE_URL, tuning=tuning)
        return article.text, article.title

    return run


def readability_extractor(source: bytes) -> tuple[str, str]:
    document = ReadabilityDocument(source, url=PAGE_URL)
    text = html_text(document.summary(html_partial=True))
    if not text.strip():
        raise ExtractError("readability-lxml found no text")
    return text, document.short_title()


def score_page(extractor: Extractor, page: Page) -> Score:
    started = time.perf_counter()
    try:
        text, title = extractor(page.source)
    except Exception:  # a benchmark counts failures, whatever they are
        return Score(0.0, 0.0, 0.0, False, False, True, time.perf_counter() - started)
    seconds = time.perf_counter() - started
    precision, recall, f1 = token_prf(text, page.expected_text)
    exact, overlap = same_title(title, page.expected_title), overlapping_title(title, page.expected_title)
    return Score(precision, recall, f1, exact, overlap, False, seconds)


def score_all(extractor: Extractor, pages: list[Page]) -> list[Score]:
    score_page(extractor, pages[0])  # warm-up: lazy imports and caches are not the extractor's speed
    return [score_page(extractor, page) for page in pages]


def summary_line(name: str, scores: list[Score]) -> str:
    f1 = [score.f1 for score in scores]
    return (
        f"{name:<22} mean F1 {statistics.fmean(f1):.3f}  median F1 {statistics.median(f1):.3f}  "
        f"P {statistics.fmean(s.precision for s in scores):.3f}  R {statistics.fmean(s.recall for s in scores):.3f}  "
        f"title exact {sum(s.title_match for s in scores) / len(scores):.0%} "
        f"contained {sum(s.title_overlap for s in scores) / len(scores):.0%}  "
        f"failed {sum(s.failed for s in scores)}/{len(scores)}  time {sum(s.seconds for s in scores):.2f}s"
    )


def compare(pages: list[Page], worst: int) -> None:
    ours, baseline = score_all(trafilatura_extractor(), pages), score_all(readability_extractor, pages)
    print(summary_line("trafilatura (extract)", ours))
    print(summary_line("readability-lxml", baseline))
    ratio = sum(s.seconds for s in ours) / sum(s.seconds for s in baseline)
    print(f"time ratio trafilatura/readability-lxml: {ratio:.2f}")
    print(common_line(ours, baseline))
    print(metadata_line(pages))
    for line in _worst_pages(pages, ours, baseline, worst):
        print(line)


def common_line(ours: list[Score], baseline: list[Score]) -> str:
    """Mean F1 on the pages neither extractor gave up on (extract() refuses scraps; readability-lxml never does)."""
    both = [
        (mine.f1, theirs.f1) for mine, theirs in zip(ours, baseline, strict=True) if not (mine.failed or theirs.failed)
    ]
    mine, theirs = statistics.fmean(f for f, _ in both), statistics.fmean(f for _, f in both)
    return f"on the {len(both)} pages both extract: mean F1 trafilatura {mine:.3f}, readability-lxml {theirs:.3f}"


def _worst_pages(pages: list[Page], ours: list[Score], baseline: list[Score], count: int) -> Iterator[str]:
    ranked = sorted(zip(pages, ours, baseline, strict=True), key=lambda row: row[1].f1)[:count]
    for page, mine, theirs in ranked:
        figures = f"F1 {mine.f1:.3f} (P {mine.precision:.2f} R {mine.recall:.2f})"
        yield f"  {page.name:<40} {figures}  readability {theirs.f1:.3f}"


def metadata_line(pages: list[Page]) -> str:
    """How often extract() finds the date and language readability.js expects (it has no baseline)."""
    dated = [page for page in pages if page.expected_published]
    labelled = [page for page in pages if page.expected_language]
    day = instant = language = 0
    for page in pages:
        try:
            article = extract(page.source, PAGE_URL)
        except ExtractError:
            continue
        language += page.expected_language is not None and article.language == page.expected_language
        if page.expected_published and article.published:
            day += article.published.date() == page.expected_published.date()
            instant += abs((article.published - page.expected_published).total_seconds()) < 1
    return (
        f"extract() metadata: published same day {day}/{len(dated)}, same second {instant}/{len(dated)}; "
        f"language {language}/{len(labelled)}"
    )


SWEEP: dict[str, Tuning] = {
    "trafilatura defaults": Tuning(include_comments=True),
    "default": Tuning(),
    "favor_precision": Tuning(favor_precision=True),
    "favor_recall": Tuning(favor_recall=True),
    "recall, with comments": Tuning(favor_recall=True, include_comments=True),
    "recall, fast": Tuning(favor_recall=True, fast=True),
    "no tables": Tuning(include_tables=False),
    "with comments": Tuning(include_comments=True),
    "fast": Tuning(fast=True),
    "recall, no tables": Tuning(favor_recall=True, include_tables=False),
}


def sweep(pages: list[Page]) -> None:
    print(f"chosen in service.extract: {TUNING}")
    for name, tuning in SWEEP.items():
        print(summary_line(name, score_all(trafilatura_extractor(tuning), pages)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sweep", action="store_true", help="compare trafilatura option sets")
    parser.add_argument("--worst", type=int, default=0, metavar="N", help="list the N pages we score worst on")
    arguments = parser.parse_args()
    corpus = corpus_dir()
    if corpus is None:
        print(f"skipped: no readability pages under {data_dir()} (set NEWSALERT_SHARED_DATA to the shared data)")
        return
    pages = load_pages(corpus)
    print(f"{len(pages)} pages from {corpus}")
    if arguments.sweep:
        sweep(pages)
    else:
        compare(pages, arguments.worst)


if __name__ == "__main__":
    main()
