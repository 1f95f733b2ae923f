"""Product associations: the mined counts and measures equal a brute-force
count over random order histories; the answers leave out inactive and
out-of-stock products and what a customer already buys regularly; webshops
ask only about customers they may use."""
from __future__ import annotations

import datetime as dt
import itertools
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, delete, insert, select

from o2c.db import models as m
from o2c.db.engine import make_engine
from o2c.domain.access import SYSTEM
from o2c.services.crm import associations
from o2c.services.customers import records
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import catalog
from tests.conftest import Client, customer, order, product

PRODUCTS = 6
STATUSES = ("draft", "confirmed", "completed", "cancelled")


@pytest.fixture
def mining_engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    with unit_of_work(engine, "test") as tx:
        records.create_customer(tx, {"code": "C-1", "name": "One", "country": "IT", "billing_address": {
            "name": "One", "line1": "Via Roma 1", "city": "Milano", "postal_code": "20121", "country": "IT"}})
        for i in range(PRODUCTS):
            catalog.create_product(tx, {"sku": f"P{i}", "name": f"P{i}", "unit_price": Decimal("1.00"),
                                        "vat_rate": Decimal("0.22")})
    yield engine
    engine.dispose()


def _write_history(engine: Engine, history: list[tuple[str, list[int]]]) -> dict[int, int]:
    """Orders with the given status and product indexes (a product may repeat on a basket)."""
    now = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    with engine.begin() as c:
        c.execute(delete(m.OrderLine.__table__))
        c.execute(delete(m.Order.__table__))
        pid = {i: c.execute(select(m.Product.id).where(m.Product.sku == f"P{i}")).scalar_one() for i in range(PRODUCTS)}
        cid = c.execute(select(m.Customer.id)).scalar_one()
        for n, (status, basket) in enumerate(history):
            oid = c.execute(insert(m.Order.__table__).returning(m.Order.id), {
                "channel": "web", "customer_id": cid, "currency": "EUR", "status": status,
                "fulfillment_status": "unfulfilled", "payment_status": "unpaid", "net_total": 0, "vat_total": 0,
                "total": 0, "invoiced_total": 0, "amount_paid": 0, "created_at": now + dt.timedelta(days=n),
                "allow_backorder": False}).scalar_one()
            c.execute(insert(m.OrderLine.__table__), [{
                "order_id": oid, "line_no": k + 1, "product_id": pid[i], "sku": f"P{i}", "description": "x",
                "quantity": 1, "unit_price": 1, "discount": 0, "vat_rate": Decimal("0.22"), "net": 1,
            } for k, i in enumerate(basket)])
    return pid


def _brute_force(history: list[tuple[str, list[int]]], min_pair: int) -> dict[tuple[int, int], tuple[int, int, int, int]]:
    baskets = [set(b) for s, b in history if s in ("confirmed", "completed")]
    total = len(baskets)
    item = Counter(i for b in baskets for i in b)
    pair = Counter(p for b in baskets for p in itertools.permutations(sorted(b), 2))
    return {p: (n, item[p[0]], item[p[1]], total) for p, n in pair.items() if n >= min_pair}


histories = st.lists(
    st.tuples(st.sampled_from(STATUSES),
              st.lists(st.integers(0, PRODUCTS - 1), min_size=1, max_size=4)),
    min_size=0, max_size=25)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=histories, min_pair=st.sampled_from([1, 2]))
def test_mined_rules_equal_a_brute_force_count(mining_engine: Engine, history: list[Any], min_pair: int) -> None:
    pid = _write_history(mining_engine, history)
    with unit_of_work(mining_engine, "test") as tx:
        run = associations.recompute(tx, min_pair_orders=min_pair)
    index = {v: k for k, v in pid.items()}
    with mining_engine.connect() as c:
        got = {(index[r.x_product_id], index[r.y_product_id]): (r.pair_orders, r.x_orders, r.y_orders, r.all_orders)
               for r in c.execute(select(m.ProductAssociation))}
    expected = _brute_force(history, min_pair)
    assert got == expected
    assert run["rules"] == len(expected)
    for (pair, x, y, total) in expected.values():
        support, confidence, lift = associations.measures(pair, x, y, total)
        assert support == (Decimal(pair) / total).quantize(associations.PLACES)
        assert confidence == (Decimal(pair) / x).quantize(associations.PLACES)
        assert lift == (Decimal(pair * total) / (x * y)).quantize(associations.PLACES)


def _history(admin: Client) -> dict[str, Any]:
    rossi = customer(admin, "C-ROSSI", channels=["shop-a"])
    bianchi = customer(admin, "C-BIANCHI")
    for sku in ("CUP", "SAUCER", "SPOON", "SUGAR"):
        product(admin, sku, "5.00", stock=100)
    product(admin, "GONE", "5.00", stock=0)  # never in stock now
    for basket in [["CUP", "SAUCER", "SPOON"], ["CUP", "SAUCER"], ["CUP", "SAUCER", "SUGAR"],
                   ["CUP", "SPOON"], ["SAUCER", "SPOON"]]:
        assert order(admin, "C-BIANCHI", [(s, 1) for s in basket]).status_code == 201
    return {"rossi": rossi, "bianchi": bianchi}


def test_product_recommendations_with_their_measures(admin: Client, engine: Engine) -> None:
    _history(admin)
    assert admin.ok("get", "/api/v1/products/CUP/recommendations")["items"] == []  # not computed yet
    admin.ok("post", "/api/v1/recommendations/recompute", status=202)
    associations.recompute_now(engine)
    r = admin.ok("get", "/api/v1/products/CUP/recommendations?limit=5")
    assert r["computed_at"] is not None and r["data_as_of"] == dt.date.today().isoformat()
    # 5 orders; CUP in 4, SAUCER in 4, SPOON in 3; CUP+SAUCER 3, CUP+SPOON 2; SUGAR once (below the minimum).
    assert [(i["sku"], i["support"], i["confidence"], i["lift"]) for i in r["items"]] == [
        ("SAUCER", "0.600000", "0.750000", "0.937500"),
        ("SPOON", "0.400000", "0.500000", "0.833333"),
    ]
    # An inactive product is not suggested.
    admin.ok("patch", "/api/v1/products/SPOON", {"active": False})
    assert [i["sku"] for i in admin.ok("get", "/api/v1/products/CUP/recommendations")["items"]] == ["SAUCER"]
    assert admin.get("/api/v1/products/NOPE/recommendations").status_code == 404
    assert admin.get("/api/v1/products/CUP/recommendations?limit=0").status_code == 422
    assert admin.get("/api/v1/products/CUP/recommendations?colour=red").status_code == 422


def test_customer_recommendations_leave_out_what_they_buy_regularly(admin: Client, shop: Client, shop_b: Client,
                                                                  engine: Engine) -> None:
    who = _history(admin)
    rossi = who["rossi"]["id"]
    # Rossi buys cups regularly and once a saucer.
    for basket in [["CUP"], ["CUP", "SAUCER"]]:
        assert order(admin, "C-ROSSI", [(s, 1) for s in basket]).status_code == 201
    associations.recompute_now(engine)
    items = admin.ok("get", f"/api/v1/customers/{rossi}/recommendations")["items"]
    skus = [i["sku"] for i in items]
    assert "CUP" not in skus  # bought regularly
    assert skus[0] == "SAUCER"  # bought once: still a suggestion, the most confident one
    assert "SPOON" in skus
    # The webshop may ask about its own customer, not about another.
    assert shop.ok("get", f"/api/v1/customers/{rossi}/recommendations")["items"] == items
    assert shop_b.get(f"/api/v1/customers/{rossi}/recommendations").status_code == 404
    assert shop.get(f"/api/v1/customers/{who['bianchi']['id']}/recommendations").status_code == 404
    assert shop.post("/api/v1/recommendations/recompute").status_code == 403
