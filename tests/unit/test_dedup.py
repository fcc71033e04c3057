import pytest

from service.dedup import canonical_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTP://Example.COM/a/b", "https://example.com/a/b"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:80/a", "https://example.com/a"),
        ("https://example.com:8443/a", "https://example.com:8443/a"),
        ("https://www.example.com/a/", "https://example.com/a"),
        ("https://example.com/a#section-2", "https://example.com/a"),
        ("https://example.com/#/article/1", "https://example.com/#/article/1"),  # an app's route, not a place
        ("https://example.com/#!/article/2", "https://example.com/#!/article/2"),
        ("https://example.com/a?utm_source=rss&utm_medium=feed", "https://example.com/a"),
        ("https://example.com/a?b=2&a=1&fbclid=xyz&gclid=1", "https://example.com/a?a=1&b=2"),
        ("https://example.com/a?id=7&ref=hn", "https://example.com/a?id=7"),
        ("https://example.com/news/story/amp", "https://example.com/news/story"),
        ("https://example.com/amp/news/story", "https://example.com/news/story"),
        ("https://amp.example.com/news/story.amp.html", "https://example.com/news/story.html"),
        ("https://example.com/a?outputType=amp", "https://example.com/a"),
        ("https://example.com", "https://example.com/"),
        ("https://example.com//a//b/", "https://example.com/a/b"),
        ("mailto:someone@example.com", "mailto:someone@example.com"),
        ("https://[::1]:99999/x", "https://[::1]:99999/x"),
    ],
)
def test_canonical_url(url: str, expected: str) -> None:
    assert canonical_url(url) == expected


def test_meaningful_query_is_kept() -> None:
    assert canonical_url("https://news.ycombinator.com/item?id=1") != canonical_url(
        "https://news.ycombinator.com/item?id=2"
    )
