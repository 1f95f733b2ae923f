"""Receivables: who owes what and for how long, what a customer is told, and
reminders that escalate without ever repeating themselves."""
from __future__ import annotations

from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from o2c.cli import main
from o2c.documents.letters import dunning_html, statement_html
from tests.api.books_helpers import on, pay, sell
from tests.conftest import Client, customer, product

# Seven invoices of 11.00 × n (n mugs at 10.00 + 10 % VAT), payment terms 30
# days, seen on 30 June 2026: (issued, mugs, days past due on 30 June).
INVOICES = [("2026-06-20", 1, -20), ("2026-05-31", 2, 0), ("2026-05-30", 3, 1), ("2026-05-01", 4, 30),
            ("2026-04-30", 5, 31), ("2026-03-31", 6, 61), ("2026-03-01", 7, 91)]


@pytest.fixture
def rossi(admin: Client) -> dict[str, Any]:
    c = customer(admin, "C-ROSSI", payment_terms_days=30)
    product(admin, "MUG-01", "10.00", "0.10", stock=100, cost="3.00")
    invoices = {}
    for day, mugs, _ in sorted(INVOICES):
        invoices[day] = sell(admin, "C-ROSSI", [("MUG-01", mugs)], day)
    with on("2026-06-15"):  # 20.00 on account: the oldest invoice first (1 March, 77.00)
        assert pay(admin, c["id"], "20.00", "2026-06-15", "BANK-1").status_code == 201
    with on("2026-07-05"):  # after the aging date: not counted on 30 June
        assert pay(admin, c["id"], "10.00", "2026-07-05", "BANK-2").status_code == 201
    return {"customer": c, "invoices": invoices}


def test_aging_buckets_on_hand_checked_dates(accountant, rossi):  # type: ignore[no-untyped-def]
    report = accountant.ok("get", "/api/v1/receivables/aging?as_of=2026-06-30")
    assert report["buckets"] == ["current", "days_1_30", "days_31_60", "days_61_90", "days_over_90"]
    [row] = report["customers"]
    # current: due 20 July (11) and due today (22); 1–30: 1 day (33) and 30 days (44);
    # 31–60: 31 days (55); 61–90: 61 days (66); over 90: 91 days, 77 less 20 paid on 15 June.
    assert {k: row[k] for k in ("current", "days_1_30", "days_31_60", "days_61_90", "days_over_90", "total")} == {
        "current": "33.00", "days_1_30": "77.00", "days_31_60": "55.00", "days_61_90": "66.00",
        "days_over_90": "57.00", "total": "288.00"}
    assert row["open_invoices"] == 7 and row["code"] == "C-ROSSI"
    assert report["totals"]["total"] == "288.00"
    tb = accountant.ok("get", "/api/v1/ledger/trial-balance?as_of=2026-06-30")
    assert next(a for a in tb["accounts"] if a["code"] == "1100")["balance"] == "288.00"
    # A week later the July payment counts (on the oldest invoice) and every invoice is a week older:
    # 61 days become 68, still 61–90; only 1 March (77 − 20 − 10) is over 90.
    later = accountant.ok("get", "/api/v1/receivables/aging?as_of=2026-07-07")["customers"][0]
    assert (later["current"], later["days_over_90"], later["total"]) == ("11.00", "47.00", "278.00")
    # Before anything was invoiced there is nothing to age.
    assert accountant.ok("get", "/api/v1/receivables/aging?as_of=2026-02-01")["customers"] == []


def test_customer_statement_with_running_balance(accountant, rossi):  # type: ignore[no-untyped-def]
    cid = rossi["customer"]["id"]
    st = accountant.ok("get", f"/api/v1/customers/{cid}/statement?from=2026-05-01&to=2026-06-30")
    assert st["opening_balance"] == "198.00"  # 3 March–30 April: 77 + 66 + 55
    assert [(l["date"], l["debit"], l["credit"], l["balance"]) for l in st["lines"]] == [
        ("2026-05-01", "44.00", "0.00", "242.00"), ("2026-05-30", "33.00", "0.00", "275.00"),
        ("2026-05-31", "22.00", "0.00", "297.00"), ("2026-06-15", "0.00", "20.00", "277.00"),
        ("2026-06-20", "11.00", "0.00", "288.00")]
    assert st["lines"][0]["document"] == rossi["invoices"]["2026-05-01"]["number"]
    assert st["closing_balance"] == "288.00" == st["open_total"]
    assert len(st["open_invoices"]) == 7 and st["overdue_total"] == "255.00"
    assert accountant.get("/api/v1/customers/999/statement").status_code == 404
    pdf = accountant.get(f"/api/v1/customers/{cid}/statement/pdf?from=2026-05-01&to=2026-06-30")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.get_data()[:5] == b"%PDF-"


def test_statement_speaks_the_customers_language():  # type: ignore[no-untyped-def]
    import datetime as dt
    from decimal import Decimal
    st = {"customer": {"code": "C-1", "name": "Delikatesy", "language": "pl", "billing_address": {}, "tax_id": ""},
          "from": None, "to": dt.date(2026, 6, 30), "opening_balance": Decimal("0.00"),
          "lines": [{"date": dt.date(2026, 6, 1), "document": "INV-1", "description": "Invoice INV-1",
                     "debit": Decimal("1234.50"), "credit": Decimal("0.00"), "balance": Decimal("1234.50")}],
          "closing_balance": Decimal("1234.50"), "open_invoices": [], "open_total": Decimal("0.00")}
    html = statement_html(st, {"name": "o2c", "currency": "EUR"}, dt.date(2026, 7, 1))
    assert "Wyciąg z konta" in html and "1\xa0234,50\xa0€" in html
    assert "30 cze 2026" in html


def _run(api: Client, as_of: str, **body: Any) -> dict[str, Any]:
    with on(as_of):
        return api.ok("post", "/api/v1/dunning/runs", {"as_of": as_of, **body})


def test_dunning_escalates_and_never_repeats_a_level(admin, accountant, engine):  # type: ignore[no-untyped-def]
    rossi = customer(admin, "C-ROSSI", payment_terms_days=30)
    customer(admin, "C-SAMOVAR", name="ООО «Самовар»", language="ru", payment_terms_days=30)
    product(admin, "MUG-01", "10.00", "0.10", stock=100, cost="3.00")
    x = sell(admin, "C-ROSSI", [("MUG-01", 1)], "2026-03-01")   # due 31 March
    y = sell(admin, "C-ROSSI", [("MUG-01", 2)], "2026-04-20")   # due 20 May
    z = sell(admin, "C-SAMOVAR", [("MUG-01", 3)], "2026-01-01")  # due 31 January

    first = _run(accountant, "2026-04-05")
    letters = {l["customer_code"]: l for l in first["letters"]}
    assert first["notices"] == 2 and set(letters) == {"C-ROSSI", "C-SAMOVAR"}
    assert [(i["number"], i["level_name"], i["days_overdue"]) for i in letters["C-ROSSI"]["invoices"]] == [
        (x["number"], "reminder", 5)]
    # Samovar's invoice is 64 days overdue at its first run: straight to the final notice.
    assert (letters["C-SAMOVAR"]["level_name"], letters["C-SAMOVAR"]["language"]) == ("final_notice", "ru")
    assert letters["C-ROSSI"]["total"] == "11.00" and letters["C-ROSSI"]["language"] == "it"

    assert _run(accountant, "2026-04-05")["letters"] == []  # the same day again: nothing
    assert _run(accountant, "2026-04-10")["letters"] == []  # still the first level: nothing
    second = _run(accountant, "2026-04-16")["letters"]
    assert [(l["customer_code"], l["level_name"]) for l in second] == [("C-ROSSI", "second_reminder")]
    third = _run(accountant, "2026-05-25")["letters"]
    assert [(i["number"], i["level"]) for i in third[0]["invoices"]] == [(x["number"], 3), (y["number"], 1)]
    assert third[0]["level_name"] == "final_notice" and third[0]["total"] == "33.00"
    assert _run(accountant, "2026-05-26")["letters"] == []
    with on("2026-05-27"):
        assert pay(admin, rossi["id"], "22.00", "2026-05-27", "BANK-Y",
                   allocations=[{"invoice_id": y["id"], "amount": "22.00"}]).status_code == 201
    assert _run(accountant, "2026-06-10")["letters"] == []  # Y is paid: no second reminder for it

    with engine.connect() as c:
        sent = c.execute(text("SELECT i.number, n.level FROM dunning_notices n JOIN invoices i ON i.id = n.invoice_id "
                              "ORDER BY n.id")).all()
        events = c.execute(text("SELECT data FROM events WHERE type = 'dunning.notice' ORDER BY id")).all()
    assert sorted(sent) == sorted([(x["number"], 1), (z["number"], 3), (x["number"], 2), (x["number"], 3),
                                   (y["number"], 1)])
    assert len(events) == 4  # one per letter

    listed = accountant.ok("get", f"/api/v1/dunning/letters?customer_id={rossi['id']}")["items"]
    assert [l["level"] for l in listed] == [3, 2, 1]
    pdf = accountant.get(f"/api/v1/dunning/letters/{listed[0]['id']}/pdf")
    assert pdf.status_code == 200 and pdf.get_data()[:5] == b"%PDF-"
    assert accountant.get("/api/v1/dunning/letters/999/pdf").status_code == 404


def test_letters_are_in_the_customers_language():  # type: ignore[no-untyped-def]
    import datetime as dt
    from decimal import Decimal
    letter = {"number": "DUN-2026-000001", "as_of": dt.date(2026, 5, 25), "level": 3, "level_name": "final_notice",
              "language": "ru", "total": Decimal("1500.00"),
              "invoices": [{"number": "INV-2026-000001", "issue_date": dt.date(2026, 3, 1),
                            "due_date": dt.date(2026, 3, 31), "days_overdue": 55, "total": Decimal("1500.00"),
                            "balance_due": Decimal("1500.00")}]}
    who = {"code": "C-1", "name": "ООО «Самовар»", "billing_address": {"line1": "ул. Мясницкая", "city": "Москва"}}
    company = {"name": "o2c Trading S.r.l.", "currency": "EUR", "iban": "IT60X0542811101000000123456"}
    ru = dunning_html(letter, who, company)
    assert "Последнее уведомление перед взысканием" in ru and "25 мая 2026" in ru and "ООО «Самовар»" in ru
    it = dunning_html({**letter, "language": "it", "level": 1, "level_name": "reminder"}, who, company)
    assert "Sollecito di pagamento" in it and "1.500,00\xa0€" in it
    pl = dunning_html({**letter, "language": "pl", "level": 2, "level_name": "second_reminder"}, who, company)
    assert "Drugie przypomnienie o płatności" in pl
    en = dunning_html({**letter, "language": "de", "level": 1, "level_name": "reminder"}, who, company)
    assert "Payment reminder" in en and "€1,500.00" in en


def test_dunning_is_not_run_for_the_future_and_thresholds_are_checked(accountant):  # type: ignore[no-untyped-def]
    r = accountant.post("/api/v1/dunning/runs", {"as_of": "2999-01-01"})
    assert r.status_code == 422 and "future" in r.get_json()["error"]["message"]
    r = accountant.post("/api/v1/dunning/runs", {"thresholds": [30, 15, 1]})
    assert r.status_code == 422


def test_cli_dunning_run_writes_letters(admin, db_url, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    customer(admin, "C-ROSSI", payment_terms_days=30)
    product(admin, "MUG-01", "10.00", "0.10", stock=10, cost="3.00")
    sell(admin, "C-ROSSI", [("MUG-01", 1)], "2026-03-01")
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)
    out = CliRunner().invoke(main, ["dunning", "run", "--as-of", "2026-04-20", "--days", "7,14,21",
                                    "--pdf-dir", str(tmp_path)])
    assert out.exit_code == 0, out.output
    assert "second_reminder" in out.output and "1 letter(s), 1 notice(s) as of 2026-04-20" in out.output
    [pdf] = tmp_path.glob("DUN-2026-*.pdf")
    assert pdf.read_bytes()[:5] == b"%PDF-"
    again = CliRunner().invoke(main, ["dunning", "run", "--as-of", "2026-04-20", "--days", "7,14,21"])
    assert "0 letter(s)" in again.output
