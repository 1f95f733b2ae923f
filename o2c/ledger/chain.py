"""The journal's hash chain, as pure functions.

Entry ``n`` of the chain carries ``hash_n = SHA-256(hash_{n-1} + canonical(entry_n))``
with ``hash_0`` sixty-four zeros. ``canonical`` is a compact, key-sorted JSON
document of everything that makes the entry what it is: its sequence number
and id, date, period, source, document, customer, description and its lines
(account, debit, credit, in line order), amounts as exact decimal strings.
Changing, adding or removing any of these in the database changes the hash,
and with it every later link.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

GENESIS = "0" * 64


class ChainLine(NamedTuple):
    account: str
    debit: Decimal
    credit: Decimal


class ChainEntry(NamedTuple):
    seq: int
    id: int
    date: dt.date
    period: str
    source_type: str
    source_id: int
    document: str
    customer_id: int | None
    description: str
    lines: tuple[ChainLine, ...]


def _amount(value: Decimal) -> str:
    return f"{Decimal(value):.2f}"


def canonical(entry: ChainEntry) -> bytes:
    """The bytes an entry's hash covers."""
    doc = {
        "seq": entry.seq, "id": entry.id, "date": entry.date.isoformat(), "period": entry.period,
        "source_type": entry.source_type, "source_id": entry.source_id, "document": entry.document,
        "customer_id": entry.customer_id, "description": entry.description,
        "lines": [[l.account, _amount(l.debit), _amount(l.credit)] for l in entry.lines],
    }
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link(prev_hash: str, entry: ChainEntry) -> str:
    """The hash of ``entry`` following an entry whose hash is ``prev_hash``."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical(entry)).hexdigest()


def chain(entries: Iterable[ChainEntry], prev_hash: str = GENESIS) -> list[str]:
    """The hashes of consecutive entries, starting after ``prev_hash``."""
    out = []
    for e in entries:
        prev_hash = link(prev_hash, e)
        out.append(prev_hash)
    return out
