"""Cash application: statement lines become payments.

After a statement is imported (and whenever asked again) every line still
``unmatched`` or ``suggested`` goes through the rules (``bank_rules``, in the
administrator's order; the logic is ``o2c.domain.cashmatch``). A decisive
match is posted at once through the payment service, one transaction per line:
payment, allocations, customer credit for any excess, journal entry on the bank
account's GL account, events and audit rows as for a typed payment, plus the
line's own audit row naming the rule and a ``bank_line.matched`` event. What
the rules only suggest waits for a clerk; the rest is unmatched.

By hand a clerk matches a line to invoices of any customers (one payment per
customer; whatever is not allocated is credit of the customer named, else of
the first allocation's customer), books it to an account (bank charges,
interest: a journal entry bank vs that account) or ignores it with a reason.
Every decision flips the line's status with a guarded UPDATE (only from
``unmatched``/``suggested``), which also holds the row until the transaction
ends: a double submission finds the line decided and posts nothing.
"""
from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from schwifty import IBAN as _Iban
from sqlalchemy import Engine, bindparam, func, insert, or_, select, type_coerce, update

from o2c.db import models as m
from o2c.db.types import Money
from o2c.domain import cashmatch as cm
from o2c.domain.cashmatch import UNDECIDED, line_document, payment_reference
from o2c.domain.errors import Conflict, CurrencyMismatch, NotFound, PeriodClosed, RateMissing, ValidationFailed
from o2c.domain.fx import to_functional
from o2c.domain.money import ZERO
from o2c.domain.numbering import document_number, order_number
from o2c.ledger.accounts import Account
from o2c.ledger.posting import Posting, build_entry
from o2c.services.books import fx
from o2c.services.cash import payments as pay
from o2c.services.platform.uow import Tx, insert_ignoring_conflicts, period_of, unit_of_work

bank_lines = m.BankLine.__table__
bank_accounts = m.BankAccount.__table__
rules_t = m.BankRule.__table__
ibans_t = m.CustomerIban.__table__
links = m.BankLineLink.__table__
invoices = m.Invoice.__table__
orders = m.Order.__table__
customers = m.Customer.__table__
refunds = m.Refund.__table__
accounts = m.Account.__table__
periods = m.Period.__table__
entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
payments_t = m.Payment.__table__
allocations_t = m.PaymentAllocation.__table__
audit = m.AuditLog.__table__

#: What an invoice still owes, as money (not the raw minor units).
BALANCE = type_coerce(invoices.c.total - invoices.c.amount_paid - invoices.c.credited_amount, Money())
_LINE_COLS = [bank_lines.c.id, bank_lines.c.statement_id, bank_lines.c.bank_account_id, bank_lines.c.booking_date,
              bank_lines.c.amount, bank_lines.c.currency, bank_lines.c.counterparty_name,
              bank_lines.c.counterparty_iban, bank_lines.c.remittance, bank_lines.c.creditor_ref,
              bank_lines.c.status, bank_lines.c.rule, bank_lines.c.suggestion]


# -- rules ---------------------------------------------------------------------------

def load_rules(tx: Tx) -> list[cm.Rule]:
    rows = tx.conn.execute(select(rules_t.c.name, rules_t.c.enabled, rules_t.c.params)
                           .order_by(rules_t.c.position, rules_t.c.name)).all()
    return [cm.Rule(r.name, bool(r.enabled), dict(r.params or {})) for r in rows]


def list_rules(tx: Tx) -> list[dict[str, Any]]:
    return [dict(r._asdict()) for r in tx.conn.execute(
        select(rules_t.c.name, rules_t.c.position, rules_t.c.enabled, rules_t.c.params, rules_t.c.updated_at,
               rules_t.c.updated_by).order_by(rules_t.c.position, rules_t.c.name))]


def update_rule(tx: Tx, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Switch a rule on or off, change its parameters, or move it to another
    position (the others shift to make room, keeping 1..N)."""
    current = {r["name"]: r for r in list_rules(tx)}
    if name not in current:
        raise NotFound(f"No cash application rule “{name}”.")
    before = {k: current[name][k] for k in ("position", "enabled", "params")}
    params = data.get("params")
    if params is not None:
        _check_params(tx, name, params)
    order = [n for n in current if n != name]
    position = data.get("position", before["position"])
    if not 1 <= position <= len(current):
        raise ValidationFailed(f"Position {position} is out of range.", {"position": [f"Between 1 and {len(current)}."]})
    order.insert(position - 1, name)
    for i, n in enumerate(order, start=1):
        if current[n]["position"] != i:
            tx.conn.execute(update(rules_t).where(rules_t.c.name == n).values(position=i))
    values: dict[str, Any] = {"updated_at": tx.now, "updated_by": tx.actor}
    if "enabled" in data:
        values["enabled"] = data["enabled"]
    if params is not None:
        values["params"] = {**before["params"], **params}
    tx.conn.execute(update(rules_t).where(rules_t.c.name == name).values(**values))
    after = next(r for r in list_rules(tx) if r["name"] == name)
    tx.audit("bank_rule.updated", "bank_rule", cm.RULE_IDS.get(name, 0),
             before, {k: after[k] for k in ("position", "enabled", "params")})
    return after


def _check_params(tx: Tx, name: str, params: dict[str, Any]) -> None:
    allowed = dict(cm.DEFAULT_RULES).get(name, {})
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        raise ValidationFailed(f"Rule “{name}” has no parameter “{unknown[0]}”.",
                               {"params": [f"Known: {', '.join(sorted(allowed)) or 'none'}."]})
    if "days" in params:
        if isinstance(params["days"], bool) or not isinstance(params["days"], int) or not 0 <= params["days"] <= 90:
            raise ValidationFailed("“days” is a whole number of days from 0 to 90.", {"params": ["days"]})
    if "tolerance" in params:
        try:
            ok = Decimal(str(params["tolerance"])) >= 0
        except ArithmeticError:
            ok = False
        if not ok:
            raise ValidationFailed("The tolerance must be an amount of at least 0.", {"params": ["tolerance"]})
    if params.get("write_off_account") and _account(tx, str(params["write_off_account"])) is None:
        raise ValidationFailed(f"No account “{params['write_off_account']}”.", {"params": ["write_off_account"]})
    for key, choices in (("difference", ("write_off", "leave_open")), ("otherwise", ("suggest", "post"))):
        if key in params and params[key] not in choices:
            raise ValidationFailed(f"“{key}” is one of {', '.join(choices)}.", {"params": [key]})


# -- what is open -----------------------------------------------------------------------

def open_items(tx: Tx, since: dt.date | None = None, currency: str = pay.FUNCTIONAL_CURRENCY) -> cm.OpenItems:
    """What a line in ``currency`` can pay or report: every open invoice in
    that currency (with its order's number), the learned IBANs, the
    customers' names, the refunds in it no statement has reported yet and
    the payments in it booked on a bank account no statement line reported
    yet (received on or after ``since``). Money in one currency settles
    documents in that currency only, so nothing in another is offered."""
    rows = tx.conn.execute(
        select(invoices.c.id, invoices.c.number, invoices.c.customer_id, BALANCE.label("balance"),
               invoices.c.issue_date, invoices.c.order_id, orders.c.created_at)
        .join(orders, orders.c.id == invoices.c.order_id)
        .where(invoices.c.status.in_(pay.OPEN), invoices.c.currency == currency))
    open_ = [cm.OpenInvoice(r.id, r.number, r.customer_id, r.balance, r.issue_date,
                            order_number(r.order_id, r.created_at)) for r in rows]
    ibans = dict(tx.conn.execute(select(ibans_t.c.iban, ibans_t.c.customer_id)).all())
    names = dict(tx.conn.execute(select(customers.c.id, customers.c.name)).all())
    reported = select(links.c.refund_id).where(links.c.refund_id.is_not(None))
    rf = [cm.OpenRefund(r.id, document_number("RF", r.created_at.year, r.id), r.customer_id, r.amount)
          for r in tx.conn.execute(select(refunds.c.id, refunds.c.customer_id, refunds.c.amount, refunds.c.created_at)
                                   .where(refunds.c.id.not_in(reported), refunds.c.currency == currency))]
    bank_gl = dict(tx.conn.execute(select(bank_accounts.c.id, bank_accounts.c.gl_account)).all())
    return cm.OpenItems(open_, ibans, names, rf, booked_payments(tx, since, set(bank_gl.values()), currency),
                        bank_gl)


def _reported_payments() -> Any:
    """Payments a statement line reported: the ones it became or was linked to."""
    return select(links.c.payment_id).where(links.c.payment_id.is_not(None)).union(
        select(bank_lines.c.payment_id).where(bank_lines.c.payment_id.is_not(None)))


def booked_payments(tx: Tx, since: dt.date | None, gl_accounts: set[str],
                    currency: str = pay.FUNCTIONAL_CURRENCY) -> list[cm.BookedPayment]:
    """Payments in ``currency`` received (not reversed) whose entry debits a
    bank account's GL account and that no statement line reported yet:
    typed in by a clerk."""
    if not gl_accounts:
        return []
    q = (select(payments_t.c.id, payments_t.c.customer_id, payments_t.c.amount, payments_t.c.received_on,
                payments_t.c.reference, payments_t.c.created_at, jlines.c.account)
         .join(entries, (entries.c.source_type == "payment") & (entries.c.source_id == payments_t.c.id))
         .join(jlines, jlines.c.entry_id == entries.c.id)
         .where(payments_t.c.status == "received", jlines.c.account.in_(sorted(gl_accounts)),
                payments_t.c.currency == currency,
                jlines.c.debit > 0, payments_t.c.id.not_in(_reported_payments()))
         .order_by(payments_t.c.id))
    if since is not None:
        q = q.where(payments_t.c.received_on >= since)
    rows = tx.conn.execute(q).all()
    if not rows:
        return []
    settled: dict[int, set[str]] = defaultdict(set)
    for pid, number in tx.conn.execute(
            select(allocations_t.c.payment_id, invoices.c.number)
            .join(invoices, invoices.c.id == allocations_t.c.invoice_id)
            .where(allocations_t.c.payment_id.in_([r.id for r in rows]), allocations_t.c.amount > 0)):
        key = cm.number_key(number)
        if key:
            settled[pid].add(key)
    seen: set[int] = set()
    out = []
    for r in rows:
        if r.id in seen:
            continue
        seen.add(r.id)
        out.append(cm.BookedPayment(r.id, pay.payment_number(r.id, r.created_at), r.customer_id, r.amount,
                                    r.received_on, r.account, r.reference or "", frozenset(settled[r.id])))
    return out


def _facts(row: Any) -> cm.LineFacts:
    text = " ".join(x for x in (row.creditor_ref or "", row.remittance or "") if x)
    return cm.LineFacts(row.amount, row.booking_date, row.counterparty_name or "", row.counterparty_iban or "", text,
                        row.bank_account_id)


def _closed_periods(tx: Tx) -> set[str]:
    return set(tx.conn.execute(select(periods.c.period).where(periods.c.closed_at.is_not(None))).scalars())


# -- automatic application ------------------------------------------------------------------

def apply_lines(engine: Engine, actor: str, *, statement_id: int | None = None,
                line_ids: Iterable[int] | None = None, batched: bool = True) -> dict[str, int]:
    """Run the rules over the undecided lines (of one statement, or the given
    lines, or all); returns counts per resulting status.

    Decisive lines post together in one transaction (``bankpost``: all or
    nothing, written a slice of lines at a time); what that path hands back, or everything when it fails, posts
    one line per transaction as ``batched=False`` does for every line."""
    with unit_of_work(engine, actor, readonly=True) as tx:
        q = select(*_LINE_COLS).where(bank_lines.c.status.in_(UNDECIDED)).order_by(bank_lines.c.id)
        if statement_id is not None:
            q = q.where(bank_lines.c.statement_id == statement_id)
        if line_ids is not None:
            q = q.where(bank_lines.c.id.in_(list(line_ids)))
        todo = tx.conn.execute(q).all()
        if not todo:
            return {}
        rules = load_rules(tx)
        days = max((int(r.params.get("days", 0) or 0) for r in rules if r.name == cm.BOOKED and r.enabled),
                   default=0)
        since = min(r.booking_date for r in todo) - dt.timedelta(days=days)
        # What is open, per currency the lines are in (one set of reads for a statement in one).
        by_currency = {cur: open_items(tx, since, cur) for cur in sorted({r.currency for r in todo})}
        closed = _closed_periods(tx)
        today = tx.today
    from o2c.services.cash import bankpost

    counts: dict[str, int] = defaultdict(int)
    undecided: list[dict[str, Any]] = []
    batch: list[tuple[Any, cm.Decision]] = []
    for row in todo:
        items = by_currency[row.currency]
        if period_of(row.booking_date) in closed:
            undecided.append(_undecided(row, "unmatched", None, None,
                                        f"Dated {row.booking_date.isoformat()}, in the closed period "
                                        f"{period_of(row.booking_date)}: nothing can be posted there."))
            counts["unmatched"] += 1
            continue
        d = cm.decide(_facts(row), items, rules)
        if d.status == "matched":
            if batched and bankpost.postable(row, d, today):
                batch.append((row, d))
                items.settle(d.allocations, d.write_off)
                for pid in d.payment_ids:
                    items.payment_reported(pid)
                counts["matched"] += 1
            else:
                _post_alone(engine, actor, row, d, items, counts, undecided)
            continue
        undecided.append(_undecided(row, d.status, d.rule if d.status == "suggested" else None,
                                    d.suggestion(), d.reason))
        counts[d.status] += 1
    if batch:
        try:
            back = []
            with unit_of_work(engine, actor) as tx:
                for i in range(0, len(batch), bankpost.BATCH):
                    back += bankpost.post_lines(tx, batch[i:i + bankpost.BATCH])[1]
                    tx.flush()  # what is written leaves memory; the transaction stays open
        except (Conflict, ValidationFailed, NotFound, PeriodClosed):
            back = batch  # refused as a whole (a period closed meanwhile…): line by line, each saying why
        for row, d in back:
            counts["matched"] -= 1
            _post_alone(engine, actor, row, d, None, counts, undecided)
    if undecided:
        with unit_of_work(engine, actor) as tx:
            tx.conn.execute(_set_undecided, [{"lid": u["id"], "st": u["status"], "rl": u["rule"],
                                              "sg": u["suggestion"], "why": u["reason"]} for u in undecided])
    return {k: v for k, v in counts.items() if v}


def _post_alone(engine: Engine, actor: str, row: Any, d: cm.Decision, items: cm.OpenItems | None,
                counts: dict[str, int], undecided: list[dict[str, Any]]) -> None:
    """Post one decided line in its own transaction (``items``: settle it
    there once posted, when not settled already)."""
    try:
        with unit_of_work(engine, actor) as tx:
            _post_decision(tx, row, d)
    except (Conflict, ValidationFailed, NotFound, PeriodClosed, CurrencyMismatch, RateMissing) as e:
        # Decided meanwhile, or the payment service refused (a date out
        # of range, an invoice in another currency, no rate for the day…):
        # the line waits in the worklist and says why.
        undecided.append(_undecided(row, "unmatched", d.rule, None, f"Not posted: {e}"))
        counts["unmatched"] += 1
        return
    if items is not None:
        items.settle(d.allocations, d.write_off)
        if d.refund_id is not None:
            items.refund_reported(d.refund_id)
        for pid in d.payment_ids:
            items.payment_reported(pid)
    counts["matched"] += 1


_set_undecided = (update(bank_lines).where(bank_lines.c.id == bindparam("lid"),
                                          or_(*(bank_lines.c.status == s for s in UNDECIDED)))
                  .values(status=bindparam("st"), rule=bindparam("rl"), suggestion=bindparam("sg"),
                          unmatched_reason=bindparam("why")))


def _undecided(row: Any, status: str, rule: str | None, suggestion: dict[str, Any] | None,
               reason: str) -> dict[str, Any]:
    return {"id": row.id, "status": status, "rule": rule, "suggestion": suggestion, "reason": reason[:500]}


def _post_decision(tx: Tx, row: Any, d: cm.Decision) -> None:
    if d.refund_id is not None:
        _take_line(tx, row.id, "matched", d.rule)
        tx.conn.execute(insert(links), {"bank_line_id": row.id, "payment_id": None, "refund_id": d.refund_id,
                                        "amount": -row.amount})
        _matched(tx, row, d.rule, [], d.reason, refund_id=d.refund_id)
        return
    if d.payment_ids:
        _link_payment(tx, row, d.payment_ids[0], d.rule or cm.BOOKED, d.reason)
        return
    assert d.customer_id is not None
    _post_payments(tx, row, {d.customer_id: d.allocations}, d.customer_id, d.rule or cm.MANUAL, d.reason,
            d.write_off, d.write_off_account)


# -- posting a line -----------------------------------------------------------------------

#: How often a line went back to the worklist because its payment was reversed.
_times_reopened = select(func.count()).select_from(audit).where(
    audit.c.object_type == "bank_line", audit.c.object_id == bindparam("lid"),
    audit.c.action == "bank_line.reopened")


def _take_line(tx: Tx, line_id: int, status: str, rule: str | None, **values: Any) -> None:
    """Flip an undecided line to ``status``; the UPDATE holds its row until
    commit, so of two racing decisions one finds it decided."""
    done = tx.conn.execute(
        update(bank_lines).where(bank_lines.c.id == line_id, bank_lines.c.status.in_(UNDECIDED))
        .values(status=status, rule=rule, decided_by=tx.actor, decided_at=tx.now, suggestion=None,
                unmatched_reason=None, **values)).rowcount
    if done != 1:
        st = tx.conn.execute(select(bank_lines.c.status).where(bank_lines.c.id == line_id)).scalar()
        if st is None:
            raise NotFound(f"No statement line with id {line_id}.")
        raise Conflict(f"Statement line {line_id} is already {st}.", {"line_id": line_id, "status": st})


def _account(tx: Tx, code: str) -> Account | None:
    r = tx.conn.execute(select(accounts.c.code, accounts.c.name, accounts.c.type)
                        .where(accounts.c.code == code)).first()
    return Account(r.code, r.name, r.type) if r else None


def _bank_account_of(tx: Tx, row: Any) -> Account:
    """The GL account of the line's bank account; a line in another currency
    than its account's is 422 ``currency_mismatch`` (nothing is posted of it:
    the account's GL balance is reconciled in the account's currency)."""
    acct = tx.conn.execute(select(bank_accounts.c.gl_account, bank_accounts.c.currency)
                           .where(bank_accounts.c.id == row.bank_account_id)).one()
    if row.currency != acct.currency:
        raise CurrencyMismatch(
            f"Statement line {row.id} is in {row.currency}, its bank account in {acct.currency}: a line is "
            "posted in its account's currency only.",
            {"line_id": row.id, "currency": row.currency, "account_currency": acct.currency})
    acc = _account(tx, acct.gl_account)
    assert acc is not None
    return acc


def _in_line_currency(tx: Tx, row: Any, *amounts: tuple[Account, Decimal]) -> list[Posting]:
    """Signed amounts of the line's currency per account as postings: in the
    functional currency as they are; in another at the rate of the line's
    booking date (the rate a payment of that day takes), each amount kept
    beside its value (opposite amounts get opposite values: the entry balances)."""
    if row.currency == pay.FUNCTIONAL_CURRENCY:
        return list(amounts)
    rate = fx.document_rate(tx, row.currency, row.booking_date).rate
    return [(acc, to_functional(a, rate, row.currency), row.currency, a) for acc, a in amounts]


def _post_payments(tx: Tx, row: Any, per_customer: dict[int, list[tuple[int, Decimal]]], excess_to: int, rule: str,
            reason: str, write_off: Decimal = ZERO, write_off_account: str | None = None) -> list[dict[str, Any]]:
    """Post the line as one payment per customer: each customer's allocations,
    the unallocated rest as credit of ``excess_to``."""
    bank = _bank_account_of(tx, row)
    _take_line(tx, row.id, "matched", rule)
    received = row.amount + write_off
    allocated = {c: sum((a for _, a in al), ZERO) for c, al in per_customer.items()}
    if sum(allocated.values(), ZERO) > received:
        raise ValidationFailed(f"Allocations ({sum(allocated.values(), ZERO)}) exceed the line's amount "
                               f"({row.amount}).", {"allocations": ["More than the line's amount."]})
    amounts = dict(allocated)
    amounts[excess_to] = amounts.get(excess_to, ZERO) + received - sum(allocated.values(), ZERO)
    doc = line_document(row.id, row.booking_date)
    again = payment_reference(doc, tx.conn.execute(_times_reopened, {"lid": row.id}).scalar_one())
    made = []
    for cid, amount in amounts.items():
        if amount <= ZERO:
            continue
        allocs = per_customer.get(cid) or []
        ref = again if len(amounts) == 1 else f"{again}-C{cid}"
        p = pay.record_payment(tx, {
            "customer_id": cid, "amount": amount, "currency": row.currency, "received_on": row.booking_date,
            "method": "bank_transfer", "reference": ref, "bank_account": bank,
            "allocations": [{"invoice_id": i, "amount": a} for i, a in allocs],
        })
        made.append(p)
        tx.conn.execute(insert(links), {"bank_line_id": row.id, "payment_id": p["id"], "refund_id": None,
                                        "amount": amount})
    if write_off:
        fee = _account(tx, write_off_account or "")
        if fee is None:
            raise ValidationFailed(f"No account “{write_off_account}” to write the difference off to.",
                                   {"write_off_account": [str(write_off_account)]})
        tx.post(build_entry(row.booking_date, "bank_line", row.id, doc, f"Bank fee on {doc}",
                            _in_line_currency(tx, row, (fee, write_off), (bank, -write_off)), excess_to))
    tx.conn.execute(update(bank_lines).where(bank_lines.c.id == row.id).values(payment_id=made[0]["id"]))
    _matched(tx, row, rule, made, reason, write_off=write_off)
    return made


def _link_payment(tx: Tx, row: Any, payment_id: int, rule: str, reason: str) -> dict[str, Any]:
    """The line is the bank's report of a payment booked before: linked to
    it, nothing posted. The payment must be received on the line's bank
    account, of the line's amount, and reported by no other line."""
    p = tx.conn.execute(select(payments_t.c.id, payments_t.c.customer_id, payments_t.c.amount,
                               payments_t.c.currency, payments_t.c.status, payments_t.c.created_at)
                        .where(payments_t.c.id == payment_id).with_for_update()).first()
    if p is None:
        raise NotFound(f"No payment with id {payment_id}.", {"payment_id": payment_id})
    number = pay.payment_number(p.id, p.created_at)
    if p.status != "received":
        raise Conflict(f"Payment {number} is {p.status}.", {"payment_id": payment_id})
    if p.currency != row.currency:
        raise CurrencyMismatch(f"Payment {number} is in {p.currency}, the line in {row.currency}.",
                               {"payment_id": [f"Currency {p.currency}."]})
    if p.amount != row.amount:
        raise ValidationFailed(f"Payment {number} is of {p.amount}, the line of {row.amount}.",
                               {"payment_id": [f"Amount {p.amount}."]})
    bank = _bank_account_of(tx, row)
    on_bank = tx.conn.execute(
        select(jlines.c.id).join(entries, entries.c.id == jlines.c.entry_id)
        .where(entries.c.source_type == "payment", entries.c.source_id == p.id, jlines.c.account == bank.code,
               jlines.c.debit > 0).limit(1)).first()
    if on_bank is None:
        raise ValidationFailed(f"Payment {number} was not booked on bank account {bank.code}.",
                               {"payment_id": [f"Not on {bank.code}."]})
    # The payment's row is held (above): of two lines racing for it, the second sees the first's link.
    if tx.conn.execute(select(payments_t.c.id).where(payments_t.c.id == p.id,
                                                     payments_t.c.id.in_(_reported_payments()))).first():
        raise Conflict(f"Payment {number} is already reported by another statement line.",
                       {"payment_id": payment_id})
    _take_line(tx, row.id, "matched", rule, payment_id=p.id)
    tx.conn.execute(insert(links), {"bank_line_id": row.id, "payment_id": p.id, "refund_id": None,
                                    "amount": row.amount})
    made = {"id": p.id, "number": number}
    _matched(tx, row, rule, [made], reason)
    return made


def _matched(tx: Tx, row: Any, rule: str | None, made: list[dict[str, Any]], reason: str, *,
             refund_id: int | None = None, write_off: Decimal = ZERO) -> None:
    data = {"line_id": row.id, "statement_id": row.statement_id, "rule": rule, "amount": str(row.amount),
            "payment_ids": [p["id"] for p in made], "refund_id": refund_id}
    tx.emit("bank_line.matched", "internal", None, data)
    tx.audit("bank_line.matched", "bank_line", row.id, {"status": row.status}, {
        **data, "status": "matched", "reason": reason, "write_off": str(write_off),
        "payments": [p["number"] for p in made]})


# -- by hand ------------------------------------------------------------------------------

def _line(tx: Tx, line_id: int) -> Any:
    row = tx.conn.execute(select(*_LINE_COLS).where(bank_lines.c.id == line_id)).first()
    if row is None:
        raise NotFound(f"No statement line with id {line_id}.")
    return row


def _learn_iban(tx: Tx, row: Any, customer_id: int) -> None:
    raw = cm.compact_iban(row.counterparty_iban)
    if not raw:
        return
    try:
        iban = _Iban(raw).compact
    except ValueError:
        return
    tx.conn.execute(insert_ignoring_conflicts(tx.conn, ibans_t), {
        "iban": iban, "customer_id": customer_id, "learned_from_line_id": row.id, "created_at": tx.now})


def match_line(tx: Tx, line_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """``allocations`` to invoices of any customers (one payment each), or
    ``customer_id`` alone (oldest first, the rest credit). Returns the line
    with its payments."""
    row = _line(tx, line_id)
    if row.amount <= ZERO:
        raise ValidationFailed("Only money received can be matched to invoices; book or ignore a line paid out.",
                               {"amount": [str(row.amount)]})
    if data.get("payment_id") is not None:
        made = _link_payment(tx, row, data["payment_id"], cm.BOOKED if row.rule == cm.BOOKED else cm.MANUAL,
                             data.get("reason") or "Linked by hand to a payment booked before.")
        return get_line(tx, line_id) | {"payments": [made]}
    requested = data.get("allocations") or []
    customer_id = data.get("customer_id")
    if not requested and customer_id is None:
        raise ValidationFailed("Give allocations or a customer.", {"allocations": ["Required without customer_id."]})
    per_customer: dict[int, list[tuple[int, Decimal]]] = defaultdict(list)
    if requested:
        ids = [a["invoice_id"] for a in requested]
        owners = dict(tx.conn.execute(select(invoices.c.id, invoices.c.customer_id)
                                      .where(invoices.c.id.in_(ids))).all())
        for a in requested:
            if a["invoice_id"] not in owners:
                raise NotFound(f"No invoice with id {a['invoice_id']}.", {"invoice_id": a["invoice_id"]})
            if a["amount"] <= ZERO:
                raise ValidationFailed("Allocated amounts must be positive.", {"allocations": ["amount > 0"]})
            per_customer[owners[a["invoice_id"]]].append((a["invoice_id"], a["amount"]))
    if customer_id is not None:
        if tx.conn.execute(select(customers.c.id).where(customers.c.id == customer_id)).first() is None:
            raise ValidationFailed("Unknown customer.", {"customer_id": [f"No customer with id {customer_id}."]})
        if not requested:
            open_ = tx.conn.execute(
                select(invoices.c.id, BALANCE)
                .where(invoices.c.customer_id == customer_id, invoices.c.status.in_(pay.OPEN),
                       invoices.c.currency == row.currency)
                .order_by(invoices.c.issue_date, invoices.c.id)).all()
            left = row.amount
            for iid, bal in open_:
                if left <= ZERO:
                    break
                take = min(Decimal(bal), left)
                if take > ZERO:
                    per_customer[customer_id].append((iid, take))
                    left -= take
    excess_to = customer_id if customer_id is not None else next(iter(per_customer))
    made = _post_payments(tx, row, dict(per_customer), excess_to, cm.MANUAL,
                   data.get("reason") or "Matched by hand.")
    if len({*per_customer, excess_to}) == 1:
        _learn_iban(tx, row, excess_to)
    return get_line(tx, line_id) | {"payments": made}


def book_line(tx: Tx, line_id: int, data: dict[str, Any]) -> dict[str, Any]:
    """A line that is no customer's money (bank charges, interest): a journal
    entry between the bank account's GL account and ``account``."""
    row = _line(tx, line_id)
    acc = _account(tx, data["account"])
    if acc is None:
        raise ValidationFailed(f"No account “{data['account']}”.", {"account": ["Not in the chart of accounts."]})
    bank = _bank_account_of(tx, row)
    if acc.code == bank.code:
        raise ValidationFailed("Book the line to another account than the bank's own.", {"account": [acc.code]})
    _take_line(tx, row.id, "booked", "manual")
    doc = line_document(row.id, row.booking_date)
    description = (data.get("description") or "").strip() or f"Bank statement line {doc}"
    tx.post(build_entry(row.booking_date, "bank_line", row.id, doc, description[:255],
                        _in_line_currency(tx, row, (bank, row.amount), (acc, -row.amount))))
    tx.flush()
    eid = tx.conn.execute(select(func.max(entries.c.id)).where(
        entries.c.source_type == "bank_line", entries.c.source_id == row.id)).scalar_one()
    tx.conn.execute(update(bank_lines).where(bank_lines.c.id == row.id).values(journal_entry_id=eid))
    tx.audit("bank_line.booked", "bank_line", row.id, {"status": row.status},
             {"status": "booked", "account": acc.code, "description": description, "journal_entry_id": eid})
    return get_line(tx, line_id)


def ignore_line(tx: Tx, line_id: int, data: dict[str, Any]) -> dict[str, Any]:
    row = _line(tx, line_id)
    reason = (data.get("reason") or "").strip()
    if not reason:
        raise ValidationFailed("Say why the line is ignored.", {"reason": ["Required."]})
    _take_line(tx, row.id, "ignored", "manual", ignore_reason=reason[:500])
    tx.audit("bank_line.ignored", "bank_line", row.id, {"status": row.status},
             {"status": "ignored", "reason": reason})
    return get_line(tx, line_id)


# -- reading ------------------------------------------------------------------------------

def get_line(tx: Tx, line_id: int) -> dict[str, Any]:
    row = tx.conn.execute(select(bank_lines).where(bank_lines.c.id == line_id)).first()
    if row is None:
        raise NotFound(f"No statement line with id {line_id}.")
    d = row._asdict()
    d["payment_ids"] = list(tx.conn.execute(select(links.c.payment_id).where(
        links.c.bank_line_id == line_id, links.c.payment_id.is_not(None)).order_by(links.c.id)).scalars())
    d["refund_id"] = tx.conn.execute(select(links.c.refund_id).where(
        links.c.bank_line_id == line_id, links.c.refund_id.is_not(None))).scalar()
    return d


def worklist(tx: Tx, *, limit: int = 200, before: int | None = None) -> list[dict[str, Any]]:
    """Unmatched and suggested lines, newest first."""
    q = (select(bank_lines, bank_accounts.c.iban.label("account_iban"))
         .join(bank_accounts, bank_accounts.c.id == bank_lines.c.bank_account_id)
         .where(bank_lines.c.status.in_(UNDECIDED))
         .order_by(bank_lines.c.booking_date.desc(), bank_lines.c.id.desc()).limit(limit))
    if before is not None:
        q = q.where(bank_lines.c.id < before)
    return [r._asdict() for r in tx.conn.execute(q)]


def statement_lines_accounted(tx: Tx) -> dict[str, int]:
    """Lines per status: every line is matched, booked, ignored or on the worklist."""
    return dict(tx.conn.execute(select(bank_lines.c.status, func.count()).group_by(bank_lines.c.status)).all())



def search_open_invoices(tx: Tx, q: str, limit: int = 25,
                         currency: str = pay.FUNCTIONAL_CURRENCY) -> list[dict[str, Any]]:
    """Open invoices in ``currency`` (a line's) of any customer whose number,
    customer name or code holds ``q`` (an amount finds the invoices owing
    it), oldest first."""
    balance = BALANCE.label("balance")
    query = (select(invoices.c.id, invoices.c.number, invoices.c.issue_date, invoices.c.customer_id, balance,
                    customers.c.name.label("customer_name"), customers.c.code.label("customer_code"))
             .join(customers, customers.c.id == invoices.c.customer_id)
             .where(invoices.c.status.in_(pay.OPEN), invoices.c.currency == currency)
             .order_by(invoices.c.issue_date, invoices.c.id).limit(limit))
    q = (q or "").strip()
    if q:
        try:
            amount = Decimal(q.replace(",", "."))
        except ArithmeticError:
            amount = None
        like = f"%{q.lower()}%"
        cond = (func.lower(invoices.c.number).like(like) | func.lower(customers.c.name).like(like)
                | func.lower(customers.c.code).like(like))
        if amount is not None and amount == amount.quantize(Decimal("0.01")):
            cond = cond | (BALANCE == amount)
        query = query.where(cond)
    return [r._asdict() for r in tx.conn.execute(query)]


def invoice_labels(tx: Tx, ids: list[int]) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    return {r.id: r._asdict() for r in tx.conn.execute(
        select(invoices.c.id, invoices.c.number, customers.c.name.label("customer_name"))
        .join(customers, customers.c.id == invoices.c.customer_id).where(invoices.c.id.in_(ids)))}
