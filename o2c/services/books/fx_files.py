"""Reading exchange-rate files: the European Central Bank's reference rates
(the XML of ``eurofxref-daily.xml`` / ``eurofxref-hist.xml``, the CSV of
``eurofxref-hist.csv`` / ``eurofxref.csv``) and a generic CSV
(``currency,date,rate[,source]``).

The XML is parsed without a DTD, entities or network access, and a file
larger than :data:`MAX_BYTES` is refused before it is read. A file that is
none of these shapes, or a rate or date that cannot be read, is a
:class:`BadRateFile` naming the file and the line.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from pathlib import Path

from lxml import etree

from o2c.domain.currencies import SOURCE_ECB
from o2c.domain.fx import rate_problem
from o2c.services.books.fx import RateRow

#: The largest rate file read (the ECB's full history is about 7 MB as XML).
MAX_BYTES = 32 * 1024 * 1024
ECB_NS = "http://www.ecb.int/vocabulary/2002-08-01/eurofxref"
GESMES_NS = "http://www.gesmes.org/xml/2002-08-01"
SOURCE_IMPORT = "import"
GENERIC_HEADER = ("currency", "date", "rate")


class BadRateFile(ValueError):
    """A rate file that cannot be read; the message says where and why."""


def read_file(path: str | Path, max_bytes: int = MAX_BYTES) -> list[RateRow]:
    """The rates in the file at ``path`` (any of the shapes above)."""
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise BadRateFile(f"{p.name}: {size:,} bytes is more than the {max_bytes:,} a rate file may have.")
    return parse(p.read_bytes(), p.name, max_bytes)


def parse(data: bytes, name: str = "the file", max_bytes: int = MAX_BYTES) -> list[RateRow]:
    if len(data) > max_bytes:
        raise BadRateFile(f"{name}: {len(data):,} bytes is more than the {max_bytes:,} a rate file may have.")
    head = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not head:
        raise BadRateFile(f"{name}: the file is empty.")
    if head.startswith(b"<"):
        return parse_ecb_xml(data, name)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRateFile(f"{name}: not UTF-8 text, nor XML.") from None
    return parse_csv(text, name)


def _rate(text: str | None, name: str, line: int | str) -> Decimal:
    try:
        rate = Decimal((text or "").strip())
    except InvalidOperation:
        raise BadRateFile(f"{name}, {line}: “{text}” is not a rate.") from None
    why = rate_problem(rate)
    if why:
        raise BadRateFile(f"{name}, {line}: “{text}” is not a rate. {why}")
    return rate


def _date(text: str | None, name: str, line: int | str) -> dt.date:
    raw = (text or "").strip()
    for fmt in ("%Y-%m-%d", "%d %B %Y"):
        try:
            return dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
    raise BadRateFile(f"{name}, {line}: “{raw}” is not a date (YYYY-MM-DD).")


def _code(text: str | None, name: str, line: int | str) -> str:
    code = (text or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise BadRateFile(f"{name}, {line}: “{text}” is not a currency code.")
    return code


# -- the ECB's XML ---------------------------------------------------------------------

def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True)


def parse_ecb_xml(data: bytes, name: str = "the file") -> list[RateRow]:
    """``<gesmes:Envelope>…<Cube><Cube time="…"><Cube currency="USD" rate="1.1654"/>…``."""
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise BadRateFile(f"{name}: a document type declaration is not allowed in a rate file.")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        raise BadRateFile(f"{name}: not well-formed XML ({exc.msg}, line {exc.lineno}).") from None
    if root.tag != f"{{{GESMES_NS}}}Envelope":
        raise BadRateFile(f"{name}: not the ECB's reference rates (the root is not a gesmes:Envelope).")
    days = root.findall(f"{{{ECB_NS}}}Cube/{{{ECB_NS}}}Cube")
    if not days:
        raise BadRateFile(f"{name}: no <Cube time=…> element with rates.")
    rows: list[RateRow] = []
    for day in days:
        line = f"line {day.sourceline}"
        when = _date(day.get("time"), name, line)
        for cube in day.findall(f"{{{ECB_NS}}}Cube"):
            where = f"line {cube.sourceline}"
            rows.append(RateRow(_code(cube.get("currency"), name, where), when,
                                _rate(cube.get("rate"), name, where), SOURCE_ECB, cube.sourceline or 0))
    return rows


# -- CSV ---------------------------------------------------------------------------------

def parse_csv(text: str, name: str = "the file") -> list[RateRow]:
    reader = csv.reader(io.StringIO(text))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise BadRateFile(f"{name}: the file is empty.") from None
    except csv.Error as exc:
        raise BadRateFile(f"{name}, line 1: {exc}.") from None
    lowered = [h.lower() for h in header]
    try:
        if lowered and lowered[0] == "date":
            return _ecb_csv(reader, header, name)
        if tuple(lowered[:3]) == GENERIC_HEADER and (len(lowered) == 3 or lowered[3:] == ["source"]):
            return _generic_csv(reader, len(lowered) == 4, name)
    except csv.Error as exc:
        raise BadRateFile(f"{name}, line {reader.line_num}: {exc}.") from None
    raise BadRateFile(f"{name}: not a rate file. The first line is “{','.join(header)[:80]}”: expected the "
                      "ECB's “Date,USD,JPY,…” or “currency,date,rate[,source]”.")


def _ecb_csv(reader: csv.reader, header: list[str], name: str) -> list[RateRow]:  # type: ignore[valid-type]
    """``Date,USD,JPY,…`` then a row per day; ``N/A`` or nothing where a currency had no rate."""
    codes = [(_code(h, name, "line 1") if h else None) for h in header[1:]]
    rows: list[RateRow] = []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        when = _date(record[0], name, f"line {line}")
        for code, cell in zip(codes, record[1:]):
            value = cell.strip()
            if code is None or value in ("", "N/A"):
                continue
            rows.append(RateRow(code, when, _rate(value, name, f"line {line}, {code}"), SOURCE_ECB, line))
    return rows


def _generic_csv(reader: csv.reader, with_source: bool, name: str) -> list[RateRow]:  # type: ignore[valid-type]
    rows: list[RateRow] = []
    for record in reader:
        line = reader.line_num
        if not any(cell.strip() for cell in record):
            continue
        if len(record) != (4 if with_source else 3):
            raise BadRateFile(f"{name}, line {line}: expected {4 if with_source else 3} columns, "
                              f"found {len(record)}.")
        source = record[3].strip() if with_source else ""
        if len(source) > 32:
            raise BadRateFile(f"{name}, line {line}: a source has at most 32 characters.")
        rows.append(RateRow(_code(record[0], name, f"line {line}"), _date(record[1], name, f"line {line}"),
                            _rate(record[2], name, f"line {line}"), source or SOURCE_IMPORT, line))
    return rows


def duplicates(rows: list[RateRow]) -> list[str]:
    """Currency and day pairs that a file gives two different rates for."""
    seen: dict[tuple[str, dt.date], Decimal] = {}
    clashes = []
    for r in rows:
        old = seen.setdefault((r.currency, r.date), r.rate)
        if old != r.rate:
            clashes.append(f"{r.currency} {r.date.isoformat()} (line {r.line})")
    return clashes
