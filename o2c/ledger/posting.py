"""Posting rules of SPEC.md §4 as pure functions returning balanced entries.

Every entry is checked for balance when it is built; an unbalanced entry can
never reach the journal.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

from o2c.domain.money import ZERO
from o2c.ledger.accounts import Account


class JournalLine(NamedTuple):
    account: str
    debit: Decimal
    credit: Decimal


class JournalEntry(NamedTuple):
    date: dt.date
    source_type: str
    source_id: int
    document: str
    description: str
    lines: tuple[JournalLine, ...]
    customer_id: int | None = None

    @property
    def period(self) -> str:
        return self.date.strftime("%Y-%m")

    @property
    def total(self) -> Decimal:
        return sum((l.debit for l in self.lines), ZERO)


class UnbalancedEntry(AssertionError):
    pass


def _line(account: Account, amount: Decimal) -> JournalLine:
    """Positive amounts debit, negative credit: the sign rule lives only here."""
    if amount >= 0:
        return JournalLine(account.code, amount, ZERO)
    return JournalLine(account.code, ZERO, -amount)


def build_entry(
    date: dt.date,
    source_type: str,
    source_id: int,
    document: str,
    description: str,
    amounts: Iterable[tuple[Account, Decimal]],
    customer_id: int | None = None,
) -> JournalEntry | None:
    """A balanced entry from signed amounts per account (debit positive).

    Zero amounts are dropped; an entry of nothing but zeros is ``None``.
    This check cannot be skipped: an unbalanced entry raises.
    """
    lines = tuple(_line(acc, amt) for acc, amt in amounts if amt != 0)
    debit = sum((l.debit for l in lines), ZERO)
    credit = sum((l.credit for l in lines), ZERO)
    if debit != credit:
        raise UnbalancedEntry(f"{document}: debits {debit} != credits {credit}")
    if not lines:
        return None
    return JournalEntry(date, source_type, source_id, document, description, lines, customer_id)


def entry_for_goods_receipt(
    chart: Mapping[str, Account], date: dt.date, receipt_id: int, document: str, value: Decimal
) -> JournalEntry | None:
    return build_entry(
        date, "stock_receipt", receipt_id, document, f"Goods received {document}",
        [(chart["inventory"], value), (chart["goods_received"], -value)],
    )


def entry_for_shipment(
    chart: Mapping[str, Account], date: dt.date, shipment_id: int, document: str,
    cost: Decimal, customer_id: int,
) -> JournalEntry | None:
    return build_entry(
        date, "shipment", shipment_id, document, f"Cost of goods shipped {document}",
        [(chart["cogs"], cost), (chart["inventory"], -cost)], customer_id,
    )


def entry_for_invoice(
    chart: Mapping[str, Account], date: dt.date, invoice_id: int, document: str,
    net: Decimal, vat: Decimal, customer_id: int,
    revenue_role: str = "revenue", vat_role: str = "vat_payable",
) -> JournalEntry | None:
    """Net to the revenue role of the document's tax treatment, VAT to its
    payable (``o2c.domain.tax.posting_roles``)."""
    return build_entry(
        date, "invoice", invoice_id, document, f"Invoice {document}",
        [(chart["receivables"], net + vat), (chart[revenue_role], -net), (chart[vat_role], -vat)],
        customer_id,
    )


def entry_for_payment(
    chart: Mapping[str, Account], date: dt.date, payment_id: int, document: str,
    amount: Decimal, applied: Decimal, customer_id: int, bank: Account | None = None,
) -> JournalEntry | None:
    """``bank``: the GL account of the bank account the money arrived on
    (a statement line's); the ``bank`` role's account otherwise."""
    return build_entry(
        date, "payment", payment_id, document, f"Payment received {document}",
        [
            (bank or chart["bank"], amount),
            (chart["receivables"], -applied),
            (chart["customer_credit"], -(amount - applied)),
        ],
        customer_id,
    )


def entry_for_credit_applied(
    chart: Mapping[str, Account], date: dt.date, source_id: int, document: str,
    amount: Decimal, customer_id: int,
) -> JournalEntry | None:
    return build_entry(
        date, "credit_application", source_id, document, f"Customer credit applied {document}",
        [(chart["customer_credit"], amount), (chart["receivables"], -amount)], customer_id,
    )


def entry_for_payment_reversal(
    chart: Mapping[str, Account], date: dt.date, payment_id: int, document: str,
    amount: Decimal, applied: Decimal, customer_id: int, bank: Account | None = None,
) -> JournalEntry | None:
    """The payment's entry turned around: the money did not arrive after all.
    What it had paid is owed again; what it left as credit is gone. ``bank``:
    the GL account the payment was booked on (the ``bank`` role's otherwise)."""
    return build_entry(
        date, "payment_reversal", payment_id, document, f"Payment reversed {document}",
        [
            (chart["receivables"], applied),
            (chart["customer_credit"], amount - applied),
            (bank or chart["bank"], -amount),
        ],
        customer_id,
    )


def entry_for_credit_released(
    chart: Mapping[str, Account], date: dt.date, source_id: int, document: str,
    amount: Decimal, customer_id: int,
) -> JournalEntry | None:
    """Money applied to an invoice taken back as the customer's credit."""
    return build_entry(
        date, "credit_release", source_id, document, f"Customer credit released from {document}",
        [(chart["receivables"], amount), (chart["customer_credit"], -amount)], customer_id,
    )


def entry_for_return(
    chart: Mapping[str, Account], date: dt.date, return_id: int, document: str,
    cost: Decimal, restock: bool, customer_id: int,
) -> JournalEntry | None:
    """Returned goods at the cost they left with: back into inventory, or
    written off as damaged; either way no longer cost of goods sold."""
    target = chart["inventory"] if restock else chart["inventory_write_off"]
    what = "restocked" if restock else "written off"
    return build_entry(
        date, "return", return_id, document, f"Return {document}, goods {what}",
        [(target, cost), (chart["cogs"], -cost)], customer_id,
    )


def entry_for_credit_note(
    chart: Mapping[str, Account], date: dt.date, credit_note_id: int, document: str,
    net: Decimal, vat: Decimal, customer_id: int,
    revenue_role: str = "revenue", vat_role: str = "vat_payable",
) -> JournalEntry | None:
    return build_entry(
        date, "credit_note", credit_note_id, document, f"Credit note {document}",
        [(chart[revenue_role], net), (chart[vat_role], vat), (chart["receivables"], -(net + vat))],
        customer_id,
    )


def entry_for_credit_note_released(
    chart: Mapping[str, Account], date: dt.date, credit_note_id: int, document: str,
    amount: Decimal, customer_id: int,
) -> JournalEntry | None:
    """What a credit note took off a paid invoice goes back to its payments as
    customer credit."""
    return build_entry(
        date, "credit_note", credit_note_id, document, f"Paid amount released to customer credit {document}",
        [(chart["receivables"], amount), (chart["customer_credit"], -amount)], customer_id,
    )


def entry_for_refund(
    chart: Mapping[str, Account], date: dt.date, refund_id: int, document: str,
    amount: Decimal, customer_id: int,
) -> JournalEntry | None:
    return build_entry(
        date, "refund", refund_id, document, f"Refund paid {document}",
        [(chart["customer_credit"], amount), (chart["bank"], -amount)], customer_id,
    )
