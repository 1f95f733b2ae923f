"""Context builders: the books turned into a *document*, the one shape every
template and e-invoice writer reads, whatever the document is.

A document is a plain dict (amounts ``Decimal``, dates ``datetime.date``)::

    kind              "invoice" | "credit_note"
    number            "INV-2026-000045"
    issue_date, due_date (None when nothing is to be paid), delivery_date (or None)
    currency, language
    seller            {name, address, tax_id, bank_name, iban, bic}
    buyer             {code, name, email, tax_id, address}
    ship_to           an address or None
    lines             [{no, sku, description, quantity, unit, unit_price, discount,
                        vat_rate, net}]
    vat               [{rate, net, vat}], one per rate, ascending
    net_total, vat_total, total
    references        {order, customer_reference, shipment, carrier, tracking_number}
                      (each a string or None)
    payment           {terms_days, reference} or None (nothing to pay)
    credited_invoice  {number, issue_date} for a credit note, else None
    reason            why a credit note was issued, or None

Addresses are ``{name, line1, line2, city, postal_code, country}`` (country an
ISO 3166 alpha-2 code). Credit notes carry positive amounts: the kind says
which way they go.
"""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import bindparam, select

from o2c.db import models as m
from o2c.documents.i18n import document_language
from o2c.documents.payment import creditor_reference
from o2c.domain.errors import Conflict, NotFound
from o2c.domain.fx import FUNCTIONAL_CURRENCY, minor_units
from o2c.domain.money import ZERO, document_totals
from o2c.domain.numbering import document_number
from o2c.domain.tax import CATEGORIES, vat_rows
from o2c.domain.text import printable

KINDS = ("invoice", "credit_note")

invoices = m.Invoice.__table__
invoice_lines = m.InvoiceLine.__table__
invoice_vat = m.InvoiceVat.__table__
customers = m.Customer.__table__
orders = m.Order.__table__
order_lines = m.OrderLine.__table__
products = m.Product.__table__
shipments = m.Shipment.__table__
company = m.Company.__table__

_POSTCODE_CITY = re.compile(r"^(?P<postal_code>[A-Z0-9]{0,3}[- ]?\d[\dA-Z -]{1,8}?)\s+(?P<city>\D.*)$")


def stored_address(raw: dict[str, Any] | None, country: str) -> dict[str, Any]:
    """A stored address with every key present (older rows or other clients
    may have left out the optional ones)."""
    a = dict(raw or {})
    return {"name": a.get("name"), "line1": a.get("line1", ""), "line2": a.get("line2"),
            "city": a.get("city", ""), "postal_code": a.get("postal_code", ""),
            "country": a.get("country") or country}


def split_address(text: str, tax_id: str = "") -> dict[str, Any]:
    """The company's one-line address (``Via Roma 1, 20121 Milano, IT``) as
    an address. The country is the last part when it is a two-letter code,
    else the prefix of an EU VAT id."""
    parts = [p.strip() for p in re.split(r"[,\n]", text or "") if p.strip()]
    country = ""
    if parts and re.fullmatch(r"[A-Za-z]{2}", parts[-1]):
        country = parts.pop().upper()
    elif re.match(r"^[A-Z]{2}", tax_id or ""):
        country = tax_id[:2]
    postal_code = city = ""
    if len(parts) >= 2:
        found = _POSTCODE_CITY.match(parts[-1])
        if found:
            parts.pop()
            postal_code, city = found["postal_code"].strip(), found["city"].strip()
        else:
            city = parts.pop()
    return {"name": None, "line1": parts[0] if parts else "", "line2": ", ".join(parts[1:]) or None,
            "city": city, "postal_code": postal_code, "country": country}


def seller(row: Mapping[str, Any]) -> dict[str, Any]:
    """The company as the seller on its documents."""
    return {"name": row["name"], "address": split_address(row["address"], row["tax_id"]),
            "tax_id": row["tax_id"], "bank_name": row["bank_name"], "iban": row["iban"], "bic": row["bic"]}


def build_document(
    *, kind: str, number: str, issue_date: dt.date, currency: str, language: str | None,
    seller: dict[str, Any], buyer: dict[str, Any], lines: Iterable[Mapping[str, Any]],
    vat: Iterable[Mapping[str, Any]] | None = None, due_date: dt.date | None = None,
    delivery_date: dt.date | None = None, ship_to: dict[str, Any] | None = None,
    references: Mapping[str, str | None] | None = None, terms_days: int | None = None,
    credited_invoice: Mapping[str, Any] | None = None, reason: str | None = None,
    tax_treatment: str = "domestic", tax_country: str | None = None,
) -> dict[str, Any]:
    """A document from its parts. The VAT summary and totals are computed here
    by the one rounding rule (SPEC §3) unless the stored ones are given, and
    then both must agree: a document never shows figures the books do not have."""
    if kind not in KINDS:
        raise ValueError(f"unknown document kind {kind!r}; use one of {KINDS}")
    doc_lines = [{
        "no": i, "sku": l["sku"], "description": l["description"], "quantity": l["quantity"],
        "unit": l.get("unit") or "pcs", "unit_price": l["unit_price"], "discount": l.get("discount") or ZERO,
        "vat_rate": l["vat_rate"], "net": l["net"],
        "vat_category": l.get("vat_category") or ("S" if l["vat_rate"] > 0 else "Z"),
    } for i, l in enumerate(lines, start=1)]
    places = minor_units(currency)
    totals = document_totals(((l["net"], l["vat_rate"]) for l in doc_lines), places)
    computed = [v._asdict() for v in vat_rows(((l["net"], l["vat_category"], l["vat_rate"]) for l in doc_lines),
                                              places)]
    if vat is not None:
        stored = sorted(({"category": v.get("category") or ("S" if v["rate"] > 0 else "Z"), "rate": v["rate"],
                          "net": v["net"], "vat": v["vat"]} for v in vat), key=_vat_key)
        if stored != [{k: v[k] for k in ("category", "rate", "net", "vat")} for v in computed]:
            raise Conflict(f"Document {number}: its VAT summary does not follow from its lines.",
                           {"number": number})
    if delivery_date is None and tax_treatment == "intra_eu_b2b":
        # An intra-Community supply states when the goods were supplied (BR-IC-11).
        delivery_date = issue_date
    refs = {"order": None, "customer_reference": None, "shipment": None, "carrier": None,
            "tracking_number": None, **(references or {})}
    payable = kind == "invoice" and totals.gross > 0
    # Text stored before input refused control characters must not break the PDF or the XML.
    return printable({
        "kind": kind, "number": number, "issue_date": issue_date,
        "due_date": due_date if payable else None, "delivery_date": delivery_date,
        "currency": currency, "language": document_language(language),
        "seller": seller, "buyer": buyer, "ship_to": ship_to,
        "lines": doc_lines, "vat": computed,
        "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross,
        "references": refs,
        "payment": {"terms_days": terms_days, "reference": creditor_reference(number)} if payable else None,
        "credited_invoice": dict(credited_invoice) if credited_invoice else None,
        "reason": reason,
        "tax": {"treatment": tax_treatment, "country": tax_country or seller["address"].get("country") or "",
                "categories": sorted({l["vat_category"] for l in doc_lines}, key=CATEGORIES.index)},
    })


def _vat_key(v: Mapping[str, Any]) -> tuple[int, Any]:
    return (CATEGORIES.index(v["category"]), v["rate"])


def functional_view(head: Mapping[str, Any], vat: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """A document in another currency than the functional one: its rate and
    its VAT summary and totals in the functional currency, as stored (what
    the ledger holds). EU sellers state the VAT in their own currency too
    (VAT directive, art. 230; Italy: DPR 633/72, art. 21); ``None`` for a
    document in the functional currency."""
    if head["currency"] == FUNCTIONAL_CURRENCY:
        return None
    rows = sorted(({"category": v["category"], "rate": v["rate"], "net": v["functional_net"],
                    "vat": v["functional_vat"]} for v in vat), key=_vat_key)
    return {"currency": FUNCTIONAL_CURRENCY, "rate": head["exchange_rate"], "vat": rows,
            "net_total": head["functional_net_total"], "vat_total": head["functional_vat_total"],
            "total": head["functional_total"]}


# -- invoices --------------------------------------------------------------------------

_invoice_head = (
    select(invoices.c.id, invoices.c.number, invoices.c.issue_date, invoices.c.due_date, invoices.c.currency,
           invoices.c.net_total, invoices.c.vat_total, invoices.c.total, invoices.c.order_id,
           invoices.c.exchange_rate, invoices.c.functional_net_total, invoices.c.functional_vat_total,
           invoices.c.functional_total,
           invoices.c.shipment_id, invoices.c.tax_treatment, invoices.c.tax_country, invoices.c.buyer_vat_id,
           customers.c.code.label("customer_code"), customers.c.name.label("customer_name"),
           customers.c.email.label("customer_email"), customers.c.tax_id.label("customer_tax_id"),
           customers.c.language, customers.c.country.label("customer_country"),
           customers.c.billing_address, customers.c.payment_terms_days,
           orders.c.created_at.label("order_created_at"), orders.c.external_ref, orders.c.shipping_address,
           shipments.c.created_at.label("shipment_created_at"), shipments.c.carrier,
           shipments.c.tracking_number, shipments.c.shipped_at)
    .select_from(invoices.join(customers, customers.c.id == invoices.c.customer_id)
                 .join(orders, orders.c.id == invoices.c.order_id)
                 .outerjoin(shipments, shipments.c.id == invoices.c.shipment_id))
    .where(invoices.c.id == bindparam("iid"))
)
_invoice_lines = (
    select(invoice_lines.c.sku, invoice_lines.c.description, invoice_lines.c.quantity,
           invoice_lines.c.unit_price, invoice_lines.c.discount, invoice_lines.c.vat_rate,
           invoice_lines.c.vat_category, invoice_lines.c.net, products.c.unit)
    .select_from(invoice_lines.join(order_lines, order_lines.c.id == invoice_lines.c.order_line_id)
                 .join(products, products.c.id == order_lines.c.product_id))
    .where(invoice_lines.c.invoice_id == bindparam("iid")).order_by(invoice_lines.c.id)
)
_invoice_vat = select(invoice_vat.c.category, invoice_vat.c.rate, invoice_vat.c.net, invoice_vat.c.vat,
                      invoice_vat.c.functional_net, invoice_vat.c.functional_vat).where(
    invoice_vat.c.invoice_id == bindparam("iid"))
_company = select(company.c.name, company.c.address, company.c.tax_id, company.c.bank_name, company.c.iban,
                  company.c.bic).order_by(company.c.id).limit(1)


def company_seller(conn: Any) -> dict[str, Any]:
    row = conn.execute(_company).mappings().first()
    if row is None:
        raise Conflict("The company is not set up; run `o2c db upgrade`.")
    return seller(row)


def _number(prefix: str, at: dt.datetime | None, id_: int | None) -> str | None:
    return document_number(prefix, at.year, id_) if at is not None and id_ is not None else None


def invoice_document(conn: Any, invoice_id: int) -> dict[str, Any]:
    """The issued invoice ``invoice_id`` as a document."""
    h = conn.execute(_invoice_head, {"iid": invoice_id}).mappings().first()
    if h is None:
        raise NotFound(f"No invoice with id {invoice_id}.")
    buyer = {"code": h["customer_code"], "name": h["customer_name"], "email": h["customer_email"] or None,
             "tax_id": h["buyer_vat_id"] or h["customer_tax_id"] or None,
             "address": stored_address(h["billing_address"], h["customer_country"])}
    vat = conn.execute(_invoice_vat, {"iid": invoice_id}).mappings().all()
    doc = build_document(
        kind="invoice", tax_treatment=h["tax_treatment"], tax_country=h["tax_country"], number=h["number"], issue_date=h["issue_date"], due_date=h["due_date"],
        delivery_date=h["shipped_at"].date() if h["shipped_at"] else None,
        currency=h["currency"], language=h["language"], seller=company_seller(conn), buyer=buyer,
        ship_to=stored_address(h["shipping_address"], h["customer_country"]) if h["shipping_address"] else None,
        lines=conn.execute(_invoice_lines, {"iid": invoice_id}).mappings(),
        vat=vat, terms_days=h["payment_terms_days"],
        references={"order": _number("SO", h["order_created_at"], h["order_id"]),
                    "customer_reference": h["external_ref"],
                    "shipment": _number("SH", h["shipment_created_at"], h["shipment_id"]),
                    "carrier": h["carrier"], "tracking_number": h["tracking_number"]},
    )
    if (doc["net_total"], doc["vat_total"], doc["total"]) != (h["net_total"], h["vat_total"], h["total"]):
        raise Conflict(f"Invoice {h['number']}: its totals do not follow from its lines.", {"invoice_id": invoice_id})
    functional = functional_view(h, vat)
    if functional is not None:
        doc["functional"] = functional
    return doc



# -- credit notes ----------------------------------------------------------------------

credit_notes = m.CreditNote.__table__
cn_lines = m.CreditNoteLine.__table__
cn_vat = m.CreditNoteVat.__table__
returns = m.Return.__table__

_cn_head = (
    select(credit_notes.c.id, credit_notes.c.number, credit_notes.c.issue_date, credit_notes.c.currency,
           credit_notes.c.net_total, credit_notes.c.vat_total, credit_notes.c.total, credit_notes.c.order_id,
           credit_notes.c.exchange_rate, credit_notes.c.functional_net_total, credit_notes.c.functional_vat_total,
           credit_notes.c.functional_total,
           credit_notes.c.return_id, returns.c.created_at.label("return_created_at"),
           credit_notes.c.tax_treatment, credit_notes.c.tax_country, credit_notes.c.buyer_vat_id,
           orders.c.shipping_address,
           invoices.c.number.label("invoice_number"), invoices.c.issue_date.label("invoice_issue_date"),
           customers.c.code.label("customer_code"), customers.c.name.label("customer_name"),
           customers.c.email.label("customer_email"), customers.c.tax_id.label("customer_tax_id"),
           customers.c.language, customers.c.country.label("customer_country"), customers.c.billing_address,
           orders.c.created_at.label("order_created_at"), orders.c.external_ref)
    .select_from(credit_notes.join(invoices, invoices.c.id == credit_notes.c.invoice_id)
                 .join(customers, customers.c.id == credit_notes.c.customer_id)
                 .join(orders, orders.c.id == credit_notes.c.order_id)
                 .outerjoin(returns, returns.c.id == credit_notes.c.return_id))
    .where(credit_notes.c.id == bindparam("cid"))
)
_cn_lines = (
    select(cn_lines.c.sku, cn_lines.c.description, cn_lines.c.quantity, cn_lines.c.unit_price,
           cn_lines.c.discount, cn_lines.c.vat_rate, cn_lines.c.vat_category, cn_lines.c.net, products.c.unit)
    .select_from(cn_lines.join(order_lines, order_lines.c.id == cn_lines.c.order_line_id)
                 .join(products, products.c.id == order_lines.c.product_id))
    .where(cn_lines.c.credit_note_id == bindparam("cid")).order_by(cn_lines.c.id)
)
_cn_vat = select(cn_vat.c.category, cn_vat.c.rate, cn_vat.c.net, cn_vat.c.vat).where(cn_vat.c.credit_note_id == bindparam("cid"))
_cn_functional_vat = select(cn_vat.c.category, cn_vat.c.rate, cn_vat.c.functional_net, cn_vat.c.functional_vat).where(
    cn_vat.c.credit_note_id == bindparam("cid"))


def credit_note_document(conn: Any, credit_note_id: int) -> dict[str, Any]:
    """The issued credit note ``credit_note_id`` as a document, naming the
    invoice it credits and the return it came from. Its VAT is the stored
    one: the last part of a credited invoice takes what is left of the
    invoice's VAT, which may differ by a cent from the rounded rate."""
    h = conn.execute(_cn_head, {"cid": credit_note_id}).mappings().first()
    if h is None:
        raise NotFound(f"No credit note with id {credit_note_id}.")
    buyer = {"code": h["customer_code"], "name": h["customer_name"], "email": h["customer_email"] or None,
             "tax_id": h["buyer_vat_id"] or h["customer_tax_id"] or None,
             "address": stored_address(h["billing_address"], h["customer_country"])}
    doc = build_document(
        kind="credit_note", tax_treatment=h["tax_treatment"], tax_country=h["tax_country"],
        ship_to=stored_address(h["shipping_address"], h["customer_country"]) if h["shipping_address"] else None, number=h["number"], issue_date=h["issue_date"], currency=h["currency"],
        language=h["language"], seller=company_seller(conn), buyer=buyer,
        lines=conn.execute(_cn_lines, {"cid": credit_note_id}).mappings(),
        references={"order": _number("SO", h["order_created_at"], h["order_id"]),
                    "customer_reference": h["external_ref"],
                    "return": _number("RMA", h["return_created_at"], h["return_id"])},
        credited_invoice={"number": h["invoice_number"], "issue_date": h["invoice_issue_date"]},
    )
    stored = [dict(v) for v in conn.execute(_cn_vat, {"cid": credit_note_id}).mappings()]
    stored.sort(key=_vat_key)
    reasons = {v["category"]: v for v in doc["vat"]}
    doc["vat"] = [{**v, "exemption_reason_code": reasons.get(v["category"], {}).get("exemption_reason_code"),
                   "exemption_reason": reasons.get(v["category"], {}).get("exemption_reason")} for v in stored]
    doc["net_total"], doc["vat_total"], doc["total"] = h["net_total"], h["vat_total"], h["total"]
    if h["currency"] != FUNCTIONAL_CURRENCY:
        doc["functional"] = functional_view(h, conn.execute(_cn_functional_vat, {"cid": credit_note_id}).mappings())
    return doc
