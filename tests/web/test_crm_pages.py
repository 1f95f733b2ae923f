"""Customers after the sale in the back office: suggestions on the new-order
form (one click adds a line) and on the order page; a coupon and a promised
date entered on the form."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from o2c.services.crm import associations
from tests.web.conftest import Web, add_customer, add_order, add_product
from tests.web.test_orders import get_order, new_order


def _history(engine: Engine) -> dict[str, Any]:
    c = add_customer(engine)
    add_customer(engine, "C-BIANCHI", name="Bianchi")
    for sku in ("CUP", "SAUCER", "SPOON"):
        add_product(engine, sku, "5.00", on_hand=100)
    for basket in (["CUP", "SAUCER"], ["CUP", "SAUCER", "SPOON"], ["CUP", "SAUCER"]):
        add_order(engine, "C-BIANCHI", [(s, 1) for s in basket])
    associations.recompute_now(engine)
    return c


def test_the_order_form_suggests_what_goes_with_its_lines_and_adds_it_in_one_click(engine: Engine,
                                                                                  clerk_web: Web) -> None:
    _history(engine)
    data = {"customer.code": "C-ROSSI", "lines.0.sku": "CUP", "lines.0.quantity": "2", "confirm": "1"}
    page = new_order(clerk_web, data, action="preview")
    assert page.status_code == 200
    assert "Often bought together" in page.text and 'value="suggest:SAUCER"' in page.text
    added = new_order(clerk_web, data, action="suggest:SAUCER")
    assert 'name="lines.1.sku" value="SAUCER"' in added.text
    assert 'value="suggest:SAUCER"' not in added.text  # on the order now: no longer suggested


def test_a_coupon_and_a_promised_date_from_the_form(engine: Engine, clerk_web: Web) -> None:
    import datetime as dt

    from o2c.domain.access import SYSTEM
    from o2c.services.crm import coupons
    from o2c.services.platform.uow import unit_of_work
    _history(engine)
    with unit_of_work(engine, "test") as tx:
        coupons.create_coupon(tx, SYSTEM, {"code": "WELCOME", "percent_off": __import__("decimal").Decimal("10")})
    promised = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    r = new_order(clerk_web, {"customer.code": "C-ROSSI", "lines.0.sku": "CUP", "lines.0.quantity": "2",
                              "confirm": "1", "coupon": "welcome", "promised_date": promised})
    assert r.status_code == 303, r.text[:2000]
    order_id = int(r.headers["Location"].rstrip("/").split("/")[-1])
    o = get_order(engine, order_id)
    assert str(o["net_total"]) == "9.00" and o["promised_date"].isoformat() == promised
    page = clerk_web.get(f"/orders/{order_id}").text
    assert "Promised for" in page and "New order with SAUCER" in page
    again = new_order(clerk_web, {"customer.code": "C-ROSSI", "lines.0.sku": "CUP", "lines.0.quantity": "2",
                                  "confirm": "1", "coupon": "WELCOME"})
    assert again.status_code == 422 and "cannot be used" in again.text


def test_the_customer_page_shows_the_insight_and_segment(engine: Engine, clerk_web: Web) -> None:
    c = _history(engine)
    add_order(engine, "C-ROSSI", [("CUP", 2)])
    from o2c.services.crm import insights
    from o2c.services.platform.uow import unit_of_work
    with unit_of_work(engine, "test") as tx:
        insights.refresh_rfm(tx)
    page = clerk_web.get(f"/customers/{c['id']}").text
    assert "Customer insight" in page and "segment-" in page and "Lifetime net revenue" in page


def test_the_kpi_page_charts_margins_and_each_figure_lists_its_documents(engine: Engine, accountant_web: Web,
                                                                        monkeypatch: Any) -> None:
    from tests.crm.history import build
    build(engine, monkeypatch)
    page = accountant_web.get("/reports/kpis?from=2026-01-01&to=2026-02-28")
    assert page.status_code == 200
    assert "<svg" in page.text and "Gross margin by month" in page.text and "14.8" in page.text
    drill = accountant_web.get("/reports/kpis/perfect_order_rate?from=2026-01-01&to=2026-02-28")
    assert drill.status_code == 200 and drill.text.count("<tr>") == 5  # header + 4 orders
    csv = accountant_web.get("/reports/kpis/perfect_order_rate?from=2026-01-01&to=2026-02-28&format=csv")
    assert csv.mimetype == "text/csv" and len(csv.get_data(as_text=True).splitlines()) == 5
    assert accountant_web.get("/reports/kpis/nothing").status_code == 404
    assert "Cycle KPIs" in accountant_web.get("/").text


def test_the_winback_page_sends_a_message_with_a_coupon(engine: Engine, clerk_web: Web, monkeypatch: Any) -> None:
    from sqlalchemy import select

    from o2c.db import models as m
    from tests.crm.history import build
    build(engine, monkeypatch)  # C-VERDI's only order is of 2025-06-01
    page = clerk_web.get("/customers/winback?as_of=2026-03-01")
    assert page.status_code == 200 and "C-VERDI" in page.text and "Send win-back message" in page.text
    with engine.connect() as c:
        verdi = c.execute(select(m.Customer.id).where(m.Customer.code == "C-VERDI")).scalar_one()
        c.execute(__import__("sqlalchemy").update(m.Customer.__table__).where(m.Customer.id == verdi)
                  .values(email="verdi@example.com"))
        c.commit()
    r = clerk_web.post(f"/customers/{verdi}/winback", {"percent_off": "12", "form_token": "tok-winback-1"})
    assert r.status_code == 303
    with engine.connect() as c:
        assert c.execute(select(m.Message.kind).where(m.Message.customer_id == verdi)).scalar_one() == "winback"
        assert c.execute(select(m.Coupon.customer_id)).scalar_one() == verdi


def test_the_task_list_takes_an_owner_and_notes(engine: Engine, clerk_web: Web, accountant_web: Web) -> None:
    import datetime as dt

    from sqlalchemy import insert, select

    from o2c.db import models as m
    c = add_customer(engine)
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        tid = conn.execute(insert(m.FollowUpTask.__table__).returning(m.FollowUpTask.id), {
            "customer_id": c["id"], "title": "Ask the reasons", "status": "open", "due_date": now.date(),
            "created_at": now}).scalar_one()
    assert "Ask the reasons" in clerk_web.get("/tasks?status=open").text
    r = clerk_web.post(f"/tasks/{tid}", {"owner": "anna", "note": "Called: all fine.", "status": "done",
                                         "form_token": "tok-task-1"})
    assert r.status_code == 303
    with engine.connect() as conn:
        row = conn.execute(select(m.FollowUpTask).where(m.FollowUpTask.id == tid)).one()
    assert (row.owner, row.note, row.status) == ("anna", "Called: all fine.", "done")
    assert accountant_web.post(f"/tasks/{tid}", {"status": "open"}).status_code == 403


def test_the_demo_shows_segments_one_lapsed_customer_suggestions_a_task_and_kpi_charts(
        engine: Engine, clerk_web: Web, accountant_web: Web) -> None:
    from sqlalchemy import select

    from o2c.db import models as m
    from o2c.demo import LAPSED, load_demo
    from o2c.domain.access import SYSTEM
    from o2c.services.crm import feedback, insights, winback
    from o2c.services.platform.uow import unit_of_work
    load_demo(engine)
    with unit_of_work(engine, "test", readonly=True) as tx:
        lapsed = winback.lapsed(tx, SYSTEM, tx.today, 2.0, 120)
        tasks, _ = feedback.list_tasks(tx, status="open")
        assert associations.last_run(tx)["rules"] > 0
        ids = tx.conn.execute(select(m.CustomerRfm.customer_id)).scalars().all()
        segments = {insights.insights(tx, SYSTEM, cid)["rfm"]["segment"] for cid in ids}
        regular = tx.conn.execute(select(m.Customer.id).where(m.Customer.code == "C-1001")).scalar_one()
        pair = tx.conn.execute(
            select(m.Product.sku).join(m.ProductAssociation, m.ProductAssociation.x_product_id == m.Product.id)
            .order_by(m.ProductAssociation.pair_orders.desc(), m.Product.sku).limit(1)).scalar_one()
        expected = associations.for_basket(tx, [pair], regular)
    # Exactly one customer stopped ordering, with the signals that may say why.
    assert [w["code"] for w in lapsed] == [LAPSED]
    assert {s["type"] for s in lapsed[0]["signals"]} == {"return", "price_increase"}
    page = clerk_web.get("/customers/winback").text
    assert "Trattoria Da Nino" in page and page.count("Send win-back message") == 1
    # A follow-up task from the one low score; segments on the customer pages.
    assert [t["score"] for t in tasks] == [2]
    assert "The grinder arrived with a dented lid." in clerk_web.get("/tasks").text
    assert len(segments) >= 3 and "segment-" in clerk_web.get(f"/customers/{regular}").text
    # Suggestions on the order form.
    assert expected
    form = new_order(clerk_web, {"customer.code": "C-1001", "lines.0.sku": pair, "lines.0.quantity": "1"},
                     action="preview")
    assert "Often bought together" in form.text and f'value="suggest:{expected[0]["sku"]}"' in form.text
    # The KPI charts.
    kpis = accountant_web.get("/reports/kpis")
    assert kpis.status_code == 200 and "<svg" in kpis.text and "Gross margin by month" in kpis.text
