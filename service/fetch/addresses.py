"""Which IP addresses newsalert may connect to: the pure half of the address guard (SSRF).

Feeds are untrusted and so are the article links in them: a link to `http://169.254.169.254/` or
`http://10.0.0.5/admin` must not make the daemon a proxy into its own network. The rule is judged
on the resolved IP (see transport.py for when) against the IANA special-purpose registries (RFC
6890 and its updates), written out here rather than taken from `ipaddress.is_global`, whose tables
changed between Python releases. IPv6 forms that carry an IPv4 address (IPv4-mapped
`::ffff:a.b.c.d`, NAT64 `64:ff9b::/96` of RFC 6052, 6to4 `2002::/16`) are judged by that address,
so `[::ffff:127.0.0.1]` is loopback while a NAT64 address of a public site stays reachable on an
IPv6-only host. Everything in IPv6 outside global unicast `2000::/3` is refused as reserved.

An operator may allow private addresses explicitly (`fetch.allow_private_hosts`): host names,
matched against the URL's host, and IP addresses or CIDR blocks, matched against the resolved IP.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_V4_BLOCKS: tuple[tuple[str, str], ...] = (
    ("169.254.169.254/32", "cloud metadata"),  # AWS, GCP, Azure, OpenStack, ...
    ("0.0.0.0/8", "unspecified"),  # "this network"; 0.0.0.0 reaches the local host on Linux
    ("10.0.0.0/8", "private"),
    ("100.64.0.0/10", "shared (CGNAT)"),  # RFC 6598; Alibaba's metadata service lives here
    ("127.0.0.0/8", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("172.16.0.0/12", "private"),
    ("192.0.0.0/24", "reserved"),  # IETF protocol assignments
    ("192.0.2.0/24", "reserved"),  # documentation
    ("192.88.99.0/24", "reserved"),  # deprecated 6to4 relay anycast
    ("192.168.0.0/16", "private"),
    ("198.18.0.0/15", "reserved"),  # benchmarking
    ("198.51.100.0/24", "reserved"),  # documentation
    ("203.0.113.0/24", "reserved"),  # documentation
    ("224.0.0.0/4", "multicast"),
    ("240.0.0.0/4", "reserved"),  # and 255.255.255.255, the broadcast address
)
_V6_BLOCKS: tuple[tuple[str, str], ...] = (
    ("fd00:ec2::254/128", "cloud metadata"),  # AWS's IPv6 instance metadata
    ("::/128", "unspecified"),
    ("::1/128", "loopback"),
    ("64:ff9b:1::/48", "private"),  # local-use NAT64 (RFC 8215)
    ("100::/64", "reserved"),  # discard-only
    ("2001::/23", "reserved"),  # IETF protocol assignments, Teredo among them
    ("2001:db8::/32", "reserved"),  # documentation
    ("3fff::/20", "reserved"),  # documentation
    ("fc00::/7", "private"),  # unique local
    ("fe80::/10", "link-local"),
    ("fec0::/10", "reserved"),  # deprecated site-local
    ("ff00::/8", "multicast"),
)
_BLOCKS: tuple[tuple[IPNetwork, str], ...] = tuple(
    (ipaddress.ip_network(net), kind) for net, kind in _V4_BLOCKS + _V6_BLOCKS
)
_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def embedded_ipv4(address: IPAddress) -> tuple[str, ipaddress.IPv4Address] | None:
    """The IPv4 address an IPv6 address stands for, with the name of the form, or None."""
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.ipv4_mapped is not None:
        return "IPv4-mapped", address.ipv4_mapped
    if address in _NAT64:
        return "NAT64", ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address.sixtofour is not None:
        return "6to4", address.sixtofour
    return None


def address_kind(address: IPAddress) -> str | None:
    """Why `address` is off limits ("loopback", "private", ...), or None for a public address."""
    for network, kind in _BLOCKS:
        if address.version == network.version and address in network:
            return kind
    if isinstance(address, ipaddress.IPv6Address) and address not in _GLOBAL_UNICAST:
        return "reserved"
    return None


def refusal(ip: str) -> str | None:
    """`"127.0.0.1 is a loopback address"`, or None when `ip` is a public address."""
    address = ipaddress.ip_address(ip)
    embedded = embedded_ipv4(address)
    kind = address_kind(embedded[1] if embedded else address)
    if kind is None:
        return None
    article = "an" if kind[0] in "aeiou" else "a"
    note = f" ({embedded[0]} {embedded[1]})" if embedded else ""
    return f"{ip} is {article} {kind} address{note}"


@dataclass(frozen=True)
class AddressPolicy:
    """The guard's rule: public addresses, plus whatever the operator allowed by name or network."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def allowing(cls, entries: Iterable[str]) -> AddressPolicy:
        """From `allow_private_hosts` entries: `localhost`, `10.1.2.3`, `127.0.0.0/8`, `fd00::/8`."""
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            try:
                networks.append(ipaddress.ip_network(entry.strip(), strict=False))
            except ValueError:
                hosts.add(normal_host(entry))
        return cls(frozenset(hosts), tuple(networks))

    def trusts_host(self, host: str) -> bool:
        return normal_host(host) in self.hosts

    def refusal(self, ip: str) -> str | None:
        """Why a connection to `ip` is refused, or None when it is public or allowed."""
        reason = refusal(ip)
        return None if reason is None or self._allowed(ipaddress.ip_address(ip)) else reason

    def _allowed(self, address: IPAddress) -> bool:
        embedded = embedded_ipv4(address)
        forms = (address, embedded[1]) if embedded else (address,)
        return any(form.version == net.version and form in net for form in forms for net in self.networks)


def normal_host(host: str) -> str:
    """Host names compare without case and without a trailing dot (`Example.COM.` is `example.com`)."""
    return host.strip().lower().rstrip(".")
