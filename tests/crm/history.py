"""A small fixed history, dated by moving the clock, that the insights and KPI
tests compute their expectations from by hand.

C-ROSSI (net prices, MUG-01 10.00 at 22 % VAT, cost 4.00 a unit):
- 2026-01-10 order O1: 2 mugs, promised 2026-01-12, shipped 2026-01-10 → invoice I1 20.00 net / 24.40
- 2026-01-30 order O2: 3 mugs, promised 2026-01-29, shipped 2026-01-30 (late) → I2 30.00 / 36.60
- 2026-02-19 order O3: 2 mugs, no promise, shipped 2026-02-19 → I3 20.00 / 24.40
- 2026-01-20 payment 24.40 → I1 (10 days); 2026-02-14 payment 36.60 → I2 (15 days)
- 2026-02-20 return of 1 mug from O3, restocked, credited → credit note 10.00 / 12.20 on I3
C-BIANCHI: 2026-02-25 order O4: 1 mug, shipped 2026-02-25 → I4 10.00 / 12.20 (open)
C-VERDI: 2025-06-01 order O0: 1 mug, shipped → I0 10.00 / 12.20, paid 2025-06-11 (10 days)
C-NERI: 2026-02-26 a draft order only (never counted).
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine

from o2c.domain.access import SYSTEM
from o2c.services.cash import payments
from o2c.services.customers import records
from o2c.services.fulfilment import returns, shipping, stock
from o2c.services.platform import clock
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import catalog, orders

D = Decimal


@contextmanager
def on(monkeypatch: pytest.MonkeyPatch, day: str) -> Iterator[None]:
    at = dt.datetime.fromisoformat(day).replace(hour=10, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(clock, "now", lambda: at)
    yield


def _customer(tx: Any, code: str) -> int:
    return records.create_customer(tx, {"code": code, "name": code.title(), "country": "IT", "billing_address": {
        "name": code, "line1": "Via Roma 1", "city": "Milano", "postal_code": "20121", "country": "IT"}})["id"]


def build(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    ids: dict[str, Any] = {}

    def order(code: str, qty: int, promised: str | None = None, ship: bool = True, confirm: bool = True) -> int:
        with unit_of_work(engine, "test") as tx:
            o = orders.create_order(tx, SYSTEM, {"customer": {"code": code}, "currency": "EUR", "confirm": confirm,
                                                 "promised_date": dt.date.fromisoformat(promised) if promised else None,
                                                 "lines": [{"sku": "MUG-01", "quantity": qty}]})
        if ship:
            with unit_of_work(engine, "test") as tx:
                sh = shipping.pack(tx, o["id"], SYSTEM, None)
            with unit_of_work(engine, "test") as tx:
                ids.setdefault("invoices", []).append(shipping.ship(tx, sh["id"], SYSTEM, "BRT", "T")["invoice_id"])
        return o["id"]

    def pay(cid: int, amount: str, day: str, invoice_id: int) -> None:
        with unit_of_work(engine, "test") as tx:
            payments.record_payment(tx, {"customer_id": cid, "amount": D(amount), "currency": "EUR",
                                         "received_on": dt.date.fromisoformat(day), "method": "bank_transfer",
                                         "reference": f"PAY-{invoice_id}",
                                         "allocations": [{"invoice_id": invoice_id, "amount": D(amount)}]})

    with on(monkeypatch, "2025-05-01"):
        with unit_of_work(engine, "test") as tx:
            for code in ("C-ROSSI", "C-BIANCHI", "C-VERDI", "C-NERI"):
                ids[code] = _customer(tx, code)
            catalog.create_product(tx, {"sku": "MUG-01", "name": "Mug", "unit_price": D("10.00"),
                                        "vat_rate": D("0.22")})
            stock.receive(tx, "MUG-01", 100, D("4.00"))
    with on(monkeypatch, "2025-06-01"):
        ids["O0"] = order("C-VERDI", 1)
    with on(monkeypatch, "2025-06-11"):
        pay(ids["C-VERDI"], "12.20", "2025-06-11", ids["invoices"][0])
    with on(monkeypatch, "2026-01-10"):
        ids["O1"] = order("C-ROSSI", 2, promised="2026-01-12")
    with on(monkeypatch, "2026-01-20"):
        pay(ids["C-ROSSI"], "24.40", "2026-01-20", ids["invoices"][1])
    with on(monkeypatch, "2026-01-30"):
        ids["O2"] = order("C-ROSSI", 3, promised="2026-01-29")
    with on(monkeypatch, "2026-02-14"):
        pay(ids["C-ROSSI"], "36.60", "2026-02-14", ids["invoices"][2])
    with on(monkeypatch, "2026-02-19"):
        ids["O3"] = order("C-ROSSI", 2)
    with on(monkeypatch, "2026-02-20"):
        with unit_of_work(engine, "test") as tx:
            returns.create_return(tx, ids["O3"], SYSTEM, {"lines": [{"sku": "MUG-01", "quantity": 1}],
                                                           "restock": True, "refund": "credit"})
    with on(monkeypatch, "2026-02-25"):
        ids["O4"] = order("C-BIANCHI", 1)
    with on(monkeypatch, "2026-02-26"):
        ids["draft"] = order("C-NERI", 1, ship=False, confirm=False)
    monkeypatch.undo()
    return ids
