"""E-mail addresses a document may be sent to (pure).

An address is one ``local@domain`` (RFC 5322 dot-atom; no display name, no
quoted local part, no comments), the domain a host name with a top-level
domain that exists in the public DNS: a name without a dot, or under
``.invalid``, ``.local``, ``.localhost``, ``.test``, is refused. Control
characters and line breaks never pass, so an address cannot carry a header.
"""
from __future__ import annotations

import re

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ADDRESS = re.compile(
    rf"^{_ATEXT}(?:\.{_ATEXT})*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{{0,61}}[A-Za-z0-9])?\.)+[A-Za-z][A-Za-z0-9-]{{1,62}}$")
NOT_IN_DNS = ("invalid", "local", "localhost", "test")
MAX_ADDRESSES = 10


def address_error(address: str) -> str | None:
    """Why ``address`` is not one a mail can go to, or ``None``."""
    if len(address) > 254 or not _ADDRESS.match(address) or len(address.split("@")[0]) > 64:
        return f"“{address[:80]}” is not an e-mail address (name@example.com)."
    if address.rsplit(".", 1)[-1].lower() in NOT_IN_DNS:
        return f"“{address}” is in a domain no mail is delivered to."
    return None


def split_addresses(value: str) -> list[str]:
    """The addresses of a field holding several, separated by commas or semicolons."""
    return [a.strip() for a in re.split(r"[,;]", value or "") if a.strip()]


def addresses_error(value: str) -> str | None:
    """Why a field of addresses is not valid (empty is valid), or ``None``."""
    if any(c in (value or "") for c in "\r\n\x00"):
        return "An address field cannot contain line breaks."
    found = split_addresses(value)
    if len(found) > MAX_ADDRESSES:
        return f"At most {MAX_ADDRESSES} addresses."
    for a in found:
        err = address_error(a)
        if err:
            return err
    return None
