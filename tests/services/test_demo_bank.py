"""The demo's month of bank statements: imported once, every movement the
demo booked matched to what booked it, new money left for cash application,
and the bank reconciliation zero."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select

from o2c.db import models as m
from o2c.demo import load_demo
from o2c.services.books.reconciliation import reconcile
from o2c.services.cash import bank_import, bankmatch
from o2c.services.platform.uow import unit_of_work


def test_the_demo_imports_a_month_of_statements_that_reconcile(app: Any, engine: Engine) -> None:
    load_demo(engine, 24)
    with unit_of_work(engine, "test", readonly=True) as tx:
        report = reconcile(tx)
        statements = tx.conn.execute(select(m.BankStatement.__table__)).all()
        lines = tx.conn.execute(select(m.BankLine.__table__)).all()
    assert report["ok"], [c for c in report["checks"] if c["difference"] != 0]
    bank = [c for c in report["checks"] if c["name"] == "bank"]
    assert len(bank) == 1 and bank[0]["statement_ref"] is not None
    assert len(statements) >= 4 and {s.continuity for s in statements} == {"ok"}
    status = Counter(ln.status for ln in lines)
    assert status["matched"] >= 5 and (status["suggested"], status["unmatched"]) == (1, 1)
    matched = [ln for ln in lines if ln.status == "matched"]
    assert all(ln.payment_id or ln.journal_entry_id for ln in matched)
    # Cash application ran: paid by reference and by number, the fee booked,
    # the ambiguous and the unknown transfer left on the worklist.
    rules = Counter(ln.rule for ln in matched)
    assert rules["creditor_reference"] >= 2 and rules["document_numbers"] >= 1
    assert any(ln.amount == Decimal("-4.50") and ln.status == "booked" for ln in lines)  # the account fee
    unmatched = [ln for ln in lines if ln.status in ("unmatched", "suggested")]
    assert bank[0]["not_applied_total"] == sum((ln.amount for ln in unmatched), Decimal(0))
    # The worklist after `make run`: the transfer the size of two invoices
    # suggested (its payer's IBAN was learned from a recorded line), the
    # unknown one unmatched.
    with unit_of_work(engine, "test", readonly=True) as tx:
        work = bankmatch.worklist(tx)
        pages = [bank_import.statement_reconciliation(tx, s.id) for s in statements]
    assert sorted((ln["bank_ref"], ln["status"]) for ln in work) == [
        ("DEMO-AMBIGUOUS", "suggested"), ("DEMO-UNKNOWN", "unmatched")]
    ambiguous = next(ln for ln in work if ln["bank_ref"] == "DEMO-AMBIGUOUS")
    assert ambiguous["rule"] == "payer_iban" and len(ambiguous["suggestion"]["invoice_ids"]) >= 2
    # Each statement page's bank reconciliation is zero on its day.
    assert all(p["check"]["difference"] == 0 for p in pages), [p["check"] for p in pages]
    last = max(pages, key=lambda p: p["statement"]["to_date"])["check"]
    assert {ln["line_id"] for ln in last["not_applied"]} == {ln["id"] for ln in work}
