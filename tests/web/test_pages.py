"""Every page answers for the roles that may see it, and refuses the others;
navigation shows only what a role may use."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.web.conftest import Web, add_order, pack_and_ship


@pytest.fixture
def book(engine: Engine, shop: dict[str, Any]) -> dict[str, Any]:
    """One order shipped and invoiced, one confirmed and packed, one draft."""
    shipped = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 2)])
    sh = pack_and_ship(engine, shipped["id"])
    packed = add_order(engine, "C-ROSSI", [("DESK-LAMP", 1)])
    from o2c.domain.access import SYSTEM
    from o2c.services.fulfilment import shipping
    from o2c.services.platform.uow import unit_of_work
    with unit_of_work(engine, "test") as tx:
        pending = shipping.pack(tx, packed["id"], SYSTEM, None)
    draft = add_order(engine, "C-ROSSI", [("RETRO-CLOCK", 1)], confirm=False)
    return {"shipped": shipped, "invoice_id": sh["invoice_id"], "shipment_id": sh["id"], "packed": packed,
            "pending_shipment": pending["id"], "draft": draft, "customer_id": shop["customer"]["id"]}


def pages(b: dict[str, Any]) -> dict[str, str]:
    """Every page, by the permission it needs."""
    return {
        "/": "",
        "/orders": "orders:read",
        "/orders?q=rossi&status=confirmed&fulfillment=unfulfilled&payment=unpaid&channel=web&from=2000-01-01&to=2100-01-01": "orders:read",
        f"/orders/{b['shipped']['id']}": "orders:read",
        f"/orders/{b['draft']['id']}": "orders:read",
        "/orders/new": "orders:write",
        f"/shipments/{b['shipment_id']}": "orders:read",
        f"/shipments/{b['pending_shipment']}": "orders:read",
        f"/shipments/{b['shipment_id']}/packing-slip": "orders:read",
        "/invoices": "invoices:read",
        "/invoices?overdue=1&status=open": "invoices:read",
        f"/invoices/{b['invoice_id']}": "invoices:read",
        "/payments": "payments:read",
        "/payments/new": "payments:write",
        "/payments/new?customer=C-ROSSI&amount=10": "payments:write",
        "/customers": "customers:read",
        f"/customers/{b['customer_id']}": "customers:read",
        "/customers/new": "customers:write",
        f"/customers/{b['customer_id']}/edit": "customers:write",
        "/products": "catalog:read",
        "/products/new": "catalog:write",
        "/products/RETRO-CLOCK/edit": "catalog:write",
        "/stock": "catalog:read",
        "/stock/RETRO-CLOCK": "catalog:read",
        "/stock/receipts/new": "stock:write",
        "/books/trial-balance": "ledger:read",
        "/books/trial-balance?as_of=2000-01-01": "ledger:read",
        "/books/journal": "ledger:read",
        "/books/journal?from=2000-01-01&account=1100": "ledger:read",
        "/books/reconciliation": "ledger:read",
        "/books/periods": "ledger:read",
        "/books/verify": "ledger:read",
        "/books/accounts": "ledger:read",
        "/books/accounts/1100/edit": "ledger:admin",
        "/books/currencies": "ledger:read",
        "/backorders": "orders:read",
        "/backorders?sku=RETRO-CLOCK&customer=1&after=1": "orders:read",
        f"/customers/{b['customer_id']}/credit": "payments:read",
    }


@pytest.mark.parametrize("who", ["clerk", "accountant", "admin"])
def test_every_page_answers_each_role_as_its_permissions_say(app: Any, book: dict[str, Any], who: str,
                                                            request: pytest.FixtureRequest) -> None:
    from o2c.domain.access import PERMISSIONS
    w: Web = request.getfixturevalue(f"{who}_web")
    for path, permission in pages(book).items():
        r = w.get(path)
        expected = 200 if not permission or permission in PERMISSIONS[who] else 403
        assert r.status_code == expected, (who, path, r.status_code)
        if expected == 200:
            assert "</html>" in r.text and "Traceback" not in r.text
        else:
            assert f"needs {permission}" in r.text


def test_navigation_shows_a_role_only_its_sections(clerk_web: Web, accountant_web: Web) -> None:
    clerk_nav = clerk_web.get("/").text.split('<nav class="nav"')[1].split("</nav>")[0]
    accountant_nav = accountant_web.get("/").text.split('<nav class="nav"')[1].split("</nav>")[0]
    assert ">Orders<" in clerk_nav and ">Stock<" in clerk_nav and ">Books<" not in clerk_nav
    assert ">Books<" in accountant_nav and ">Orders<" in accountant_nav


def test_unknown_documents_are_a_clear_404(admin_web: Web, book: dict[str, Any]) -> None:
    for path in ("/orders/999999", "/invoices/999999", "/shipments/999999", "/payments/999999",
                 "/customers/999999", "/stock/NO-SUCH-SKU", "/products/NO-SUCH/edit", "/no/such/page"):
        r = admin_web.get(path)
        assert r.status_code == 404, path
        assert "Not found" in r.text


def test_the_jump_box_opens_documents_by_number(admin_web: Web, book: dict[str, Any]) -> None:
    from o2c.domain.numbering import order_number
    number = order_number(book["shipped"]["id"], book["shipped"]["created_at"])
    r = admin_web.get(f"/go?q={number.lower()}")
    assert r.status_code == 302 and r.headers["Location"] == f"/orders/{book['shipped']['id']}"
    r = admin_web.get("/go?q=INV-2026-000001")
    assert r.headers["Location"].startswith("/invoices?q=INV-2026-000001")


def test_pages_are_served_with_a_strict_content_security_policy(admin_web: Web) -> None:
    r = admin_web.get("/")
    csp = r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "style-src 'self'" in csp
    assert "<script>" not in r.text and " style=" not in r.text and " onclick=" not in r.text
    for asset in ("/assets/app.css", "/assets/app.js"):
        with admin_web.get(asset) as r:
            assert r.status_code == 200


def test_the_dashboard_shows_the_days_figures_and_a_revenue_chart(admin_web: Web, book: dict[str, Any]) -> None:
    html = admin_web.get("/").text
    assert "<svg" in html and 'class="bar"' in html
    # 2 clocks at 40.00 net: this month's revenue in the chart's text alternative.
    assert "80.00" in html.split('<title id="chart-title">')[1].split("</title>")[0]
    tiles = html.split('class="tiles"')[1].split("</section>")[0]
    assert ">1<" in tiles  # one order to pack (the draft is not confirmed; the packed one has nothing open)
