"""Links in untrusted text: what Slack would link, judged on the public suffix list."""

import pytest

from service.deliver.text import escape, label
from service.links import defang, has_links, strip_links


@pytest.mark.parametrize(
    ("text", "stripped", "defanged"),
    [
        ("post http://evil.example now", "post now", "post hxxp://evil[.]example now"),
        ("<http://evil.example|click here>", "click here", "click here"),  # a masked link never becomes a link
        ("see evil.zip, evil.page or bit.ly/x.", "see , or .", "see evil[.]zip, evil[.]page or bit[.]ly/x."),
        ("www.example.com/a?b=1", "", "www[.]example[.]com/a?b=1"),
        ("write to a@evil.com", "write to", "write to a@evil[.]com"),
        ("오픈AI.com 에서", "에서", "오픈AI[.]com 에서"),
        ("https://xn--80ak6aa92e.com/ and пример.рф", "and", "hxxps://xn--80ak6aa92e[.]com/ and пример[.]рф"),
        # not links: unknown suffixes, versions, abbreviations
        ("Node.js, U.S. rules, GPT-5.5 at 3.5x and evil.example", None, None),
    ],
)
def test_urls_are_stripped_from_model_output_and_defanged_elsewhere(
    text: str, stripped: str | None, defanged: str | None
) -> None:
    assert strip_links(text) == (text if stripped is None else stripped)
    assert defang(text) == (text if defanged is None else defanged)
    assert has_links(text) == (stripped is not None)


def test_untrusted_text_is_escaped_and_defanged_in_text_and_in_link_labels() -> None:
    title = "<!channel> Read <http://evil.example|this> at evil.zip"
    assert escape(title) == "&lt;!channel&gt; Read this at evil[.]zip"
    assert label(title) == "&lt;!channel&gt; Read this at evil[.]zip"  # a label has no `|` either
