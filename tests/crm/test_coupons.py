"""Coupons: the discount rides on the lines (VAT on the discounted base,
revenue net of it), redemption happens in the confirming transaction, never
beyond the maximum even when confirmations race, and comes back when the
order is cancelled before shipping."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from tests.conftest import Client, D, customer, order, product, reconciliation_ok
from tests.services.test_races import Answer, clients, race


def _setup(api: Client) -> dict[str, Any]:
    c = customer(api, "C-ROSSI")
    product(api, "MUG-01", "10.00", "0.22", stock=50, cost="4.00")
    product(api, "TEE-M", "20.00", "0.10", stock=50, cost="8.00")
    return c


def test_percent_coupon_discounts_every_line_and_counts_on_confirmation(admin: Client, clerk: Client) -> None:
    _setup(admin)
    cp = clerk.ok("post", "/api/v1/coupons", {"code": "save10", "percent_off": "10"}, status=201)
    assert (cp["code"], cp["percent_off"], cp["redemptions"], cp["max_redemptions"]) == ("SAVE10", "10.00", 0, 1)
    draft = order(admin, "C-ROSSI", [("MUG-01", 3), ("TEE-M", 1)], confirm=False, coupon="SAVE10").get_json()
    assert [D(l["discount"]) for l in draft["lines"]] == [D("0.1"), D("0.1")]
    assert [l["net"] for l in draft["lines"]] == ["27.00", "18.00"]
    # VAT on the discounted base: 27.00 × 22 % + 18.00 × 10 %.
    assert (draft["net_total"], draft["vat_total"], draft["total"]) == ("45.00", "7.74", "52.74")
    assert admin.ok("get", "/api/v1/coupons/SAVE10")["redemptions"] == 0  # a draft does not redeem
    admin.ok("post", f"/api/v1/orders/{draft['id']}/confirm")
    assert admin.ok("get", "/api/v1/coupons/save10")["redemptions"] == 1

    used = order(admin, "C-ROSSI", [("MUG-01", 1)], coupon="SAVE10")
    assert used.status_code == 409 and used.get_json()["error"]["code"] == "coupon_unavailable"

    # Shipped and invoiced: revenue is posted net of the discount.
    sh = admin.ok("post", f"/api/v1/orders/{draft['id']}/shipments", {}, status=201)
    inv_id = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "1"})[
        "invoice_id"]
    inv = admin.ok("get", f"/api/v1/invoices/{inv_id}")
    assert (inv["net_total"], inv["total"]) == ("45.00", "52.74")
    reconciliation_ok(admin)


def test_amount_coupon_never_gives_more_than_its_amount(admin: Client) -> None:
    _setup(admin)
    admin.ok("post", "/api/v1/coupons", {"code": "FIVE", "amount_off": "5.00", "min_order_net": "20.00"}, status=201)
    small = order(admin, "C-ROSSI", [("MUG-01", 1)], coupon="FIVE")
    assert small.status_code == 409 and small.get_json()["error"]["code"] == "coupon_unavailable"
    o = order(admin, "C-ROSSI", [("MUG-01", 3), ("TEE-M", 2)], coupon="FIVE").get_json()  # 70.00 before
    saved = D("70.00") - D(o["net_total"])
    assert D("4.99") <= saved <= D("5.00")
    assert all(D(l["discount"]) == D("0.0714") for l in o["lines"])  # 5/70 rounded down to four places


def test_expired_and_foreign_coupons_are_unavailable(admin: Client) -> None:
    _setup(admin)
    other = customer(admin, "C-BIANCHI")
    yesterday = (dt.date.today() - dt.timedelta(days=1)).isoformat()
    admin.ok("post", "/api/v1/coupons", {"code": "OLD", "percent_off": "5", "valid_until": yesterday}, status=201)
    admin.ok("post", "/api/v1/coupons", {"code": "THEIRS", "percent_off": "5", "customer_id": other["id"]},
             status=201)
    for code in ("OLD", "THEIRS", "NOPE"):
        r = order(admin, "C-ROSSI", [("MUG-01", 1)], coupon=code)
        assert r.status_code == 409 and r.get_json()["error"]["code"] == "coupon_unavailable", code
    assert order(admin, "C-BIANCHI", [("MUG-01", 1)], coupon="THEIRS").status_code == 201


def test_cancelling_before_shipping_gives_the_redemption_back(admin: Client) -> None:
    _setup(admin)
    admin.ok("post", "/api/v1/coupons", {"code": "ONCE", "percent_off": "15"}, status=201)
    o = order(admin, "C-ROSSI", [("MUG-01", 2)], coupon="ONCE").get_json()
    assert admin.ok("get", "/api/v1/coupons/ONCE")["redemptions"] == 1
    admin.ok("post", f"/api/v1/orders/{o['id']}/cancel")
    assert admin.ok("get", "/api/v1/coupons/ONCE")["redemptions"] == 0
    o2 = order(admin, "C-ROSSI", [("MUG-01", 1), ("TEE-M", 1)], coupon="ONCE").get_json()
    # cancelling every line by lines gives it back too
    admin.ok("post", f"/api/v1/orders/{o2['id']}/cancel", {"lines": [{"sku": "MUG-01", "quantity": 1},
                                                                      {"sku": "TEE-M", "quantity": 1}]})
    assert admin.ok("get", "/api/v1/coupons/ONCE")["redemptions"] == 0
    reconciliation_ok(admin)


def test_a_webshop_sees_only_coupons_of_customers_it_may_use(admin: Client, shop: Client, shop_b: Client) -> None:
    c = customer(admin, "C-ROSSI", channels=["shop-a"])
    admin.ok("post", "/api/v1/coupons", {"code": "MINE", "percent_off": "5", "customer_id": c["id"]}, status=201)
    admin.ok("post", "/api/v1/coupons", {"code": "ANYONE", "percent_off": "5"}, status=201)
    assert shop.ok("get", "/api/v1/coupons/MINE")["code"] == "MINE"
    assert shop_b.get("/api/v1/coupons/MINE").status_code == 404
    assert shop_b.ok("get", "/api/v1/coupons/ANYONE")["code"] == "ANYONE"
    assert shop.post("/api/v1/coupons", {"percent_off": "5"}).status_code == 403


def test_code_is_made_up_when_left_out_and_unique(admin: Client) -> None:
    a = admin.ok("post", "/api/v1/coupons", {"amount_off": "3.00", "max_redemptions": 5}, status=201)
    assert len(a["code"]) == 10 and a["remaining"] == 5
    admin.ok("post", "/api/v1/coupons", {"code": "DUP", "amount_off": "3.00"}, status=201)
    assert admin.post("/api/v1/coupons", {"code": "dup", "amount_off": "3.00"}).status_code == 409
    assert admin.post("/api/v1/coupons", {"amount_off": "3.00", "percent_off": "3"}).status_code == 422
    assert admin.post("/api/v1/coupons", {}).status_code == 422


N = 6


def test_concurrent_confirmations_redeem_a_one_use_coupon_once(app: Any, admin: Client, keys: dict[str, str]) -> None:
    _setup(admin)
    admin.ok("post", "/api/v1/coupons", {"code": "RACE", "percent_off": "20"}, status=201)
    drafts = [order(admin, "C-ROSSI", [("MUG-01", 1)], confirm=False, coupon="RACE").get_json()["id"]
              for _ in range(N)]
    apis = clients(app, keys["admin"], N)
    answers = race(N, lambda i: Answer(apis[i].post(f"/api/v1/orders/{drafts[i]}/confirm")))
    ok = [a for a in answers if a.status == 200]
    refused = [a for a in answers if a.status == 409]
    assert len(ok) == 1 and len(refused) == N - 1, answers
    assert admin.ok("get", "/api/v1/coupons/RACE")["redemptions"] == 1
    confirmed = [admin.ok("get", f"/api/v1/orders/{d}") for d in drafts]
    assert sum(o["status"] == "confirmed" for o in confirmed) == 1
    reconciliation_ok(admin)


def test_discount_rate_combines_with_a_line_discount() -> None:
    from o2c.services.crm.coupons import combined_discount
    assert combined_discount(Decimal("0.05"), Decimal("0.10")) == Decimal("0.1450")
    assert combined_discount(Decimal("0"), Decimal("1")) == Decimal("1.0000")
