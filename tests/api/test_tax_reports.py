"""The VAT return's reports: the VAT report, the EC sales list and the OSS
return, as JSON and CSV, for accountants; bad parameters are 422s naming the
field; and the reconciliation proves each report equals the ledger — zero on
real postings, non-zero once a journal line or a document row is tampered with."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import Client, customer, product, reconciliation_ok

D = Decimal
IT_ADDRESS = {"name": "Trattoria Da Nino", "line1": "Via dei Mille 9", "city": "Napoli", "postal_code": "80121",
              "country": "IT"}


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.get_json()
    body = r.get_json()["error"]
    assert body["code"] == code, body
    return body


def ship(admin: Client, order_id: int) -> dict[str, Any]:
    sh = admin.ok("post", f"/api/v1/orders/{order_id}/shipments", {}, status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    return admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


def sell(admin: Client, code: str, lines: list[tuple[str, int]]) -> dict[str, Any]:
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": code}, "currency": "EUR", "confirm": True,
                                            "lines": [{"sku": s, "quantity": q} for s, q in lines]}, status=201)
    return ship(admin, o["id"])


@pytest.fixture
def domestic(admin: Client) -> dict[str, Any]:
    """Two Italian invoices at 22 % and 10 %, one partly credited."""
    product(admin, "GRINDER", "54.00", "0.22", stock=50, cost="20.00")
    product(admin, "TEA", "7.80", "0.10", stock=50, cost="3.00")
    customer(admin, "C-NINO", name="Trattoria Da Nino", country="IT", tax_id="IT01987650321",
             billing_address=IT_ADDRESS)
    first = sell(admin, "C-NINO", [("GRINDER", 2), ("TEA", 5)])   # 108.00 @22 (23.76) + 39.00 @10 (3.90)
    second = sell(admin, "C-NINO", [("GRINDER", 1)])               # 54.00 @22 (11.88)
    rma = admin.ok("post", f"/api/v1/orders/{first['order_id']}/returns",
                   {"lines": [{"sku": "GRINDER", "quantity": 1}]}, status=201)  # −54.00 @22 (−11.88)
    return {"first": first, "second": second, "credit_note_ids": rma["credit_note_ids"]}


def test_the_vat_report_sums_invoices_less_credit_notes_per_treatment_category_and_rate(
        accountant: Client, domestic: dict[str, Any]) -> None:
    day = domestic["first"]["issue_date"]
    rep = accountant.ok("get", f"/api/v1/reports/vat?from={day}&to={day}")
    assert rep["rows"] == [
        {"tax_treatment": "domestic", "country": "IT", "category": "S", "rate": "0.10", "net": "39.00", "vat": "3.90"},
        {"tax_treatment": "domestic", "country": "IT", "category": "S", "rate": "0.22", "net": "108.00",
         "vat": "23.76"},
    ]
    assert rep["totals"] == {"net": "147.00", "vat": "27.66"}
    assert (rep["from"], rep["to"]) == (day, day)
    before = (dt.date.fromisoformat(day) - dt.timedelta(days=1)).isoformat()
    assert accountant.ok("get", f"/api/v1/reports/vat?from={before}&to={before}")["rows"] == []


def test_the_vat_report_as_csv(accountant: Client, domestic: dict[str, Any]) -> None:
    day = domestic["first"]["issue_date"]
    r = accountant.get(f"/api/v1/reports/vat?from={day}&to={day}&format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert f'filename="vat_{day}_{day}.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(r.get_data(as_text=True))))
    assert rows == [["tax_treatment", "country", "category", "rate", "net", "vat"],
                    ["domestic", "IT", "S", "0.10", "39.00", "3.90"],
                    ["domestic", "IT", "S", "0.22", "108.00", "23.76"],
                    ["total", "", "", "", "147.00", "27.66"]]


def test_reports_of_a_period_without_sales_are_empty(accountant: Client) -> None:
    assert accountant.ok("get", "/api/v1/reports/ec-sales-list?period=2026-03") == {
        "period": "2026-03", "from": "2026-03-01", "to": "2026-03-31", "rows": [], "totals": {"net": "0.00"}}
    assert accountant.ok("get", "/api/v1/reports/oss?quarter=2026-Q1") == {
        "quarter": "2026-Q1", "from": "2026-01-01", "to": "2026-03-31", "rows": [],
        "totals": {"net": "0.00", "vat": "0.00"}}
    r = accountant.get("/api/v1/reports/oss?quarter=2024-Q4&format=csv")
    assert r.status_code == 200 and r.get_data(as_text=True) == "country,rate,net,vat\r\ntotal,,0.00,0.00\r\n"


@pytest.mark.parametrize(("query", "field"), [
    ("vat?to=2026-03-31", "from"),
    ("vat?from=2026-03-01", "to"),
    ("vat?from=2026-02-30&to=2026-03-31", "from"),
    ("vat?from=2026-03-31&to=2026-03-01", "to"),
    ("vat?from=2026-03-01&to=2026-03-31&format=xml", "format"),
    ("vat?from=2026-03-01&to=2026-03-31&country=IT", "country"),
    ("ec-sales-list", "period"),
    ("ec-sales-list?period=2026-13", "period"),
    ("ec-sales-list?period=March", "period"),
    ("oss", "quarter"),
    ("oss?quarter=2026-Q5", "quarter"),
    ("oss?quarter=2026Q1", "quarter"),
])
def test_bad_parameters_are_422_naming_the_field(accountant: Client, query: str, field: str) -> None:
    err = assert_error(accountant.get(f"/api/v1/reports/{query}"), 422, "validation_error")
    assert field in err["details"]["fields"], err


@pytest.mark.parametrize("path", ["vat?from=2026-01-01&to=2026-12-31", "ec-sales-list?period=2026-03",
                                  "oss?quarter=2026-Q1"])
def test_only_accountants_and_administrators_read_the_vat_reports(
        admin: Client, accountant: Client, shop: Client, clerk: Client, path: str) -> None:
    for allowed in (admin, accountant):
        assert allowed.get(f"/api/v1/reports/{path}").status_code == 200
    for refused in (shop, clerk):
        assert refused.get(f"/api/v1/reports/{path}").status_code == 403


def checks(api: Client) -> dict[str, dict[str, Any]]:
    return {c["name"]: c for c in api.ok("get", "/api/v1/reconciliation")["checks"]}


def test_the_reports_reconcile_with_the_ledger(accountant: Client, domestic: dict[str, Any]) -> None:
    rep = reconciliation_ok(accountant)
    got = {c["name"]: c for c in rep["checks"]}
    vat = got["vat_report"]
    # Revenue and VAT of both invoices less the credit note: 201.00 + 39.55 − (54.00 + 11.88).
    assert (vat["left"], vat["right"], vat["difference"]) == ("174.66", "174.66", "0.00")
    assert got["ec_sales_list"]["difference"] == got["oss_return"]["difference"] == "0.00"


def test_a_tampered_journal_line_or_vat_row_makes_the_report_checks_non_zero(
        accountant: Client, domestic: dict[str, Any], engine: Engine) -> None:
    number = domestic["second"]["number"]
    with engine.begin() as c:  # move one cent of the invoice's VAT onto revenue: the journal still balances
        entry = c.execute(text("SELECT id FROM journal_entries WHERE document = :n"), {"n": number}).scalar_one()
        c.execute(text("UPDATE journal_lines SET credit = credit - 1 WHERE entry_id = :e AND account = '2200'"),
                  {"e": entry})
        c.execute(text("UPDATE journal_lines SET credit = credit + 1 WHERE entry_id = :e AND account = '4000'"),
                  {"e": entry})
    vat = checks(accountant)["vat_report"]
    assert vat["difference"] != "0.00"
    assert {k["role_period"].split("|")[0] for k in vat["details"]["keys"]} == {"revenue", "vat_payable"}
    with engine.begin() as c:  # put it back: zero again
        c.execute(text("UPDATE journal_lines SET credit = credit + 1 WHERE entry_id = :e AND account = '2200'"),
                  {"e": entry})
        c.execute(text("UPDATE journal_lines SET credit = credit - 1 WHERE entry_id = :e AND account = '4000'"),
                  {"e": entry})
    assert checks(accountant)["vat_report"]["difference"] == "0.00"
    with engine.begin() as c:  # a document's VAT row says another treatment than was posted
        c.execute(text("UPDATE invoices SET tax_treatment = 'intra_eu_b2b', tax_country = 'DE', "
                       "buyer_vat_id = 'DE287451936' WHERE number = :n"), {"n": number})
    got = checks(accountant)
    assert got["vat_report"]["difference"] != "0.00"
    esl = got["ec_sales_list"]
    assert (esl["left"], esl["right"]) == ("0.00", "54.00") and esl["difference"] != "0.00"
    assert [(k["gl"], k["books"]) for k in esl["details"]["keys"]] == [("0.00", "54.00")]
    with engine.begin() as c:
        c.execute(text("UPDATE invoices SET tax_treatment = 'eu_distance_sale', tax_country = 'PL', "
                       "buyer_vat_id = '' WHERE number = :n"), {"n": number})
    got = checks(accountant)
    oss = got["oss_return"]
    assert (oss["left"], oss["right"]) == ("0.00", "11.88") and oss["difference"] != "0.00"
    assert [(k["role_period"][:10], k["books"]) for k in oss["details"]["keys"]] == [("vat_oss_PL", "11.88")]
