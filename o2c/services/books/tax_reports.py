"""The VAT return's figures, from the documents: the VAT report (net and VAT
per treatment, country, category and rate), the EC sales list (intra-EU
supplies per customer VAT id) and the One-Stop-Shop return (distance sales
per member state and rate).

Invoices count positive, credit notes negative, each on its issue date, in
the functional currency (a document in another currency with its rows'
functional figures: the return is filed in it). The
documents' rows are selected by ``vat_rows`` and ``intra_eu_rows``, which the
reconciliation groups by posting role to prove each report equals the ledger.
Sums are computed by the database on the stored cents.
"""
from __future__ import annotations

import calendar
import csv
import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, func, select, type_coerce, union_all

from o2c.db import models as m
from o2c.domain.errors import ValidationFailed
from o2c.services.platform.uow import Tx

invoices = m.Invoice.__table__
invoice_vat = m.InvoiceVat.__table__
credit_notes = m.CreditNote.__table__
credit_note_vat = m.CreditNoteVat.__table__

PERIOD = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
QUARTER = re.compile(r"^(\d{4})-Q([1-4])$")


def _raw(col: Any) -> Any:
    """A money or rate column as its stored integer (cents; rates × 10 000)."""
    return type_coerce(col, Integer)


def _cents(v: Any) -> Decimal:
    return Decimal(int(v or 0)).scaleb(-2)


def _rate(v: Any) -> Decimal:
    return Decimal(int(v or 0)).scaleb(-4)


# -- the documents' rows ---------------------------------------------------------------

def vat_rows(date_from: dt.date | None = None, date_to: dt.date | None = None,
             treatments: tuple[str, ...] | None = None) -> Any:
    """One row per VAT summary row of every invoice (positive) and credit note
    (negative) issued in the range: ``treatment, country, category, rate``
    (× 10 000), ``net, vat`` (cents), ``day``."""
    parts = []
    for doc, rows, key, sign in ((invoices, invoice_vat, invoice_vat.c.invoice_id, 1),
                                 (credit_notes, credit_note_vat, credit_note_vat.c.credit_note_id, -1)):
        q = (select(doc.c.tax_treatment.label("treatment"), doc.c.tax_country.label("country"),
                    rows.c.category.label("category"), _raw(rows.c.rate).label("rate"),
                    (sign * _raw(rows.c.functional_net)).label("net"),
                    (sign * _raw(rows.c.functional_vat)).label("vat"),
                    doc.c.issue_date.label("day"))
             .select_from(rows.join(doc, doc.c.id == key)))
        if date_from is not None:
            q = q.where(doc.c.issue_date >= date_from)
        if date_to is not None:
            q = q.where(doc.c.issue_date <= date_to)
        if treatments is not None:
            q = q.where(doc.c.tax_treatment.in_(treatments))
        parts.append(q)
    return union_all(*parts).subquery()


def intra_eu_rows(date_from: dt.date | None = None, date_to: dt.date | None = None) -> Any:
    """Intra-EU supplies to businesses: ``vat_id, country, net`` (cents, credit
    notes negative), ``day`` per document."""
    parts = []
    for doc, sign in ((invoices, 1), (credit_notes, -1)):
        q = select(doc.c.buyer_vat_id.label("vat_id"), doc.c.tax_country.label("country"),
                   (sign * _raw(doc.c.functional_net_total)).label("net"), doc.c.issue_date.label("day")
                   ).where(doc.c.tax_treatment == "intra_eu_b2b")
        if date_from is not None:
            q = q.where(doc.c.issue_date >= date_from)
        if date_to is not None:
            q = q.where(doc.c.issue_date <= date_to)
        parts.append(q)
    return union_all(*parts).subquery()


# -- periods -----------------------------------------------------------------------------

def month(period: str) -> tuple[dt.date, dt.date]:
    found = PERIOD.match(period or "")
    if not found:
        raise ValidationFailed(f"“{period}” is no month.", {"period": ["Use YYYY-MM, e.g. 2026-03."]})
    y, mo = int(found[1]), int(found[2])
    return dt.date(y, mo, 1), dt.date(y, mo, calendar.monthrange(y, mo)[1])


def quarter(text: str) -> tuple[dt.date, dt.date]:
    found = QUARTER.match(text or "")
    if not found:
        raise ValidationFailed(f"“{text}” is no quarter.", {"quarter": ["Use YYYY-Qn, e.g. 2026-Q1."]})
    y, q = int(found[1]), int(found[2])
    last = 3 * q
    return dt.date(y, last - 2, 1), dt.date(y, last, calendar.monthrange(y, last)[1])


def _range(date_from: dt.date | None, date_to: dt.date | None) -> None:
    errors = {}
    if date_from is None:
        errors["from"] = ["Give the first day of the return's period (YYYY-MM-DD)."]
    if date_to is None:
        errors["to"] = ["Give the last day of the return's period (YYYY-MM-DD)."]
    if date_from and date_to and date_to < date_from:
        errors["to"] = [f"“{date_to}” is before “{date_from}”."]
    if errors:
        raise ValidationFailed("The VAT report needs a period: from and to.", errors)


# -- the reports ------------------------------------------------------------------------

def vat_report(tx: Tx, date_from: dt.date | None, date_to: dt.date | None) -> dict[str, Any]:
    """Net and VAT per tax treatment, country, category and rate: the figures
    of the periodic VAT return."""
    _range(date_from, date_to)
    r = vat_rows(date_from, date_to)
    q = (select(r.c.treatment, r.c.country, r.c.category, r.c.rate, func.sum(r.c.net), func.sum(r.c.vat))
         .group_by(r.c.treatment, r.c.country, r.c.category, r.c.rate)
         .order_by(r.c.treatment, r.c.country, r.c.category, r.c.rate))
    rows = [{"tax_treatment": t, "country": c, "category": cat, "rate": _rate(rate), "net": _cents(n),
             "vat": _cents(v)} for t, c, cat, rate, n, v in tx.conn.execute(q)]
    return {"from": date_from, "to": date_to, "rows": rows,
            "totals": {"net": sum((x["net"] for x in rows), Decimal("0.00")),
                       "vat": sum((x["vat"] for x in rows), Decimal("0.00"))}}


def ec_sales_list(tx: Tx, period: str) -> dict[str, Any]:
    """Intra-EU supplies to businesses in a month, net per customer VAT id
    (credit notes of the month netted)."""
    start, end = month(period)
    r = intra_eu_rows(start, end)
    q = (select(r.c.vat_id, r.c.country, func.sum(r.c.net)).group_by(r.c.vat_id, r.c.country)
         .order_by(r.c.country, r.c.vat_id))
    rows = [{"vat_id": vat_id, "country": country, "net": _cents(n)} for vat_id, country, n in tx.conn.execute(q)]
    return {"period": period, "from": start, "to": end, "rows": rows,
            "totals": {"net": sum((x["net"] for x in rows), Decimal("0.00"))}}


def oss_return(tx: Tx, text: str) -> dict[str, Any]:
    """Distance sales under the One-Stop Shop in a quarter: net and VAT per
    member state and rate."""
    start, end = quarter(text)
    r = vat_rows(start, end, ("eu_distance_sale",))
    q = (select(r.c.country, r.c.rate, func.sum(r.c.net), func.sum(r.c.vat))
         .group_by(r.c.country, r.c.rate).order_by(r.c.country, r.c.rate))
    rows = [{"country": c, "rate": _rate(rate), "net": _cents(n), "vat": _cents(v)}
            for c, rate, n, v in tx.conn.execute(q)]
    return {"quarter": text, "from": start, "to": end, "rows": rows,
            "totals": {"net": sum((x["net"] for x in rows), Decimal("0.00")),
                       "vat": sum((x["vat"] for x in rows), Decimal("0.00"))}}


# -- CSV ------------------------------------------------------------------------------------

COLUMNS = {
    "vat": ("tax_treatment", "country", "category", "rate", "net", "vat"),
    "ec-sales-list": ("vat_id", "country", "net"),
    "oss": ("country", "rate", "net", "vat"),
}


def _cell(v: Any, column: str = "") -> str:
    if column == "rate":  # as the API writes rates: "0.22", "0.055", "0.00"
        whole, _, frac = f"{v.quantize(Decimal('0.0001')):f}".rstrip("0").partition(".")
        return f"{whole}.{frac.ljust(2, '0')}"
    if isinstance(v, Decimal):
        return f"{v:f}"
    text = str(v)
    # A spreadsheet would run a cell starting with these as a formula.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(kind: str, report: dict[str, Any]) -> str:
    """The report's rows as CSV (RFC 4180, a header row), then its totals."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    cols = COLUMNS[kind]
    w.writerow(cols)
    for row in report["rows"]:
        w.writerow([_cell(row[c], c) for c in cols])
    w.writerow(["total" if i == 0 else _cell(report["totals"][c]) if c in report["totals"] else ""
                for i, c in enumerate(cols)])
    return out.getvalue()
