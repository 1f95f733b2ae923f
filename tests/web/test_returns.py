"""Returns in the back office: the form on the order page, the return and
credit note pages, the PDF download, credit applied from the invoice page,
and who may do what."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, select

from o2c.db import models as m
from o2c.domain.access import SYSTEM
from o2c.services.cash import payments
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import orders
from tests.web.conftest import Web, add_order, flashes, pack_and_ship


def get_order(engine: Engine, order_id: int) -> dict[str, Any]:
    with unit_of_work(engine, "test", readonly=True) as tx:
        return orders.get_order(tx, order_id, SYSTEM)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def shipped(engine: Engine) -> dict[str, Any]:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 3), ("DESK-LAMP", 2)])
    pack_and_ship(engine, o["id"])
    return get_order(engine, o["id"])


def pay(engine: Engine, customer_id: int, amount: str, ref: str) -> None:
    with unit_of_work(engine, "test") as tx:
        payments.record_payment(tx, {"customer_id": customer_id, "amount": Decimal(amount), "currency": "EUR",
                                     "received_on": tx.today, "method": "bank_transfer", "reference": ref})


def return_form(w: Web, order_id: int, data: dict[str, str]) -> Any:
    page = w.get(f"/orders/{order_id}").text
    token = re.search(r'action="/orders/\d+/returns">\s*<input type="hidden" name="csrf_token" value="[^"]+">'
                      r'<input type="hidden" name="form_token" value="([^"]+)"', page).group(1)
    return w.post(f"/orders/{order_id}/returns", {**data, "form_token": token})


def test_a_clerk_receives_a_return_with_a_bank_refund(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = shipped(engine)
    pay(engine, shop["customer"]["id"], "201.40", "B-1")  # 120.00 + 26.40 + 50.00 + 5.00
    page = clerk_web.get(f"/orders/{o['id']}").text
    assert "Receive a return" in page and "Returnable" in page
    r = return_form(clerk_web, o["id"], {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1",
                                          "lines.1.sku": "DESK-LAMP", "lines.1.quantity": "0",
                                          "restock": "1", "refund": "bank"})
    assert r.status_code == 303, r.text[:500]
    shown = clerk_web.get(r.headers["Location"]).text
    assert "Return RMA-" in shown and "credit note CN-" in flashes(shown)
    assert "48.80" in shown  # 40.00 + 8.80 VAT, credited and refunded
    assert "refunded to the bank" in shown and "Refund RF-" in shown
    o = get_order(engine, o["id"])
    assert [l["returned_quantity"] for l in o["lines"]] == [1, 0]
    assert o["fulfillment_status"] == "partially_returned"
    page = clerk_web.get(f"/orders/{o['id']}").text
    assert "RMA-" in page and "CN-" in page


def test_too_many_back_is_shown_at_the_line(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = shipped(engine)
    r = return_form(clerk_web, o["id"], {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "4",
                                          "restock": "1", "refund": "credit"})
    assert r.status_code == 422
    assert "At most 3 can come back." in r.text
    r = return_form(clerk_web, o["id"], {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "x",
                                          "restock": "1", "refund": "credit"})
    assert r.status_code == 422 and "Please correct the fields marked below." in r.text
    r = return_form(clerk_web, o["id"], {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "0"})
    assert r.status_code == 422 and "Enter a quantity to return" in r.text
    assert count(engine, m.Return.__table__) == 0


def test_an_exchange_from_the_form_links_both_orders(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = shipped(engine)
    r = return_form(clerk_web, o["id"], {"lines.0.sku": "DESK-LAMP", "lines.0.quantity": "1", "restock": "0",
                                          "refund": "credit", "exchange.0.sku": "DESK-LAMP",
                                          "exchange.0.quantity": "1"})
    assert r.status_code == 303, r.text[:500]
    shown = clerk_web.get(r.headers["Location"]).text
    assert "replacement order SO-" in flashes(shown) and "written off" in shown
    new_id = int(re.search(r'Replacement order</dt><dd><a href="/orders/(\d+)"', shown).group(1))
    replacement = clerk_web.get(f"/orders/{new_id}").text
    assert "Replacement order for return" in replacement and o["number"] in replacement
    assert get_order(engine, new_id)["status"] == "confirmed"


def test_lists_pages_and_the_pdf(engine: Engine, shop: Any, clerk_web: Web, accountant_web: Web) -> None:
    o = shipped(engine)
    r = return_form(clerk_web, o["id"], {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "2",
                                          "restock": "1", "refund": "credit"})
    assert r.status_code == 303
    rma = clerk_web.get("/returns").text
    assert "RMA-" in rma and "Rossi Arredamenti" in rma
    notes = accountant_web.get("/credit-notes").text
    cn_id = int(re.search(r'href="/credit-notes/(\d+)"', notes).group(1))
    page = accountant_web.get(f"/credit-notes/{cn_id}").text
    assert "Credit note CN-" in page and "INV-" in page and "97.60" in page  # 80.00 + 17.60
    pdf = accountant_web.get(f"/credit-notes/{cn_id}/pdf")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert accountant_web.get(f"/credit-notes/{cn_id}/pdf").data == pdf.data
    assert accountant_web.get("/credit-notes/999999").status_code == 404
    assert accountant_web.get("/returns/999999").status_code == 404
    inv = clerk_web.get(f"/invoices/{o['invoice_ids'][0]}").text
    assert "Credit notes" in inv and "CN-" in inv
    nav = clerk_web.get("/orders").text
    assert 'href="/returns"' in nav


def test_credit_pays_the_next_invoice_from_its_page(engine: Engine, shop: Any, clerk_web: Web) -> None:
    pay(engine, shop["customer"]["id"], "30.00", "B-PRE")  # nothing to pay yet: all customer credit
    o = add_order(engine, "C-ROSSI", [("DESK-LAMP", 1)])
    sh = pack_and_ship(engine, o["id"])
    path = f"/invoices/{sh['invoice_id']}"
    page = clerk_web.get(path).text
    assert "has 30.00" in page and "Pay 27.50" in page  # 25.00 + 2.50 VAT
    token = re.search(r'action="/invoices/\d+/apply-credit"[^>]*><input type="hidden" name="csrf_token" '
                      r'value="[^"]+"><input type="hidden" name="form_token" value="([^"]+)"', page).group(1)
    r = clerk_web.post(f"{path}/apply-credit", {"form_token": token})
    assert r.status_code == 303
    assert "balance due 0.00" in flashes(clerk_web.get(r.headers["Location"]).text)
    assert get_order(engine, o["id"])["payment_status"] == "paid"


def test_an_accountant_sees_returns_but_cannot_receive_one(
    engine: Engine, shop: Any, accountant_web: Web,
) -> None:
    o = shipped(engine)
    page = accountant_web.get(f"/orders/{o['id']}").text
    assert "Receive a return" not in page
    r = accountant_web.post(f"/orders/{o['id']}/returns", {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1"})
    assert r.status_code == 403
    assert accountant_web.get("/returns").status_code == 200
    assert count(engine, m.Return.__table__) == 0


def test_a_return_without_the_csrf_token_is_refused(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = shipped(engine)
    r = clerk_web.post(f"/orders/{o['id']}/returns", {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1"},
                       csrf=False)
    assert r.status_code == 400
    assert count(engine, m.Return.__table__) == 0
