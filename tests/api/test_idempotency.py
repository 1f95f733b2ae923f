"""A webshop must never create a duplicate order by retrying (API.md,
Idempotency): a replayed Idempotency-Key returns the first answer and does
nothing else; external_ref is unique per channel; a bank line is one payment."""
from __future__ import annotations

import json
import threading
from typing import Any

from tests.conftest import Client, customer, order, product, reconciliation_ok

CLOCK_ORDER = {"external_ref": "shop-a-10042", "customer": {"code": "C-ROSSI"}, "currency": "EUR",
               "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}], "confirm": True}


def key(k: str) -> dict[str, str]:
    return {"Idempotency-Key": k}


def all_orders(api: Client) -> list[dict[str, Any]]:
    return api.ok("get", "/api/v1/orders?limit=100")["items"]


def raw(response: Any) -> tuple[int, Any]:
    return response.status_code, json.loads(response.get_data(as_text=True))


def setup_shop(admin: Client, stock: int = 10) -> None:
    customer(admin, "C-ROSSI", channels=["shop-a", "shop-b"])
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=stock, cost="20.00")


def race(app: Any, api_key: str, n: int, call: Any) -> list[tuple[int, str]]:
    """``call(client, i)`` from ``n`` threads released together; (status, body) of each."""
    racers = [Client(app.test_client(), api_key) for _ in range(n)]
    barrier = threading.Barrier(n)
    answers: list[Any] = [None] * n
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            r = call(racers[i], i)
            answers[i] = (r.status_code, r.get_data(as_text=True))
        except BaseException as exc:  # noqa: BLE001 - reported in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors and not any(t.is_alive() for t in threads), errors
    return answers


def test_a_retried_order_returns_the_first_answer_and_creates_nothing_more(admin, shop):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    first = shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-10042"))
    assert first.status_code == 201, first.get_json()
    o = first.get_json()
    assert (o["status"], o["total"]) == ("confirmed", "121.76")  # 99.80 + 21.96

    for _ in range(3):
        again = shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-10042"))
        assert again.status_code == 201
        assert again.get_data() == first.get_data()  # byte for byte the first answer
    assert [x["id"] for x in all_orders(shop)] == [o["id"]]
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 2  # reserved once

    # A replay answers as things were then, not as they are now.
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "BRT1"})
    again = shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-10042"))
    assert again.get_data() == first.get_data()
    assert again.get_json()["fulfillment_status"] == "unfulfilled"


def test_replaying_a_transition_does_not_run_it_twice(admin, clerk):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    o = order(clerk, "C-ROSSI", [("RETRO-CLOCK", 2)]).get_json()
    sh = clerk.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]},
                  status=201, headers=key("pack-1"))
    again = clerk.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]},
                     status=201, headers=key("pack-1"))
    assert again == sh
    assert clerk.ok("get", f"/api/v1/orders/{o['id']}")["shipment_ids"] == [sh["id"]]

    body = {"customer_id": o["customer_id"], "amount": "10.00", "currency": "EUR",
            "received_on": o["created_at"][:10], "reference": "BANK-77"}
    p1 = clerk.post("/api/v1/payments", body, headers=key("pay-77"))
    p2 = clerk.post("/api/v1/payments", body, headers=key("pay-77"))
    assert p1.status_code == p2.status_code == 201 and p1.get_data() == p2.get_data()
    bal = {a["code"]: a["balance"] for a in admin.ok("get", "/api/v1/ledger/trial-balance")["accounts"]}
    assert bal["1000"] == "10.00" and bal["2300"] == "-10.00"
    reconciliation_ok(admin)


def test_same_key_with_a_different_body_is_refused(admin, shop):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    assert shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-1")).status_code == 201
    other = {**CLOCK_ORDER, "external_ref": "shop-a-10043", "lines": [{"sku": "RETRO-CLOCK", "quantity": 3}]}
    r = shop.post("/api/v1/orders", other, headers=key("k-1"))
    assert r.status_code == 422
    err = r.get_json()["error"]
    assert err["code"] == "idempotency_key_reused" and err["details"] == {"idempotency_key": "k-1"}
    assert len(all_orders(shop)) == 1
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 2
    # The same key on another endpoint is another request too.
    o = all_orders(shop)[0]
    r = shop.post(f"/api/v1/orders/{o['id']}/cancel", headers=key("k-1"))
    assert (r.status_code, r.get_json()["error"]["code"]) == (422, "idempotency_key_reused")
    assert shop.ok("get", f"/api/v1/orders/{o['id']}")["status"] == "confirmed"


def test_a_refused_confirmation_replays_as_the_same_409_and_creates_nothing(admin, shop):  # type: ignore[no-untyped-def]
    setup_shop(admin, stock=1)
    first = shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-short"))
    assert first.status_code == 409
    assert first.get_json()["error"] == {
        "code": "out_of_stock", "message": "Not enough stock for 1 line",
        "details": {"lines": [{"sku": "RETRO-CLOCK", "requested": 2, "available": 1}]}}
    assert all_orders(shop) == []

    again = shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-short"))
    assert raw(again) == raw(first)
    # Even once the stock is there, the key keeps its first answer…
    admin.ok("post", "/api/v1/stock/receipts", {"sku": "RETRO-CLOCK", "quantity": 5, "unit_cost": "20.00"}, status=201)
    assert raw(shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-short"))) == raw(first)
    assert all_orders(shop) == []
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 0
    # …and a new key places the order; the external_ref was never taken.
    ok = shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-short-2"))
    assert ok.status_code == 201 and ok.get_json()["external_ref"] == "shop-a-10042"
    reconciliation_ok(admin)


def test_idempotency_keys_belong_to_the_api_key_that_used_them(admin, shop, shop_b):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    a = shop.post("/api/v1/orders", CLOCK_ORDER, headers=key("order-1"))
    b = shop_b.post("/api/v1/orders", {**CLOCK_ORDER, "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]},
                    headers=key("order-1"))
    assert a.status_code == b.status_code == 201, (a.get_json(), b.get_json())
    a, b = a.get_json(), b.get_json()
    assert a["id"] != b["id"]
    assert (a["channel"], b["channel"]) == ("shop-a", "shop-b")
    assert [o["id"] for o in all_orders(shop)] == [a["id"]]
    assert [o["id"] for o in all_orders(shop_b)] == [b["id"]]
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 3


def test_eight_concurrent_retries_with_one_key_create_one_order(app, admin, keys):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    no_ref = {k: v for k, v in CLOCK_ORDER.items() if k != "external_ref"}  # only the key protects it
    answers = race(app, keys["webshop"], 8, lambda c, i: c.post("/api/v1/orders", no_ref, headers=key("k-storm")))
    assert len(set(answers)) == 1, answers
    status, body = answers[0]
    assert status == 201
    created = json.loads(body)
    assert [o["id"] for o in all_orders(admin)] == [created["id"]]
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 2
    reconciliation_ok(admin)


def test_concurrent_retries_of_a_refused_order_all_get_the_same_409(app, admin, keys):  # type: ignore[no-untyped-def]
    setup_shop(admin, stock=1)
    answers = race(app, keys["webshop"], 8, lambda c, i: c.post("/api/v1/orders", CLOCK_ORDER, headers=key("k-no")))
    assert len(set(answers)) == 1, answers
    status, body = answers[0]
    assert (status, json.loads(body)["error"]["code"]) == (409, "out_of_stock")
    assert all_orders(admin) == []
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 0


def test_concurrent_orders_with_one_external_ref_and_no_key_create_one(app, admin, keys):  # type: ignore[no-untyped-def]
    """A webshop that retries without an Idempotency-Key is still saved by its
    own order id: one order, seven conflicts that name it."""
    setup_shop(admin, stock=20)
    answers = race(app, keys["webshop"], 8, lambda c, i: c.post("/api/v1/orders", CLOCK_ORDER))
    assert sorted(s for s, _ in answers) == [201] + [409] * 7, answers
    created = json.loads(next(b for s, b in answers if s == 201))
    for s, b in answers:
        if s == 409:
            err = json.loads(b)["error"]
            assert err["code"] == "conflict" and err["details"]["order_id"] == created["id"], err
    assert [o["id"] for o in all_orders(admin)] == [created["id"]]
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 2
    reconciliation_ok(admin)


def test_a_webshop_sending_the_whole_customer_with_every_order_creates_it_once(admin, shop):  # type: ignore[no-untyped-def]
    """Webshops send the full customer each time (API.md: ``customer`` may be a
    full new customer); email and shipping address are optional."""
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    verdi = {"code": "C-VERDI", "name": "Verdi Casa", "country": "IT", "language": "it",
             "billing_address": {"name": "Verdi Casa", "line1": "Corso Italia 1", "city": "Torino",
                                 "postal_code": "10121", "country": "IT"}}
    first = shop.post("/api/v1/orders", {**CLOCK_ORDER, "customer": verdi}, headers=key("v-1"))
    assert first.status_code == 201, first.get_json()
    second = shop.post("/api/v1/orders", {**CLOCK_ORDER, "external_ref": "shop-a-10043", "customer": verdi},
                       headers=key("v-2"))
    assert second.status_code == 201, second.get_json()
    assert first.get_json()["customer_id"] == second.get_json()["customer_id"]
    customers = admin.ok("get", "/api/v1/customers")["items"]
    assert [(c["code"], c["email"], c["language"]) for c in customers] == [("C-VERDI", "", "it")]
    # The order ships to the billing address when no shipping address is given.
    assert first.get_json()["shipping_address"]["city"] == "Torino"


def test_external_ref_is_unique_per_channel(admin, shop, shop_b):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    first = shop.ok("post", "/api/v1/orders", CLOCK_ORDER, status=201)
    # A retry without an Idempotency-Key is caught by the external_ref.
    dup = shop.post("/api/v1/orders", {**CLOCK_ORDER, "lines": [{"sku": "RETRO-CLOCK", "quantity": 5}]})
    assert dup.status_code == 409
    err = dup.get_json()["error"]
    assert err["code"] == "conflict"
    assert err["details"]["order_id"] == first["id"] and err["details"]["number"] == first["number"]
    assert [o["id"] for o in all_orders(shop)] == [first["id"]]
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 2

    # Another webshop has its own numbering and may use the same ref.
    other = shop_b.ok("post", "/api/v1/orders", CLOCK_ORDER, status=201)
    assert other["id"] != first["id"] and other["external_ref"] == "shop-a-10042"
    assert (other["channel"], first["channel"]) == ("shop-b", "shop-a")
    found = shop.ok("get", "/api/v1/orders?external_ref=shop-a-10042")["items"]
    assert [o["id"] for o in found] == [first["id"]]
    assert admin.ok("get", "/api/v1/stock/RETRO-CLOCK")["reserved"] == 4


def test_the_same_bank_line_posted_at_once_from_eight_places_is_one_payment(app, admin, keys):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)]).get_json()
    body = {"customer_id": o["customer_id"], "amount": "25.00", "currency": "EUR",
            "received_on": o["created_at"][:10], "method": "bank_transfer", "reference": "UNICREDIT-2026-0002"}
    answers = race(app, keys["accountant"], 8, lambda c, i: c.post("/api/v1/payments", body))
    assert sorted(s for s, _ in answers) == [201] + [409] * 7, answers
    pay = json.loads(next(b for s, b in answers if s == 201))
    for s, b in answers:
        if s == 409:
            err = json.loads(b)["error"]
            assert err["code"] == "conflict" and err["details"]["payment_id"] == pay["id"], err
    bal = {a["code"]: a["balance"] for a in admin.ok("get", "/api/v1/ledger/trial-balance")["accounts"]}
    assert bal["1000"] == "25.00" and bal["2300"] == "-25.00"
    reconciliation_ok(admin)


def test_the_same_bank_line_twice_is_one_payment(admin, accountant):  # type: ignore[no-untyped-def]
    setup_shop(admin)
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)]).get_json()
    body = {"customer_id": o["customer_id"], "amount": "25.00", "currency": "EUR",
            "received_on": o["created_at"][:10], "method": "bank_transfer", "reference": "UNICREDIT-2026-0001"}
    pay = accountant.ok("post", "/api/v1/payments", body, status=201)
    again = accountant.post("/api/v1/payments", {**body, "amount": "30.00"})
    assert again.status_code == 409
    err = again.get_json()["error"]
    assert err["code"] == "conflict"
    assert err["details"]["payment_id"] == pay["id"] and err["details"]["number"] == pay["number"]
    bal = {a["code"]: a["balance"] for a in admin.ok("get", "/api/v1/ledger/trial-balance")["accounts"]}
    assert bal["1000"] == "25.00" and bal["2300"] == "-25.00"
    reconciliation_ok(admin)
