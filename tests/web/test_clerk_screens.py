"""The clerk's daily screens: a payment started from an invoice or an order
goes to that invoice first, what is packed shows in the orders list, and the
order page offers its actions as buttons with an audit trail in words."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from o2c.domain.access import SYSTEM
from o2c.services.billing import invoicing
from o2c.services.cash import payments
from o2c.services.fulfilment import shipping
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import orders
from tests.web.conftest import Web, add_customer, add_order, add_product, flashes, pack_and_ship


def invoice_of(engine: Engine, lines: list[tuple[str, int]]) -> dict[str, Any]:
    o = add_order(engine, "C-ROSSI", lines)
    sh = pack_and_ship(engine, o["id"])
    with unit_of_work(engine, "test", readonly=True) as tx:
        return invoicing.get_invoice(tx, sh["invoice_id"], SYSTEM)


def balance(engine: Engine, invoice_id: int) -> Decimal:
    with unit_of_work(engine, "test", readonly=True) as tx:
        return invoicing.get_invoice(tx, invoice_id, SYSTEM)["balance_due"]


def allocation_rows(page: str) -> list[tuple[str, str]]:
    """(invoice id, amount to apply) of the payment form's rows, in order."""
    ids = re.findall(r'name="allocations\.(\d+)\.invoice_id" value="(\d+)"', page)
    amounts = dict(re.findall(r'name="allocations\.(\d+)\.amount" value="([^"]*)"', page))
    return [(inv, amounts[n]) for n, inv in ids]


# -- 1. a payment started from an invoice or an order ----------------------------------

def test_record_payment_from_an_invoice_suggests_that_invoice_not_the_oldest(
        engine: Engine, shop: Any, clerk_web: Web) -> None:
    old = invoice_of(engine, [("RETRO-CLOCK", 1)])   # 48.80, the oldest
    new = invoice_of(engine, [("DESK-LAMP", 2)])     # 55.00
    invoice_page = clerk_web.get(f"/invoices/{new['id']}").text
    link = re.search(r'href="(/payments/new\?[^"]+)"[^>]*>Record payment', invoice_page).group(1).replace("&amp;", "&")
    page = clerk_web.get(link).text
    assert allocation_rows(page) == [(str(new["id"]), "55.00"), (str(old["id"]), "")]
    settles = page.split('id="settles-title"')[1].split("</section>")[0]
    assert new["number"] in settles and "paid in full" in settles and old["number"] not in settles

    # The suggestion survives a change of amount; the clerk saves it.
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
    body = {"form_token": token, "customer.code": "C-ROSSI", "customer_shown": "C-ROSSI", "amount": "55.00",
            "received_on": "2026-01-15", "method": "bank_transfer", "reference": "SEPA-NEW-1",
            "for_invoice": str(new["id"]), "allocations.0.invoice_id": str(new["id"]),
            "allocations.0.amount": "55.00", "allocations.1.invoice_id": str(old["id"]),
            "allocations.1.amount": "", "action": "save"}
    r = clerk_web.post("/payments/new", body)
    assert r.status_code == 303, flashes(r.text)
    assert balance(engine, new["id"]) == Decimal("0.00")
    assert balance(engine, old["id"]) == Decimal("48.80")


def test_a_larger_amount_from_an_invoice_goes_to_it_first_then_to_the_oldest(
        engine: Engine, shop: Any, clerk_web: Web) -> None:
    old = invoice_of(engine, [("RETRO-CLOCK", 1)])   # 48.80
    mid = invoice_of(engine, [("RETRO-CLOCK", 2)])   # 97.60
    new = invoice_of(engine, [("DESK-LAMP", 2)])     # 55.00
    page = clerk_web.get(f"/payments/new?invoice={new['id']}&amount=70.00").text
    assert 'value="C-ROSSI"' in page  # the customer follows from the invoice
    assert allocation_rows(page) == [(str(new["id"]), "55.00"), (str(old["id"]), "15.00"), (str(mid["id"]), "")]
    # "Suggest" again after a change keeps the invoice first.
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
    again = clerk_web.post("/payments/new", {"form_token": token, "customer.code": "C-ROSSI",
                                              "customer_shown": "C-ROSSI", "amount": "60.00",
                                              "for_invoice": str(new["id"]), "action": "suggest"}).text
    assert allocation_rows(again) == [(str(new["id"]), "55.00"), (str(old["id"]), "5.00"), (str(mid["id"]), "")]
    # "Update" shows what the clerk's own amounts settle, without saving.
    upd = clerk_web.post("/payments/new", {"form_token": token, "customer.code": "C-ROSSI",
                                            "customer_shown": "C-ROSSI", "amount": "60.00",
                                            "for_invoice": str(new["id"]), "action": "update",
                                            "allocations.0.invoice_id": str(new["id"]), "allocations.0.amount": "20",
                                            "allocations.1.invoice_id": str(mid["id"]), "allocations.1.amount": "40"})
    settles = upd.text.split('id="settles-title"')[1].split("</section>")[0]
    assert upd.status_code == 200
    assert re.search(rf"{new['number']}</strong>: 20.00 applied —\s*35.00 stays open", settles)
    assert re.search(rf"{mid['number']}</strong>: 40.00 applied —\s*57.60 stays open", settles)
    assert balance(engine, new["id"]) == Decimal("55.00")  # nothing saved


def test_record_payment_from_an_order_suggests_its_invoices(engine: Engine, shop: Any, clerk_web: Web) -> None:
    old = invoice_of(engine, [("RETRO-CLOCK", 1)])
    o = add_order(engine, "C-ROSSI", [("DESK-LAMP", 2)])
    sh = pack_and_ship(engine, o["id"])
    order_page = clerk_web.get(f"/orders/{o['id']}").text
    link = re.search(r'href="(/payments/new\?[^"]+)"[^>]*>Record a payment', order_page).group(1).replace("&amp;", "&")
    page = clerk_web.get(link).text
    assert f'name="for_order" value="{o["id"]}"' in page
    assert allocation_rows(page) == [(str(sh["invoice_id"]), "55.00"), (str(old["id"]), "")]


def test_a_target_of_another_customer_is_ignored(engine: Engine, shop: Any, clerk_web: Web) -> None:
    add_customer(engine, "C-BIANCHI", name="Bianchi")
    inv = invoice_of(engine, [("RETRO-CLOCK", 1)])
    page = clerk_web.get(f"/payments/new?customer=C-BIANCHI&invoice={inv['id']}&amount=10.00").text
    assert "for_invoice" not in page and allocation_rows(page) == []


# -- 3. what is packed, in the orders list and on the shipment ------------------------

def _pack(engine: Engine, order_id: int, lines: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    with unit_of_work(engine, "test") as tx:
        return shipping.pack(tx, order_id, SYSTEM, lines)


def _listed(web: Web, query: str) -> list[str]:
    page = web.get(f"/orders?{query}").text
    return re.findall(r'<a href="/orders/\d+">(SO-[\d-]+)</a>', page)


def _row(web: Web, number: str) -> str:
    page = web.get("/orders").text
    return page.split(f">{number}</a>")[1].split("</tr>")[0]


def test_the_orders_list_shows_what_is_packed_and_filters_by_it(engine: Engine, shop: Any, clerk_web: Web) -> None:
    add_product(engine, "BIG-VASE", "90.00", on_hand=1)
    untouched = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    packed = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
    _pack(engine, packed["id"])
    part = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1), ("DESK-LAMP", 2)])
    _pack(engine, part["id"], [{"sku": "DESK-LAMP", "quantity": 1}])
    shipped = add_order(engine, "C-ROSSI", [("DESK-LAMP", 1)])
    pack_and_ship(engine, shipped["id"])
    unpacked = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    sh = _pack(engine, unpacked["id"])
    with unit_of_work(engine, "test") as tx:
        shipping.cancel_shipment(tx, sh["id"], SYSTEM)  # unpacked again: to pack, not packed
    draft = add_order(engine, "C-ROSSI", [("BIG-VASE", 1)], confirm=False)

    assert "badge-packed" in _row(clerk_web, packed["number"]) and "unfulfilled" not in _row(clerk_web, packed["number"])
    assert "2 of 2" in _row(clerk_web, packed["number"])
    assert "partially packed" in _row(clerk_web, part["number"]) and "1 of 3" in _row(clerk_web, part["number"])
    assert "unfulfilled" in _row(clerk_web, untouched["number"])
    assert "packed" not in _row(clerk_web, unpacked["number"]).replace("unfulfilled", "")

    assert _listed(clerk_web, "fulfillment=packed") == [part["number"], packed["number"]]
    assert _listed(clerk_web, "fulfillment=to_pack") == [unpacked["number"], part["number"], untouched["number"]]
    assert draft["number"] not in _listed(clerk_web, "fulfillment=to_pack")
    # The stage combines with the other filters and is kept in the form.
    assert _listed(clerk_web, f"fulfillment=packed&q={packed['number']}") == [packed["number"]]
    assert 'value="packed" selected' in clerk_web.get("/orders?fulfillment=packed").text
    # An unknown value is ignored, not an error.
    assert clerk_web.get("/orders?fulfillment=%7B'x'%7D").status_code == 200


def test_an_order_waiting_for_stock_is_not_to_pack(engine: Engine, shop: Any, clerk_web: Web) -> None:
    with unit_of_work(engine, "test") as tx:
        waiting = orders.create_order(tx, SYSTEM, {"customer": {"code": "C-ROSSI"}, "currency": "EUR", "confirm": True,
                                                   "allow_backorder": True, "lines": [{"sku": "DESK-LAMP", "quantity": 9}]})
    assert waiting["lines"][0]["backordered_quantity"] == 4
    assert _listed(clerk_web, "fulfillment=to_pack") == [waiting["number"]]  # 5 reserved can be packed
    _pack(engine, waiting["id"])
    assert _listed(clerk_web, "fulfillment=to_pack") == []  # the other 4 wait for stock
    assert "partially packed" in _row(clerk_web, waiting["number"])


def test_the_shipment_page_shows_where_it_goes(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    sh = _pack(engine, o["id"])
    page = clerk_web.get(f"/shipments/{sh['id']}").text
    facts = page.split('class="facts"')[1].split("</dl>")[0]
    assert "Ship to" in facts and "Via Dante 5" in facts and "20121 Milano" in facts


# -- 4. the order page: actions behind buttons, the audit trail in words ------------------

def test_the_order_page_folds_its_forms_and_opens_the_one_refused(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 3)])
    pack_and_ship(engine, o["id"], [{"sku": "RETRO-CLOCK", "quantity": 1}])
    page = clerk_web.get(f"/orders/{o['id']}").text
    for fold in ("pack", "cancel-lines", "return"):
        tag = re.search(rf'<details class="action" id="{fold}"[^>]*>', page)
        assert tag and " open" not in tag.group(0), fold
    # Facts first: the lines come before any form.
    assert page.index('class="lines-table"') < page.index('id="pack"')
    token = re.search(r'action="/orders/\d+/pack">\s*<input[^>]+>\s*<input type="hidden" name="form_token" value="([^"]+)"',
                      page).group(1)
    refused = clerk_web.post(f"/orders/{o['id']}/pack", {"form_token": token, "lines.0.sku": "RETRO-CLOCK",
                                                          "lines.0.quantity": "9"})
    assert refused.status_code == 422
    assert re.search(r'<details class="action" id="pack" open>', refused.text)
    assert not re.search(r'<details class="action" id="cancel-lines" open>', refused.text)
    assert "{" not in flashes(refused.text) and "RETRO-CLOCK: 9 requested, 2 open to pack" in refused.text


def _audit(page: str) -> str:
    return page.split('<table class="audit">')[1].split("</table>")[0]


def test_the_audit_trail_speaks_in_words_without_hashes_and_costs_for_a_clerk(
        engine: Engine, shop: Any, clerk_web: Web, accountant_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 3)])
    sh = pack_and_ship(engine, o["id"], [{"sku": "RETRO-CLOCK", "quantity": 1}])  # 1 × 15.00 at cost
    assert clerk_web.get(f"/invoices/{sh['invoice_id']}/pdf").status_code == 200  # stores the file and its hash
    with unit_of_work(engine, "test", readonly=True) as tx:
        inv = invoicing.get_invoice(tx, sh["invoice_id"], SYSTEM)

    trail = _audit(clerk_web.get(f"/orders/{o['id']}").text)
    text = re.sub(r"<[^>]+>", " ", trail)
    assert "Partially shipped" in text and "Unfulfilled" in text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text), text
    assert not re.search(r"[0-9a-f]{64}", trail) and "sha" not in text.lower()
    assert "Cost" not in text and "15.00" not in text
    assert f'<a href="/invoices/{inv["id"]}">{inv["number"]}</a>' in trail
    assert f'<a href="/shipments/{sh["id"]}">{sh["number"]}</a>' in trail
    assert "PDF stored" in text and "invoice_id" not in trail

    shipment_trail = re.sub(r"<[^>]+>", " ", _audit(clerk_web.get(f"/shipments/{sh['id']}").text))
    assert "Carrier: BRT" in shipment_trail and "Cost" not in shipment_trail
    # The accountant reads the books: the cost of the goods shipped is there.
    assert "Cost of goods: 15.00" in re.sub(r"<[^>]+>", " ", _audit(accountant_web.get(f"/shipments/{sh['id']}").text))


def test_payment_and_return_trails_name_documents_not_ids(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    sh = pack_and_ship(engine, o["id"])
    with unit_of_work(engine, "test") as tx:
        p = payments.record_payment(tx, {"customer_id": shop["customer"]["id"], "amount": Decimal("48.80"),
                                         "currency": "EUR", "received_on": tx.today, "method": "bank_transfer",
                                         "reference": "SEPA-9"})
    trail = _audit(clerk_web.get(f"/payments/{p['id']}").text)
    with unit_of_work(engine, "test", readonly=True) as tx:
        number = invoicing.get_invoice(tx, sh["invoice_id"], SYSTEM)["number"]
    assert f">{number}</a> 48.80" in trail and "Payment" in trail and "invoice_id" not in trail


def test_a_return_shows_in_the_order_s_trail_in_words_and_without_its_cost_for_a_clerk(
        engine: Engine, shop: Any, clerk_web: Web, accountant_web: Web) -> None:
    from o2c.services.fulfilment import returns
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
    pack_and_ship(engine, o["id"])
    with unit_of_work(engine, "test") as tx:
        r = returns.create_return(tx, o["id"], SYSTEM, {"lines": [{"sku": "RETRO-CLOCK", "quantity": 1}],
                                                        "restock": False, "refund": "credit"})
    clerk = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", _audit(clerk_web.get(f"/orders/{o['id']}").text)))
    assert f"Return {r['number']} received" in clerk and "Money already paid: kept as customer credit" in clerk
    assert "Back in stock: no: written off" in clerk and "Cost" not in clerk
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", clerk), clerk
    accountant = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", _audit(accountant_web.get(f"/orders/{o['id']}").text)))
    assert "Cost of goods: 15.00" in accountant  # what the returned clock cost, for the books


def test_a_zloty_customers_payment_is_in_zloty_and_pays_their_zloty_invoices(
        engine: Engine, shop: Any, clerk_web: Web) -> None:
    """The form takes the customer's currency: a EUR invoice of the same
    customer is not offered to money in PLN."""
    from o2c.services.books import fx
    with unit_of_work(engine, "test") as tx:
        fx.set_currency(tx, "PLN", True)
        fx.record_rate(tx, "PLN", tx.today, "4.2750")
    add_customer(engine, "C-WAWA", currency="PLN")
    with unit_of_work(engine, "test") as tx:
        o = orders.create_order(tx, SYSTEM, {"customer": {"code": "C-WAWA"}, "confirm": True,
                                             "lines": [{"sku": "DESK-LAMP", "quantity": 1}]})
    zloty = pack_and_ship(engine, o["id"])["invoice_id"]
    euro = pack_and_ship(engine, add_order(engine, "C-WAWA", [("DESK-LAMP", 1)])["id"])["invoice_id"]
    page = clerk_web.get(f"/payments/new?invoice={zloty}").text
    assert "Amount (PLN)" in page
    assert [inv for inv, _ in allocation_rows(page)] == [str(zloty)] and str(euro) not in [
        inv for inv, _ in allocation_rows(page)]
    total = str(balance(engine, zloty))
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
    r = clerk_web.post("/payments/new", {
        "form_token": token, "customer.code": "C-WAWA", "customer_shown": "C-WAWA", "amount": total,
        "received_on": o["created_at"].date().isoformat(), "method": "bank_transfer", "reference": "PKO-WEB-1",
        "for_invoice": str(zloty), "allocations.0.invoice_id": str(zloty), "allocations.0.amount": total,
        "action": "save"})
    assert r.status_code == 303, flashes(r.text)
    assert balance(engine, zloty) == Decimal("0.00") and balance(engine, euro) > 0
