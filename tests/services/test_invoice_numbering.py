"""Invoice numbers: gapless and unique per series and year, whoever ships at
once — threads in one process are in test_races.py; here separate processes,
each with its own connections, as gunicorn workers on several hosts would be."""
from __future__ import annotations

import datetime as dt
import multiprocessing
from typing import Any

import pytest
from sqlalchemy import Engine, select, update

from o2c.db import models as m
from o2c.services.billing import invoicing
from o2c.services.platform import clock
from tests.conftest import Client, customer, order, product, reconciliation_ok

PROCESSES = 3
EACH = 4


def _ship_all(url: str, shipment_ids: list[int], start: Any, out: Any) -> None:
    """In a process of its own: ship each shipment, as soon as every process is ready."""
    from o2c.db.engine import make_engine
    from o2c.domain.access import SYSTEM
    from o2c.services.fulfilment import shipping
    from o2c.services.platform.uow import unit_of_work
    engine = make_engine(url, pool_size=1)
    numbers = []
    try:
        start.wait(timeout=60)
        for sid in shipment_ids:
            with unit_of_work(engine, "test:shipper") as tx:
                shipped = shipping.ship(tx, sid, SYSTEM, "GLS", f"GLS-{sid}")
                numbers.append(tx.conn.execute(select(m.Invoice.number)
                                               .where(m.Invoice.id == shipped["invoice_id"])).scalar_one())
        out.put(("ok", numbers))
    except BaseException as exc:  # noqa: BLE001 - reported by the test
        out.put(("error", repr(exc)))
    finally:
        engine.dispose()


def packed_shipments(admin: Client, n: int) -> list[int]:
    ids = []
    for i in range(n):
        customer(admin, f"C-LAMP-{i}")
        product(admin, f"DESK-LAMP-{i}", "24.99", "0.22", stock=2, cost="9.00")
        o = order(admin, f"C-LAMP-{i}", [(f"DESK-LAMP-{i}", 2)]).get_json()
        ids.append(admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)["id"])
    return ids


@pytest.mark.slow
def test_processes_shipping_at_once_take_invoice_numbers_one_to_n(admin, db_url, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    ids = packed_shipments(admin, PROCESSES * EACH)
    ctx = multiprocessing.get_context("spawn")
    start, out = ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_ship_all, args=(db_url, ids[p::PROCESSES], start, out)) for p in range(PROCESSES)]
    for p in procs:
        p.start()
    start.set()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(kind == "ok" for kind, _ in results), results
    year = clock.now().year
    numbers = sorted(n for _, ns in results for n in ns)
    assert numbers == [f"INV-{year}-{k:06d}" for k in range(1, PROCESSES * EACH + 1)]
    with engine.connect() as c:
        seqs = c.execute(select(m.Invoice.seq).where(m.Invoice.series == "INV", m.Invoice.year == year)
                         .order_by(m.Invoice.seq)).scalars().all()
    assert seqs == list(range(1, PROCESSES * EACH + 1))
    reconciliation_ok(admin)


def ship_one(admin: Client, sku: str, code: str) -> dict[str, Any]:
    customer(admin, code)
    product(admin, sku, "10.00", stock=1)
    o = order(admin, code, [(sku, 1)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T"})
    return admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


def test_the_invoice_prefix_is_the_companys_and_each_prefix_counts_on_its_own(admin, engine: Engine) -> None:  # type: ignore[no-untyped-def]
    year = clock.now().year
    assert ship_one(admin, "A-1", "C-A1")["number"] == f"INV-{year}-000001"
    with engine.begin() as c:
        c.execute(update(m.Company.__table__).values(invoice_prefix="FT"))
    invoicing.forget_settings()
    try:
        assert ship_one(admin, "A-2", "C-A2")["number"] == f"FT-{year}-000001"
        assert ship_one(admin, "A-3", "C-A3")["number"] == f"FT-{year}-000002"
    finally:
        with engine.begin() as c:
            c.execute(update(m.Company.__table__).values(invoice_prefix="INV"))
        invoicing.forget_settings()
    assert ship_one(admin, "A-4", "C-A4")["number"] == f"INV-{year}-000002"


def test_numbering_starts_again_at_one_in_a_new_year(admin, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    real_now = clock.now
    year = real_now().year
    assert ship_one(admin, "B-1", "C-B1")["number"] == f"INV-{year}-000001"
    new_year = real_now().replace(year=year + 1, month=1, day=2)
    monkeypatch.setattr(clock, "now", lambda: new_year)
    first = ship_one(admin, "B-2", "C-B2")
    assert (first["number"], first["issue_date"]) == (f"INV-{year + 1}-000001", new_year.date().isoformat())
    assert ship_one(admin, "B-3", "C-B3")["number"] == f"INV-{year + 1}-000002"
    monkeypatch.setattr(clock, "now", real_now)
    assert ship_one(admin, "B-4", "C-B4")["number"] == f"INV-{year}-000002"
    assert dt.date.fromisoformat(first["due_date"]) == new_year.date() + dt.timedelta(days=30)
