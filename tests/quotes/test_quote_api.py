"""Quotations through the API: totals as orders compute them, revisions,
sending with a link, acceptance into an order (exactly once), decline,
cancel, and the bad input each refused with nothing written."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine

from tests.conftest import Client, D, reconciliation_ok
from tests.quotes.helpers import count, events, quote_body, sent_quote, shelf


def test_a_draft_is_priced_like_an_order_and_numbered_in_its_own_series(admin: Client, clerk: Client) -> None:
    shelf(admin)
    q = clerk.ok("post", "/api/v1/quotes", quote_body(), status=201)
    assert q["number"].startswith(f"QT-{dt.date.today().year}-") and q["number"].endswith("000001")
    assert (q["status"], q["revision"]) == ("draft", 1)
    assert [(l["sku"], l["net"]) for l in q["lines"]] == [("DESK", "712.50"), ("CHAIR", "510.00")]
    assert [(l["sku"], l["net"]) for l in q["optional_lines"]] == [("MAT", "50.00")]
    assert (q["net_total"], q["vat_total"], q["total"]) == ("1222.50", "268.95", "1491.45")
    assert q["vat"] == [{"category": "S", "rate": "0.22", "net": "1222.50", "vat": "268.95"}]
    assert (q["payment_terms_days"], q["tax_treatment"], q["tax_country"]) == (45, "domestic", "IT")
    assert {l["vat_category"] for l in q["lines"] + q["optional_lines"]} == {"S"}
    second = clerk.ok("post", "/api/v1/quotes", quote_body(), status=201)
    assert second["number"].endswith("000002")


def test_the_exact_amounts_hold_from_the_negotiation_to_the_paid_invoice(
    admin: Client, clerk: Client, engine: Engine,
) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    qid = q["id"]
    assert q["status"] == "sent" and "/q/" in q["acceptance_url"]

    r2 = clerk.ok("patch", f"/api/v1/quotes/{qid}", {"lines": [
        {"sku": "DESK", "quantity": 3, "discount": "0.08"}, {"sku": "CHAIR", "quantity": 6, "unit_price": "85.00"},
        {"sku": "MAT", "quantity": 4, "optional": True}]})
    assert (r2["revision"], r2["label"], r2["status"]) == (2, f"{q['number']}-R2", "draft")
    assert r2["total"] == "1464.00"
    clerk.ok("post", f"/api/v1/quotes/{qid}/send")
    r3 = clerk.ok("patch", f"/api/v1/quotes/{qid}", {"payment_terms_days": 60, "lines": [
        {"sku": "DESK", "quantity": 3, "discount": "0.10"}, {"sku": "CHAIR", "quantity": 6, "unit_price": "85.00"},
        {"sku": "MAT", "quantity": 4, "optional": True}]})
    assert (r3["revision"], r3["net_total"], r3["vat_total"], r3["total"]) == (3, "1185.00", "260.70", "1445.70")
    assert [r["total"] for r in r3["revisions"]] == ["1491.45", "1464.00", "1445.70"]
    clerk.ok("post", f"/api/v1/quotes/{qid}/send")
    # An earlier revision stays as it was.
    r1 = clerk.ok("get", f"/api/v1/quotes/{qid}/revisions/1")
    assert (r1["status"], r1["total"], r1["payment_terms_days"]) == ("superseded", "1491.45", 45)

    acc = clerk.ok("post", f"/api/v1/quotes/{qid}/accept",
                   {"accepted_by": "Giulia Rossi", "purchase_order": "PO-77", "optional_skus": ["MAT"]})
    assert acc["status"] == "accepted" and acc["order_id"]
    order = clerk.ok("get", f"/api/v1/orders/{acc['order_id']}")
    assert (order["status"], order["channel"], order["external_ref"]) == ("confirmed", "quote", q["number"])
    assert order["payment_terms_days"] == 60
    assert [(l["sku"], l["quantity"], l["unit_price"], l["discount"], l["vat_rate"], l["net"]) for l in order["lines"]] \
        == [("DESK", 3, "250.00", "0.10", "0.22", "675.00"), ("CHAIR", 6, "85.00", "0.00", "0.22", "510.00"),
            ("MAT", 4, "12.50", "0.00", "0.10", "50.00")]
    assert (order["net_total"], order["vat_total"], order["total"]) == ("1235.00", "265.70", "1500.70")
    assert [e["order_status"] for e in events(engine, "quote.accepted")] == ["confirmed"]

    sh = clerk.ok("post", f"/api/v1/orders/{order['id']}/shipments", {}, status=201)
    shipped = clerk.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    inv = clerk.ok("get", f"/api/v1/invoices/{shipped['invoice_id']}")
    assert [(l["sku"], D(l["unit_price"]), D(l["discount"]), D(l["net"])) for l in inv["lines"]] == [
        ("DESK", D("250.00"), D("0.10"), D("675.00")), ("CHAIR", D("85.00"), D("0"), D("510.00")),
        ("MAT", D("12.50"), D("0"), D("50.00"))]
    assert (inv["net_total"], inv["vat_total"], inv["total"]) == ("1235.00", "265.70", "1500.70")
    assert sorted((v["rate"], v["net"], v["vat"]) for v in inv["vat"]) == [
        ("0.10", "50.00", "5.00"), ("0.22", "1185.00", "260.70")]
    assert dt.date.fromisoformat(inv["due_date"]) - dt.date.fromisoformat(inv["issue_date"]) == dt.timedelta(days=60)
    clerk.ok("post", "/api/v1/payments", {"customer_id": order["customer_id"], "amount": "1500.70", "currency": "EUR",
                                          "received_on": dt.date.today().isoformat(), "method": "bank_transfer",
                                          "reference": "QT-PAY-1"}, status=201)
    assert clerk.ok("get", f"/api/v1/invoices/{inv['id']}")["status"] == "paid"
    reconciliation_ok(admin)


def test_a_second_acceptance_returns_the_same_order(clerk: Client, admin: Client, engine: Engine) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    first = clerk.ok("post", f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "Giulia Rossi"})
    again = clerk.ok("post", f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "Someone Else"})
    assert again["order_id"] == first["order_id"] and again["accepted_by"] == "Giulia Rossi"
    assert count(engine, "orders") == 1


def test_a_refused_confirmation_keeps_the_acceptance_and_leaves_a_draft_order(
    clerk: Client, admin: Client, engine: Engine,
) -> None:
    shelf(admin, credit_limit="100.00")
    q = sent_quote(clerk)
    acc = clerk.ok("post", f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "Giulia Rossi"})
    assert acc["status"] == "accepted" and "credit_limit_exceeded" in acc["conversion_note"]
    order = clerk.ok("get", f"/api/v1/orders/{acc['order_id']}")
    assert order["status"] == "draft"
    assert admin.ok("get", "/api/v1/stock/DESK")["reserved"] == 0
    [ev] = events(engine, "quote.accepted")
    assert ev["order_status"] == "draft" and "credit" in ev["refused"]
    assert events(engine, "order.confirmed") == []


def test_decline_with_a_configured_reason_and_cancel(clerk: Client, admin: Client, engine: Engine) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    bad = clerk.post(f"/api/v1/quotes/{q['id']}/decline", {"reason": "astrology"})
    assert bad.status_code == 422
    d = clerk.ok("post", f"/api/v1/quotes/{q['id']}/decline", {"reason": "price", "comment": "Too dear"})
    assert (d["status"], d["declined_reason"], d["declined_comment"]) == ("declined", "price", "Too dear")
    assert events(engine, "quote.declined")[0]["reason"] == "price"
    other = clerk.ok("post", "/api/v1/quotes", quote_body(), status=201)
    assert clerk.ok("post", f"/api/v1/quotes/{other['id']}/cancel")["status"] == "cancelled"


def _refused(api: Client, method: str, path: str, body: Any, status: int, code: str) -> dict[str, Any]:
    r = getattr(api, method)(path, body)
    assert r.status_code == status, r.get_json()
    assert r.get_json()["error"]["code"] == code
    return r.get_json()


def test_bad_input_is_refused_clearly_and_writes_nothing(clerk: Client, admin: Client, engine: Engine,
                                                        monkeypatch: Any) -> None:
    shelf(admin)
    admin.ok("patch", "/api/v1/products/MAT", {"active": False})
    _refused(clerk, "post", "/api/v1/quotes", quote_body(), 422, "validation_error")  # inactive product
    admin.ok("patch", "/api/v1/products/MAT", {"active": True})
    _refused(clerk, "post", "/api/v1/quotes", quote_body(valid_days=-1), 422, "validation_error")
    assert count(engine, "quotes") == 0

    q = sent_quote(clerk)
    path = f"/api/v1/quotes/{q['id']}"
    _refused(clerk, "post", f"{path}/accept", {"accepted_by": "G", "optional_skus": ["CHAIR"]}, 422,
             "validation_error")
    # Superseded: revised and not sent again.
    clerk.ok("patch", path, {"note": "new terms"})
    _refused(clerk, "post", f"{path}/accept", {"accepted_by": "G"}, 409, "invalid_transition")
    clerk.ok("post", f"{path}/send")
    clerk.ok("post", f"{path}/accept", {"accepted_by": "G"})
    before = count(engine, "quote_revisions")
    _refused(clerk, "patch", path, {"note": "after the fact"}, 409, "invalid_transition")
    assert count(engine, "quote_revisions") == before

    declined = sent_quote(clerk)
    clerk.ok("post", f"/api/v1/quotes/{declined['id']}/decline", {"reason": "price"})
    _refused(clerk, "post", f"/api/v1/quotes/{declined['id']}/accept", {"accepted_by": "G"}, 409,
             "invalid_transition")
    cancelled = sent_quote(clerk)
    clerk.ok("post", f"/api/v1/quotes/{cancelled['id']}/cancel")
    _refused(clerk, "post", f"/api/v1/quotes/{cancelled['id']}/accept", {"accepted_by": "G"}, 409,
             "invalid_transition")

    expiring = sent_quote(clerk, valid_days=1)
    from o2c.services.platform import clock
    real = clock.now
    monkeypatch.setattr(clock, "now", lambda: real() + dt.timedelta(days=3))
    _refused(clerk, "post", f"/api/v1/quotes/{expiring['id']}/accept", {"accepted_by": "G"}, 409,
             "invalid_transition")
    assert count(engine, "orders") == 1
    assert count(engine, "quotes", "status = 'accepted'") == 1
