from datetime import UTC, datetime

from service.deliver.blocks import console_text, cut, escape, fallback_text, render
from service.deliver.slack import plain_text
from service.models import Alert, DigestLine, Match


def alert(title: str = "Microsoft free to build its own AGI", summary: tuple[str, ...] = ("One.",)) -> Alert:
    return Alert(
        key="k",
        channel="#ai-agi",
        source="Example <News>",
        title=title,
        url="https://example.com/a?x=1|2",
        published=datetime(2025, 10, 28, 14, 2, tzinfo=UTC),
        matches=(Match("agi", 1.5, ("AGI",)),),
        summary=summary,
    )


def all_text(blocks: list[dict[str, object]]) -> str:
    return str(blocks)


def test_mentions_and_links_in_untrusted_text_are_inert() -> None:
    hostile = "<!channel> <!here> <@U123> <http://evil.example|click> & more"
    blocks = render(alert(title=hostile, summary=(hostile,)))
    text = all_text(blocks) + fallback_text(alert(title=hostile))
    for raw in ("<!channel>", "<!here>", "<@U123>", "<http://evil"):
        assert raw not in text
    assert "&lt;!channel&gt;" in text and "&amp; more" in text


def test_headline_is_a_link_and_context_has_source_and_time() -> None:
    blocks = render(alert())
    assert blocks[0]["text"]["text"] == "*<https://example.com/a?x=1%7C2|Microsoft free to build its own AGI>*"
    assert blocks[1]["elements"][0]["text"] == "Example &lt;News&gt; · 2025-10-28 14:02 UTC"
    assert blocks[2]["text"]["text"] == "Topics: *agi* (AGI)"
    assert blocks[3]["text"]["text"] == "• One."


def test_long_text_is_cut_cleanly_within_limits() -> None:
    long_title = "word " * 400
    blocks = render(alert(title=long_title, summary=("sentence " * 1000,) * 4))
    for block in blocks:
        text = block.get("text", {}).get("text", "") if isinstance(block.get("text"), dict) else ""
        assert len(text) <= 3000
    assert cut("alpha beta gamma", 12) == "alpha beta…"
    assert len(cut("x" * 50, 10)) == 10


def test_escape_and_console() -> None:
    assert escape("a & <b>") == "a &amp; &lt;b&gt;"
    out = console_text(alert())
    assert "#ai-agi" in out and "agi (AGI; score 1.5)" in out and "• One." in out


def test_a_digest_with_a_monstrous_link_stays_within_block_kit_and_keeps_its_stories() -> None:
    long_url = "https://example.com/" + "a" * 4000
    lines = (
        DigestLine("agi", "A story with a very long link", long_url, ("Lab",), 2.0),
        DigestLine("agi", "A normal story", "https://example.com/n", ("Desk", "Wire"), 1.0),
    )
    digest = Alert(
        key="d", channel="#c", source="newsalert", title="Digest", url="", published=None, matches=(),
        kind="digest", lines=lines, period="until 2026-12-05 09:00 KST",
    )  # fmt: skip
    sections = [b["text"]["text"] for b in render(digest) if b["type"] == "section"]
    assert all(len(text) <= 3000 for text in sections)
    body = "\n".join(sections)
    assert "A story with a very long link" in body and long_url not in body
    assert "<https://example.com/n|A normal story> · Desk (+1 more)" in body
    repaired = plain_text(digest)  # what a refusal of the blocks still posts
    assert "A story with a very long link · Lab" in repaired and "A normal story · Desk" in repaired
