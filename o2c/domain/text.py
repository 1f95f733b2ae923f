"""Characters no document may hold: control characters (C0, DEL and C1; tab
and newlines aside), UTF-16 surrogates and the Unicode noncharacters
(U+FDD0–U+FDEF, U+xFFFE, U+xFFFF). Databases, PDFs, XML e-invoices and
spreadsheets choke on them; input refuses them and documents drop them."""
from __future__ import annotations

import re
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
