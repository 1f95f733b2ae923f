"""What a customer owes in two currencies: a Polish café with a złoty
invoice partly paid and a euro invoice. Aging, the statement and dunning
state each in its own currency and never add them up; the totals, the
credit limit and the EU distance-sales threshold are in EUR, an open złoty
balance at the value it was booked at (the invoice's EUR total less the
value of what is settled), a figure on no document at the day's rate."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from o2c.documents.letters import dunning_html
from o2c.services.books import reports
from o2c.services.cash import dunning
from o2c.services.customers import records
from o2c.services.platform import clock
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import tax
from tests.conftest import Client, customer, product, reconciliation_ok

D0, D1 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)
LATE = dt.date(2026, 12, 20)  # both invoices, due 2 December, are 18 days overdue
CAFE = {"name": "Kawiarnia Pod Zegarem", "line1": "ul. Floriańska 12", "city": "Kraków", "postal_code": "31-019",
        "country": "PL"}


@pytest.fixture
def day(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    def set_day(d: dt.date) -> None:
        monkeypatch.setattr(clock, "now", lambda: dt.datetime.combine(d, dt.time(10), dt.timezone.utc))
    yield set_day


def ship_all(api: Client, order_id: int) -> dict[str, Any]:
    sh = api.ok("post", f"/api/v1/orders/{order_id}/shipments", {}, status=201)
    return api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "InPost", "tracking_number": f"P{order_id}"})


def cafe(admin: Client) -> dict[str, Any]:
    """PLN at 4.2750 (D0), 4.3010 (D1) and 4.2900 (LATE); a café in Kraków
    buying in PLN, in Polish; a clock at 47.00 EUR, 199.99 PLN by the price list."""
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    for d, rate in ((D0, "4.2750"), (D1, "4.3010"), (LATE, "4.2900")):
        admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": d.isoformat(), "rate": rate}, status=201)
    c = customer(admin, "C-KAWA", name="Kawiarnia Pod Zegarem", country="PL", language="pl", currency="PLN",
                 billing_address=CAFE)
    product(admin, "RETRO-CLOCK", "47.00", "0.22", stock=20, cost="20.00")
    admin.ok("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "PLN", "unit_price": "199.99"},
             status=201)
    return c


def order(api: Client, quantity: int, currency: str, confirm: bool = True) -> dict[str, Any]:
    return api.ok("post", "/api/v1/orders", {"customer": {"code": "C-KAWA"}, "currency": currency, "confirm": confirm,
                                             "lines": [{"sku": "RETRO-CLOCK", "quantity": quantity}]}, status=201)


@pytest.fixture
def owing(admin: Client, day: Any) -> dict[str, Any]:
    """On D0 a PLN invoice of 975.95 (228.30 EUR at 4.2750) and a EUR one of
    57.34; on D1 400.00 PLN paid, which settles 93.57 EUR of the first
    (228.30 × 400.00 ÷ 975.95 = 93.5704): 575.95 PLN open, booked at 134.73."""
    day(D0)
    c = cafe(admin)
    pln = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, order(admin, 4, 'PLN')['id'])['invoice_id']}")
    eur = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, order(admin, 1, 'EUR')['id'])['invoice_id']}")
    assert (pln["currency"], pln["total"], pln["functional_total"], pln["due_date"]) == (
        "PLN", "975.95", "228.30", "2026-12-02")
    assert (eur["currency"], eur["total"], eur["due_date"]) == ("EUR", "57.34", "2026-12-02")  # 47.00 + 10.34
    day(D1)
    p = admin.ok("post", "/api/v1/payments", {"customer_id": c["id"], "amount": "400.00", "currency": "PLN",
                                              "received_on": D1.isoformat(), "method": "bank_transfer",
                                              "reference": "PKO-1"}, status=201)
    assert p["allocations"] == [{"invoice_id": pln["id"], "amount": "400.00"}]
    reconciliation_ok(admin)
    return {"customer": c, "pln": pln, "eur": eur}


def test_aging_per_currency_with_a_total_in_eur_at_booked_values(owing: dict[str, Any], accountant: Client) -> None:
    rep = accountant.ok("get", f"/api/v1/receivables/aging?as_of={D1}")
    cid = owing["customer"]["id"]
    zero = {"days_1_30": "0.00", "days_31_60": "0.00", "days_61_90": "0.00", "days_over_90": "0.00"}
    assert rep["customers"] == [
        {"customer_id": cid, "code": "C-KAWA", "name": "Kawiarnia Pod Zegarem", "currency": "EUR",
         "open_invoices": 1, "current": "57.34", **zero, "total": "57.34",
         "functional": {"current": "57.34", **zero, "total": "57.34"}, "functional_total": "57.34"},
        {"customer_id": cid, "code": "C-KAWA", "name": "Kawiarnia Pod Zegarem", "currency": "PLN",
         "open_invoices": 1, "current": "575.95", **zero, "total": "575.95",
         "functional": {"current": "134.73", **zero, "total": "134.73"}, "functional_total": "134.73"}]
    # 57.34 + 134.73; adding the złoty as euros would say 633.29, at today's rate 191.25.
    assert rep["totals"] == {"current": "192.07", **zero, "total": "192.07"}
    assert rep["functional_currency"] == "EUR"
    assert [(c["currency"], c["total"], c["functional_total"], c["open_invoices"]) for c in rep["by_currency"]] == [
        ("EUR", "57.34", "57.34", 1), ("PLN", "575.95", "134.73", 1)]
    # 18 days late both are in the 1–30 bucket.
    late = accountant.ok("get", f"/api/v1/receivables/aging?as_of={LATE}")
    assert [(r["currency"], r["days_1_30"], r["functional"]["days_1_30"]) for r in late["customers"]] == [
        ("EUR", "57.34", "57.34"), ("PLN", "575.95", "134.73")]
    assert late["totals"]["days_1_30"] == "192.07" and late["totals"]["current"] == "0.00"


def test_the_statement_runs_a_balance_per_currency(owing: dict[str, Any], accountant: Client) -> None:
    cid, pln, eur = owing["customer"]["id"], owing["pln"], owing["eur"]
    st = accountant.ok("get", f"/api/v1/customers/{cid}/statement?to={D1}")
    assert [(l["date"], l["document"], l["currency"], l["debit"], l["credit"], l["balance"]) for l in st["lines"]] == [
        ("2026-11-02", pln["number"], "PLN", "975.95", "0.00", "975.95"),
        ("2026-11-02", eur["number"], "EUR", "57.34", "0.00", "57.34"),
        ("2026-11-03", st["lines"][2]["document"], "PLN", "0.00", "400.00", "575.95")]
    assert st["by_currency"] == [
        {"currency": "EUR", "opening_balance": "0.00", "closing_balance": "57.34", "open_total": "57.34",
         "overdue_total": "0.00", "functional_closing_balance": "57.34", "functional_open_total": "57.34"},
        {"currency": "PLN", "opening_balance": "0.00", "closing_balance": "575.95", "open_total": "575.95",
         "overdue_total": "0.00", "functional_closing_balance": "134.73", "functional_open_total": "134.73"}]
    # In EUR: the ledger's 228.30 − 93.57 + 57.34, and the open invoices at booked values.
    assert (st["functional_currency"], st["closing_balance"], st["open_total"]) == ("EUR", "192.07", "192.07")
    assert [(i["number"], i["currency"], i["balance_due"], i["functional_balance_due"])
            for i in st["open_invoices"]] == [(pln["number"], "PLN", "575.95", "134.73"),
                                              (eur["number"], "EUR", "57.34", "57.34")]
    # From D1 on: the opening balances per currency carry the invoices.
    st = accountant.ok("get", f"/api/v1/customers/{cid}/statement?from={D1}&to={D1}")
    assert [(c["currency"], c["opening_balance"], c["closing_balance"]) for c in st["by_currency"]] == [
        ("EUR", "57.34", "57.34"), ("PLN", "975.95", "575.95")]
    assert st["opening_balance"] == "285.64"  # 228.30 + 57.34
    pdf = accountant.get(f"/api/v1/customers/{cid}/statement/pdf?to={D1}")
    assert pdf.status_code == 200 and pdf.get_data()[:5] == b"%PDF-"


def test_statement_pdf_states_zloty_in_polish(owing: dict[str, Any], engine: Engine) -> None:
    from o2c.documents.letters import statement_html
    with unit_of_work(engine, "test", readonly=True) as tx:
        st = reports.customer_statement(tx, owing["customer"]["id"], None, D1)
        company = reports.company(tx)
    html = statement_html(st, company, D1)
    assert "975,95\xa0zł" in html and "400,00\xa0zł" in html and "575,95\xa0zł" in html and "57,34\xa0€" in html
    assert "575,95\xa0€" not in html


def test_one_dunning_letter_per_currency_in_it(owing: dict[str, Any], accountant: Client, day: Any,
                                                engine: Engine) -> None:
    day(LATE)
    run = accountant.ok("post", "/api/v1/dunning/runs", {"as_of": LATE.isoformat()})
    assert [(l["currency"], l["total"], l["functional_total"], l["level_name"], len(l["invoices"]))
            for l in run["letters"]] == [("EUR", "57.34", "57.34", "second_reminder", 1),
                                         ("PLN", "575.95", "134.73", "second_reminder", 1)]
    assert run["letters"][1]["invoices"][0] | {"invoice_id": 0} == {
        "invoice_id": 0, "number": owing["pln"]["number"], "issue_date": "2026-11-02", "due_date": "2026-12-02",
        "currency": "PLN", "total": "975.95", "level": 2, "level_name": "second_reminder", "days_overdue": 18,
        "balance_due": "575.95", "functional_balance_due": "134.73"}
    assert run["by_currency"] == [{"currency": "EUR", "total": "57.34", "functional_total": "57.34"},
                                  {"currency": "PLN", "total": "575.95", "functional_total": "134.73"}]
    assert (run["functional_currency"], run["functional_total"]) == ("EUR", "192.07")
    with unit_of_work(engine, "test", readonly=True) as tx:
        letter = dunning.get_letter(tx, run["letters"][1]["id"])
        who, company = records.get_customer(tx, letter["customer_id"]), reports.company(tx)
    html = dunning_html(letter, who, company)
    assert "Drugie przypomnienie o płatności" in html
    assert "975,95\xa0zł" in html and html.count("575,95\xa0zł") == 2  # the invoice's open amount and the total due
    assert "€" not in html.split("<body", 1)[1].split("IBAN", 1)[0]


def test_credit_limit_in_eur_counts_open_zloty_at_booked_values(owing: dict[str, Any], admin: Client) -> None:
    cid = owing["customer"]["id"]
    # Exposure 192.07; one clock more is 243.99 PLN, at D1's 4.3010 56.73: 248.80 in all.
    admin.ok("patch", f"/api/v1/customers/{cid}", {"credit_limit": "248.79"})
    draft = order(admin, 1, "PLN", confirm=False)
    assert draft["total"] == "243.99"
    r = admin.post(f"/api/v1/orders/{draft['id']}/confirm", {})
    assert r.status_code == 409
    err = r.get_json()["error"]
    assert err["code"] == "credit_limit_exceeded"
    assert err["details"] == {"credit_limit": "248.79", "exposure": "192.07", "order_total": "56.73"}
    # A cent more of limit and it fits (counting złoty as euros, 877.28 never would).
    admin.ok("patch", f"/api/v1/customers/{cid}", {"credit_limit": "248.80"})
    assert admin.ok("post", f"/api/v1/orders/{draft['id']}/confirm", {})["status"] == "confirmed"
    # The confirmed, unbilled złoty order counts at the day's rate too: 192.07 + 56.73.
    r = admin.post("/api/v1/orders", {"customer": {"code": "C-KAWA"}, "currency": "EUR", "confirm": True,
                                      "lines": [{"sku": "RETRO-CLOCK", "quantity": 1, "unit_price": "0.01"}]})
    assert r.status_code == 409
    assert r.get_json()["error"]["details"] == {"credit_limit": "248.80", "exposure": "248.80", "order_total": "0.01"}


def test_the_distance_sales_threshold_is_compared_in_eur(admin: Client, day: Any, engine: Engine) -> None:
    """Sold from Italy to a consumer in Poland, not in the One-Stop Shop:
    domestic (Italian) VAT while the year's EU distance sales in EUR stay
    within the threshold, Polish VAT once an order takes them over."""
    day(D0)
    cafe(admin)
    admin.ok("patch", "/api/v1/company", {"distance_sales_threshold": "326.62"})
    # 799.96 PLN at D0's 4.2750 is 187.13: within (as złoty it would be over).
    first = order(admin, 4, "PLN")
    assert (first["tax_treatment"], first["tax_country"], first["net_total"]) == ("domestic", "IT", "799.96")
    day(D1)
    # 399.98 PLN at D1's 4.3010 is 93.00: 280.13 in all, still within.
    second = order(admin, 2, "PLN")
    assert (second["tax_treatment"], second["tax_country"]) == ("domestic", "IT")
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert tax.distance_sales(tx, "IT", D1) == tax.DistanceSales(Decimal("0.00"), Decimal("280.13"))
    # 199.99 PLN is 46.50: 326.63, over 326.62 (with the first order at D1's
    # rate, 185.99, it would be 325.49 and not).
    third = order(admin, 1, "PLN")
    assert (third["tax_treatment"], third["tax_country"], third["lines"][0]["vat_rate"]) == (
        "eu_distance_sale", "PL", "0.23")
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert tax.distance_sales(tx, "IT", D1) == tax.DistanceSales(Decimal("0.00"), Decimal("326.63"))
