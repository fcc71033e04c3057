"""The address guard: untrusted URLs (sources, article links, redirect hops) never reach private addresses.

Everything stays on loopback: a refused request is refused before any socket is opened (the test
site records no request), and names are resolved by a patched `getaddrinfo` where a real lookup
would leave the machine.
"""

from __future__ import annotations

import io
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from service import app
from service import settings as config
from service.deliver.console import ConsoleDeliverer
from service.errors import ConfigError, FetchError
from service.fetch import BlockedAddressError, Fetcher
from service.fetch.addresses import AddressPolicy, refusal
from service.settings import FetchSettings
from tests.support.feeds import article, rss
from tests.support.servers import Page, Site

LOOPBACK = ("127.0.0.0/8",)


def fetcher(allow: tuple[str, ...] = (), **kw: Any) -> Fetcher:
    return Fetcher(FetchSettings(allow_private_hosts=allow, connect_timeout=1, per_host_spacing=0, **kw))


@pytest.fixture
def names(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, list[str]]]:
    """A tiny DNS: `names[host] = [ip, ...]`; "nxdomain" fails; other hosts resolve as usual.

    Records every name asked for in `names["<asked>"]`."""
    table: dict[str, list[str]] = {"<asked>": []}
    real = socket.getaddrinfo

    def fake(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
        table["<asked>"].append(str(host))
        if host == "nxdomain.test":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        if host in table:
            return [info for ip in table[host] for info in real(ip, port, *args, **kw)]
        return real(host, port, *args, **kw)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    yield table


@pytest.mark.parametrize(
    "host",
    [
        "127.0.0.1",
        "127.1",  # inet_aton's short forms
        "2130706433",  # 127.0.0.1 as one decimal number
        "0x7f.1",  # hexadecimal
        "017700000001",  # octal, one number
        "[::ffff:127.0.0.1]",  # IPv4-mapped IPv6
        "[::ffff:7f00:1]",
        "[::1]",
        "localhost",
        "0.0.0.0",  # reaches the local host on Linux
        "[::]",
    ],
)
def test_loopback_in_any_spelling_is_blocked_before_connecting(site: Site, host: str) -> None:
    site.pages["/f"] = Page(b"<rss/>")
    port = site.server.server_address[1]
    with pytest.raises(BlockedAddressError, match=r"^blocked: \S+ is an? (loopback|unspecified) address"):
        fetcher().get(f"http://{host}:{port}/f")
    assert site.requests == []


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254 is a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254 is a cloud metadata address"),
        ("http://[::ffff:169.254.169.254]/", "is a cloud metadata address (IPv4-mapped 169.254.169.254)"),
        ("http://10.0.0.1/", "10.0.0.1 is a private address"),
        ("http://172.16.5.4/", "172.16.5.4 is a private address"),
        ("http://192.168.1.1/", "192.168.1.1 is a private address"),
        ("http://100.64.0.1/", "100.64.0.1 is a shared (CGNAT) address"),
        ("http://169.254.1.1/", "169.254.1.1 is a link-local address"),
        ("http://224.0.0.1/", "224.0.0.1 is a multicast address"),
        ("http://240.0.0.1/", "240.0.0.1 is a reserved address"),
        ("http://[fe80::1]/", "fe80::1 is a link-local address"),
        ("http://[fc00::1]/", "fc00::1 is a private address"),
        ("http://[ff02::1]/", "ff02::1 is a multicast address"),
        ("http://[64:ff9b::a00:1]/", "64:ff9b::a00:1 is a private address (NAT64 10.0.0.1)"),
        ("http://[2002:a9fe:a9fe::]/", "is a cloud metadata address (6to4 169.254.169.254)"),
    ],
)
def test_private_and_special_addresses_are_blocked(url: str, reason: str) -> None:
    with pytest.raises(BlockedAddressError) as e:
        fetcher(allow=("192.0.2.0/24",)).get(url)  # an allowance elsewhere changes nothing
    assert reason in str(e.value) and str(e.value).startswith("blocked: ")


@pytest.mark.parametrize(
    "ip",
    ["8.8.8.8", "1.1.1.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"],
)
def test_public_addresses_pass_the_guard(ip: str) -> None:
    assert refusal(ip) is None


@pytest.mark.parametrize(
    "ip", ["192.0.0.8", "198.18.0.1", "192.0.2.1", "255.255.255.255", "::7f00:1", "2001::1", "2001:db8::1", "100::1"]
)
def test_reserved_addresses_are_refused_whatever_python_thinks(ip: str) -> None:
    assert refusal(ip) == f"{ip} is a reserved address"


def test_a_name_that_resolves_to_a_private_address_is_blocked(names: dict[str, list[str]]) -> None:
    names["intranet.test"] = ["10.0.0.5"]
    with pytest.raises(
        BlockedAddressError, match=r"10\.0\.0\.5 is a private address \(intranet\.test resolves to it\)"
    ):
        fetcher().get("http://intranet.test/admin")


def test_a_name_with_one_private_address_among_public_ones_is_blocked(names: dict[str, list[str]]) -> None:
    names["mixed.test"] = ["93.184.215.14", "127.0.0.1"]
    with pytest.raises(BlockedAddressError, match=r"127\.0\.0\.1 is a loopback address"):
        fetcher().get("http://mixed.test/")


def test_the_checked_ip_is_the_one_connected_to(site: Site, names: dict[str, list[str]]) -> None:
    """One lookup per connection: the socket is opened to the judged IP, not to the name again."""
    site.pages["/f"] = Page(b"ok")
    names["feeds.test"] = ["127.0.0.1"]
    port = site.server.server_address[1]
    assert fetcher(allow=LOOPBACK).get(f"http://feeds.test:{port}/f").body == b"ok"
    assert names["<asked>"].count("feeds.test") == 1
    assert site.requests[-1][1]["Host"] == f"feeds.test:{port}"  # the URL's host, not the IP


def test_every_redirect_hop_is_checked(site: Site) -> None:
    port = site.server.server_address[1]
    targets = {
        "/to-metadata": "http://169.254.169.254/latest/meta-data/",
        "/to-other-loopback": f"http://127.0.0.2:{port}/f",
        "/to-ipv6-loopback": f"http://[::1]:{port}/f",
        "/to-file": "file:///etc/passwd",
    }
    for path, location in targets.items():
        site.pages[path] = Page(b"", status=302, headers={"Location": location}, validators=False)
    site.pages["/f"] = Page(b"ok")
    f = fetcher(allow=("127.0.0.1",))  # the site's own address only
    assert f.get(f"{site.url}/f").body == b"ok"
    for path in targets:
        with pytest.raises(BlockedAddressError, match=r"^blocked: "):
            f.get(site.url + path)
    assert site.hits("/f") == 1


@pytest.mark.parametrize(
    "url", ["file:///etc/passwd", "ftp://example.com/feed", "gopher://127.0.0.1:70/", "javascript:alert(1)", "//x/y"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(BlockedAddressError, match="not an http"):
        fetcher(allow=LOOPBACK).get(url)


def test_a_dns_failure_is_a_fetch_error(names: dict[str, list[str]]) -> None:
    with pytest.raises(FetchError, match=r"cannot resolve nxdomain\.test") as e:
        fetcher().get("http://nxdomain.test/feed")
    assert not isinstance(e.value, BlockedAddressError)


def test_the_allowlist_takes_names_ips_and_networks(site: Site, names: dict[str, list[str]]) -> None:
    site.pages["/f"] = Page(b"ok")
    port = site.server.server_address[1]
    names["intranet.test"] = ["127.0.0.1"]
    assert fetcher(allow=("Intranet.Test.",)).get(f"http://intranet.test:{port}/f").body == b"ok"
    assert fetcher(allow=("127.0.0.1",)).get(f"http://127.1:{port}/f").body == b"ok"
    assert fetcher(allow=("127.0.0.0/8",)).get(f"http://[::ffff:127.0.0.1]:{port}/f").status == 200
    with pytest.raises(BlockedAddressError):  # a name on the list allows that name only
        fetcher(allow=("intranet.test",)).get(f"http://127.0.0.1:{port}/f")
    assert AddressPolicy.allowing(["10.0.0.0/8"]).refusal("10.1.2.3") is None


def test_the_allowlist_is_validated(make_config: Callable[..., Path]) -> None:
    cfg = make_config("sources: []\n", "fetch: {allow_private_hosts: ['http://intranet/']}\n")
    with pytest.raises(ConfigError, match=r"settings.yaml: fetch.allow_private_hosts: not a host name"):
        config.load(cfg, env={})
    cfg = make_config("sources: []\n", "fetch: {allow_private_hosts: [intranet.lan, 10.1.2.3, 'fd00::/8']}\n")
    assert config.load(cfg, env={}).fetch.allow_private_hosts == ("intranet.lan", "10.1.2.3/32", "fd00::/8")


def test_article_links_to_private_addresses_are_not_fetched(
    site: Site, names: dict[str, list[str]], make_config: Callable[..., Path]
) -> None:
    """A source allowed by name still cannot send the daemon to another private address."""
    names["feeds.test"] = ["127.0.0.1"]
    port = site.server.server_address[1]
    now = datetime.now(UTC)
    title = "Microsoft free to build its own AGI after renegotiating its OpenAI deal"
    site.pages["/lab.xml"] = Page(rss([(title, f"http://127.0.0.1:{port}/agi.html", now - timedelta(hours=1))]))
    site.pages["/agi.html"] = Page(article(title, ["Secret intranet text."]), content_type="text/html")
    sources = f"""
    sources:
      - name: Lab Blog
        url: http://feeds.test:{port}/lab.xml
      - name: Intranet
        url: http://127.0.0.1:{port}/lab.xml
    """
    settings = config.load(make_config(sources, "fetch: {allow_private_hosts: [feeds.test]}\n"), env={})
    out = io.StringIO()
    with app.context(settings, deliverer=ConsoleDeliverer(out)) as ctx:
        lab, intranet = app.run_once(ctx)
    assert lab.status == "ok" and lab.alerts >= 1  # alerted on the feed's own text
    assert intranet.status == "error" and intranet.error
    assert intranet.error.startswith("blocked: 127.0.0.1 is a loopback address")
    assert site.hits("/agi.html") == 0 and site.hits("/lab.xml") == 1
    assert "Secret intranet text" not in out.getvalue()


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "5")
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command to make a certificate")
def test_https_verifies_the_url_host_although_the_socket_goes_to_the_ip(
    tmp_path: Path, names: dict[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    make = "req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 -subj /CN=feeds.test"
    extensions = ["-addext", "subjectAltName=DNS:feeds.test", "-addext", "basicConstraints=critical,CA:TRUE"]
    files = ["-keyout", str(key), "-out", str(cert)]
    subprocess.run(["openssl", *make.split(), *extensions, *files], check=True, capture_output=True)
    server_names: list[str | None] = []
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # the fetcher's only trusted certificate
        names["feeds.test"] = ["127.0.0.1"]
        port = server.server_address[1]
        f = fetcher(allow=LOOPBACK)
        assert f.get(f"https://feeds.test:{port}/").body == b"hello"
        assert server_names == ["feeds.test"]  # SNI names the URL's host
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            f.get(f"https://127.0.0.1:{port}/")  # the certificate is not for the IP
    finally:
        server.shutdown()
        server.server_close()
