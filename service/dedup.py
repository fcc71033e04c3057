"""Canonical URLs for de-duplication across sources (pure).

Two links name the same article when they differ only in what a browser or a publisher's tracking
adds: scheme or host case, a default port, `www.`, a fragment (not an app's `#/` route), tracking
parameters, query order, a trailing slash, or an AMP variant. The canonical form is a comparison
key, never a link we post.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "ref",
        "ref_src",
        "ref_url",
        "cmpid",
        "ncid",
        "ocid",
        "sr_share",
        "smid",
        "amp",
        "outputtype",
        "guccounter",
        "guce_referrer",
        "guce_referrer_sig",
        "s_cid",
        "spm",
        "share",
        "via",
        "__twitter_impression",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_", "at_", "hsa_")
_DEFAULT_PORTS = {"http": 80, "https": 443}
_AMP_PATH = re.compile(r"(/amp)+/?$|/amp(?=/)|\.amp(?=\.html?$|$)")


def _keep(name: str) -> bool:
    low = name.lower()
    return low not in TRACKING_PARAMS and not low.startswith(_TRACKING_PREFIXES)


def canonical_url(url: str) -> str:
    """The comparison key of a link; returns the input unchanged if it is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return url.strip()
    host = parts.hostname.lower().rstrip(".").removeprefix("www.").removeprefix("amp.")
    if port and port != _DEFAULT_PORTS[scheme]:
        host = f"{host}:{port}"
    path = _AMP_PATH.sub("", parts.path) or "/"
    path = re.sub(r"/{2,}", "/", path)
    if len(path) > 1:
        path = path.rstrip("/")
    query = urlencode(sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if _keep(k)))
    # A fragment is a place in the page, except in a single-page app's routes (`#/article/1`, `#!/...`).
    fragment = parts.fragment if parts.fragment.startswith(("/", "!")) else ""
    # http and https serve the same article; one key for both.
    return urlunsplit(("https", host, path, query, fragment))
