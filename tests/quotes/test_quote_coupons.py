"""A quotation takes a coupon as an order does: the same function adds its
discount to the lines, the proposal names it, and the order the accepted
quotation becomes redeems it when confirmed, never beyond its maximum."""
from __future__ import annotations

import io
from collections import Counter
from typing import Any

from sqlalchemy import Engine

from tests.conftest import Client, D, order, reconciliation_ok
from tests.quotes.helpers import count, quote_body, shelf, token_of
from tests.quotes.test_public_link import form_token
from tests.services.test_races import Answer, clients, race
from tests.web.conftest import Web, clerk_web, people  # noqa: F401  (fixtures)


def _discounts(q: dict[str, Any]) -> list[tuple[str, Any]]:
    return [(l["sku"], D(l["discount"])) for l in q["lines"] + q["optional_lines"]]


def test_a_quotation_takes_a_coupon_and_its_order_redeems_it(app: Any, admin: Client, clerk: Client,
                                                             engine: Engine) -> None:
    c = shelf(admin)
    clerk.ok("post", "/api/v1/coupons", {"code": "q10", "percent_off": "10", "customer_id": c["id"]}, status=201)
    q = clerk.ok("post", "/api/v1/quotes", quote_body(coupon="q10"), status=201)
    # The order's function: 1 − (1 − 5 %)(1 − 10 %) on the desk, 10 % on the rest, the option too.
    assert q["coupon"] == "Q10"
    assert _discounts(q) == [("DESK", D("0.145")), ("CHAIR", D("0.1")), ("MAT", D("0.1"))]
    same = clerk.ok("post", "/api/v1/orders", {
        "customer": {"code": "C-ROSSI"}, "coupon": "Q10", "lines": [
            {"sku": "DESK", "quantity": 3, "discount": "0.05"}, {"sku": "CHAIR", "quantity": 6, "unit_price": "85.00"}]},
        status=201)
    assert (q["net_total"], q["vat_total"], q["total"]) == (same["net_total"], same["vat_total"], same["total"])
    assert [l["net"] for l in q["lines"]] == [l["net"] for l in same["lines"]] == ["641.25", "459.00"]
    # Revised, the coupon stays and is not added twice.
    sent = clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    r2 = clerk.ok("patch", f"/api/v1/quotes/{q['id']}", {"note": "Delivery in two weeks."})
    assert r2["latest_revision"] == 2 and r2["coupon"] == "Q10" and _discounts(r2) == _discounts(q)
    assert r2["total"] == q["total"]
    sent = clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    assert clerk.ok("get", "/api/v1/coupons/Q10")["redemptions"] == 0  # quoting redeems nothing

    browser = app.test_client()
    page = browser.get(f"/q/{token_of(sent)}")
    assert "Q10" in page.get_data(as_text=True)
    pdf = clerk.get(f"/api/v1/quotes/{q['id']}/pdf")
    from pypdf import PdfReader  # noqa: PLC0415
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "Q10, compreso negli sconti di riga" in " ".join(text.split())  # the customer reads Italian

    r = browser.post(f"/q/{token_of(sent)}/accept", data={"csrf_token": form_token(page), "revision": "2",
                                                          "accepted_by": "Mario Rossi", "optional_skus": "MAT"})
    assert r.status_code == 200
    accepted = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    o = clerk.ok("get", f"/api/v1/orders/{accepted['order_id']}")
    assert o["status"] == "confirmed" and o["coupon_id"] is not None
    assert [(l["sku"], D(l["discount"]), l["net"]) for l in o["lines"]] == [
        ("DESK", D("0.145"), "641.25"), ("CHAIR", D("0.1"), "459.00"), ("MAT", D("0.1"), "45.00")]
    assert clerk.ok("get", "/api/v1/coupons/Q10")["redemptions"] == 1
    # Cancelled before shipping, the order gives the redemption back, as any order does.
    admin.ok("post", f"/api/v1/orders/{o['id']}/cancel", {})
    assert clerk.ok("get", "/api/v1/coupons/Q10")["redemptions"] == 0
    reconciliation_ok(admin)


def test_an_amount_coupon_leaves_the_options_alone_and_can_be_dropped(admin: Client, clerk: Client) -> None:
    shelf(admin)
    clerk.ok("post", "/api/v1/coupons", {"code": "MINUS50", "amount_off": "50.00"}, status=201)
    q = clerk.ok("post", "/api/v1/quotes", quote_body(coupon="MINUS50"), status=201)
    before = D("712.50") + D("510.00")
    assert before - D("50.00") <= D(q["net_total"]) < before - D("49.00")  # never more than the amount
    assert dict(_discounts(q))["MAT"] == 0
    dropped = clerk.ok("patch", f"/api/v1/quotes/{q['id']}", {"coupon": None})
    assert dropped["coupon"] is None and D(dropped["net_total"]) == before
    assert _discounts(dropped) == [("DESK", D("0.05")), ("CHAIR", 0), ("MAT", 0)]


def test_a_coupon_used_up_since_refuses_the_acceptance_and_writes_nothing(admin: Client, clerk: Client,
                                                                          engine: Engine) -> None:
    shelf(admin)
    clerk.ok("post", "/api/v1/coupons", {"code": "ONCE", "percent_off": "5"}, status=201)
    assert clerk.post("/api/v1/quotes", quote_body(coupon="NOPE")).status_code == 409
    q = clerk.ok("post", "/api/v1/quotes", quote_body(coupon="ONCE"), status=201)
    clerk.ok("post", f"/api/v1/quotes/{q['id']}/send")
    assert order(clerk, "C-ROSSI", [("MAT", 1)], coupon="ONCE").status_code == 201  # redeems it
    r = clerk.post(f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "Mario Rossi"})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "coupon_unavailable"
    assert clerk.ok("get", f"/api/v1/quotes/{q['id']}")["status"] == "sent"
    assert count(engine, "orders") == 1 and clerk.ok("get", "/api/v1/coupons/ONCE")["redemptions"] == 1


N = 6


def test_concurrent_acceptances_of_quotations_sharing_a_coupon_redeem_it_once(
        app: Any, admin: Client, keys: dict[str, str], engine: Engine) -> None:
    shelf(admin)
    admin.ok("post", "/api/v1/coupons", {"code": "RACE", "percent_off": "20", "max_redemptions": 2}, status=201)
    ids = []
    for _ in range(N):
        q = admin.ok("post", "/api/v1/quotes", quote_body(coupon="RACE", lines=[{"sku": "MAT", "quantity": 1}]),
                     status=201)
        admin.ok("post", f"/api/v1/quotes/{q['id']}/send")
        ids.append(q["id"])
    apis = clients(app, keys["clerk"], N)
    answers = race(N, lambda i: Answer(apis[i].post(f"/api/v1/quotes/{ids[i]}/accept",
                                                    {"accepted_by": f"Signer {i}"})))
    assert Counter(a.status for a in answers) == {200: 2, 409: N - 2}, answers
    assert {a.body["error"]["code"] for a in answers if a.status == 409} == {"coupon_unavailable"}
    assert admin.ok("get", "/api/v1/coupons/RACE")["redemptions"] == 2
    assert count(engine, "orders", "status = 'confirmed'") == 2 == count(engine, "orders")
    reconciliation_ok(admin)


def test_the_form_keeps_the_coupon_and_shows_the_discounts_as_typed(admin: Client, clerk: Client,
                                                                    clerk_web: Web) -> None:  # noqa: F811
    shelf(admin)
    clerk.ok("post", "/api/v1/coupons", {"code": "FORM10", "percent_off": "10"}, status=201)
    form = {"customer.code": "C-ROSSI", "payment_terms_days": "45", "coupon": "form10",
            "lines.0.sku": "DESK", "lines.0.quantity": "3", "lines.0.discount": "5",
            "lines.1.sku": "CHAIR", "lines.1.quantity": "6", "lines.1.unit_price": "85,00"}
    assert clerk_web.post("/quotes/new", {**form, "form_token": clerk_web.form_token("/quotes/new")}).status_code == 303
    q = clerk.ok("get", "/api/v1/quotes")["items"][0]
    assert q["coupon"] == "FORM10" and _discounts(q) == [("DESK", D("0.145")), ("CHAIR", D("0.1"))]
    edit = f"/quotes/{q['id']}/edit"
    page = clerk_web.get(edit).text
    assert 'value="FORM10"' in page and 'value="5"' in page and "14.5" not in page
    clerk_web.post(edit, {**form, "coupon": "FORM10", "note": "Thanks", "form_token": clerk_web.form_token(edit)})
    again = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    assert again["note"] == "Thanks" and _discounts(again) == _discounts(q) and again["total"] == q["total"]
    assert "FORM10, in the lines' discounts" in clerk_web.get(f"/quotes/{q['id']}").text
