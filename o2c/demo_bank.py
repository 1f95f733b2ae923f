"""The demo's bank: a month of statements of the company's account, written
as the bank would send them (CAMT.053 001.08, one statement a week) and
imported like any other file.

The statements report every movement the demo booked on the bank account in
that month — those lines are matched to their payments and refunds, as
o2c recorded them — and new money o2c has not seen yet: open invoices paid
quoting their RF reference, one quoting its number, one paid with neither
(the payer's IBAN is all there is), an account fee, a transfer the size of
two open invoices from a payer who names neither, and a transfer nobody can
place. Those arrive unmatched, for cash application and the worklist; the
recorded lines teach o2c their payers' IBANs, so the transfer the size of
two invoices is suggested (oldest first) and the unknown one stays
unmatched. The
first statement opens with the GL bank balance of the day before, so the
bank reconciliation holds whatever is applied later."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select, type_coerce, update

from o2c.db import models as m
from o2c.db.types import Money
from o2c.documents.payment import creditor_reference
from o2c.domain.bankfiles.generate import Stmt, Txn, camt053
from o2c.services.cash import bank_import
from o2c.services.platform.uow import insert_ignoring_conflicts, unit_of_work

DAYS = 28
#: Payers' IBANs, one per business customer, stable across runs.
PAYER_IBANS = ["IT02A0301503200000003517230", "IT60X0542811101000000987654", "PL61109010140000071219812874",
               "DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300",
               "ES9121000418450200051332", "AT611904300234573201"]

_jl = m.JournalLine.__table__
_je = m.JournalEntry.__table__
_pay = m.Payment.__table__
_inv = m.Invoice.__table__
_cust = m.Customer.__table__
_lines = m.BankLine.__table__
_ibans = m.CustomerIban.__table__


def payer_iban(customer_code: str) -> str:
    return PAYER_IBANS[sum(map(ord, customer_code)) % len(PAYER_IBANS)]


def load_statements(engine: Engine, today: dt.date, actor: str, seed: int = 17) -> dict[str, Any]:
    """Write and import the month's statements; returns what it did."""
    rng = random.Random(seed)
    start, end = today - dt.timedelta(days=DAYS), today - dt.timedelta(days=1)
    with unit_of_work(engine, actor) as tx:
        account = bank_import.ensure_company_account(tx)
        if account is None:
            return {"statements": 0, "lines": 0}
        c = tx.conn
        gl = account["gl_account"]
        opening = bank_import.gl_balance(tx, gl, start - dt.timedelta(days=1))
        booked = c.execute(
            select(_je.c.id, _je.c.date, _je.c.source_type, _je.c.source_id, _je.c.document, _je.c.customer_id,
                   _jl.c.debit, _jl.c.credit)
            .select_from(_jl.join(_je, _je.c.id == _jl.c.entry_id))
            .where(_jl.c.account == gl, _je.c.date >= start, _je.c.date <= end).order_by(_je.c.date, _je.c.id)).all()
        names = {r.id: (r.code, r.name) for r in c.execute(select(_cust.c.id, _cust.c.code, _cust.c.name))}
        refs = {r.id: r.reference for r in c.execute(select(_pay.c.id, _pay.c.reference))}
        txns: list[Txn] = []
        recorded: dict[str, tuple[str, int]] = {}  # bank reference → (kind, id) of what o2c booked
        for n, e in enumerate(booked, 1):
            amount = e.debit - e.credit
            code, name = names.get(e.customer_id, ("", ""))
            ref = f"DEMO{e.date:%Y%m%d}{n:04d}"
            text = (f"{refs.get(e.source_id, e.document)}" if e.source_type == "payment"
                    else f"Refund {e.document}")
            txns.append(Txn(e.date, amount, name, payer_iban(code) if code else "", text, bank_ref=ref,
                            end_to_end_id=refs.get(e.source_id) if e.source_type == "payment" else None))
            recorded[ref] = ("payment", e.source_id) if e.source_type == "payment" else ("entry", e.id)

        open_invoices = c.execute(
            select(_inv.c.id, _inv.c.number, _inv.c.customer_id, _inv.c.issue_date, _inv.c.total,
                   type_coerce(_inv.c.amount_paid + _inv.c.credited_amount, Money()).label("settled"))
            .where(_inv.c.total > _inv.c.amount_paid + _inv.c.credited_amount, _inv.c.currency == "EUR",
                   _inv.c.issue_date <= end - dt.timedelta(days=1))
            .order_by(_inv.c.issue_date, _inv.c.id)).all()
        business = [i for i in open_invoices if names[i.customer_id][0].startswith("C-1")]
        new: list[Txn] = []

        def paid(inv: Any, remittance: str, rf: bool) -> Txn:
            code, name = names[inv.customer_id]
            day = min(end, max(start, inv.issue_date + dt.timedelta(days=rng.randint(1, 6))))
            return Txn(day, inv.total - inv.settled, name, payer_iban(code), remittance,
                       creditor_ref=creditor_reference(inv.number) if rf else None,
                       end_to_end_id=f"E2E-{inv.number}", bank_ref=f"DEMO-N-{inv.id}")
        # The payer's IBAN names a customer only once o2c has learned it: from
        # a customer whose payments this month's statements report. Those
        # lines are chosen first, the rest are paid by reference and number.
        known = {e.customer_id for e in booked if e.source_type == "payment" and e.customer_id is not None}
        theirs: dict[int, list[Any]] = {}
        for i in business:
            if i.customer_id in known:
                theirs.setdefault(i.customer_id, []).append(i)
        pair = next((v[:2] for v in theirs.values() if len(v) >= 2), [])
        by_iban = next((i for i in business if i.customer_id in known and i not in pair
                        and (not pair or i.customer_id != pair[0].customer_id)), None)
        rest = [i for i in business if i not in pair and i is not by_iban]
        for inv in rest[:3]:  # by the RF reference printed on the invoice
            new.append(paid(inv, "Pagamento fattura", True))
        if len(rest) > 3:  # by the number, written the way people write it
            inv = rest[3]
            new.append(paid(inv, f"Saldo fatt. {inv.number.replace('-', ' ')}", False))
        if by_iban is not None:  # by the payer's IBAN alone
            new.append(paid(by_iban, "Bonifico", False))
        if pair:  # one transfer for two invoices that names neither, short of all they owe: ambiguous
            a, b = pair
            code, name = names[a.customer_id]
            amount = (a.total - a.settled) + (b.total - b.settled)
            if len(theirs[a.customer_id]) == 2:
                amount -= Decimal("10.00")
            new.append(Txn(end, amount, name, payer_iban(code), "Pagamento fatture ottobre",
                           bank_ref="DEMO-AMBIGUOUS"))
        new.append(Txn(end - dt.timedelta(days=2), Decimal("-4.50"), "", "", "Canone conto corrente",
                       bank_ref="DEMO-FEE", code="ACMT/MDOP/CHRG"))
        new.append(Txn(end - dt.timedelta(days=5), Decimal("230.00"), "Studio Bianchi", "IT40S0542811101000000123456",
                       "Rimborso spese", bank_ref="DEMO-UNKNOWN"))
        every = sorted(txns + new, key=lambda t: (t.booking_date, t.bank_ref or ""))
        weeks: list[Stmt] = []
        balance = opening
        day = start
        while day <= end:
            last = min(end, day + dt.timedelta(days=6))
            week = [t for t in every if day <= t.booking_date <= last]
            st = Stmt(f"STMT-{last:%Y%m%d}", day, last, balance, week)
            balance = st.closing
            weeks.append(st)
            day = last + dt.timedelta(days=1)
        data = camt053(account["iban"], account["currency"], weeks, "08")
        result = bank_import.import_file(tx, data, "camt.053")
        learned: dict[str, int] = {}
        payers: dict[str, set[int]] = {}  # IBAN → the customers whose recorded payments came from it
        for ref, (kind, target) in recorded.items():
            values = {"payment_id": target} if kind == "payment" else {"journal_entry_id": target}
            c.execute(update(_lines).where(_lines.c.bank_account_id == account["id"], _lines.c.bank_ref == ref)
                      .values(status="matched", rule="recorded", decided_by=actor, decided_at=tx.now, **values))
            if kind == "payment":
                line = c.execute(select(_lines.c.id, _lines.c.counterparty_iban, _pay.c.customer_id)
                                 .join(_pay, _pay.c.id == _lines.c.payment_id)
                                 .where(_lines.c.bank_account_id == account["id"], _lines.c.bank_ref == ref)).one()
                if line.counterparty_iban:
                    payers.setdefault(line.counterparty_iban, set()).add(line.customer_id)
                    learned.setdefault(line.counterparty_iban, line.id)
        # Matching those lines to their payments teaches o2c the payers' IBANs,
        # as a clerk's match by hand does (an IBAN several customers paid from
        # teaches nothing).
        rows = [{"iban": iban, "customer_id": next(iter(who)), "learned_from_line_id": learned[iban],
                 "created_at": tx.now} for iban, who in sorted(payers.items()) if len(who) == 1]
        if rows:
            c.execute(insert_ignoring_conflicts(c, _ibans), rows)
        return {"statements": len(result.statements), "lines": len(every), "recorded": len(recorded),
                "new": len(new), "learned_ibans": len(rows), "file": data}
