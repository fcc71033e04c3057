"""Benchmark: does the extractive summary pick the sentences a reader needs?

Two annotators, working apart, marked in each of 71 real articles the 3 sentences they would put in
a 3-bullet alert (eval/summary_labels.jsonl: character spans of the article's text, per annotator,
and the split). Tuned on: 39 pages of ../shared/data/pages/readability (news, reviews and blogs in
six languages; the summarizer's rules were written reading these). Held out: 32 news articles of
TIME and Dawn from ../shared/data/news_stream.jsonl (`content_text`, one flat block as a feed gives
it), never read while tuning. The summarizer (`service.summarize.extractive.summarize`, 3 sentences,
the title given) runs on the text alone, so this measures choosing, not extracting. A summary
sentence counts when at least half of it lies in a marked sentence; the figure is the share of the
summary's sentences that count, against each annotator (their mean is the headline figure) and
against either. Prints figures; asserts nothing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from lxml import html

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench._corpus import data_dir
from service.summarize.extractive import summarize

ROOT = Path(__file__).resolve().parents[1]
LABELS = ROOT / "eval" / "summary_labels.jsonl"


def article_text(page: Path) -> tuple[str, str]:
    """(title, text) of a page's expected extraction: its paragraphs, headings and list items, a line each."""
    meta = json.loads((page / "expected-metadata.json").read_text(encoding="utf-8"))
    doc = html.fromstring((page / "expected.html").read_text(encoding="utf-8"))
    lines = [" ".join(el.text_content().split()) for el in doc.iter("p", "h1", "h2", "h3", "li", "blockquote")]
    return str(meta.get("title") or ""), "\n".join(line for line in lines if line)


def page_text(page: str, stream: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """(title, text) of a labelled page: `readability/NAME` or `stream/ID` (an item of news_stream.jsonl)."""
    kind, _, name = page.partition("/")
    if kind == "readability":
        return article_text(data_dir() / "pages" / "readability" / name)
    item = stream[name]
    return str(item.get("title") or ""), str(item.get("content_text") or "")


def _stream(ids: set[str]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    with (data_dir() / "news_stream.jsonl").open(encoding="utf-8") as lines:
        for line in lines:
            item = json.loads(line)
            if str(item["id"]) in ids:
                found[str(item["id"])] = item
    return found


def _span(text: str, sentence: str) -> tuple[int, int] | None:
    at = text.find(sentence)
    return (at, at + len(sentence)) if at >= 0 else None


def _counts(span: tuple[int, int] | None, marked: list[list[int]]) -> bool:
    if span is None:
        return False
    start, end = span
    return any(min(end, e) - max(start, s) >= (end - start) / 2 for s, e in marked)


def evaluate(rows: list[dict[str, Any]], stream: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
    shares: dict[str, list[float]] = {"a": [], "b": [], "either": []}
    for row in rows:
        title, text = page_text(row["page"], stream)
        chosen = summarize(text, title, 3)
        if not chosen:
            continue
        spans = [_span(text, s) for s in chosen]
        for who, marked in (("a", row["a"]), ("b", row["b"]), ("either", row["a"] + row["b"])):
            shares[who].append(sum(_counts(sp, marked) for sp in spans) / len(spans))
    return shares


def main() -> None:
    if not (data_dir() / "pages" / "readability").exists() or not LABELS.exists():
        print("skipped: no readability pages or no labels")
        return
    rows = [json.loads(line) for line in LABELS.read_text(encoding="utf-8").splitlines() if line.strip()]
    stream = _stream({r["page"].partition("/")[2] for r in rows if r["page"].startswith("stream/")})
    print("extractive summary: share of its 3 sentences that a reader needs (eval/summary_labels.jsonl)")
    print(f"  {'split':<10}{'articles':>9}{'annotator A':>13}{'annotator B':>13}{'mean':>7}{'either':>8}")
    for split in ("tuned", "held-out"):
        shares = evaluate([r for r in rows if r["split"] == split], stream)
        a, b, either = (sum(v) / len(v) if v else float("nan") for v in shares.values())
        print(f"  {split:<10}{len(shares['a']):>9}{a:>13.2f}{b:>13.2f}{(a + b) / 2:>7.2f}{either:>8.2f}")
    agree = [len({tuple(x) for x in r["a"]} & {tuple(x) for x in r["b"]}) / 3 for r in rows]
    print(f"  annotators' agreement: {sum(agree) / len(agree):.2f} of the 3 sentences in common, on average")


if __name__ == "__main__":
    main()
