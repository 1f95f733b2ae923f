"""After-sales forms in the back office: cancelling open quantities on the
order page, the backorder list, reversing a payment with a reason and a
confirmation, and moving a customer's credit between invoices."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from o2c.domain.access import SYSTEM
from o2c.services.billing import invoicing
from o2c.services.cash import corrections, payments
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import orders
from tests.web.conftest import Web, add_order, add_product, flashes, pack_and_ship


def get_order(engine: Engine, order_id: int) -> dict[str, Any]:
    with unit_of_work(engine, "test", readonly=True) as tx:
        return orders.get_order(tx, order_id, SYSTEM)


def line(o: dict[str, Any], sku: str) -> dict[str, Any]:
    return next(l for l in o["lines"] if l["sku"] == sku)


def pay(engine: Engine, customer_id: int, amount: str, ref: str, allocations: list[dict[str, Any]] | None = None) -> Any:
    with unit_of_work(engine, "test") as tx:
        return payments.record_payment(tx, {
            "customer_id": customer_id, "amount": Decimal(amount), "currency": "EUR",
            "received_on": dt.date.today(), "method": "bank_transfer", "reference": ref, "allocations": allocations})


def test_a_clerk_cancels_some_open_quantity_from_the_order_page(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 3), ("DESK-LAMP", 2)])
    page = clerk_web.get(f"/orders/{o['id']}")
    assert "Cancel quantities" in page.text
    token = page.text.split('action="/orders/%d/cancel-lines"' % o["id"])[1].split('name="form_token" value="')[1]
    r = clerk_web.post(f"/orders/{o['id']}/cancel-lines", {
        "form_token": token.split('"')[0], "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "2",
        "lines.1.sku": "DESK-LAMP", "lines.1.quantity": ""})
    assert r.status_code == 303, r.text
    after = get_order(engine, o["id"])
    assert line(after, "RETRO-CLOCK")["cancelled_quantity"] == 2 and line(after, "DESK-LAMP")["cancelled_quantity"] == 0
    shown = clerk_web.get(r.headers["Location"])
    assert "Cancelled 2 × RETRO-CLOCK" in flashes(shown.text) and "Cancelled</th>" in shown.text


def test_cancelling_more_than_is_open_shows_the_reason_on_the_order_page(
    engine: Engine, shop: Any, clerk_web: Web,
) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 3)])
    pack_and_ship(engine, o["id"], [{"sku": "RETRO-CLOCK", "quantity": 2}])
    r = clerk_web.post(f"/orders/{o['id']}/cancel-lines", {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "2"})
    assert r.status_code == 422
    assert "RETRO-CLOCK 2 requested, 1 open" in flashes(r.text)
    assert line(get_order(engine, o["id"]), "RETRO-CLOCK")["cancelled_quantity"] == 0
    r = clerk_web.post(f"/orders/{o['id']}/cancel-lines", {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "x"})
    assert r.status_code == 422 and "whole numbers" in flashes(r.text)
    r = clerk_web.post(f"/orders/{o['id']}/cancel-lines", {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": ""})
    assert r.status_code == 422 and "at least one line" in flashes(r.text)


def test_the_cancel_form_needs_the_csrf_token(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 3)])
    r = clerk_web.post(f"/orders/{o['id']}/cancel-lines", {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1"},
                       csrf=False)
    assert r.status_code == 400
    assert line(get_order(engine, o["id"]), "RETRO-CLOCK")["cancelled_quantity"] == 0


def test_an_accountant_may_not_cancel_lines(engine: Engine, shop: Any, accountant_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 3)])
    assert "Cancel quantities" not in accountant_web.get(f"/orders/{o['id']}").text
    r = accountant_web.post(f"/orders/{o['id']}/cancel-lines", {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1"})
    assert r.status_code == 403


def test_a_backordered_order_from_the_form_shows_on_the_backorder_page(
    engine: Engine, shop: Any, clerk_web: Web,
) -> None:
    r = clerk_web.post("/orders/new", {
        "customer.code": "C-ROSSI", "lines.0.sku": "DESK-LAMP", "lines.0.quantity": "8", "confirm": "1",
        "allow_backorder": "1", "form_token": clerk_web.form_token("/orders/new")})
    assert r.status_code == 303, flashes(r.text)
    order_id = int(r.headers["Location"].rsplit("/", 1)[1])
    o = get_order(engine, order_id)
    assert (line(o, "DESK-LAMP")["reserved_quantity"], line(o, "DESK-LAMP")["backordered_quantity"]) == (5, 3)
    assert "Backordered</th>" in clerk_web.get(f"/orders/{order_id}").text
    page = clerk_web.get("/backorders")
    assert o["number"] in page.text and "DESK-LAMP" in page.text and "<strong>3</strong>" in page.text
    assert "Nothing is waiting" in clerk_web.get("/backorders?sku=RETRO-CLOCK").text
    assert ">Backorders<" in page.text  # in the navigation
    add_product_receipt = clerk_web.get("/stock/receipts/new")
    assert add_product_receipt.status_code == 200
    with unit_of_work(engine, "test") as tx:
        from o2c.services.fulfilment import stock
        stock.receive(tx, "DESK-LAMP", 3, Decimal("9.00"))
    assert "Nothing is waiting" in clerk_web.get("/backorders").text


def test_reversing_a_payment_needs_a_reason_and_a_confirmation(
    engine: Engine, shop: Any, clerk_web: Web,
) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    sh = pack_and_ship(engine, o["id"])
    p = pay(engine, shop["customer"]["id"], "48.80", "BANK-1")
    page = clerk_web.get(f"/payments/{p['id']}")
    assert "Reverse this payment" in page.text
    token = page.text.split('id="reverse"')[1].split('name="form_token" value="')[1].split('"')[0]
    r = clerk_web.post(f"/payments/{p['id']}/reverse", {"form_token": token, "reason": "R01 returned", "confirm": ""})
    assert r.status_code == 422 and "Please confirm the reversal" in flashes(r.text)
    assert 'value="R01 returned"' in r.text
    r = clerk_web.post(f"/payments/{p['id']}/reverse", {"form_token": token, "reason": " ", "confirm": "1"})
    assert r.status_code == 422 and "Reason" in r.text
    r = clerk_web.post(f"/payments/{p['id']}/reverse", {"form_token": token, "reason": "R01 returned", "confirm": "1"})
    assert r.status_code == 303
    shown = clerk_web.get(r.headers["Location"])
    assert "reversed; its invoices are open again" in flashes(shown.text)
    assert "R01 returned" in shown.text and "Reverse this payment" not in shown.text
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert invoicing.get_invoice(tx, sh["invoice_id"], SYSTEM)["status"] == "open"
    # The same form submitted again (a double click) does the work once.
    again = clerk_web.post(f"/payments/{p['id']}/reverse", {"form_token": token, "reason": "R01 returned",
                                                             "confirm": "1"})
    assert again.status_code == 303


def test_a_clerk_moves_a_payment_between_invoices_on_the_credit_page(
    engine: Engine, shop: Any, clerk_web: Web,
) -> None:
    add_product(engine, "MUG-01", "10.00", vat="0.10", on_hand=10, cost="4.00")
    a = pack_and_ship(engine, add_order(engine, "C-ROSSI", [("MUG-01", 2)])["id"])  # 22.00
    b = pack_and_ship(engine, add_order(engine, "C-ROSSI", [("MUG-01", 3)])["id"])  # 33.00
    cid = shop["customer"]["id"]
    pay(engine, cid, "25.00", "BANK-1", [{"invoice_id": a["invoice_id"], "amount": Decimal("22.00")}])
    page = clerk_web.get(f"/customers/{cid}/credit")
    assert "3.00" in page.text and "Move a payment" in page.text and "Apply credit" in page.text
    assert "Credit and allocations" in clerk_web.get(f"/customers/{cid}").text
    token = page.text.split('id="reallocate"')[1].split('name="form_token" value="')[1].split('"')[0]
    r = clerk_web.post(f"/customers/{cid}/credit/reallocate", {
        "form_token": token, "from_invoice_id": str(a["invoice_id"]), "to_invoice_id": str(b["invoice_id"]),
        "amount": "30"})
    assert r.status_code == 422 and "cannot release 30.00" in flashes(r.text)
    assert 'value="30"' in r.text  # kept for correcting, with a fresh token for the next try
    token = r.text.split('id="reallocate"')[1].split('name="form_token" value="')[1].split('"')[0]
    r = clerk_web.post(f"/customers/{cid}/credit/reallocate", {
        "form_token": token, "from_invoice_id": str(a["invoice_id"]), "to_invoice_id": str(b["invoice_id"]),
        "amount": "12.00"})
    assert r.status_code == 303, flashes(r.text)
    assert "moved from" in flashes(clerk_web.get(r.headers["Location"]).text)
    token = clerk_web.get(f"/customers/{cid}/credit").text.split('id="apply"')[1] \
        .split('name="form_token" value="')[1].split('"')[0]
    r = clerk_web.post(f"/customers/{cid}/credit/apply", {"form_token": token, "invoice_id": str(b["invoice_id"]),
                                                          "amount": "3.00"})
    assert r.status_code == 303, flashes(r.text)
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert corrections.credit_view(tx, cid)["credit"] == Decimal("0.00")
        assert invoicing.get_invoice(tx, a["invoice_id"], SYSTEM)["amount_paid"] == Decimal("10.00")
        assert invoicing.get_invoice(tx, b["invoice_id"], SYSTEM)["amount_paid"] == Decimal("15.00")
    r = clerk_web.post(f"/customers/{cid}/credit/apply", {"form_token": "x" * 20, "invoice_id": "", "amount": "1"})
    assert r.status_code == 422


def test_an_accountant_sees_the_credit_page_but_the_webshop_role_has_no_forms(
    engine: Engine, shop: Any, accountant_web: Web,
) -> None:
    r = accountant_web.get(f"/customers/{shop['customer']['id']}/credit")
    assert r.status_code == 200 and "No unapplied credit" in r.text
