"""The back office's quotation pages: what changed between revisions,
accepting on the customer's behalf, the pipeline's figures, the dashboard
tile for an accepted quotation whose order stayed a draft."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy import Engine

from tests.conftest import Client
from tests.quotes.helpers import count, quote_body, sent_quote, shelf
from tests.web.conftest import Web, clerk_web, people  # noqa: F401  (fixtures)


def test_the_quotation_page_shows_what_changed_between_revisions(admin: Client, clerk: Client,
                                                                 clerk_web: Web) -> None:  # noqa: F811
    shelf(admin)
    q = sent_quote(clerk)
    clerk.ok("patch", f"/api/v1/quotes/{q['id']}", {"payment_terms_days": 60, "lines": [
        {"sku": "DESK", "quantity": 4, "discount": "0.10"}, {"sku": "CHAIR", "quantity": 6, "unit_price": "85.00"}]})
    page = clerk_web.get(f"/quotes/{q['id']}?from=1&to=2").text
    assert "What changed from R1 to R2" in page
    assert "payment terms days" in page and ">45<" in page and ">60<" in page
    assert "DESK: quantity" in page and "DESK: discount" in page
    assert "MAT (optional)" in page and "removed" in page
    assert "1,491.45" in page and clerk_web.get("/quotes").status_code == 200
    assert "Tax treatment: domestic · VAT of IT" in page and "VAT S 22" in page


def test_a_clerk_accepts_on_the_customer_behalf(admin: Client, clerk: Client, clerk_web: Web,  # noqa: F811
                                                engine: Engine) -> None:
    shelf(admin)
    q = sent_quote(clerk)
    path = f"/quotes/{q['id']}"
    r = clerk_web.post(f"{path}/accept", {"accepted_by": "Giulia Rossi (phone)", "optional_skus": "MAT",
                                          "form_token": clerk_web.form_token(path)})
    assert r.status_code == 303
    got = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    assert got["status"] == "accepted" and got["accepted_by"] == "Giulia Rossi (phone)"
    assert count(engine, "order_lines") == 3


def test_the_pipeline_counts_value_win_rate_and_lost_reasons(admin: Client, clerk: Client,
                                                             clerk_web: Web) -> None:  # noqa: F811
    shelf(admin)
    won = sent_quote(clerk)
    clerk.ok("post", f"/api/v1/quotes/{won['id']}/accept", {"accepted_by": "G"})
    lost = sent_quote(clerk)
    clerk.ok("post", f"/api/v1/quotes/{lost['id']}/decline", {"reason": "price"})
    clerk.ok("post", "/api/v1/quotes", quote_body(), status=201)
    r = clerk.ok("get", "/api/v1/reports/pipeline")
    by = {b["status"]: (b["count"], b["value"]) for b in r["by_status"]}
    assert by["accepted"] == (1, "1491.45") and by["declined"] == (1, "1491.45") and by["draft"] == (1, "1491.45")
    assert Decimal(r["win_rate"]) == Decimal("0.5") and r["open_value"] == "1491.45"
    assert r["lost_reasons"] == [{"reason": "price", "count": 1}]
    assert [c["clerk"] for c in r["clerks"]] == ["api_key:clerk"] and r["average_days_to_close"] is not None
    assert clerk.ok("get", "/api/v1/reports/pipeline?from=2000-01-01&to=2000-12-31")["count"] == 0
    page = clerk_web.get("/quotes/pipeline").text
    assert "50 %" in page and "price 1" in page


def test_the_dashboard_tells_of_an_accepted_quotation_left_a_draft(admin: Client, clerk: Client,
                                                                  clerk_web: Web) -> None:  # noqa: F811
    shelf(admin, credit_limit="100.00")
    q = sent_quote(clerk)
    clerk.ok("post", f"/api/v1/quotes/{q['id']}/accept", {"accepted_by": "G"})
    page = clerk_web.get("/").text
    assert "Accepted quotations, order not confirmed" in page and q["number"] in page


def test_a_clerk_prepares_a_quotation_on_the_form_and_revises_it_after_sending(
        admin: Client, clerk: Client, clerk_web: Web, engine: Engine) -> None:  # noqa: F811
    shelf(admin)
    form = {"customer.code": "C-ROSSI", "payment_terms_days": "45", "delivery_terms": "DAP Milano",
            "lines.0.sku": "DESK", "lines.0.quantity": "3", "lines.0.discount": "5",
            "lines.1.sku": "CHAIR", "lines.1.quantity": "6", "lines.1.unit_price": "85,00",
            "lines.2.sku": "MAT", "lines.2.quantity": "4", "lines.2.optional": "1"}
    bad = clerk_web.post("/quotes/new", {**form, "lines.1.sku": "NOPE", "form_token": clerk_web.form_token("/quotes/new")})
    assert bad.status_code == 422 and "NOPE" in bad.text and count(engine, "quotes") == 0
    r = clerk_web.post("/quotes/new", {**form, "form_token": clerk_web.form_token("/quotes/new")})
    assert r.status_code == 303
    q = clerk.ok("get", "/api/v1/quotes")["items"][0]
    assert q["status"] == "draft" and q["total"] == "1491.45" and q["payment_terms_days"] == 45
    assert [l["sku"] for l in q["optional_lines"]] == ["MAT"] and q["delivery_terms"] == "DAP Milano"

    clerk.ok("post", f"/api/v1/quotes/{q['id']}/send", {})
    edit = f"/quotes/{q['id']}/edit"
    page = clerk_web.get(edit).text
    assert 'value="DESK"' in page and "Save as revision 2" in page
    r = clerk_web.post(edit, {**form, "lines.0.discount": "10", "form_token": clerk_web.form_token(edit)})
    assert r.status_code == 303
    again = clerk.ok("get", f"/api/v1/quotes/{q['id']}")
    assert again["latest_revision"] == 2 and again["status"] == "draft"
    assert again["total"] != q["total"] and clerk.ok("get", f"/api/v1/quotes/{q['id']}/revisions/1")["total"] == "1491.45"
