"""Automatic cash application: which open invoices a bank statement line pays.

Pure logic. Given a line, what is open (invoices, refunds paid out, the IBANs
and names of customers) and the rules in the administrator's order, it
decides: ``matched`` (post the payment now), ``suggested`` (a clerk confirms
with one click) or ``unmatched`` (the worklist). The first rule that decides
wins; a rule that only suggests lets the later rules try, and its suggestion
stands when none of them decides.

No rule puts money on an invoice that only might be the right one: a guess
(an invoice number that could be a typo for another one, a payer who owes
several invoices) becomes a suggestion unless the amount or a check digit
confirms it. The parameters of each rule can make it bolder.
"""
from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from stdnum import iso11649

from o2c.domain.money import ZERO
from o2c.domain.numbering import document_number

#: The rules o2c knows, in the order they are seeded. ``name`` is what the
#: administrator sees and reorders; ``params`` are theirs to change.
BOOKED = "booked_payment"
REFERENCE = "creditor_reference"
NUMBERS = "document_numbers"
IBAN = "payer_iban"
AMOUNT = "amount_tolerance"
REFUND = "refund"  # outgoing lines: o2c's own refunds (always on, not a cash rule)
MANUAL = "manual"
#: The statuses of a line no one has decided yet.
UNDECIDED = ("unmatched", "suggested")

DEFAULT_RULES: tuple[tuple[str, dict[str, Any]], ...] = (
    # A payment typed in before the statement came: a line of exactly its
    # amount, of the customer it names, received within ``days`` of the
    # line's booking date, is that payment's report (linked, nothing posted).
    (BOOKED, {"days": 5}),
    (REFERENCE, {}),
    # Invoice/order numbers in the text. Decisive when the amount equals what
    # the named invoices owe; otherwise a suggestion (a typo can name another
    # invoice), unless ``exact_amount_only`` is switched off.
    (NUMBERS, {"exact_amount_only": True}),
    # The payer's IBAN names the customer. The one open invoice whose balance
    # equals the amount, or everything open when the amount covers it all;
    # otherwise oldest first as a suggestion (``otherwise``: "suggest" | "post").
    (IBAN, {"otherwise": "suggest"}),
    # One open invoice of the named customer within ``tolerance``: a shortfall
    # is written off to ``write_off_account`` (bank fees) or left open
    # (``difference``: "write_off" | "leave_open"); an excess is credit.
    (AMOUNT, {"tolerance": "2.00", "difference": "write_off", "write_off_account": "6800"}),
)
RULE_NAMES = tuple(name for name, _ in DEFAULT_RULES)
#: A rule's number in audit rows (``object_id``), stable as rules are added.
RULE_IDS = {REFERENCE: 1, NUMBERS: 2, IBAN: 3, AMOUNT: 4, BOOKED: 5}

_SEP = r"[\s\-/_.]*"
#: A document number as people type it: ``INV-2026-000045``, ``INV2026000045``,
#: ``inv 2026 45``. Prefix, year and sequence; the key is ``INV2026000045``.
_NUMBER = re.compile(rf"(?<![A-Z0-9])([A-Z]{{2,6}}){_SEP}(20\d\d){_SEP}(\d{{1,9}})(?![0-9])")
_RF_START = re.compile(r"^RF\d\d")


def number_key(text: str) -> str | None:
    """The comparable form of a document number (``INV-2026-000045`` →
    ``INV2026000045``), or ``None`` when ``text`` is not one."""
    m = _NUMBER.fullmatch(text.strip().upper())
    return _key(m) if m else None


def _key(m: re.Match[str]) -> str:
    prefix, year, seq = m.groups()
    return f"{prefix}{year}{int(seq):06d}"


def numbers_in(text: str) -> list[str]:
    """Keys of the document numbers in a remittance text, in the order written."""
    out: list[str] = []
    for m in _NUMBER.finditer((text or "").upper()):
        k = _key(m)
        if k not in out:
            out.append(k)
    return out


def creditor_references_in(text: str) -> list[str]:
    """Valid ISO 11649 references (``RF`` + check digits + up to 21
    characters, perhaps printed in groups of four) in the text, compact, in
    the order written. A reference whose check digits fail is not one."""
    tokens = re.sub(r"[^0-9A-Z]+", " ", (text or "").upper()).split()
    found: list[str] = []
    for i, token in enumerate(tokens):
        if not _RF_START.match(token):
            continue
        body = ""
        # Every valid reading (grouped in fours, or followed by other words):
        # the caller keeps the ones that name an invoice.
        for k in range(i, min(i + 7, len(tokens))):
            body += tokens[k]
            if len(body) > 25:
                break
            if iso11649.is_valid(body) and body not in found:
                found.append(body)
    return found


def normal_name(name: str) -> str:
    return " ".join(re.sub(r"[^\w]+", " ", (name or "").casefold()).split())


def compact_iban(iban: str | None) -> str:
    return re.sub(r"\s+", "", iban or "").upper()


@dataclass
class OpenInvoice:
    id: int
    number: str
    customer_id: int
    balance: Decimal
    issue_date: dt.date
    order_number: str = ""


@dataclass(frozen=True)
class OpenRefund:
    id: int
    number: str
    customer_id: int
    amount: Decimal


@dataclass(frozen=True)
class BookedPayment:
    """A payment booked on a bank account's GL account that no statement
    line has reported yet (typed in by a clerk)."""
    id: int
    number: str
    customer_id: int
    amount: Decimal
    received_on: dt.date
    gl_account: str
    reference: str = ""
    #: Number keys of the invoices it settled (``number_key``).
    invoice_keys: frozenset[str] = frozenset()


@dataclass(frozen=True)
class LineFacts:
    amount: Decimal  # signed: credits (money in) positive
    booking_date: dt.date
    counterparty_name: str = ""
    counterparty_iban: str = ""
    remittance: str = ""
    bank_account_id: int | None = None


@dataclass(frozen=True)
class Rule:
    name: str
    enabled: bool = True
    params: dict[str, Any] = field(default_factory=dict)


def default_rules() -> list[Rule]:
    return [Rule(name, True, dict(params)) for name, params in DEFAULT_RULES]


@dataclass
class Decision:
    status: str  # matched | suggested | unmatched
    rule: str | None = None
    customer_id: int | None = None
    #: (invoice id, amount) in the order to apply; what is left is credit.
    allocations: list[tuple[int, Decimal]] = field(default_factory=list)
    reason: str = ""
    #: Bank fees: the invoice is paid in full, this much is the bank's charge.
    write_off: Decimal = ZERO
    write_off_account: str | None = None
    refund_id: int | None = None
    #: Booked payments the line reports (matched: the one; suggested: the candidates).
    payment_ids: list[int] = field(default_factory=list)

    @property
    def invoice_ids(self) -> list[int]:
        return [i for i, _ in self.allocations]

    def suggestion(self) -> dict[str, Any] | None:
        if self.status != "suggested":
            return None
        out = {"invoice_ids": self.invoice_ids, "customer_id": self.customer_id, "reason": self.reason,
               "allocations": [{"invoice_id": i, "amount": str(a)} for i, a in self.allocations]}
        if self.payment_ids:
            out["payment_ids"] = list(self.payment_ids)
        return out


class OpenItems:
    """What a statement can pay or report, indexed for matching; kept up to
    date as lines are applied (``settle``) so two lines never pay the same
    balance twice."""

    def __init__(self, invoices: Iterable[OpenInvoice], ibans: dict[str, int] | None = None,
                 names: dict[int, str] | None = None, refunds: Iterable[OpenRefund] = (),
                 booked: Iterable[BookedPayment] = (), bank_gl: dict[int, str] | None = None):
        self.invoices: dict[int, OpenInvoice] = {}
        self.by_number: dict[str, int] = {}
        self.by_order: dict[str, list[int]] = defaultdict(list)
        self.by_customer: dict[int, list[int]] = defaultdict(list)
        for inv in sorted(invoices, key=lambda i: (i.issue_date, i.id)):
            self.invoices[inv.id] = inv
            key = number_key(inv.number)
            if key:
                self.by_number[key] = inv.id
            okey = number_key(inv.order_number) if inv.order_number else None
            if okey:
                self.by_order[okey].append(inv.id)
            self.by_customer[inv.customer_id].append(inv.id)
        self.ibans = {compact_iban(k): v for k, v in (ibans or {}).items()}
        self.by_name: dict[str, set[int]] = defaultdict(set)
        for cid, name in (names or {}).items():
            self.by_name[normal_name(name)].add(cid)
        self.refunds: dict[int, OpenRefund] = {r.id: r for r in refunds}
        self.refund_by_number = {number_key(r.number): r.id for r in self.refunds.values()}
        self.booked: dict[int, BookedPayment] = {p.id: p for p in booked}
        #: Bank account id → its GL account.
        self.bank_gl = dict(bank_gl or {})

    def open_of(self, customer_id: int) -> list[OpenInvoice]:
        return [self.invoices[i] for i in self.by_customer.get(customer_id, ()) if self.invoices[i].balance > ZERO]

    def invoice_for_reference(self, ref: str) -> OpenInvoice | None:
        body = ref[4:]
        # The reference body is the invoice number without separators.
        m = re.fullmatch(r"([A-Z]{2,6})(20\d\d)(\d{1,9})", body)
        iid = self.by_number.get(_key(m)) if m else None
        inv = self.invoices.get(iid) if iid is not None else None
        return inv if inv is not None and inv.balance > ZERO else None

    def settle(self, allocations: Iterable[tuple[int, Decimal]], write_off: Decimal = ZERO) -> None:
        allocs = list(allocations)
        for iid, amount in allocs:
            inv = self.invoices.get(iid)
            if inv is not None:
                inv.balance -= amount
        if write_off and allocs:
            # The fee makes the (last) invoice whole in the books too.
            inv = self.invoices.get(allocs[-1][0])
            if inv is not None:
                inv.balance = max(ZERO, inv.balance)

    def refund_reported(self, refund_id: int) -> None:
        self.refunds.pop(refund_id, None)

    def payment_reported(self, payment_id: int) -> None:
        self.booked.pop(payment_id, None)

    def customer_of_payer(self, line: LineFacts) -> tuple[int | None, str]:
        """The customer the payer's IBAN (learned from earlier matches) or,
        failing that, unique name points at; and how it was found."""
        iban = compact_iban(line.counterparty_iban)
        if iban and iban in self.ibans:
            return self.ibans[iban], "IBAN"
        named = self.by_name.get(normal_name(line.counterparty_name), set())
        if len(named) == 1:
            return next(iter(named)), "name"
        return None, ""


def _money(v: Any, default: str) -> Decimal:
    try:
        return Decimal(str(v if v is not None else default))
    except (InvalidOperation, ValueError):
        return Decimal(default)


def _fill(named: Sequence[OpenInvoice], rest: Sequence[OpenInvoice], amount: Decimal) -> list[tuple[int, Decimal]]:
    """``amount`` over ``named`` in the order given, then ``rest`` oldest first."""
    plan, left, seen = [], amount, set()
    for inv in [*named, *rest]:
        if left <= ZERO:
            break
        if inv.id in seen or inv.balance <= ZERO:
            continue
        seen.add(inv.id)
        take = min(inv.balance, left)
        plan.append((inv.id, take))
        left -= take
    return plan


def _nums(invs: Sequence[OpenInvoice]) -> str:
    return ", ".join(i.number for i in invs)


def _rule_booked(line: LineFacts, items: OpenItems, params: dict[str, Any]) -> Decision | None:
    if not items.booked:
        return None
    gl = items.bank_gl.get(line.bank_account_id) if line.bank_account_id is not None else None
    try:
        days = int(params.get("days", 5))
    except (TypeError, ValueError):
        days = 5
    same = [p for p in items.booked.values()
            if p.amount == line.amount and (gl is None or p.gl_account == gl)
            and abs((p.received_on - line.booking_date).days) <= days]
    if not same:
        return None
    keys = set(numbers_in(line.remittance))
    for r in creditor_references_in(line.remittance):
        m = re.fullmatch(r"([A-Z]{2,6})(20\d\d)(\d{1,9})", r[4:])
        if m:
            keys.add(_key(m))
    payer = items.ibans.get(compact_iban(line.counterparty_iban)) if line.counterparty_iban else None
    text = re.sub(r"\s+", "", line.remittance).upper()
    named = [p for p in same if (keys & p.invoice_keys) or (payer is not None and payer == p.customer_id)
             or (len(p.reference) >= 4 and re.sub(r"\s+", "", p.reference).upper() in text)]
    if not named:
        return None
    named.sort(key=lambda p: (abs((p.received_on - line.booking_date).days), p.id))
    if len(named) == 1:
        p = named[0]
        return Decision("matched", BOOKED, p.customer_id, [], f"Reports payment {p.number} of {p.amount} "
                        f"received {p.received_on.isoformat()}, booked before the statement came.",
                        payment_ids=[p.id])
    return Decision("suggested", BOOKED, named[0].customer_id, [],
                    f"{len(named)} booked payments of {line.amount} no statement reported yet: "
                    f"{', '.join(p.number for p in named)}.", payment_ids=[p.id for p in named])


def _rule_reference(line: LineFacts, items: OpenItems, params: dict[str, Any]) -> Decision | None:
    refs = creditor_references_in(line.remittance)
    if not refs:
        return None
    named: list[OpenInvoice] = []
    for r in refs:
        inv = items.invoice_for_reference(r)
        if inv is not None and inv not in named:
            named.append(inv)
    if not named:
        return Decision("unmatched", REFERENCE,
                        reason=f"Reference “{refs[0]}” is valid but names no open invoice.")
    customers = {inv.customer_id for inv in named}
    if len(customers) > 1:
        return Decision("suggested", REFERENCE, None, _fill(named, (), line.amount),
                        f"References name invoices of {len(customers)} customers: {_nums(named)}.")
    return Decision("matched", REFERENCE, named[0].customer_id, _fill(named, (), line.amount),
                    f"Creditor reference for {_nums(named)}.")


def _rule_numbers(line: LineFacts, items: OpenItems, params: dict[str, Any]) -> Decision | None:
    keys = numbers_in(line.remittance)
    named: list[OpenInvoice] = []
    for k in keys:
        ids = [items.by_number[k]] if k in items.by_number else items.by_order.get(k, [])
        for iid in ids:
            inv = items.invoices[iid]
            if inv.balance > ZERO and inv not in named:
                named.append(inv)
    if not named:
        return None
    customers = {inv.customer_id for inv in named}
    owed = sum((inv.balance for inv in named), ZERO)
    if len(customers) > 1:
        return Decision("suggested", NUMBERS, None, _fill(named, (), line.amount),
                        f"The text names invoices of {len(customers)} customers: {_nums(named)}.")
    cid = named[0].customer_id
    plan = _fill(named, items.open_of(cid), line.amount)
    if line.amount == owed:
        return Decision("matched", NUMBERS, cid, plan, f"Invoice numbers in the text: {_nums(named)}.")
    why = f"The text names {_nums(named)}, owing {owed}, but the amount is {line.amount}."
    if params.get("exact_amount_only", True):
        return Decision("suggested", NUMBERS, cid, plan, why)
    return Decision("matched", NUMBERS, cid, plan, why)


def _rule_iban(line: LineFacts, items: OpenItems, params: dict[str, Any]) -> Decision | None:
    iban = compact_iban(line.counterparty_iban)
    cid = items.ibans.get(iban) if iban else None
    if cid is None:
        return None
    open_ = items.open_of(cid)
    if not open_:
        return Decision("matched", IBAN, cid, [], f"Payer's IBAN {iban} is the customer's; nothing is open, "
                                                     "so the money is their credit.")
    equal = [inv for inv in open_ if inv.balance == line.amount]
    if len(equal) == 1:
        return Decision("matched", IBAN, cid, [(equal[0].id, line.amount)],
                        f"Payer's IBAN is the customer's; {equal[0].number} owes exactly {line.amount}.")
    if len(equal) > 1:
        return Decision("suggested", IBAN, cid, [(equal[0].id, line.amount)],
                        f"Payer's IBAN is the customer's; {len(equal)} open invoices owe {line.amount}: "
                        f"{_nums(equal)}.")
    owed = sum((inv.balance for inv in open_), ZERO)
    plan = _fill((), open_, line.amount)
    if line.amount >= owed:
        return Decision("matched", IBAN, cid, plan, f"Payer's IBAN is the customer's; the amount covers "
                                                    f"everything open ({owed}).")
    why = f"Payer's IBAN is the customer's; no open invoice owes {line.amount}, oldest first."
    if params.get("otherwise", "suggest") == "post":
        return Decision("matched", IBAN, cid, plan, why)
    return Decision("suggested", IBAN, cid, plan, why)


def _rule_amount(line: LineFacts, items: OpenItems, params: dict[str, Any]) -> Decision | None:
    cid, how = items.customer_of_payer(line)
    if cid is None:
        return None
    tolerance = _money(params.get("tolerance"), "0")
    near = [inv for inv in items.open_of(cid) if abs(inv.balance - line.amount) <= tolerance]
    if not near:
        return None
    if len(near) > 1:
        return Decision("suggested", AMOUNT, cid, [(near[0].id, min(near[0].balance, line.amount))],
                        f"Payer found by {how}; {len(near)} open invoices are within {tolerance} of "
                        f"{line.amount}: {_nums(near)}.")
    inv = near[0]
    short = inv.balance - line.amount
    if short > ZERO and params.get("difference", "write_off") == "write_off" and params.get("write_off_account"):
        return Decision("matched", AMOUNT, cid, [(inv.id, inv.balance)],
                        f"Payer found by {how}; {inv.number} owes {inv.balance}, {short} written off as bank fees.",
                        write_off=short, write_off_account=str(params["write_off_account"]))
    return Decision("matched", AMOUNT, cid, [(inv.id, min(inv.balance, line.amount))],
                    f"Payer found by {how}; {inv.number} owes {inv.balance}, within {tolerance} of {line.amount}.")


RULES = {BOOKED: _rule_booked, REFERENCE: _rule_reference, NUMBERS: _rule_numbers, IBAN: _rule_iban, AMOUNT: _rule_amount}


def _refund(line: LineFacts, items: OpenItems) -> Decision:
    paid = -line.amount
    by_number = [items.refunds[items.refund_by_number[k]] for k in numbers_in(line.remittance)
                 if k in items.refund_by_number and items.refund_by_number[k] in items.refunds]
    hits = [r for r in by_number if r.amount == paid]
    if len(hits) == 1:
        return Decision("matched", REFUND, hits[0].customer_id, reason=f"Refund {hits[0].number} paid out.",
                        refund_id=hits[0].id)
    cid, _ = items.customer_of_payer(line)
    same = [r for r in items.refunds.values() if r.amount == paid and (cid is None or r.customer_id == cid)]
    if len(same) == 1 and cid is not None:
        return Decision("matched", REFUND, cid, reason=f"Refund {same[0].number} of {paid} paid out.",
                        refund_id=same[0].id)
    if same:
        return Decision("suggested", REFUND, same[0].customer_id, refund_id=same[0].id,
                        reason=f"{len(same)} refund{'s' if len(same) > 1 else ''} of {paid} not yet on a "
                               f"statement: {', '.join(r.number for r in same)}.")
    return Decision("unmatched", None, reason="Money paid out that is no refund of o2c's.")


def decide(line: LineFacts, items: OpenItems, rules: Sequence[Rule]) -> Decision:
    """What becomes of one statement line under ``rules`` (in their order)."""
    if line.amount < ZERO:
        return _refund(line, items)
    if line.amount == ZERO:
        return Decision("unmatched", reason="A line of zero pays nothing.")
    fallback: Decision | None = None
    for rule in rules:
        fn = RULES.get(rule.name)
        if fn is None or not rule.enabled:
            continue
        d = fn(line, items, rule.params)
        if d is None:
            continue
        if d.status == "matched" or d.rule == BOOKED:
            # Cash that may already be booked is never posted a second time:
            # candidates wait for a clerk to say which payment the line reports.
            return d
        if fallback is None or (fallback.status == "unmatched" and d.status == "suggested"):
            fallback = d
    if fallback is not None:
        if fallback.status == "unmatched" and not fallback.reason:
            fallback.reason = "No rule found the invoice."
        return fallback
    return Decision("unmatched", reason="No reference, invoice number, known IBAN or customer name "
                                        "points to an open invoice.")


def line_document(line_id: int, booking_date: dt.date) -> str:
    """A statement line's own number (``BL-2026-000042``): the reference of
    what it is booked as."""
    return document_number("BL", booking_date.year, line_id)


def payment_reference(doc: str, reopened: int) -> str:
    """The reference of the payment a line becomes: the line's number, and
    after its earlier payment was reversed, the how-manieth time it is posted
    (payment references are unique)."""
    return doc if not reopened else f"{doc}-R{reopened}"
