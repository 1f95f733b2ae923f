"""How a download is named: one ``Content-Disposition`` value per RFC 6266,
for every file the API and the back office hand out.

A file name may carry any character (a statement is named after the
customer's code: ``statement_Łódź-Ж-🙂_2026-03-31.pdf``), but a header is
Latin-1 at most, and a server such as gunicorn refuses anything else. So the
name goes twice: ``filename*=UTF-8''…`` (RFC 5987/8187, percent-encoded
UTF-8: what every current browser and HTTP client uses) and ``filename="…"``,
a plain-ASCII stand-in for the old ones (accents dropped, anything else an
underscore)."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from o2c.domain.text import UNPRINTABLE

#: RFC 8187 ``attr-char`` beyond letters and digits: left as they are in ``filename*``.
_ATTR_CHARS = "!#$&+-.^_`|~"
#: What the ASCII fallback keeps; anything else becomes ``_``.
_FALLBACK_UNSAFE = re.compile(r"[^A-Za-z0-9._\-+()]+")
_RUNS = re.compile(r"[-_]*_[-_]*")
#: Latin letters Unicode does not decompose into a base letter and an accent.
_LETTERS = str.maketrans({"Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "Đ": "D", "đ": "d", "Ħ": "H", "ħ": "h",
                          "ß": "ss", "Æ": "AE", "æ": "ae", "Œ": "OE", "œ": "oe", "Þ": "Th", "þ": "th",
                          "ı": "i"})


def _clean(filename: str) -> str:
    """No control characters, no path: a file name, never a directory."""
    name = UNPRINTABLE.sub("", filename).replace("/", "_").replace("\\", "_").strip().strip(".")
    return name or "download"


def ascii_fallback(filename: str) -> str:
    """``filename`` in printable ASCII without quotes or backslashes:
    letters lose their accents, anything else is an underscore."""
    stem, dot, ext = _clean(filename).rpartition(".")
    if not dot:
        stem, ext = ext, ""
    plain = "".join(c for c in unicodedata.normalize("NFKD", stem.translate(_LETTERS))
                    if not unicodedata.combining(c))
    stem = _RUNS.sub("_", _FALLBACK_UNSAFE.sub("_", plain)).strip("_.-") or "download"
    ext = _FALLBACK_UNSAFE.sub("_", ext).strip("_")
    return f"{stem}.{ext}" if ext else stem


def content_disposition(filename: str, disposition: str = "attachment") -> str:
    """The ``Content-Disposition`` header value for a file called
    ``filename``: ``attachment`` (save it) or ``inline`` (show it)."""
    if disposition not in ("attachment", "inline"):
        raise ValueError(f"disposition is attachment or inline, not {disposition!r}")
    name = _clean(filename)
    encoded = quote(name, safe=_ATTR_CHARS, encoding="utf-8")
    return f"{disposition}; filename=\"{ascii_fallback(name)}\"; filename*=UTF-8''{encoded}"
