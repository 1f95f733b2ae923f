"""Cash application's batched path (``o2c.services.cash.bankpost``) against
the one-by-one path: on the same books and the same statement both leave the
same ledger behind (payments, allocations, journal, statuses, events, audit
rows), and a batch that fails half-way leaves no trace."""
from __future__ import annotations

import datetime as dt
import shutil
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from o2c.db import models as m
from o2c.db.engine import make_engine
from o2c.documents.payment import creditor_reference
from o2c.domain.access import SYSTEM
from o2c.domain.bankfiles.generate import Stmt, Txn, camt053
from o2c.services.books import fx, reconciliation
from o2c.services.cash import bank_import, bankmatch, bankpost, payments
from o2c.services.customers import records
from o2c.services.fulfilment import shipping, stock
from o2c.services.platform import clock
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import catalog, orders
from tests.conftest import PG_URL, _truncate_pg

D = Decimal
IBAN = "DE89370400440532013000"
OURS = "IT60X0542811101000000123456"


@pytest.fixture
def fresh(_template: str, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    made: list[Engine] = []

    def make() -> Engine:
        if PG_URL:
            engine = make_engine(PG_URL)
            _truncate_pg(engine)
        else:
            target = tmp_path / f"{uuid.uuid4().hex}.sqlite3"
            shutil.copy(_template, target)
            engine = make_engine(f"sqlite:///{target}")
        made.append(engine)
        return engine
    yield make
    for e in made:
        e.dispose()


def books(engine: Engine) -> tuple[bytes, dict[str, int]]:
    """Three customers with shipped, invoiced orders (one with two orders),
    a learned IBAN, a payment typed in before the statement, and a statement
    paying them every way the rules know."""
    today = clock.now().date()
    with unit_of_work(engine, "test") as tx:
        ids = {}
        for code, name in (("C-ROSSI", "Rossi Spa"), ("C-BIANCHI", "Bianchi Srl"), ("C-VERDI", "Verdi Sas")):
            ids[code] = records.create_customer(tx, {
                "code": code, "name": name, "country": "IT",
                "billing_address": {"name": name, "line1": "Via Roma 1", "city": "Milano",
                                    "postal_code": "20121", "country": "IT"}})["id"]
        catalog.create_product(tx, {"sku": "MUG-01", "name": "Mug", "unit_price": D("10.00"), "vat_rate": D("0.10"),
                                    "tax_class": "reduced"})
        stock.receive(tx, "MUG-01", 200, D("4.00"))
        if tx.conn.execute(select(m.BankAccount.id).where(m.BankAccount.iban == OURS)).first() is None:
            tx.conn.execute(insert(m.BankAccount), {"iban": OURS, "name": "Main", "currency": "EUR",
                                                    "gl_account": "1000", "csv_mappings": {}, "created_at": tx.now})
        inv = []
        for code, qty in (("C-ROSSI", 2), ("C-ROSSI", 3), ("C-BIANCHI", 5), ("C-BIANCHI", 1), ("C-VERDI", 4),
                          ("C-VERDI", 6), ("C-ROSSI", 7)):
            o = orders.create_order(tx, SYSTEM, {"customer": {"code": code}, "currency": "EUR", "confirm": True,
                                                 "lines": [{"sku": "MUG-01", "quantity": qty}]})
            sh = shipping.ship(tx, shipping.pack(tx, o["id"], SYSTEM, None)["id"], SYSTEM, "BRT", f"T{o['id']}")
            inv.append(tx.conn.execute(select(m.Invoice.number, m.Invoice.total).where(
                m.Invoice.id == sh["invoice_id"])).one())
        tx.conn.execute(insert(m.CustomerIban), {"iban": IBAN, "customer_id": ids["C-VERDI"],
                                                 "learned_from_line_id": None, "created_at": tx.now})
        payments.record_payment(tx, {"customer_id": ids["C-VERDI"], "amount": D("12.34"), "currency": "EUR",
                                     "received_on": today, "method": "bank_transfer", "reference": "TYPED-1",
                                     "allocations": []})
    n = [i.number for i in inv]
    t = [i.total for i in inv]
    txns = [
        Txn(today, t[0], "Rossi Spa", "", "Payment", creditor_reference(n[0]), bank_ref="B1"),      # reference
        Txn(today, t[1] + t[6], "Rossi Spa", "", f"Fatt. {n[1]} {n[6].replace('-', ' ')}", bank_ref="B2"),
        Txn(today, t[2] - D("1.00"), "Bianchi Srl", "", "Bonifico", bank_ref="B3"),                # tolerance
        Txn(today, t[4], "Verdi Sas", IBAN, "Thanks", bank_ref="B4"),                             # IBAN, equal
        Txn(today, t[5] + D("25.00"), "Verdi Sas", IBAN, "All of it", bank_ref="B5"),             # IBAN, excess
        Txn(today, t[0], "Rossi Spa", "", "Again", creditor_reference(n[0]), bank_ref="B6"),      # paid already
        Txn(today, D("230.00"), "Studio Bianchi", "", "Rimborso spese", bank_ref="B7"),           # nobody
        Txn(today, t[3], "Bianchi Srl", "", f"Invoice {n[3]}", bank_ref="B8"),                    # number
        Txn(today, D("-4.50"), "", "", "Account fee", bank_ref="B9", code="ACMT/MDOP/CHRG"),
        Txn(today, D("12.34"), "Verdi Sas", IBAN, "On account", bank_ref="B10"),                  # typed before
    ]
    return camt053(OURS, "EUR", [Stmt("BATCH-1", today, today, D("0.00"), txns)]), ids


def snapshot(engine: Engine) -> dict[str, Any]:
    """Everything cash application writes, in a form both paths can be compared in."""
    je, jl = m.JournalEntry, m.JournalLine
    with engine.connect() as c:
        def rows(q: Any) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in c.execute(q)]
        journal = rows(select(je.id, je.date, je.source_type, je.source_id, je.document, je.customer_id,
                              je.description, jl.account, jl.debit, jl.credit, jl.currency, jl.amount)
                       .join(jl, jl.entry_id == je.id).order_by(je.id, jl.account))
        return {
            "payments": rows(select(m.Payment.id, m.Payment.customer_id, m.Payment.amount, m.Payment.unapplied,
                                    m.Payment.received_on, m.Payment.reference, m.Payment.method, m.Payment.status,
                                    m.Payment.currency, m.Payment.exchange_rate, m.Payment.functional_amount)
                             .order_by(m.Payment.id)),
            "allocations": rows(select(m.PaymentAllocation.payment_id, m.PaymentAllocation.invoice_id,
                                       m.PaymentAllocation.amount, m.PaymentAllocation.date)
                                .order_by(m.PaymentAllocation.payment_id, m.PaymentAllocation.invoice_id)),
            "invoices": rows(select(m.Invoice.id, m.Invoice.amount_paid, m.Invoice.status).order_by(m.Invoice.id)),
            "orders": rows(select(m.Order.id, m.Order.amount_paid, m.Order.status, m.Order.fulfillment_status,
                                  m.Order.payment_status).order_by(m.Order.id)),
            "journal": journal,
            "lines": rows(select(m.BankLine.id, m.BankLine.status, m.BankLine.rule, m.BankLine.payment_id,
                                 m.BankLine.unmatched_reason, m.BankLine.decided_by).order_by(m.BankLine.id)),
            "links": rows(select(m.BankLineLink.bank_line_id, m.BankLineLink.payment_id, m.BankLineLink.amount)
                          .order_by(m.BankLineLink.bank_line_id, m.BankLineLink.payment_id)),
            "events": [(r.type, r.channel, r.order_id, r.data) for r in c.execute(
                select(m.Event.type, m.Event.channel, m.Event.order_id, m.Event.data).order_by(m.Event.id))],
            "audit": [(r.action, r.object_type, r.object_id, r.before, r.after) for r in c.execute(
                select(m.AuditLog.action, m.AuditLog.object_type, m.AuditLog.object_id, m.AuditLog.before,
                       m.AuditLog.after).order_by(m.AuditLog.id))],
        }


def run(engine: Engine, batched: bool) -> tuple[dict[str, int], dict[str, Any]]:
    data, _ = books(engine)
    with unit_of_work(engine, "test") as tx:
        sid = bank_import.import_file(tx, data, "camt.053").statements[0]["id"]
    counts = bankmatch.apply_lines(engine, "test:cash", statement_id=sid, batched=batched)
    with unit_of_work(engine, "test", readonly=True) as tx:
        report = reconciliation.reconcile(tx)
    assert report["ok"], [c for c in report["checks"] if c["difference"] != 0]
    return counts, snapshot(engine)


def test_the_batched_path_leaves_the_ledger_the_one_by_one_path_leaves(fresh: Callable[[], Engine]) -> None:
    one_counts, one = run(fresh(), batched=False)
    batch_counts, batch = run(fresh(), batched=True)
    assert one_counts == batch_counts
    assert one_counts["matched"] >= 6 and one_counts.get("unmatched", 0) >= 2, one_counts
    rules = {r[2] for r in one["lines"] if r[1] == "matched"}
    assert {"booked_payment", "creditor_reference", "document_numbers", "payer_iban", "amount_tolerance"} <= rules, rules
    assert len(one["payments"]) == len({r[3] for r in one["lines"] if r[3]}), "a line posted a second payment"
    assert any(r[3] > 0 for r in one["payments"]), "no line left credit"
    assert any(r[7] == "6800" for r in one["journal"]), "no bank fee written off"
    for key in one:
        assert one[key] == batch[key], key


def test_a_batch_failing_half_way_leaves_no_trace_and_can_run_again(
        fresh: Callable[[], Engine], monkeypatch: pytest.MonkeyPatch) -> None:
    engine = fresh()
    data, _ = books(engine)
    with unit_of_work(engine, "test") as tx:
        sid = bank_import.import_file(tx, data, "camt.053").statements[0]["id"]
    before = snapshot(engine)
    real = bankpost.entry_for_payment
    calls = []

    def breaks_on_the_fifth(*args: Any, **kw: Any) -> Any:
        calls.append(args)
        if len(calls) == 5:
            raise RuntimeError("the database went away")
        return real(*args, **kw)
    monkeypatch.setattr(bankpost, "entry_for_payment", breaks_on_the_fifth)
    monkeypatch.setattr(bankpost, "BATCH", 2)  # two slices written (flushed) before the third breaks
    with pytest.raises(RuntimeError):
        bankmatch.apply_lines(engine, "test:cash", statement_id=sid)
    assert len(calls) == 5
    assert snapshot(engine) == before  # no payment, allocation, entry, event, audit row or line touched
    monkeypatch.setattr(bankpost, "entry_for_payment", real)
    counts = bankmatch.apply_lines(engine, "test:cash", statement_id=sid)
    assert counts["matched"] >= 6
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert reconciliation.reconcile(tx)["ok"]
        assert tx.conn.execute(select(func.count()).select_from(m.BankLineLink)).scalar_one() == counts["matched"]


def test_lines_decided_or_paid_meanwhile_go_the_long_way(fresh: Callable[[], Engine]) -> None:
    """The batch hands back a line whose invoice was paid after the rules read
    it: the one-by-one path then refuses it and says why."""
    engine = fresh()
    data, _ = books(engine)
    with unit_of_work(engine, "test") as tx:
        sid = bank_import.import_file(tx, data, "camt.053").statements[0]["id"]
        rows = tx.conn.execute(select(*bankmatch._LINE_COLS).where(m.BankLine.statement_id == sid)
                               .order_by(m.BankLine.id)).all()
        items = bankmatch.open_items(tx)
        rules = bankmatch.load_rules(tx)
    from o2c.domain import cashmatch as cm
    first = rows[0]
    d = cm.decide(bankmatch._facts(first), items, rules)
    assert d.status == "matched" and bankpost.postable(first, d, dt.date.today())
    again = SimpleNamespace(**{**first._asdict(), "id": rows[5].id})
    twice = [(first, d), (again, d)]  # the same invoice paid by two lines
    with unit_of_work(engine, "test:cash") as tx:
        posted, back = bankpost.post_lines(tx, twice)
    assert posted == [first.id] and [r.id for r, _ in back] == [rows[5].id]


def test_a_line_decided_onto_an_invoice_in_another_currency_goes_the_long_way(fresh: Callable[[], Engine]) -> None:
    """The batch posts euros to invoices in euros only: a line put on a złoty
    invoice is handed back, and the payment service refuses it there (the
    line waits in the worklist saying why, nothing written)."""
    engine = fresh()
    data, ids = books(engine)
    with unit_of_work(engine, "test") as tx:
        fx.set_currency(tx, "PLN", True)
        fx.record_rate(tx, "PLN", tx.today, D("4.2750"))
        o = orders.create_order(tx, SYSTEM, {"customer": {"code": "C-ROSSI"}, "currency": "PLN", "confirm": True,
                                             "lines": [{"sku": "MUG-01", "quantity": 9}]})
        sh = shipping.ship(tx, shipping.pack(tx, o["id"], SYSTEM, None)["id"], SYSTEM, "BRT", f"T{o['id']}")
        sid = bank_import.import_file(tx, data, "camt.053").statements[0]["id"]
        first = tx.conn.execute(select(*bankmatch._LINE_COLS).where(m.BankLine.statement_id == sid)
                                .order_by(m.BankLine.id)).first()
    from o2c.domain import cashmatch as cm
    d = cm.Decision("matched", "creditor_reference", ids["C-ROSSI"], [(sh["invoice_id"], first.amount)])
    assert bankpost.postable(first, d, dt.date.today())
    before = snapshot(engine)
    with unit_of_work(engine, "test:cash") as tx:
        posted, back = bankpost.post_lines(tx, [(first, d)])
    assert posted == [] and [r.id for r, _ in back] == [first.id]
    counts: dict[str, int] = {"matched": 0, "unmatched": 0}
    undecided: list[dict[str, Any]] = []
    bankmatch._post_alone(engine, "test:cash", first, d, None, counts, undecided)
    assert counts == {"matched": 0, "unmatched": 1}
    assert "PLN" in undecided[0]["reason"], undecided
    assert snapshot(engine) == before
