"""Returns, credit notes, refunds and exchanges over the API: what may be
returned, what the documents say, who sees them, and every refusal a clear
4xx in the contract's shape."""
from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.conftest import Client, customer, order, product, reconciliation_ok
from tests.docbuild import pdf_pages


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    err = r.get_json()["error"]
    assert err["code"] == code and err["message"], err
    return err


def shipped_order(api: Client, code: str = "C-ROSSI", lines: list[tuple[str, int]] | None = None,
                  ship: list[dict[str, Any]] | None = None, **over: Any) -> dict[str, Any]:
    r = order(api, code, lines or [("MUG-01", 4), ("TEA-100", 2)], **over)
    assert r.status_code == 201, r.get_json()
    o = r.get_json()
    sh = api.ok("post", f"/api/v1/orders/{o['id']}/shipments", {"lines": ship} if ship else {}, status=201)
    api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    return api.ok("get", f"/api/v1/orders/{o['id']}")


@pytest.fixture
def goods(admin: Client) -> dict[str, Any]:
    c = customer(admin, "C-ROSSI", channels=["shop-a"])
    product(admin, "MUG-01", "8.50", "0.10", stock=20, cost="3.00")
    product(admin, "TEA-100", "7.80", "0.22", stock=20, cost="3.20")
    return c


def test_a_return_credits_the_lines_at_their_invoiced_prices(admin: Client, goods: dict[str, Any]) -> None:
    o = shipped_order(admin)
    r = admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {
        "lines": [{"sku": "MUG-01", "quantity": 2}, {"sku": "TEA-100", "quantity": 1}]}, status=201)
    assert (r["status"], r["restock"], r["refund"], r["order_id"]) == ("received", True, "credit", o["id"])
    assert r["lines"] == [{"sku": "MUG-01", "quantity": 2, "cost": "6.00"}, {"sku": "TEA-100", "quantity": 1, "cost": "3.20"}]
    assert r["number"] == f"RMA-{r['created_at'][:4]}-{r['id']:06d}"
    cn = admin.ok("get", f"/api/v1/credit-notes/{r['credit_note_ids'][0]}")
    assert [(l["sku"], l["quantity"], l["unit_price"], l["vat_rate"], l["net"]) for l in cn["lines"]] == [
        ("MUG-01", 2, "8.50", "0.10", "17.00"), ("TEA-100", 1, "7.80", "0.22", "7.80")]
    assert cn["vat"] == [{"category": "S", "rate": "0.10", "net": "17.00", "vat": "1.70"},
                         {"category": "S", "rate": "0.22", "net": "7.80", "vat": "1.72"}]
    assert (cn["net_total"], cn["vat_total"], cn["total"]) == ("24.80", "3.42", "28.22")
    assert cn["invoice_id"] == o["invoice_ids"][0] and cn["invoice_number"].startswith("INV-")
    assert cn["return_id"] == r["id"]
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert o["fulfillment_status"] == "partially_returned"
    assert [(l["sku"], l["returned_quantity"], l["invoiced_quantity"]) for l in o["lines"]] == [
        ("MUG-01", 2, 2), ("TEA-100", 1, 1)]
    assert admin.ok("get", "/api/v1/stock/MUG-01")["on_hand"] == 18
    assert admin.ok("get", f"/api/v1/returns?order_id={o['id']}")["items"][0]["id"] == r["id"]
    assert [c["id"] for c in admin.ok("get", f"/api/v1/credit-notes?invoice_id={cn['invoice_id']}")["items"]] == [cn["id"]]
    reconciliation_ok(admin)


def test_the_return_emits_its_events_and_audit(admin: Client, goods: dict[str, Any]) -> None:
    c = goods
    o = shipped_order(admin, lines=[("MUG-01", 2)])
    admin.ok("post", "/api/v1/payments", {"customer_id": c["id"], "amount": "18.70", "currency": "EUR",
                                          "received_on": o["created_at"][:10], "reference": "B-1"}, status=201)
    r = admin.ok("post", f"/api/v1/orders/{o['id']}/returns",
                 {"lines": [{"sku": "MUG-01", "quantity": 1}], "refund": "bank"}, status=201)
    events = admin.ok("get", "/api/v1/events?limit=100")["items"]
    types = [e["type"] for e in events]
    assert types[-3:] == ["return.received", "credit_note.issued", "refund.paid"]
    received = next(e for e in events if e["type"] == "return.received")
    assert received["data"]["number"] == r["number"] and received["order_id"] == o["id"]
    issued = next(e for e in events if e["type"] == "credit_note.issued")
    assert issued["data"]["return_id"] == r["id"] and issued["data"]["credit_note_id"] == r["credit_note_ids"][0]
    refund = next(e for e in events if e["type"] == "refund.paid")
    assert refund["data"]["amount"] == "9.35"
    assert admin.ok("get", f"/api/v1/refunds/{refund['data']['refund_id']}")["amount"] == "9.35"


def test_only_what_was_shipped_and_not_yet_returned_comes_back(admin: Client, goods: dict[str, Any]) -> None:
    o = shipped_order(admin, lines=[("MUG-01", 4)], ship=[{"sku": "MUG-01", "quantity": 3}])
    err = assert_error(admin.post(f"/api/v1/orders/{o['id']}/returns",
                                  {"lines": [{"sku": "MUG-01", "quantity": 4}]}), 409, "conflict")
    assert err["details"]["lines"] == [{"sku": "MUG-01", "requested": 4, "returnable": 3}]
    admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 2}]}, status=201)
    err = assert_error(admin.post(f"/api/v1/orders/{o['id']}/returns",
                                  {"lines": [{"sku": "MUG-01", "quantity": 1}, {"sku": "MUG-01", "quantity": 1}]}),
                       409, "conflict")
    assert err["details"]["lines"][0]["returnable"] == 1
    admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]}, status=201)
    o = admin.ok("get", f"/api/v1/orders/{o['id']}")
    assert o["fulfillment_status"] == "returned" and o["lines"][0]["returned_quantity"] == 3
    reconciliation_ok(admin)


def test_an_unshipped_order_has_nothing_to_return(admin: Client, goods: dict[str, Any]) -> None:
    o = order(admin, "C-ROSSI", [("MUG-01", 1)]).get_json()
    assert_error(admin.post(f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]}),
                 409, "conflict")


@pytest.mark.parametrize(("body", "field"), [
    ({}, "lines"),
    ({"lines": []}, "lines"),
    ({"lines": [{"sku": "MUG-01", "quantity": 0}]}, "lines"),
    ({"lines": [{"sku": "MUG-01", "quantity": -1}]}, "lines"),
    ({"lines": [{"sku": "MUG-01", "quantity": "1"}]}, "lines"),
    ({"lines": [{"sku": "MUG-01", "quantity": 1}], "refund": "cash"}, "refund"),
    ({"lines": [{"sku": "MUG-01", "quantity": 1}], "restock": "maybe"}, "restock"),
    ({"lines": [{"sku": "MUG-01", "quantity": 1}], "exchange": {"lines": []}}, "exchange"),
    ({"lines": "MUG-01"}, "lines"),
])
def test_bad_return_bodies_are_422_with_the_field(admin: Client, goods: dict[str, Any], body: Any, field: str) -> None:
    o = shipped_order(admin, lines=[("MUG-01", 1)])
    err = assert_error(admin.post(f"/api/v1/orders/{o['id']}/returns", body), 422, "validation_error")
    assert field in err["details"]["fields"], err


def test_unknown_orders_skus_and_documents_are_clear_errors(admin: Client, goods: dict[str, Any]) -> None:
    o = shipped_order(admin, lines=[("MUG-01", 1)])
    err = assert_error(admin.post(f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "NOPE", "quantity": 1}]}),
                       422, "validation_error")
    assert "lines" in err["details"]["fields"]
    assert_error(admin.post("/api/v1/orders/999999/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]}),
                 404, "not_found")
    for path in ("/api/v1/returns/999999", "/api/v1/credit-notes/999999", "/api/v1/credit-notes/999999/pdf",
                 "/api/v1/refunds/999999"):
        assert_error(admin.get(path), 404, "not_found")
    assert_error(admin.get("/api/v1/returns?cursor=abc"), 422, "validation_error")
    assert_error(admin.post("/api/v1/refunds", {"customer_id": goods["id"], "amount": "1.00"}), 409, "conflict")
    assert_error(admin.post("/api/v1/refunds", {"customer_id": goods["id"], "amount": "-1.00"}), 422,
                 "validation_error")
    assert_error(admin.post(f"/api/v1/invoices/{o['invoice_ids'][0]}/apply-credit", {}), 409, "conflict")


def test_a_replayed_return_is_one_return(admin: Client, goods: dict[str, Any]) -> None:
    o = shipped_order(admin, lines=[("MUG-01", 3)])
    body = {"lines": [{"sku": "MUG-01", "quantity": 1}]}
    first = admin.post(f"/api/v1/orders/{o['id']}/returns", body, headers={"Idempotency-Key": "rma-1"})
    again = admin.post(f"/api/v1/orders/{o['id']}/returns", body, headers={"Idempotency-Key": "rma-1"})
    assert first.status_code == again.status_code == 201 and first.get_json() == again.get_json()
    assert len(admin.ok("get", "/api/v1/returns")["items"]) == 1
    other = admin.post(f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 2}]},
                       headers={"Idempotency-Key": "rma-1"})
    assert_error(other, 422, "idempotency_key_reused")


def test_an_exchange_creates_the_replacement_order_linked_both_ways(admin: Client, goods: dict[str, Any]) -> None:
    o = shipped_order(admin, lines=[("MUG-01", 2)])
    r = admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {
        "lines": [{"sku": "MUG-01", "quantity": 1}], "restock": False,
        "exchange": {"lines": [{"sku": "TEA-100", "quantity": 1}]}}, status=201)
    new = admin.ok("get", f"/api/v1/orders/{r['exchange_order_id']}")
    assert r["exchange_order_number"] == new["number"]
    assert (new["status"], new["customer_id"], [l["sku"] for l in new["lines"]]) == (
        "confirmed", o["customer_id"], ["TEA-100"])
    assert admin.ok("get", "/api/v1/stock/TEA-100")["reserved"] == 1
    assert admin.ok("get", f"/api/v1/returns/{r['id']}")["exchange_order_id"] == new["id"]
    reconciliation_ok(admin)


def test_an_exchange_for_what_is_out_of_stock_refuses_the_whole_return(admin: Client, goods: dict[str, Any]) -> None:
    o = shipped_order(admin, lines=[("MUG-01", 2)])
    err = assert_error(admin.post(f"/api/v1/orders/{o['id']}/returns", {
        "lines": [{"sku": "MUG-01", "quantity": 1}], "exchange": {"lines": [{"sku": "TEA-100", "quantity": 500}]}}),
        409, "out_of_stock")
    assert err["details"]["lines"][0]["sku"] == "TEA-100"
    assert admin.ok("get", "/api/v1/returns")["items"] == []
    assert admin.ok("get", f"/api/v1/orders/{o['id']}")["lines"][0]["returned_quantity"] == 0


def test_webshops_see_only_their_own_returns_and_credit_notes(
    admin: Client, shop: Client, shop_b: Client, goods: dict[str, Any],
) -> None:
    r = order(shop, "C-ROSSI", [("MUG-01", 2)], external_ref="A-1")
    o = r.get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T"})
    assert_error(shop.post(f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]}),
                 403, "forbidden")
    rma = admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                   status=201)
    cn_id = rma["credit_note_ids"][0]
    assert shop.ok("get", f"/api/v1/returns/{rma['id']}")["id"] == rma["id"]
    assert shop.ok("get", f"/api/v1/credit-notes/{cn_id}")["id"] == cn_id
    assert [x["id"] for x in shop.ok("get", "/api/v1/credit-notes")["items"]] == [cn_id]
    assert_error(shop_b.get(f"/api/v1/returns/{rma['id']}"), 404, "not_found")
    assert_error(shop_b.get(f"/api/v1/credit-notes/{cn_id}"), 404, "not_found")
    assert_error(shop_b.get(f"/api/v1/credit-notes/{cn_id}/pdf"), 404, "not_found")
    assert shop_b.ok("get", "/api/v1/returns")["items"] == []


def test_returns_and_credit_notes_page_with_cursors(admin: Client, goods: dict[str, Any]) -> None:
    o = shipped_order(admin, lines=[("MUG-01", 5)])
    made = [admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                     status=201)["id"] for _ in range(5)]
    seen, cursor = [], None
    while True:
        page = admin.ok("get", "/api/v1/returns?limit=2" + (f"&cursor={cursor}" if cursor else ""))
        seen += [x["id"] for x in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(made, reverse=True)
    cns = admin.ok("get", "/api/v1/credit-notes?limit=3")
    assert len(cns["items"]) == 3 and cns["next_cursor"]
    numbers = sorted(c["number"][-6:] for c in admin.ok("get", "/api/v1/credit-notes?limit=100")["items"])
    assert numbers == [f"{n:06d}" for n in range(1, 6)]
    reconciliation_ok(admin)


def test_the_credit_note_pdf_names_the_invoice_and_is_stored(admin: Client, goods: dict[str, Any]) -> None:
    customer(admin, "C-IT", language="it")
    o = shipped_order(admin, code="C-IT", lines=[("MUG-01", 2)])
    rma = admin.ok("post", f"/api/v1/orders/{o['id']}/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                   status=201)
    cn = admin.ok("get", f"/api/v1/credit-notes/{rma['credit_note_ids'][0]}")
    first = admin.get(f"/api/v1/credit-notes/{cn['id']}/pdf")
    assert first.status_code == 200 and first.mimetype == "application/pdf"
    again = admin.get(f"/api/v1/credit-notes/{cn['id']}/pdf")
    assert again.data == first.data and again.headers["ETag"].strip('"') == hashlib.sha256(first.data).hexdigest()
    text = " ".join(pdf_pages(first.data))
    assert "NOTA DI CREDITO" in text.upper() and cn["number"] in text and cn["invoice_number"] in text
    assert rma["number"] in text and "Reso" in text
    assert "9,35" in text  # 8.50 + 0.85 VAT
