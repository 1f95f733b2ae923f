"""Which hosts a webhook may be sent to: never this machine, the private
network it sits in, or the cloud's metadata service — in whatever notation
the address is written.

An IP address hides in many spellings that resolvers, browsers and HTTP
libraries all accept: ``127.0.0.1`` is also ``2130706433``, ``0x7f000001``,
``0177.0.0.1``, ``127.1``, ``0x7f.1``, ``[::ffff:127.0.0.1]``,
``[::ffff:7f00:1]``, ``１２７.０.０.１`` (full-width digits: IDNA folds them) and
``127.0.0.1.``. ``ip_literal`` reads them all the way the WHATWG URL standard
(and C's ``inet_aton``) does; ``refusal`` says why an address is not a
public one. A name is only known by resolving it, which the delivery does
(``o2c.outbound``): it checks every address the name resolves to and
connects to one of exactly those."""
from __future__ import annotations

import ipaddress
import re
import unicodedata
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network

Address = IPv4Address | IPv6Address

#: Addresses no webhook goes to, and why (RFC 6890 and the IANA special-purpose registries).
REFUSED_NETWORKS: tuple[tuple[IPv4Network | IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(net), why) for net, why in (
        ("0.0.0.0/8", "unspecified ('this network')"),
        ("10.0.0.0/8", "private"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link-local (cloud metadata service)"),
        ("172.16.0.0/12", "private"),
        ("192.0.0.0/24", "IETF protocol assignments (cloud metadata service)"),
        ("192.0.2.0/24", "documentation"),
        ("192.88.99.0/24", "6to4 relay (deprecated)"),
        ("192.168.0.0/16", "private"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("224.0.0.0/4", "multicast"),
        ("240.0.0.0/4", "reserved (broadcast included)"),
        ("::/128", "unspecified"),
        ("::1/128", "loopback"),
        ("::/8", "reserved (IPv4-compatible included)"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
        ("100::/64", "discard-only"),
        ("2001::/23", "IETF protocol assignments (Teredo included)"),
        ("2001:db8::/32", "documentation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing"),
        ("fc00::/7", "unique local (private; cloud metadata service)"),
        ("fe80::/10", "link-local"),
        ("fec0::/10", "site-local (deprecated)"),
        ("ff00::/8", "multicast"),
    ))
#: IPv6 ranges that carry an IPv4 address inside: judged by that address.
_NAT64 = IPv6Network("64:ff9b::/96")
#: Names that are this machine or a private network by definition (RFC 6761,
#: RFC 6762, ICANN's private-use ``.internal``).
_LOCAL_NAMES = re.compile(r"(?:.*\.)?(?:localhost|localdomain|local|internal|home\.arpa)", re.IGNORECASE)
#: Dots IDNA treats as label separators besides ``.``.
_DOTS = str.maketrans({"\u3002": ".", "\uff0e": ".", "\uff61": "."})


def embedded_ipv4(addr: IPv6Address) -> IPv4Address | None:
    """The IPv4 address an IPv6 one stands for: IPv4-mapped (``::ffff:a.b.c.d``),
    NAT64 (``64:ff9b::a.b.c.d``) or 6to4 (``2002:AABB:CCDD::``)."""
    if addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    if addr in _NAT64:
        return IPv4Address(int(addr) & 0xFFFFFFFF)
    return addr.sixtofour


def refusal(addr: Address) -> str | None:
    """Why no webhook may go to ``addr`` (a short phrase), or ``None`` for a
    public address."""
    if isinstance(addr, IPv6Address):
        addr = addr.__class__(addr.compressed.split("%", 1)[0])  # no zone: the address decides
        inner = embedded_ipv4(addr)
        if inner is not None:
            why = refusal(inner)
            return f"{why} ({inner} inside)" if why else None
    for net, why in REFUSED_NETWORKS:
        if addr in net:
            return why
    if not addr.is_global or addr.is_multicast or addr.is_reserved or addr.is_unspecified:
        return "not a public address"
    return None


def _ipv4_number(part: str) -> int | None:
    """One part of an IPv4 address as inet_aton reads it: decimal, ``0x`` hex
    or ``0``-prefixed octal; ``None`` if it is not a number."""
    if re.fullmatch(r"0x[0-9a-f]*", part):
        return int(part[2:] or "0", 16)
    if re.fullmatch(r"0[0-7]+", part):
        return int(part, 8)
    if re.fullmatch(r"[1-9][0-9]*|0", part):
        return int(part)
    return None


class NotAHost(ValueError):
    """A host that looks like an IP address but is none (``1.2.3.999``, ``0x``…)."""


def _ipv4(host: str) -> IPv4Address | None:
    """``host`` (normalized) as an IPv4 address in the WHATWG/inet_aton
    notations — one to four parts, the last filling the remaining bytes —
    or ``None`` when it is a name. Raises ``NotAHost`` when its last label is
    a number but the whole is no address: no DNS name ends in a numeric label."""
    parts = host.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()  # one trailing dot: the root
    if not re.fullmatch(r"[0-9]+|0x[0-9a-f]*", parts[-1]):
        return None
    numbers = [_ipv4_number(p) for p in parts]
    if len(parts) > 4 or any(n is None for n in numbers):
        raise NotAHost(f"{host!r} is neither a host name nor an IPv4 address")
    *head, last = [n for n in numbers if n is not None]
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(parts)):
        raise NotAHost(f"{host!r} is out of range for an IPv4 address")
    value = last
    for i, n in enumerate(head):
        value += n << (8 * (3 - i))
    return IPv4Address(value)


def normalized_host(host: str) -> str:
    """The host as a resolver sees it: IDNA's compatibility folding (full-width
    digits and dots), lower case, without brackets."""
    host = unicodedata.normalize("NFKC", host.translate(_DOTS)).strip().lower()
    return host[1:-1] if host.startswith("[") and host.endswith("]") else host


def ip_literal(host: str) -> Address | None:
    """The address ``host`` denotes if it is an IP literal in any notation,
    else ``None`` (a name). Raises ``NotAHost`` for a malformed one."""
    host = normalized_host(host)
    if ":" in host:
        try:
            return IPv6Address(host.split("%", 1)[0])
        except ValueError:
            raise NotAHost(f"{host!r} is not an IPv6 address") from None
    return _ipv4(host)


def host_refusal(host: str) -> str | None:
    """Why a webhook URL may not name ``host`` (checked when it is
    subscribed), or ``None``. Names other than the local ones are judged at
    delivery, by what they resolve to."""
    try:
        addr = ip_literal(host)
    except NotAHost as exc:
        return str(exc)
    if addr is not None:
        why = refusal(addr)
        return f"{host} means {addr}: {why}, not a public address" if why else None
    name = normalized_host(host).rstrip(".")
    if not name:
        return "no host"
    if _LOCAL_NAMES.fullmatch(name):
        return f"{host} names this machine or a private network"
    return None
