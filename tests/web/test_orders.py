"""Orders in the back office: the new-order form, the transitions on the
order page, packing and shipping, and the refusals a clerk must understand."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from o2c.db import models as m
from o2c.domain.access import SYSTEM
from o2c.domain.numbering import order_number
from o2c.services.billing import invoicing
from o2c.services.fulfilment import shipping
from o2c.services.platform import clock
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import orders
from tests.web.conftest import Web, add_customer, add_order, flashes, pack_and_ship

TWO_LINES = {"customer.code": "C-ROSSI", "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "2",
             "lines.1.sku": "DESK-LAMP", "lines.1.quantity": "3", "lines.1.discount": "10", "confirm": "1"}


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(table)).scalar_one()


def get_order(engine: Engine, order_id: int) -> dict[str, Any]:
    with unit_of_work(engine, "test", readonly=True) as tx:
        return orders.get_order(tx, order_id, SYSTEM)


def new_order(w: Web, data: dict[str, str], action: str = "save", token: str | None = None) -> Any:
    body = {**data, "action": action, "form_token": token or w.form_token("/orders/new")}
    return w.post("/orders/new", body)


def test_a_clerk_enters_a_two_line_order_and_confirms_it_on_save(engine: Engine, shop: Any, clerk_web: Web) -> None:
    r = new_order(clerk_web, TWO_LINES)
    assert r.status_code == 303
    order_id = int(r.headers["Location"].rsplit("/", 1)[1])
    o = get_order(engine, order_id)
    assert (o["status"], o["channel"]) == ("confirmed", "web")
    assert [(l["sku"], l["quantity"], l["reserved_quantity"]) for l in o["lines"]] == [
        ("RETRO-CLOCK", 2, 2), ("DESK-LAMP", 3, 3)]
    # 80.00 at 22 % and 67.50 (3 × 25.00 less 10 %) at 10 %: 147.50 + 17.60 + 6.75
    assert (o["net_total"], o["vat_total"], o["total"]) == (Decimal("147.50"), Decimal("24.35"), Decimal("171.85"))
    page = clerk_web.get(r.headers["Location"])
    assert "created and confirmed" in flashes(page.text)
    assert "171.85 EUR" in page.text


def test_calculating_totals_saves_nothing(engine: Engine, shop: Any, clerk_web: Web) -> None:
    r = new_order(clerk_web, TWO_LINES, action="preview")
    assert r.status_code == 200
    assert "calculated, not saved yet" in r.text and "171.85 EUR" in r.text
    assert 'value="DESK-LAMP"' in r.text
    assert count(engine, m.Order.__table__) == 0


def test_adding_a_line_keeps_what_was_typed(shop: Any, clerk_web: Web) -> None:
    r = new_order(clerk_web, {"customer.code": "C-ROSSI", "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1",
                              "lines.1.sku": "", "lines.2.sku": ""}, action="add_line")
    assert r.status_code == 200
    assert 'name="lines.3.sku"' in r.text and 'value="RETRO-CLOCK"' in r.text


def test_out_of_stock_names_the_shortfall_per_sku_and_keeps_the_form(engine: Engine, shop: Any,
                                                                     clerk_web: Web) -> None:
    data = {**TWO_LINES, "lines.0.quantity": "12", "lines.1.quantity": "9"}
    r = new_order(clerk_web, data)
    assert r.status_code == 422
    text = flashes(r.text)
    assert "RETRO-CLOCK: 12 requested, 10 available — 2 short" in text
    assert "DESK-LAMP: 9 requested, 5 available — 4 short" in text
    assert 'value="12"' in r.text and 'value="9"' in r.text
    assert "Only 10 available." in r.text.split('id="f-lines-0-quantity"')[1].split("</td>")[0]
    assert count(engine, m.Order.__table__) == 0


def test_the_credit_limit_refusal_shows_limit_and_exposure(engine: Engine, shop: Any, clerk_web: Web) -> None:
    add_customer(engine, "C-TIGHT", credit_limit=Decimal("100.00"))
    r = new_order(clerk_web, {**TWO_LINES, "customer.code": "C-TIGHT"})
    assert r.status_code == 422
    text = flashes(r.text)
    assert "over the credit limit" in text and "Credit limit 100.00, open exposure 0.00, this order 171.85" in text
    assert count(engine, m.Order.__table__) == 0


def test_field_errors_appear_next_to_the_fields(engine: Engine, shop: Any, clerk_web: Web) -> None:
    r = new_order(clerk_web, {"customer.code": "C-ROSSI", "lines.0.sku": "NO-SUCH", "lines.0.quantity": "1",
                              "lines.2.sku": "RETRO-CLOCK", "lines.2.quantity": "two"})
    assert r.status_code == 422
    # the error of the third row is shown on the third row, though the second is empty
    assert 'id="f-lines-2-quantity"' in r.text
    row2 = r.text.split('id="f-lines-2-quantity"')[1].split("</td>")[0]
    assert "Enter a whole number." in row2
    missing_customer = new_order(clerk_web, {"lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1"})
    assert "Pick a customer" in missing_customer.text
    unknown = new_order(clerk_web, {"customer.code": "C-ROSSI", "lines.0.sku": "NO-SUCH", "lines.0.quantity": "1"})
    assert unknown.status_code == 422 and "Unknown SKU “NO-SUCH”" in unknown.text
    assert count(engine, m.Order.__table__) == 0


def test_an_order_for_a_new_customer_creates_the_customer_too(engine: Engine, shop: Any, clerk_web: Web) -> None:
    r = new_order(clerk_web, {
        "customer.name": "Bar Centrale", "customer.new_code": "C-BAR", "customer.email": "bar@centrale.example",
        "customer.country": "it", "customer.language": "it", "customer.billing_address.line1": "Piazza Duomo 1",
        "customer.billing_address.postal_code": "50122", "customer.billing_address.city": "Firenze",
        "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "1"})
    assert r.status_code == 303
    with engine.connect() as c:
        row = c.execute(select(m.Customer.__table__).where(m.Customer.__table__.c.code == "C-BAR")).one()
    assert row.name == "Bar Centrale" and row.country == "IT" and row.billing_address["city"] == "Firenze"
    o = get_order(engine, int(r.headers["Location"].rsplit("/", 1)[1]))
    assert o["status"] == "draft" and o["customer_id"] == row.id


def test_a_double_submit_creates_one_order(engine: Engine, shop: Any, clerk_web: Web) -> None:
    token = clerk_web.form_token("/orders/new")
    first = new_order(clerk_web, TWO_LINES, token=token)
    second = new_order(clerk_web, TWO_LINES, token=token)
    assert first.status_code == second.status_code == 303
    assert first.headers["Location"] == second.headers["Location"]
    assert count(engine, m.Order.__table__) == 1
    with engine.connect() as c:
        reserved = c.execute(select(func.sum(m.Stock.__table__.c.reserved))).scalar_one()
    assert reserved == 5  # reserved once


def test_a_form_token_sent_back_with_other_values_is_refused(engine: Engine, shop: Any, clerk_web: Web) -> None:
    token = clerk_web.form_token("/orders/new")
    assert new_order(clerk_web, TWO_LINES, token=token).status_code == 303
    r = new_order(clerk_web, {**TWO_LINES, "lines.0.quantity": "1"}, token=token)
    assert r.status_code == 422
    assert "already submitted with other values" in flashes(r.text)
    assert count(engine, m.Order.__table__) == 1
    fresh = r.text.split('name="form_token" value="')[1].split('"')[0]
    assert fresh != token  # the form comes back with a new token


def test_the_order_page_offers_exactly_the_moves_allowed_now(engine: Engine, shop: Any, clerk_web: Web) -> None:
    draft = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)], confirm=False)
    page = clerk_web.get(f"/orders/{draft['id']}").text
    assert "Confirm order" in page and "Cancel order" in page and "Pack a shipment" not in page

    confirmed = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
    page = clerk_web.get(f"/orders/{confirmed['id']}").text
    assert "Confirm order" not in page and "Cancel order" in page and "Pack a shipment" in page

    with unit_of_work(engine, "test") as tx:
        shipping.pack(tx, confirmed["id"], SYSTEM, [{"sku": "RETRO-CLOCK", "quantity": 1}])
    page = clerk_web.get(f"/orders/{confirmed['id']}").text
    assert "Pack a shipment" in page and ">Ship</button>" in page
    # Packed, not shipped: the whole order can still go (its shipment is cancelled with it).
    assert "Cancel order" in page and "its packed shipments are cancelled" in page

    pack_and_ship(engine, confirmed["id"])
    with unit_of_work(engine, "test", readonly=True) as tx:
        packed = [s for s in orders.get_order(tx, confirmed["id"], SYSTEM)["shipment_ids"]]
    with unit_of_work(engine, "test") as tx:
        shipping.ship(tx, packed[0], SYSTEM, "GLS", "GLS1")
    page = clerk_web.get(f"/orders/{confirmed['id']}").text
    for gone in ("Confirm order", "Cancel order", "Pack a shipment", ">Ship</button>", "Invoice shipped goods"):
        assert gone not in page


def test_confirm_and_cancel_from_the_order_page(engine: Engine, shop: Any, clerk_web: Web) -> None:
    draft = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)], confirm=False)
    token = clerk_web.form_token(f"/orders/{draft['id']}")
    r = clerk_web.post(f"/orders/{draft['id']}/confirm", {"form_token": token})
    assert r.status_code == 303
    assert get_order(engine, draft["id"])["status"] == "confirmed"
    again = clerk_web.post(f"/orders/{draft['id']}/confirm", {"form_token": token})  # a double click
    assert again.status_code == 303 and "confirmed" in flashes(clerk_web.get(again.headers["Location"]).text)
    r = clerk_web.post(f"/orders/{draft['id']}/cancel", {"form_token": "another-token-1"})
    assert get_order(engine, draft["id"])["status"] == "cancelled"
    stale = clerk_web.post(f"/orders/{draft['id']}/confirm", {"form_token": "a-third-token"})
    assert stale.status_code == 303
    assert "Cannot confirm order" in flashes(clerk_web.get(stale.headers["Location"]).text)


def test_confirming_without_stock_says_what_is_short(engine: Engine, shop: Any, clerk_web: Web) -> None:
    draft = add_order(engine, "C-ROSSI", [("DESK-LAMP", 7)], confirm=False)
    r = clerk_web.post(f"/orders/{draft['id']}/confirm", {"form_token": "confirm-token-1"})
    page = clerk_web.get(r.headers["Location"]).text
    assert "DESK-LAMP: 7 requested, 5 available — 2 short" in flashes(page)
    assert get_order(engine, draft["id"])["status"] == "draft"


def test_pack_part_of_an_order_then_ship_it_with_a_tracking_number(engine: Engine, shop: Any,
                                                                   clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2), ("DESK-LAMP", 3)])
    r = clerk_web.post(f"/orders/{o['id']}/pack", {"form_token": "pack-token-1",
                                                   "lines.0.sku": "RETRO-CLOCK", "lines.0.quantity": "2",
                                                   "lines.1.sku": "DESK-LAMP", "lines.1.quantity": "1"})
    assert r.status_code == 303 and "/shipments/" in r.headers["Location"]
    shipment_id = int(r.headers["Location"].rsplit("/", 1)[1])
    o_after = get_order(engine, o["id"])
    assert [l["packed_quantity"] for l in o_after["lines"]] == [2, 1]

    blank = clerk_web.post(f"/shipments/{shipment_id}/ship", {"form_token": "ship-token-0", "carrier": "BRT",
                                                              "tracking_number": " "})
    assert blank.status_code == 422
    assert 'value="BRT"' in blank.text
    assert "Required." in blank.text.split('id="f-tracking_number"')[1].split("</div>")[0]

    r = clerk_web.post(f"/shipments/{shipment_id}/ship", {"form_token": "ship-token-1", "carrier": "BRT",
                                                          "tracking_number": "BRT0012345678", "from": "order"})
    assert r.status_code == 303 and r.headers["Location"] == f"/orders/{o['id']}"
    page = clerk_web.get(r.headers["Location"]).text
    assert "shipped with BRT (BRT0012345678). Invoice INV-" in flashes(page)
    o_after = get_order(engine, o["id"])
    assert o_after["fulfillment_status"] == "partially_shipped" and len(o_after["invoice_ids"]) == 1
    assert "BRT0012345678" in page


def test_packing_more_than_is_open_or_nothing_is_refused(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
    r = clerk_web.post(f"/orders/{o['id']}/pack", {"form_token": "pack-token-2", "lines.0.sku": "RETRO-CLOCK",
                                                   "lines.0.quantity": "3"})
    assert r.status_code == 422 and "RETRO-CLOCK: 3 requested, 2 open to pack" in flashes(r.text)
    r = clerk_web.post(f"/orders/{o['id']}/pack", {"form_token": "pack-token-3", "lines.0.sku": "RETRO-CLOCK",
                                                   "lines.0.quantity": "0"})
    assert r.status_code == 422 and "at least one line" in flashes(r.text)
    assert count(engine, m.Shipment.__table__) == 0


def test_cancelling_a_packed_shipment_and_an_order(engine: Engine, shop: Any, clerk_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
    with unit_of_work(engine, "test") as tx:
        sh = shipping.pack(tx, o["id"], SYSTEM, None)
    r = clerk_web.post(f"/shipments/{sh['id']}/cancel", {"form_token": "cancel-sh-1"})
    assert r.status_code == 303
    r = clerk_web.post(f"/orders/{o['id']}/cancel", {"form_token": "cancel-o-1"})
    assert get_order(engine, o["id"])["status"] == "cancelled"
    with engine.connect() as c:
        assert c.execute(select(m.Stock.__table__.c.reserved)).scalars().all() == [0, 0]


def test_an_accountant_cannot_ship_nor_sees_how(engine: Engine, shop: Any, accountant_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    with unit_of_work(engine, "test") as tx:
        sh = shipping.pack(tx, o["id"], SYSTEM, None)
    page = accountant_web.get(f"/orders/{o['id']}").text
    assert ">Ship</button>" not in page and "Pack a shipment" not in page and "Cancel order" not in page
    r = accountant_web.post(f"/shipments/{sh['id']}/ship", {"form_token": "acc-ship-1", "carrier": "BRT",
                                                            "tracking_number": "X1"})
    assert r.status_code == 403 and "needs fulfilment:write" in r.text
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert shipping.get_shipment(tx, sh["id"], SYSTEM)["status"] == "packed"
    assert accountant_web.post("/orders/new", {"form_token": "acc-order-1"}).status_code == 403


def test_with_manual_invoicing_the_order_page_invoices_what_shipped(engine: Engine, shop: Any,
                                                                    clerk_web: Web) -> None:
    with engine.begin() as c:
        c.execute(update(m.Company.__table__).values(invoicing_policy="manual"))
    invoicing.forget_settings()
    try:
        o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
        pack_and_ship(engine, o["id"])
        page = clerk_web.get(f"/orders/{o['id']}").text
        assert "Invoice shipped goods" in page
        r = clerk_web.post(f"/orders/{o['id']}/invoice", {"form_token": "invoice-token-1"})
        assert r.status_code == 303 and "/invoices/" in r.headers["Location"]
        assert "Invoice INV-" in flashes(clerk_web.get(r.headers["Location"]).text)
        assert "Invoice shipped goods" not in clerk_web.get(f"/orders/{o['id']}").text
    finally:
        with engine.begin() as c:
            c.execute(update(m.Company.__table__).values(invoicing_policy="on_shipment"))
        invoicing.forget_settings()


def test_the_running_month_cannot_be_closed_so_shipping_today_goes_on(engine: Engine, shop: Any, clerk_web: Web,
                                                                      accountant_web: Web) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)])
    with unit_of_work(engine, "test") as tx:
        sh = shipping.pack(tx, o["id"], SYSTEM, None)
    period = clock.now().strftime("%Y-%m")
    assert f"Close {period}" not in accountant_web.get("/books/periods").text
    r = accountant_web.post(f"/books/periods/{period}/close", {"form_token": "close-token-1"})
    assert r.status_code == 303
    assert f"Period {period} has not ended yet" in flashes(accountant_web.get(r.headers["Location"]).text)
    r = clerk_web.post(f"/shipments/{sh['id']}/ship", {"form_token": "ship-today-1", "carrier": "BRT",
                                                       "tracking_number": "BRT9"})
    assert r.status_code == 303
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert shipping.get_shipment(tx, sh["id"], SYSTEM)["status"] == "shipped"


def test_the_orders_list_searches_filters_and_pages(engine: Engine, shop: Any, clerk_web: Web) -> None:
    add_customer(engine, "C-VERDI", name="Verdi Caffè")
    ids = [add_order(engine, "C-ROSSI" if i % 2 else "C-VERDI", [("RETRO-CLOCK", 1)], confirm=False)["id"]
           for i in range(30)]
    first = clerk_web.get("/orders").text
    shown = [int(x) for x in re.findall(r'href="/orders/(\d+)"', first)]
    assert shown == sorted(ids, reverse=True)[:25]
    nxt = first.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = clerk_web.get(nxt).text
    rest = [int(x) for x in re.findall(r'href="/orders/(\d+)"', second)]
    assert rest == sorted(ids, reverse=True)[25:]
    prev = second.split('rel="prev"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    back = [int(x) for x in re.findall(r'href="/orders/(\d+)"', clerk_web.get(prev).text)]
    assert back == shown

    def listed(path: str) -> int:
        return len(re.findall(r'href="/orders/\d+"', clerk_web.get(path).text))
    verdi = clerk_web.get("/orders?q=verdi").text
    assert listed("/orders?q=verdi") == 15 and "Rossi" not in verdi.split("<tbody>")[1]
    assert listed(f"/orders?q={order_number(ids[3], clock.now())}") == 1
    assert listed("/orders?status=confirmed") == 0
    assert listed("/orders?status=draft&channel=web") == 25
    assert "No orders match" in clerk_web.get("/orders?from=2000-01-01&to=2000-01-31").text


@pytest.mark.parametrize("path", ["/shipments/{sid}", "/shipments/{sid}/packing-slip"])
def test_the_pick_list_and_packing_slip_list_the_goods_and_address(engine: Engine, shop: Any, clerk_web: Web,
                                                                   path: str) -> None:
    o = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2), ("DESK-LAMP", 1)])
    with unit_of_work(engine, "test") as tx:
        sh = shipping.pack(tx, o["id"], SYSTEM, [{"sku": "DESK-LAMP", "quantity": 1}])
    html = clerk_web.get(path.format(sid=sh["id"])).text
    assert "DESK-LAMP" in html and "RETRO-CLOCK" not in html
    if path.endswith("slip"):
        assert "Pick list" in html and "Packing slip" in html and "Via Dante 5" in html and "data-print" in html
