"""The audit trail in words for the back office: what happened to which
document, with document numbers linked to their pages instead of internal
ids, states as words ("Partially shipped"), and nothing a reader cannot use
(file hashes, media types). Cost figures are already left out by the read
model for those who do not read the books (``queries.audit_trail``)."""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import url_for
from markupsafe import Markup

#: A document kind → its page (endpoint, argument name); kinds without a page are not linked.
PAGES = {"order": ("web.order", "order_id"), "shipment": ("web.shipment", "shipment_id"),
         "invoice": ("web.invoice", "invoice_id"), "payment": ("web.payment", "payment_id"),
         "credit_note": ("web.credit_note", "credit_note_id"), "return": ("web.return_page", "return_id")}

NOUNS = {"order": "Order", "shipment": "Shipment", "invoice": "Invoice", "payment": "Payment",
         "credit_note": "Credit note", "return": "Return", "refund": "Refund", "customer": "Customer",
         "product": "Product", "period": "Period", "webhook": "Webhook", "user": "User", "account": "Account",
         "api_key": "API key", "dunning_letter": "Dunning letter", "webhook_delivery": "Webhook delivery"}

#: What an action did, after the document's name ("Shipment SH-… packed").
VERBS = {
    "created": "created", "confirmed": "confirmed", "cancelled": "cancelled", "statuses": "changed status",
    "status": "changed status", "lines_cancelled": "quantities cancelled",
    "backorder_reserved": "backordered goods reserved", "exchange": "created as a replacement",
    "packed": "packed", "shipped": "shipped", "issued": "issued", "file_stored": "PDF stored",
    "credited": "credited", "received": "received", "reversed": "reversed", "paid": "paid",
    "updated": "updated", "notice": "notice sent",
}
#: Actions on one document recorded under another's name.
TITLES = {"customer_credit.applied": "Customer credit applied to", "customer_credit.released": "Customer credit taken back from",
          "stock.received": "Goods received for"}

#: Field names in words.
KEYS = {"status": "Status", "fulfillment_status": "Fulfilment", "payment_status": "Payment", "total": "Total",
        "amount": "Amount", "amount_paid": "Paid", "credited_amount": "Credited", "applied": "Applied to invoices",
        "unapplied": "Left as credit", "to_credit": "To customer credit", "credited": "Credited",
        "refunded": "Refunded", "carrier": "Carrier", "tracking_number": "Tracking", "reason": "Reason",
        "cost": "Cost of goods", "value": "Stock value", "unit_cost": "Unit cost", "on_hand": "On hand",
        "lines": "Goods", "backordered": "Backordered", "allocations": "Applied", "payments": "From payments",
        "sources": "From payments", "shipments_cancelled": "Shipments cancelled", "exchange_for": "For return",
        "bytes": "Size", "restock": "Back in stock", "refund": "Money already paid", "document": "Document",
        "reserved_for_backorders": "Reserved for waiting orders", "original_order_id": "Replaces goods of order",
        "credit_note_ids": "Credit notes", "invoice_id": "Invoice", "shipment_id": "Shipment", "order_id": "Order",
        "payment_id": "Payment", "credit_note_id": "Credit note", "return_id": "Return", "refund_id": "Refund",
        "exchange_order_id": "Replacement order", "until": "Until", "role": "Role", "name": "Name"}
#: Values that are states or choices, said in words.
STATE_KEYS = frozenset({"status", "fulfillment_status", "payment_status", "refund", "method", "role"})
#: Never shown: internal or meaningless to a reader (the subject's own number is in the title).
HIDDEN = frozenset({"sha256", "media_type", "number", "customer_id", "product_id", "invoice_number",
                    "channel", "line_no", "still_backordered", "user_id", "webhook_id"})

REFUNDS = {"credit": "kept as customer credit", "bank": "refunded to the bank"}

_SNAKE = re.compile(r"^[a-z]+(?:_[a-z]+)+$|^[a-z]+$")


@dataclass
class Happening:
    """One audit row as a person reads it."""

    at: Any
    who: str
    what: Markup
    details: list[Markup] = field(default_factory=list)


def words(value: Any) -> str:
    """``partially_shipped`` → ``Partially shipped``."""
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


def who(actor: str) -> str:
    kind, _, name = actor.partition(":")
    if not name:
        return actor
    return f"{name} (API key)" if kind == "api_key" else name


class _Reader:
    def __init__(self, row: Mapping[str, Any]):
        self.row = row
        self.docs: Mapping[tuple[str, int], str] = row.get("documents") or {}
        self.subject = (row["object_type"], row["object_id"])

    def doc(self, kind: str, id_: Any) -> Markup:
        """A document by its number, linked to its page; an unknown one by its kind alone."""
        number = self.docs.get((kind, id_)) if isinstance(id_, int) else None
        if number is None:
            return Markup("{0} (removed)").format(NOUNS.get(kind, words(kind))) if isinstance(id_, int) else \
                Markup("{0}").format(id_)
        page = PAGES.get(kind)
        if page is None:
            return Markup("{0}").format(number)
        return Markup('<a href="{0}">{1}</a>').format(url_for(page[0], **{page[1]: id_}), number)

    def value(self, key: str, v: Any) -> Markup | None:
        from o2c.services.queries import DOCUMENT_KEYS
        if v is None or v == "" or v == []:
            return None
        if key in DOCUMENT_KEYS:
            ids = v if isinstance(v, list) else [v]
            return Markup(", ").join(self.doc(DOCUMENT_KEYS[key], i) for i in ids)
        if key == "refund" and v in REFUNDS:
            return Markup("{0}").format(REFUNDS[v])
        if key in STATE_KEYS and isinstance(v, str) and _SNAKE.match(v):
            return Markup("{0}").format(words(v))
        if key == "restock" and isinstance(v, bool):
            return Markup("yes") if v else Markup("no: written off")
        if key == "bytes" and isinstance(v, int):
            return Markup("{0} KB").format(max(1, round(v / 1024)))
        if isinstance(v, bool):
            return Markup("yes") if v else Markup("no")
        if isinstance(v, list):
            parts = [self.item(x) for x in v]
            parts = [p for p in parts if p is not None]
            return Markup(", ").join(parts) if parts else None
        if isinstance(v, dict):
            return None
        return Markup("{0}").format(v)

    def item(self, x: Any) -> Markup | None:
        """An element of a list: goods (``4 × MOKA-3``), an allocation
        (``INV-… 10.00``), or a document number."""
        if isinstance(x, dict):
            if "sku" in x and "quantity" in x:
                out = Markup("{0} × {1}").format(x["quantity"], x["sku"])
                if x.get("still_backordered"):
                    out += Markup(" ({0} still waiting)").format(x["still_backordered"])
                return out
            for key, kind in (("invoice_id", "invoice"), ("payment_id", "payment")):
                if key in x:
                    return Markup("{0} {1}").format(self.doc(kind, x[key]), x.get("amount", ""))
            return None
        if isinstance(x, (str, int)) and not isinstance(x, bool):
            return Markup("{0}").format(x)
        return None

    def title(self) -> Markup:
        action = self.row["action"]
        kind, _, verb = action.partition(".")
        subject = self.doc(*self.subject) if self.subject[0] in PAGES or self.subject in self.docs else None
        if action in TITLES:
            return Markup("{0} {1}").format(TITLES[action], subject or NOUNS.get(self.subject[0], ""))
        noun = NOUNS.get(kind, words(kind))
        said = VERBS.get(verb, verb.replace("_", " "))
        if subject is not None and kind == self.subject[0]:
            return Markup("{0} {1} {2}").format(noun, subject, said)
        if subject is not None:
            return Markup("{0} {1} · {2}").format(noun, said, subject)
        return Markup("{0} {1}").format(noun, said)

    def details(self) -> list[Markup]:
        before, after = self.row.get("before") or {}, self.row.get("after") or {}
        out = []
        for key in list(after) + [k for k in before if k not in after]:
            if key in HIDDEN or key.endswith("_id") and key not in KEYS:
                continue
            if self._is_subject(key, after.get(key, before.get(key))):
                continue
            old, new = before.get(key), after.get(key)
            if key in before and key in after and old == new:
                continue
            label = KEYS.get(key, words(key))
            new_text, old_text = self.value(key, new), self.value(key, old)
            if new_text is None and old_text is None:
                continue
            if old_text is not None and key in after:
                out.append(Markup("{0}: <del>{1}</del> → {2}").format(label, old_text, new_text or "—"))
            elif new_text is not None:
                out.append(Markup("{0}: {1}").format(label, new_text))
            else:
                out.append(Markup("{0} was {1}").format(label, old_text))
        return out

    def _is_subject(self, key: str, v: Any) -> bool:
        """The document the row is about (its title names it), or the order
        of its shipment or invoice (the page shows it)."""
        from o2c.services.queries import DOCUMENT_KEYS
        if key not in DOCUMENT_KEYS:
            return False
        return (DOCUMENT_KEYS[key], v) == self.subject or (
            key == "order_id" and self.subject[0] in ("shipment", "invoice"))


def describe(rows: Iterable[Mapping[str, Any]]) -> list[Happening]:
    """Audit rows (``queries.audit_trail``) as happenings in words."""
    out = []
    for row in rows:
        r = _Reader(row)
        out.append(Happening(row["at"], who(row["actor"]), r.title(), r.details()))
    return out
