"""Posting rules of SPEC.md §4 as pure functions returning balanced entries.

Every entry is checked for balance when it is built; an unbalanced entry can
never reach the journal.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import NamedTuple

from o2c.domain.fx import FUNCTIONAL_CURRENCY
from o2c.domain.money import ZERO
from o2c.ledger.accounts import Account


class JournalLine(NamedTuple):
    """Debit and credit in the functional currency; ``currency`` and
    ``amount`` (signed, debit positive) the document's, where the line comes
    from a document in another currency (``None``: debit − credit)."""

    account: str
    debit: Decimal
    credit: Decimal
    currency: str = FUNCTIONAL_CURRENCY
    amount: Decimal | None = None


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


#: A signed functional amount on an account, optionally with the document's
#: currency and signed amount in it.
Posting = tuple[Account, Decimal] | tuple[Account, Decimal, str, Decimal]


def _line(account: Account, amount: Decimal, currency: str = FUNCTIONAL_CURRENCY,
          document_amount: Decimal | None = None) -> JournalLine:
    """Positive amounts debit, negative credit: the sign rule lives only here."""
    if amount >= 0:
        return JournalLine(account.code, amount, ZERO, currency, document_amount)
    return JournalLine(account.code, ZERO, -amount, currency, document_amount)


def _nonzero(p: Posting) -> bool:
    return p[1] != 0 or (len(p) == 4 and p[3] != 0)


def build_entry(
    date: dt.date,
    source_type: str,
    source_id: int,
    document: str,
    description: str,
    amounts: Iterable[Posting],
    customer_id: int | None = None,
) -> JournalEntry | None:
    """A balanced entry from signed amounts per account (debit positive),
    each optionally with its document currency and amount.

    Zero amounts are dropped; an entry of nothing but zeros is ``None``.
    This check cannot be skipped: an unbalanced entry raises.
    """
    lines = tuple(_line(*p) for p in amounts if _nonzero(p))
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


#: A document in another currency: (currency, its net, its VAT).
InCurrency = tuple[str, Decimal, Decimal]


def _in(account: Account, amount: Decimal, currency: str, document_amount: Decimal) -> Posting:
    return (account, amount, currency, document_amount)


def entry_for_invoice(
    chart: Mapping[str, Account], date: dt.date, invoice_id: int, document: str,
    net: Decimal, vat: Decimal, customer_id: int,
    revenue_role: str = "revenue", vat_role: str = "vat_payable", *, foreign: InCurrency | None = None,
) -> JournalEntry | None:
    """Net to the revenue role of the document's tax treatment, VAT to its
    payable (``o2c.domain.tax.posting_roles``). ``net`` and ``vat`` are
    functional; an invoice in another currency gives its own in ``foreign``."""
    if foreign is None:
        amounts: list[Posting] = [(chart["receivables"], net + vat), (chart[revenue_role], -net),
                                  (chart[vat_role], -vat)]
    else:
        cur, dnet, dvat = foreign
        amounts = [_in(chart["receivables"], net + vat, cur, dnet + dvat), _in(chart[revenue_role], -net, cur, -dnet),
                   _in(chart[vat_role], -vat, cur, -dvat)]
    return build_entry(date, "invoice", invoice_id, document, f"Invoice {document}", amounts, customer_id)


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


def entry_in_currency(
    chart: Mapping[str, Account], date: dt.date, source_type: str, source_id: int, document: str,
    description: str, currency: str, amounts: Iterable[tuple[str, Decimal, Decimal]], customer_id: int | None,
    bank: Account | None = None,
) -> JournalEntry | None:
    """An entry of a document in ``currency``: per posting role its
    functional amount and its amount in the currency (both signed, debit
    positive). The document amounts balance by themselves; what the
    functional ones leave over is the realised exchange difference, a
    credit to ``fx_gain`` or a debit to ``fx_loss``. ``bank``: the GL account
    of the bank account the money moved on (the ``bank`` role's otherwise)."""
    lines = list(amounts)
    if sum((d for _, _, d in lines), ZERO) != 0:
        raise UnbalancedEntry(f"{document}: the {currency} amounts do not balance")
    postings: list[Posting] = [_in(bank if role == "bank" and bank is not None else chart[role], f, currency, d)
                               for role, f, d in lines]
    difference = -sum((f for _, f, _ in lines), ZERO)
    if difference:
        postings.append((chart["fx_gain" if difference < 0 else "fx_loss"], difference))
    return build_entry(date, source_type, source_id, document, description, postings, customer_id)


def entry_for_credit_note_in_currency(
    chart: Mapping[str, Account], date: dt.date, credit_note_id: int, document: str, customer_id: int,
    currency: str, net: tuple[Decimal, Decimal], vat: tuple[Decimal, Decimal], applied: tuple[Decimal, Decimal],
    released: tuple[Decimal, Decimal], revenue_role: str = "revenue", vat_role: str = "vat_payable",
) -> JournalEntry | None:
    """A credit note of an invoice in ``currency`` (each pair: amount in the
    currency, functional value): revenue and VAT reversed at the note's
    functional figures, the receivable reduced by the value of what it
    settles (``applied``), the customer's credit raised by the value of what
    it gives back (``released``), the exchange difference between them."""
    return entry_in_currency(chart, date, "credit_note", credit_note_id, document, f"Credit note {document}",
                             currency, [(revenue_role, net[1], net[0]), (vat_role, vat[1], vat[0]),
                                        ("receivables", -applied[1], -applied[0]),
                                        ("customer_credit", -released[1], -released[0])], customer_id)


def entry_for_payment_in_currency(
    chart: Mapping[str, Account], date: dt.date, payment_id: int, document: str, customer_id: int,
    currency: str, amount: tuple[Decimal, Decimal], applied: tuple[Decimal, Decimal],
    unapplied: tuple[Decimal, Decimal], bank: Account | None = None,
) -> JournalEntry | None:
    """A payment in ``currency`` (each pair: amount in the currency,
    functional value): the bank at the day's rate, the receivables it
    settles at the values they were booked at, the rest as customer credit at
    the day's rate; the difference is the realised exchange gain or loss."""
    return entry_in_currency(chart, date, "payment", payment_id, document, f"Payment received {document}",
                             currency, [("bank", amount[1], amount[0]), ("receivables", -applied[1], -applied[0]),
                                        ("customer_credit", -unapplied[1], -unapplied[0])], customer_id, bank)


def entry_for_revaluation(
    chart: Mapping[str, Account], date: dt.date, source_id: int, document: str, description: str,
    differences: Iterable[tuple[str, str, Decimal]], reversal: bool = False,
) -> JournalEntry | None:
    """Open balances in foreign currencies revalued (``differences``: per
    posting role and currency, what the role's functional balance moves by,
    debit positive): each role's account in its currency with no document
    amount (the money owed is unchanged, only its value), against the
    unrealised exchange gain (a credit) or loss (a debit), netted per
    currency. The ``reversal`` turns every line over, on the same accounts."""
    postings: list[Posting] = []
    per_currency: dict[str, Decimal] = {}
    for role, currency, difference in differences:
        postings.append((chart[role], difference, currency, ZERO))
        per_currency[currency] = per_currency.get(currency, ZERO) + difference
    for net in per_currency.values():
        if net:
            postings.append((chart["fx_unrealised_gain" if net > 0 else "fx_unrealised_loss"], -net))
    if reversal:
        postings = [(p[0], -p[1], *p[2:]) for p in postings]  # type: ignore[misc]
    return build_entry(date, "fx_revaluation", source_id, document, description, postings)
