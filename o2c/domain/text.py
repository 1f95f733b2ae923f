"""Characters no document may hold: control characters (C0, DEL and C1; tab
and newlines aside), UTF-16 surrogates and the Unicode noncharacters
(U+FDD0–U+FDEF, U+xFFFE, U+xFFFF). Databases, PDFs, XML e-invoices and
spreadsheets choke on them; input refuses them and documents drop them."""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

UNPRINTABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef"
                         + "".join(f"{chr(p + 0xFFFE)}{chr(p + 0xFFFF)}" for p in range(0, 0x110000, 0x10000))
                         + "]")


def printable(value: Any) -> Any:
    """``value`` with every string in it (in dicts, lists and tuples too)
    stripped of the characters above; anything else unchanged."""
    if isinstance(value, str):
        return UNPRINTABLE.sub("", value)
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(printable(v) for v in value)
    return value


# -- folding for search -------------------------------------------------------------
# ``fold`` makes text comparable ignoring case and accents: "Caffè ÅRHUS" →
# "caffe arhus". The same table is applied in SQL (see
# ``o2c.services.sales.lookups.folded``), so a search folds both sides alike.

_SPECIAL = {"ß": "ss", "ẞ": "ss", "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ĳ": "ij", "Ĳ": "ij",
            "ł": "l", "Ł": "l", "ø": "o", "Ø": "o", "đ": "d", "Đ": "d", "ħ": "h", "Ħ": "h", "ı": "i",
            "ŧ": "t", "Ŧ": "t", "þ": "th", "Þ": "th", "ð": "d", "Ð": "d"}
_RANGES = ((0xC0, 0x250), (0x370, 0x400), (0x400, 0x530), (0x1E00, 0x1F00))
_COMBINING = [chr(c) for c in range(0x300, 0x370)]


def _fold_char(c: str) -> str:
    import unicodedata
    if c in _SPECIAL:
        return _SPECIAL[c]
    decomposed = unicodedata.normalize("NFKD", c.lower())
    return "".join(_SPECIAL.get(ch, ch) for ch in decomposed if not unicodedata.combining(ch))


def _table() -> tuple[dict[str, str], str, str, tuple[tuple[str, str], ...]]:
    single: dict[str, str] = {}
    multi: list[tuple[str, str]] = []
    for lo, hi in _RANGES:
        for cp in range(lo, hi):
            c = chr(cp)
            if not c.isalpha():
                continue
            f = _fold_char(c)
            if f == c or not f:
                continue
            if len(f) == 1:
                single[c] = f
            else:
                multi.append((c, f))
    # ``translate`` drops characters of FROM beyond the end of TO: combining marks.
    source = "".join(single) + "".join(_COMBINING)
    target = "".join(single.values())
    mapping = {**single, **dict(multi), **{c: "" for c in _COMBINING}}
    return mapping, source, target, tuple(multi)


_FOLD, FOLD_FROM, FOLD_TO, FOLD_MULTI = _table()


def fold(text: str | None) -> str:
    """Lower case without accents, for searching: ASCII letters lowered, the
    letters of Latin, Greek and Cyrillic scripts lowered and stripped of their
    accents, combining marks dropped, the rest as it is."""
    if not text:
        return ""
    return "".join(_FOLD.get(c, c.lower() if c.isascii() else c) for c in text)


def audit_snapshot(d: dict[str, Any]) -> dict[str, Any]:
    """A record as an audit row keeps it: decimals as strings, so JSON stays
    exact, dates in ISO form (nested records alike)."""
    def plain(v: Any) -> Any:
        if isinstance(v, Decimal):
            return str(v)
        if isinstance(v, dt.date):
            return v.isoformat()
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v
    return {k: plain(v) for k, v in d.items()}
