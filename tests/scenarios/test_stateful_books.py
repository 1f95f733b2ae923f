"""The three books agree after any sequence of business events.

A hypothesis state machine drives random sequences of the order-to-cash and
after-sales events — goods received, orders created, confirmed and cancelled
(in EUR and in PLN, at rates that change between events),
packed, shipped and unpacked, open quantities of lines cancelled, orders
that allow backorders (and receipts that fill them), payments and their
reversal, returns (restocked or written off, credited or refunded, with or
without an exchange), refunds of customer credit, credit applied to invoices
and released from them, orders carrying a coupon, bank statements imported
and applied (their lines matched, booked or ignored by a clerk, their
payments reversed) — through the services, over a few
SKUs and customers, and after every step checks every invariant of SPEC §5:
each check of the reconciliation report must show a difference of zero.

Each rule is one business event. A rule picks its document with a random
number taken modulo the documents that qualify right now, so sequences shrink
well, and a refusal the rules allow (out of stock, over the credit limit, an
invalid move) is a legitimate outcome: the invariant is checked either way.
To add an event, add a ``@rule`` that calls ``self.event(...)``.
"""
from __future__ import annotations

import datetime as dt
import json
import shutil
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import Engine, delete, func, select

from o2c.db import models as m
from o2c.db.engine import make_engine
from o2c.domain.access import SYSTEM
from o2c.domain.errors import Conflict, CouponUnavailable, CreditLimitExceeded, InvalidTransition, OutOfStock
from o2c.services.books import fx, reconciliation, revaluation
from o2c.documents.payment import creditor_reference
from o2c.domain.bankfiles.generate import Stmt, Txn, camt053
from o2c.services.cash import bank_import, bankmatch, corrections, payments
from o2c.services.crm import coupons
from o2c.services.platform import clock
from o2c.services.customers import records
from o2c.services.fulfilment import returns, shipping, stock
from o2c.services.platform import company
from o2c.services.platform.uow import Tx, unit_of_work
from o2c.services.sales import backorders, catalog, orders, quotes
from tests.conftest import PG_URL, _truncate_pg

D = Decimal
SKUS = {"RETRO-CLOCK": ("49.90", "0.22"), "MUG-01": ("8.50", "0.10"), "BOOK-ESPRESSO": ("32.00", "0.04"),
        "COURSE": ("40.00", "0")}
TAX_CLASS = {"0.22": "standard", "0.10": "reduced", "0.04": "super_reduced", "0": "exempt"}
CUSTOMERS = {"C-ROSSI": None, "C-LIMIT": D("400.00"), "C-LINDNER": None, "C-SAMOVAR": None, "C-NOWAK": None,
             "C-WAWA": None}
#: Who buys, for every tax treatment: domestic (Italy), intra-EU B2B (a German
#: business), export (a Russian company), distance sales (a Polish consumer,
#: over a low threshold after the first sales; she may become a business).
TAX_DATA = {"C-LINDNER": {"country": "DE", "tax_id": "DE287451934"},
            "C-SAMOVAR": {"country": "RU", "tax_id": "7714512839"},
            "C-NOWAK": {"country": "PL", "customer_type": "consumer"},
            # An Italian firm that buys in zloty (and sometimes in euro).
            "C-WAWA": {"country": "IT", "currency": "PLN"}}
#: The zloty's rates the day may have (units per euro).
PLN_RATES = [D("4.2750"), D("4.3010"), D("4.2580"), D("4.3333")]
COSTS = [D("3.00"), D("12.35"), D("20.01")]
#: Business refusals a random sequence may meet; anything else fails the test.
REFUSALS = (Conflict, OutOfStock, InvalidTransition, CreditLimitExceeded, CouponUnavailable)
#: Coupons the orders may carry: a percentage used at most three times, an amount many times.
COUPONS = {"TEN": {"percent_off": D("10"), "max_redemptions": 3},
           "FIVE": {"amount_off": D("5.00"), "min_order_net": D("20.00"), "max_redemptions": 50}}

pick = st.integers(min_value=0, max_value=10**6)
quantity = st.integers(min_value=1, max_value=4)


class Steps:
    """How many steps (rules) ran, how many business events they made, and how
    many of those the rules refused."""
    steps = 0
    run = 0
    refused = 0
    handed_over = 0  # units reserved for waiting orders by hand-over jobs
    documents: dict[str, int] = {}
    treatments: dict[str, int] = {}  # invoices made per tax treatment
    currencies: dict[str, int] = {}  # invoices made per currency


class BooksMachine(RuleBasedStateMachine):
    #: Set by the test: returns an empty, migrated database for each run.
    fresh_engine: Callable[[], Engine]

    def __init__(self) -> None:
        super().__init__()
        self.engine = type(self).fresh_engine()
        self.refs = 0
        self.ids: dict[str, int] = {}

    def teardown(self) -> None:
        for table in ("orders", "shipments", "invoices", "payments", "returns", "credit_notes", "refunds",
                      "bank_lines", "fx_revaluations"):
            n = self.query(select(func.count()).select_from(m.Base.metadata.tables[table]))[0][0]
            Steps.documents[table] = Steps.documents.get(table, 0) + n
        for treatment, n in self.query(select(m.Invoice.tax_treatment, func.count()).group_by(m.Invoice.tax_treatment)):
            Steps.treatments[treatment] = Steps.treatments.get(treatment, 0) + n
        for currency, n in self.query(select(m.Invoice.currency, func.count()).group_by(m.Invoice.currency)):
            Steps.currencies[currency] = Steps.currencies.get(currency, 0) + n
        self.engine.dispose()

    # -- plumbing ------------------------------------------------------------------------
    def event(self, work: Callable[[Tx], Any]) -> Any:
        """Run one business event in its unit of work; a refusal is an outcome."""
        Steps.run += 1
        try:
            with unit_of_work(self.engine, "test:stateful") as tx:
                return work(tx)
        except REFUSALS:
            Steps.refused += 1
            return None

    def query(self, stmt: Any) -> list[Any]:
        with self.engine.connect() as c:
            return c.execute(stmt).all()

    def choose(self, stmt: Any, n: int) -> Any:
        rows = self.query(stmt)
        return rows[n % len(rows)] if rows else None

    def ref(self, prefix: str) -> str:
        self.refs += 1
        return f"{prefix}-{self.refs}"

    # -- the world -----------------------------------------------------------------------
    @initialize()
    def master_data(self) -> None:
        def setup(tx: Tx) -> None:
            fx.set_currency(tx, "PLN", True)
            fx.record_rate(tx, "PLN", tx.today, PLN_RATES[0])
            for code, limit in CUSTOMERS.items():
                tax = TAX_DATA.get(code, {"country": "IT"})
                self.ids[code] = records.create_customer(tx, {
                    "code": code, "name": code.title(), "credit_limit": limit, **tax,
                    "billing_address": {"name": code, "line1": "Via Roma 1", "city": "Milano",
                                        "postal_code": "20121", "country": tax["country"]}})["id"]
            company.update_company(tx, {"distance_sales_threshold": D("150.00")})
            for sku, (price, vat) in SKUS.items():
                catalog.create_product(tx, {"sku": sku, "name": sku.title(), "unit_price": D(price),
                                            "vat_rate": D(vat), "tax_class": TAX_CLASS[vat]})
                stock.receive(tx, sku, 6, COSTS[len(sku) % len(COSTS)])
            # Something to pay, return and credit from the first step on.
            sold = orders.create_order(tx, SYSTEM, {
                "customer": {"code": "C-ROSSI"}, "currency": "EUR", "confirm": True, "external_ref": "PO-0",
                "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}, {"sku": "MUG-01", "quantity": 3}]})
            packed = shipping.pack(tx, sold["id"], SYSTEM, None)
            shipping.ship(tx, packed["id"], SYSTEM, "BRT", "T0")
            # An invoice of every treatment from the first step on (C-NOWAK's is over the threshold).
            for code, first in (("C-LINDNER", "BOOK-ESPRESSO"), ("C-SAMOVAR", "BOOK-ESPRESSO"),
                                ("C-NOWAK", "RETRO-CLOCK")):
                abroad = orders.create_order(tx, SYSTEM, {
                    "customer": {"code": code}, "currency": "EUR", "confirm": True,
                    "lines": [{"sku": first, "quantity": 1 if first == "BOOK-ESPRESSO" else 3},
                              {"sku": "MUG-01", "quantity": 1}]})
                shipping.ship(tx, shipping.pack(tx, abroad["id"], SYSTEM, None)["id"], SYSTEM, "BRT", f"T-{code}")
            orders.create_order(tx, SYSTEM, {"customer": {"code": "C-LIMIT"}, "currency": "EUR", "confirm": False,
                                             "lines": [{"sku": "BOOK-ESPRESSO", "quantity": 1}]})
            for code, terms in COUPONS.items():
                coupons.create_coupon(tx, SYSTEM, {"code": code, **terms})
            # A zloty invoice from the first step on.
            zloty = orders.create_order(tx, SYSTEM, {
                "customer": {"code": "C-WAWA"}, "confirm": True,
                "lines": [{"sku": "BOOK-ESPRESSO", "quantity": 2}, {"sku": "COURSE", "quantity": 1}]})
            shipping.ship(tx, shipping.pack(tx, zloty["id"], SYSTEM, None)["id"], SYSTEM, "BRT", "T-PLN")
        with unit_of_work(self.engine, "test:stateful") as tx:
            setup(tx)

    @rule(business=st.booleans())
    def consumer_becomes_business(self, business: bool) -> None:
        """The Polish consumer registers for VAT (or is found to be a consumer
        after all): her later orders change treatment, earlier ones keep theirs."""
        data = ({"customer_type": "business", "tax_id": "PL6772398046"} if business
                else {"customer_type": "consumer", "tax_id": ""})
        self.event(lambda tx: records.update_customer(tx, self.ids["C-NOWAK"], data))

    @rule(sku=st.sampled_from(sorted(SKUS)), qty=quantity, cost=st.sampled_from(COSTS))
    def receive_goods(self, sku: str, qty: int, cost: Decimal) -> None:
        self.event(lambda tx: stock.receive(tx, sku, qty, cost))

    @rule(code=st.sampled_from(sorted(CUSTOMERS)), confirm=st.booleans(), backorder=st.booleans(),
          lines=st.lists(st.tuples(st.sampled_from(sorted(SKUS)), quantity), min_size=1, max_size=3))
    def create_order(self, code: str, confirm: bool, backorder: bool, lines: list[tuple[str, int]]) -> None:
        self.event(lambda tx: orders.create_order(tx, SYSTEM, {
            "customer": {"code": code}, "currency": "EUR", "confirm": confirm, "external_ref": self.ref("PO"),
            "allow_backorder": backorder, "lines": [{"sku": s, "quantity": q} for s, q in lines]}))

    @rule(code=st.sampled_from(sorted(CUSTOMERS)), confirm=st.booleans(),
          lines=st.lists(st.tuples(st.sampled_from(sorted(SKUS)), quantity), min_size=1, max_size=3))
    def create_order_in_zloty(self, code: str, confirm: bool, lines: list[tuple[str, int]]) -> None:
        self.event(lambda tx: orders.create_order(tx, SYSTEM, {
            "customer": {"code": code}, "currency": "PLN", "confirm": confirm, "external_ref": self.ref("PO"),
            "lines": [{"sku": s, "quantity": q} for s, q in lines]}))

    @rule(rate=st.sampled_from(PLN_RATES))
    def zloty_moves(self, rate: Decimal) -> None:
        """The day's rate changes: later documents freeze the new one."""
        self.event(lambda tx: fx.record_rate(tx, "PLN", tx.today, rate))

    @rule(days_back=st.integers(min_value=0, max_value=3), rate=st.sampled_from(PLN_RATES))
    def revalue(self, days_back: int, rate: Decimal) -> None:
        """The zloty balances revalued at a recent day's rate (once a day: again is refused)."""
        day = clock.now().date() - dt.timedelta(days=days_back)

        def work(tx: Tx) -> None:
            fx.record_rate(tx, "PLN", day, rate)
            revaluation.revalue(tx, day)
        self.event(work)

    @rule(code=st.sampled_from(sorted(CUSTOMERS)),
          amount=st.sampled_from([D("21.37"), D("100.00"), D("231.17"), D("1000.00")]))
    def pay_in_zloty(self, code: str, amount: Decimal) -> None:
        self.event(lambda tx: payments.record_payment(tx, {
            "customer_id": self.ids[code], "amount": amount, "currency": "PLN", "received_on": tx.today,
            "method": "bank_transfer", "reference": self.ref("PKO")}))

    @rule(code=st.sampled_from(sorted(CUSTOMERS)), confirm=st.booleans(), coupon=st.sampled_from(sorted(COUPONS)),
          lines=st.lists(st.tuples(st.sampled_from(sorted(SKUS)), quantity), min_size=1, max_size=3))
    def create_order_with_coupon(self, code: str, confirm: bool, coupon: str, lines: list[tuple[str, int]]) -> None:
        self.event(lambda tx: orders.create_order(tx, SYSTEM, {
            "customer": {"code": code}, "currency": "EUR", "confirm": confirm, "external_ref": self.ref("PO"),
            "coupon": coupon, "lines": [{"sku": s, "quantity": q} for s, q in lines]}))

    @rule(code=st.sampled_from(sorted(set(CUSTOMERS) - {"C-WAWA"})),  # quotations are in EUR
          discount=st.sampled_from([D("0"), D("0.05"), D("0.125")]),
          lines=st.lists(st.tuples(st.sampled_from(sorted(SKUS)), quantity), min_size=1, max_size=3),
          option=st.sampled_from(sorted(SKUS)), take_option=st.booleans())
    def quote_accept_order(self, code: str, discount: Decimal, lines: list[tuple[str, int]], option: str,
                           take_option: bool) -> None:
        """A quotation sent and accepted becomes an order at the quoted prices
        (a draft when stock or credit refuse the confirmation)."""
        q = self.event(lambda tx: quotes.create_quote(tx, SYSTEM, {
            "customer": {"code": code},
            "lines": [{"sku": s, "quantity": n, "discount": discount} for s, n in lines]
            + [{"sku": option, "quantity": 1, "optional": True}]}))
        self.event(lambda tx: quotes.send_quote(tx, q["id"], SYSTEM))
        accepted = self.event(lambda tx: quotes.accept_quote(
            tx, q["id"], SYSTEM, {"accepted_by": "Buyer", "optional_skus": [option] if take_option else []}))
        order = self.event(lambda tx: orders.get_order(tx, accepted["order_id"], SYSTEM))
        quoted = D(q["net_total"]) + (D(q["optional_lines"][0]["net"]) if take_option else D(0))
        assert order["net_total"] == quoted and order["external_ref"] == q["number"]
        assert order["status"] == ("draft" if accepted["conversion_note"] else "confirmed")

    @rule(n=pick)
    def confirm_order(self, n: int) -> None:
        o = self.choose(select(m.Order.id).where(m.Order.status == "draft").order_by(m.Order.id), n)
        if o is not None:
            self.event(lambda tx: orders.confirm_order(tx, o.id, SYSTEM))

    @rule(n=pick)
    def cancel_order(self, n: int) -> None:
        o = self.choose(select(m.Order.id).where(m.Order.status.in_(("draft", "confirmed"))).order_by(m.Order.id), n)
        if o is not None:
            self.event(lambda tx: orders.cancel_order(tx, o.id, SYSTEM))

    @rule(n=pick, qty=quantity)
    def cancel_open_quantity(self, n: int, qty: int) -> None:
        line = self.choose(
            select(m.OrderLine.order_id, m.OrderLine.sku,
                   m.OrderLine.quantity - m.OrderLine.shipped_quantity - m.OrderLine.cancelled_quantity)
            .join(m.Order, m.Order.id == m.OrderLine.order_id)
            .where(m.Order.status == "confirmed",
                   m.OrderLine.quantity > m.OrderLine.shipped_quantity + m.OrderLine.cancelled_quantity)
            .order_by(m.OrderLine.id), n)
        if line is not None:
            self.event(lambda tx: orders.cancel_order(tx, line.order_id, SYSTEM,
                                                      [{"sku": line.sku, "quantity": min(qty, line[2])}]))

    @rule(n=pick, part=st.booleans())
    def pack(self, n: int, part: bool) -> None:
        line = self.choose(
            select(m.OrderLine.order_id, m.OrderLine.sku)
            .join(m.Order, m.Order.id == m.OrderLine.order_id)
            .where(m.Order.status == "confirmed",
                   m.OrderLine.quantity > m.OrderLine.shipped_quantity + m.OrderLine.packed_quantity
                   + m.OrderLine.cancelled_quantity).order_by(m.OrderLine.id), n)
        if line is not None:
            requested = [{"sku": line.sku, "quantity": 1}] if part else None
            self.event(lambda tx: shipping.pack(tx, line.order_id, SYSTEM, requested))

    @rule(n=pick)
    def ship(self, n: int) -> None:
        s = self.choose(select(m.Shipment.id).where(m.Shipment.status == "packed").order_by(m.Shipment.id), n)
        if s is not None:
            self.event(lambda tx: shipping.ship(tx, s.id, SYSTEM, "BRT", f"T{s.id}"))

    @rule(n=pick)
    def unpack(self, n: int) -> None:
        s = self.choose(select(m.Shipment.id).where(m.Shipment.status == "packed").order_by(m.Shipment.id), n)
        if s is not None:
            self.event(lambda tx: shipping.cancel_shipment(tx, s.id, SYSTEM))

    @rule(code=st.sampled_from(sorted(CUSTOMERS)),
          amount=st.sampled_from([D("5.00"), D("18.70"), D("60.88"), D("100.00"), D("333.33")]))
    def pay(self, code: str, amount: Decimal) -> None:
        self.event(lambda tx: payments.record_payment(tx, {
            "customer_id": self.ids[code], "amount": amount, "currency": "EUR", "received_on": tx.today,
            "method": "bank_transfer", "reference": self.ref("BANK")}))

    @rule(n=pick, how=st.lists(st.sampled_from(["reference", "number", "half", "typed", "unknown", "fee"]),
                               min_size=1, max_size=3))
    def bank_statement(self, n: int, how: list[str]) -> None:
        """A statement of the company's account, imported and applied by the
        cash application rules: open invoices paid by their creditor reference,
        their number or half of it by number, a payment typed in earlier as the
        bank reports it (o2c cannot tell it from new money: it stays on the
        worklist), money nobody knows, a bank fee. The first statement opens
        with the ledger's bank balance of the day before; each later one
        continues the previous closing balance."""
        account = self.query(select(m.BankAccount.iban, m.BankAccount.gl_account).order_by(m.BankAccount.id))[0]
        last = self.query(select(m.BankStatement.closing_balance).order_by(m.BankStatement.id.desc()).limit(1))
        today = clock.now().date()
        if last:
            opening = last[0][0]
        else:
            with unit_of_work(self.engine, "test:stateful", readonly=True) as tx:
                opening = bank_import.gl_balance(tx, account.gl_account, today - dt.timedelta(days=1))
        txns = []
        for i, kind in enumerate(how):
            ref = self.ref("LINE")
            inv = self.choose(select(m.Invoice.id, m.Invoice.number, m.Invoice.total, m.Invoice.amount_paid,
                                     m.Invoice.credited_amount).where(m.Invoice.status.in_(payments.OPEN))
                              .order_by(m.Invoice.id), n + i)
            typed = self.choose(select(m.Payment.amount, m.Payment.reference)
                                .where(m.Payment.reference.like("BANK-%")).order_by(m.Payment.id), n + i)
            if kind == "fee":
                txns.append(Txn(today, D("-2.50"), "", "", "Account fee", bank_ref=ref, code="ACMT/MDOP/CHRG"))
            elif kind == "typed" and typed is not None:
                txns.append(Txn(today, typed.amount, "Payer", "", typed.reference, bank_ref=ref))
            elif inv is None or kind in ("unknown", "typed"):
                txns.append(Txn(today, D("7.77"), "Someone", "", "?", bank_ref=ref))
            else:
                owed = inv.total - inv.amount_paid - inv.credited_amount
                amount = (owed / 2).quantize(D("0.01")) if kind == "half" and owed >= D("0.02") else owed
                txns.append(Txn(today, amount, "Payer", "", inv.number if kind != "reference" else "Payment",
                                creditor_reference(inv.number) if kind == "reference" else None, bank_ref=ref))
        data = camt053(account.iban, "EUR", [Stmt(self.ref("STMT"), today, today, opening, txns)])
        if self.event(lambda tx: bank_import.import_file(tx, data, "camt.053")) is not None:
            Steps.run += 1
            bankmatch.apply_lines(self.engine, "test:stateful")

    @rule(n=pick, how=st.sampled_from(["customer", "book", "ignore"]), code=st.sampled_from(sorted(CUSTOMERS)))
    def work_a_statement_line(self, n: int, how: str, code: str) -> None:
        """A clerk decides a line of the worklist: money of a customer
        (oldest invoices first, the rest credit), booked to bank charges, or
        ignored with a reason."""
        ln = self.choose(select(m.BankLine.id, m.BankLine.amount)
                         .where(m.BankLine.status.in_(bankmatch.UNDECIDED)).order_by(m.BankLine.id), n)
        if ln is None:
            return
        if how == "customer" and ln.amount > 0:
            self.event(lambda tx: bankmatch.match_line(tx, ln.id, {"customer_id": self.ids[code]}))
        elif how == "ignore":
            self.event(lambda tx: bankmatch.ignore_line(tx, ln.id, {"reason": "Transfer between own accounts"}))
        else:
            self.event(lambda tx: bankmatch.book_line(tx, ln.id, {"account": "6800", "description": "Charges"}))

    @rule(n=pick)
    def reverse_payment(self, n: int) -> None:
        p = self.choose(select(m.Payment.id).where(m.Payment.status == "received").order_by(m.Payment.id), n)
        if p is not None:
            self.event(lambda tx: corrections.reverse_payment(tx, p.id, "bounced"))

    @rule(n=pick, part=st.sampled_from([D("0.5"), D("1")]))
    def release_credit(self, n: int, part: Decimal) -> None:
        inv = self.choose(select(m.Invoice.id, m.Invoice.customer_id, m.Invoice.amount_paid)
                          .where(m.Invoice.amount_paid > 0).order_by(m.Invoice.id), n)
        if inv is not None:
            amount = (inv.amount_paid * part).quantize(D("0.01"))
            self.event(lambda tx: corrections.release_credit(tx, inv.customer_id, inv.id, amount))

    @rule(n=pick, qty=quantity, restock=st.booleans(), refund=st.sampled_from(returns.REFUND_MODES),
          exchange=st.booleans())
    def return_goods(self, n: int, qty: int, restock: bool, refund: str, exchange: bool) -> None:
        line = self.choose(select(m.OrderLine.order_id, m.OrderLine.sku, m.OrderLine.shipped_quantity
                                  - m.OrderLine.returned_quantity)
                           .where(m.OrderLine.shipped_quantity > m.OrderLine.returned_quantity)
                           .order_by(m.OrderLine.id), n)
        if line is not None:
            body: dict[str, Any] = {"lines": [{"sku": line.sku, "quantity": min(qty, line[2])}],
                                    "restock": restock, "refund": refund}
            if exchange:
                body["exchange"] = {"lines": [{"sku": line.sku, "quantity": 1}], "confirm": True}
            self.event(lambda tx: returns.create_return(tx, line.order_id, SYSTEM, body))

    @rule(code=st.sampled_from(sorted(CUSTOMERS)), part=st.sampled_from([D("0.25"), D("1")]),
          currency=st.sampled_from(["EUR", "PLN"]))
    def refund_credit(self, code: str, part: Decimal, currency: str) -> None:
        credit = sum((r.unapplied for r in self.query(
            select(m.Payment.unapplied).where(m.Payment.customer_id == self.ids[code],
                                              m.Payment.currency == currency))), D(0))
        amount = (credit * part).quantize(D("0.01"))
        if amount > 0:
            self.event(lambda tx: returns.refund_credit(tx, {"customer_id": self.ids[code], "amount": amount,
                                                             "currency": currency}))

    @rule(n=pick)
    def apply_credit(self, n: int) -> None:
        inv = self.choose(select(m.Invoice.id).where(m.Invoice.status.in_(("open", "partially_paid")))
                          .order_by(m.Invoice.id), n)
        if inv is not None:
            self.event(lambda tx: returns.apply_credit(tx, inv.id, SYSTEM))

    # -- what must always hold ---------------------------------------------------------------
    @rule(n=pick)
    def hand_over_freed_stock(self, n: int) -> None:
        """What the worker does with a queued ``backorders.hand_over`` job:
        stock freed by a cancellation or a restocked return goes to the
        orders waiting for it (the job row is deleted when done)."""
        job = self.choose(select(m.Job.id, m.Job.payload).where(m.Job.kind == orders.HAND_OVER).order_by(m.Job.id), n)
        if job is not None:
            pid = int((job.payload if isinstance(job.payload, dict) else json.loads(job.payload))["product_id"])

            def work(tx: Tx) -> None:
                Steps.handed_over += sum(f["quantity"] for f in backorders.hand_over(tx, pid))
                tx.conn.execute(delete(m.Job.__table__).where(m.Job.__table__.c.id == job.id))
            self.event(work)

    @invariant()
    def no_free_stock_while_an_order_waits(self) -> None:
        """Free units never sit on the shelf while a confirmed order waits for
        them — unless a hand-over job for that product is queued."""
        J, L, O, S = m.Job.__table__, m.OrderLine.__table__, m.Order.__table__, m.Stock.__table__
        waited_for = select(L.c.product_id).join(O, O.c.id == L.c.order_id).where(
            L.c.backordered_quantity > 0, O.c.status == "confirmed")
        queued = {int((p if isinstance(p, dict) else json.loads(p))["product_id"])
                  for (p,) in self.query(select(J.c.payload).where(J.c.kind == orders.HAND_OVER))}
        idle = [pid for (pid,) in self.query(select(S.c.product_id).where(
            S.c.on_hand > S.c.reserved, S.c.product_id.in_(waited_for)))]
        assert set(idle) <= queued, (idle, queued)

    @invariant()
    def books_reconcile(self) -> None:
        Steps.steps += 1
        with unit_of_work(self.engine, "test:stateful", readonly=True) as tx:
            report = reconciliation.reconcile(tx)
            # The whole journal counts every revaluation with its reversal; as
            # of today, the ones in force count too.
            report["checks"] += reconciliation.currency_checks(
                tx, tx.today, reconciliation.gl_by_role_and_currency(tx, tx.today))
            report["ok"] = report["ok"] and all(c["difference"] == 0 for c in report["checks"])
        bad = [(c["name"], str(c["left"]), str(c["right"]), str(c["difference"]),
                c.get("documents") or c.get("customers") or c.get("lines"))
               for c in report["checks"] if c["difference"] != 0]
        assert report["ok"] and not bad, bad

    @invariant()
    def documents_keep_the_treatment_of_their_order(self) -> None:
        """An invoice copies its order's frozen treatment, a credit note its invoice's."""
        I, O, C = m.Invoice, m.Order, m.CreditNote
        assert not self.query(select(I.id).join(O, O.id == I.order_id).where(
            (I.tax_treatment != O.tax_treatment) | (I.tax_country != O.tax_country)))
        assert not self.query(select(C.id).join(I, I.id == C.invoice_id).where(
            (C.tax_treatment != I.tax_treatment) | (C.tax_country != I.tax_country)))

    @invariant()
    def coupons_count_exactly_their_live_orders(self) -> None:
        live = dict(self.query(
            select(m.Order.coupon_id, func.count()).where(m.Order.coupon_id.is_not(None),
                                                          m.Order.status.in_(("confirmed", "completed")))
            .group_by(m.Order.coupon_id)))
        for cid, used, most in self.query(select(m.Coupon.id, m.Coupon.redemptions, m.Coupon.max_redemptions)):
            assert used == live.get(cid, 0) <= most

    @invariant()
    def documents_stay_within_their_bounds(self) -> None:
        assert not self.query(select(m.Invoice.id).where(
            m.Invoice.amount_paid + m.Invoice.credited_amount > m.Invoice.total))
        assert not self.query(select(m.Payment.id).where(m.Payment.unapplied < 0))
        assert not self.query(select(m.OrderLine.id).where(m.OrderLine.returned_quantity > m.OrderLine.shipped_quantity))
        assert not self.query(select(m.OrderLine.id).where(
            m.OrderLine.shipped_quantity + m.OrderLine.cancelled_quantity > m.OrderLine.quantity))


@pytest.fixture
def fresh_engines(_template: str, tmp_path: Path) -> Iterator[Callable[[], Engine]]:
    """A factory of empty, migrated databases: a copy of the SQLite template, or
    the PostgreSQL test database emptied again."""
    def make() -> Engine:
        if PG_URL:
            engine = make_engine(PG_URL)
            _truncate_pg(engine)
            return engine
        target = tmp_path / f"{uuid.uuid4().hex}.sqlite3"
        shutil.copy(_template, target)
        return make_engine(f"sqlite:///{target}")
    yield make


def _run(fresh: Callable[[], Engine], record: Callable[[str, Any], None], examples: int, steps: int) -> None:
    BooksMachine.fresh_engine = staticmethod(fresh)  # type: ignore[assignment]
    Steps.steps = Steps.run = Steps.refused = Steps.handed_over = 0
    Steps.documents = {}
    Steps.treatments = {}
    Steps.currencies = {}
    run_state_machine_as_test(BooksMachine, settings=settings(
        max_examples=examples, stateful_step_count=steps, deadline=None, derandomize=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    record("steps", Steps.steps)
    record("events", Steps.run)
    record("refused", Steps.refused)
    print(f"\nstateful books: {examples} runs, {Steps.steps} reconciliations, {Steps.run} business events "
          f"({Steps.refused} refused by the rules); documents made: {Steps.documents}; "
          f"invoices per tax treatment: {Steps.treatments}; invoices per currency: {Steps.currencies}; "
          f"units handed to waiting orders by hand-over jobs: {Steps.handed_over}")
    assert Steps.run > examples, "the machine hardly ran"
    assert Steps.refused < Steps.run, "every event was refused: the rules drive nothing"
    assert {"domestic", "intra_eu_b2b", "eu_distance_sale", "export"} <= set(Steps.treatments), Steps.treatments
    assert Steps.documents.get("bank_lines", 0) > 0, "no statement was imported"
    assert {"EUR", "PLN"} <= set(Steps.currencies), Steps.currencies
    assert Steps.documents.get("fx_revaluations", 0) > 0, "nothing was revalued"


def test_any_sequence_of_events_keeps_the_books_reconciled(
    fresh_engines: Callable[[], Engine], record_property: Callable[[str, Any], None],
) -> None:
    _run(fresh_engines, record_property, examples=10, steps=40)


@pytest.mark.slow
def test_many_long_sequences_keep_the_books_reconciled(
    fresh_engines: Callable[[], Engine], record_property: Callable[[str, Any], None],
) -> None:
    _run(fresh_engines, record_property, examples=60, steps=50)
