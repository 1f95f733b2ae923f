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
    customer(admin, "C-NINO", name="Trattoria Da Nino", country="IT", tax_id="IT01987650320",
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


def _address(name: str, line1: str, city: str, postal_code: str, country: str) -> dict[str, Any]:
    return {"name": name, "line1": line1, "city": city, "postal_code": postal_code, "country": country}


@pytest.fixture
def world(admin: Client) -> dict[str, Any]:
    """One sale per treatment, the company registered for the One-Stop Shop:
    Italian business (domestic), German and Polish businesses (intra-EU), a
    Russian company (export), a Polish consumer (distance sale at Polish
    rates), an exempt course; a German and a Polish credit note."""
    admin.ok("patch", "/api/v1/company", {"oss_registered": True})
    product(admin, "GRINDER", "54.00", "0.22", stock=100, cost="20.00")       # standard
    admin.ok("post", "/api/v1/products", {"sku": "TEA", "name": "Sencha", "unit_price": "7.80", "vat_rate": "0.10",
                                          "tax_class": "reduced"}, status=201)
    admin.ok("post", "/api/v1/stock/receipts", {"sku": "TEA", "quantity": 100, "unit_cost": "3.00"}, status=201)
    admin.ok("post", "/api/v1/products", {"sku": "COURSE", "name": "Barista course", "unit_price": "120.00",
                                          "vat_rate": "0", "tax_class": "exempt"}, status=201)
    admin.ok("post", "/api/v1/stock/receipts", {"sku": "COURSE", "quantity": 10, "unit_cost": "1.00"}, status=201)
    customer(admin, "C-NINO", name="Trattoria Da Nino", country="IT", tax_id="IT01987650320",
             billing_address=IT_ADDRESS)
    customer(admin, "C-LINDNER", name="Kaffeehaus Lindner GmbH", country="DE", language="en", tax_id="DE287451934",
             billing_address=_address("Kaffeehaus Lindner GmbH", "Kastanienallee 12", "Berlin", "10435", "DE"))
    customer(admin, "C-LIPAMI", name="Delikatesy Pod Lipami", country="PL", language="pl", tax_id="PL6772398046",
             billing_address=_address("Delikatesy Pod Lipami", "ul. Floriańska 14", "Kraków", "31-021", "PL"))
    customer(admin, "C-SAMOVAR", name="ООО «Самовар Трейд»", country="RU", language="ru", tax_id="7714512839",
             billing_address=_address("ООО «Самовар Трейд»", "ул. Мясницкая, 24", "Москва", "101000", "RU"))
    customer(admin, "C-NOWAK", name="Anna Nowak", country="PL", language="pl", customer_type="consumer",
             billing_address=_address("Anna Nowak", "ul. Długa 1", "Gdańsk", "80-827", "PL"))
    sold = {
        "domestic": sell(admin, "C-NINO", [("GRINDER", 2), ("TEA", 5)]),  # 108.00 @22 + 39.00 @10
        "intra_de": sell(admin, "C-LINDNER", [("GRINDER", 10)]),          # 540.00 K
        "intra_pl": sell(admin, "C-LIPAMI", [("TEA", 20)]),               # 156.00 K
        "export": sell(admin, "C-SAMOVAR", [("GRINDER", 3)]),             # 162.00 G
        "oss": sell(admin, "C-NOWAK", [("GRINDER", 1), ("TEA", 2)]),      # 54.00 @23 (12.42) + 15.60 @8 (1.25)
        "exempt": sell(admin, "C-NINO", [("COURSE", 1)]),                 # 120.00 E
    }
    for key, sku in (("intra_de", "GRINDER"), ("oss", "GRINDER")):
        admin.ok("post", f"/api/v1/orders/{sold[key]['order_id']}/returns", {"lines": [{"sku": sku, "quantity": 1}]},
                 status=201)
    return sold


def test_every_treatment_is_on_the_vat_report_and_each_report_equals_the_ledger(
        accountant: Client, world: dict[str, Any]) -> None:
    day = world["domestic"]["issue_date"]
    assert {k: (v["tax_treatment"], v["tax_country"]) for k, v in world.items()} == {
        "domestic": ("domestic", "IT"), "intra_de": ("intra_eu_b2b", "DE"), "intra_pl": ("intra_eu_b2b", "PL"),
        "export": ("export", "IT"), "oss": ("eu_distance_sale", "PL"), "exempt": ("exempt", "IT")}
    rep = accountant.ok("get", f"/api/v1/reports/vat?from={day}&to={day}")
    assert [(r["tax_treatment"], r["country"], r["category"], r["rate"], r["net"], r["vat"]) for r in rep["rows"]] == [
        ("domestic", "IT", "S", "0.10", "39.00", "3.90"),
        ("domestic", "IT", "S", "0.22", "108.00", "23.76"),
        ("eu_distance_sale", "PL", "S", "0.08", "15.60", "1.25"),
        ("eu_distance_sale", "PL", "S", "0.23", "0.00", "0.00"),   # sold 54.00 (12.42), credited in full
        ("exempt", "IT", "E", "0.00", "120.00", "0.00"),
        ("export", "IT", "G", "0.00", "162.00", "0.00"),
        ("intra_eu_b2b", "DE", "K", "0.00", "486.00", "0.00"),    # 540.00 less a 54.00 credit note
        ("intra_eu_b2b", "PL", "K", "0.00", "156.00", "0.00"),
    ]
    assert rep["totals"] == {"net": "1086.60", "vat": "28.91"}
    period = day[:7]
    esl = accountant.ok("get", f"/api/v1/reports/ec-sales-list?period={period}")
    assert esl["rows"] == [{"vat_id": "DE287451934", "country": "DE", "net": "486.00"},
                           {"vat_id": "PL6772398046", "country": "PL", "net": "156.00"}]
    quarter = f"{day[:4]}-Q{(int(day[5:7]) - 1) // 3 + 1}"
    oss = accountant.ok("get", f"/api/v1/reports/oss?quarter={quarter}")
    assert oss["rows"] == [{"country": "PL", "rate": "0.08", "net": "15.60", "vat": "1.25"},
                           {"country": "PL", "rate": "0.23", "net": "0.00", "vat": "0.00"}]
    assert oss["totals"] == {"net": "15.60", "vat": "1.25"}
    csv_rows = list(csv.reader(io.StringIO(accountant.get(
        f"/api/v1/reports/ec-sales-list?period={period}&format=csv").get_data(as_text=True))))
    assert csv_rows == [["vat_id", "country", "net"], ["DE287451934", "DE", "486.00"],
                        ["PL6772398046", "PL", "156.00"], ["total", "", "642.00"]]
    got = {c["name"]: c for c in reconciliation_ok(accountant)["checks"]}
    assert (got["ec_sales_list"]["left"], got["ec_sales_list"]["right"]) == ("642.00", "642.00")
    assert (got["oss_return"]["left"], got["oss_return"]["right"]) == ("1.25", "1.25")
    assert got["vat_report"]["right"] == "1115.51"  # 1086.60 net + 28.91 VAT


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


def test_the_demo_data_reconciles_with_every_treatment_on_the_reports(engine: Engine) -> None:
    """``make run``'s demo: German, Polish and Russian businesses, consumers
    abroad, an exempt line — every report check is zero."""
    from o2c.demo import load_demo
    from o2c.services.books import reconciliation, tax_reports
    from o2c.services.platform.uow import unit_of_work
    load_demo(engine)  # refuses to finish unless every check of the reconciliation is zero
    with unit_of_work(engine, "test", readonly=True) as tx:
        got = {c["name"]: c for c in reconciliation.reconcile(tx)["checks"]}
        rows = tax_reports.vat_report(tx, dt.date(2000, 1, 1), dt.date(2999, 12, 31))["rows"]
    assert {r["tax_treatment"] for r in rows} >= {"domestic", "intra_eu_b2b", "eu_distance_sale", "export"}
    assert {r["category"] for r in rows} >= {"S", "E", "K", "G"}
    for name in ("vat_report", "ec_sales_list", "oss_return"):
        assert got[name]["difference"] == 0 and got[name]["left"] != 0, got[name]
