"""Bank statements in a bank account's own currency: złoty lines matched by
the rules or by hand to złoty invoices only, posted as złoty payments at the
booking date's rate with the realised exchange difference (the figures of
the typed-in payment in tests/scenarios/test_foreign_currency.py), and the
account reconciled in złoty."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, insert, select

from o2c.db import models as m
from o2c.documents.payment import creditor_reference
from o2c.domain import cashmatch as cm
from o2c.domain.bankfiles.generate import Stmt, Txn, camt053
from o2c.services.cash import bank_import, bankmatch, bankpost
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client, customer, order, product, reconciliation_ok
from tests.scenarios.test_foreign_currency import balances, day, ship_all  # noqa: F401 - day is a fixture

D = Decimal
D0, D1 = dt.date(2026, 11, 2), dt.date(2026, 11, 3)
PLN_IBAN = "PL61109010140000071219812874"
COMPANY_IBAN = "IT60X0542811101000000123456"
XML = {"Content-Type": "application/xml"}


@pytest.fixture
def zloty(admin: Client, day: Any) -> dict[str, Any]:
    """PLN at 4.2750 (D0) and 4.3010 (D1); a złoty bank account on GL 1010; a
    Warsaw customer with a PLN invoice of 975.95 (228.30 EUR at 4.2750, as in
    the currency scenario) and a Milan customer with a EUR invoice of 975.95."""
    day(D0)
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    for d, rate in ((D0, "4.2750"), (D1, "4.3010")):
        admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": d.isoformat(), "rate": rate}, status=201)
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "1010", "name": "Bank PLN", "type": "asset"}, status=201)
    acct = admin.ok("post", "/api/v1/bank/accounts", {"iban": PLN_IBAN, "name": "PKO", "currency": "PLN",
                                                     "gl_account": "1010"}, status=201)
    c = customer(admin, "C-WAWA", name="Kawiarnia Wawa", currency="PLN")
    e = customer(admin, "C-MILANO", name="Bar Milano")
    product(admin, "RETRO-CLOCK", "47.00", "0.22", stock=10, cost="20.00")
    product(admin, "EUR-CLOCK", "199.99", "0.22", stock=10, cost="20.00")
    admin.ok("post", "/api/v1/fx/prices", {"sku": "RETRO-CLOCK", "currency": "PLN", "unit_price": "199.99"},
             status=201)
    o = order(admin, "C-WAWA", [("RETRO-CLOCK", 4)], currency="PLN").get_json()
    inv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, o['id'])['invoice_id']}")
    assert (inv["currency"], inv["total"], inv["functional_total"]) == ("PLN", "975.95", "228.30")
    eo = order(admin, "C-MILANO", [("EUR-CLOCK", 4)]).get_json()
    einv = admin.ok("get", f"/api/v1/invoices/{ship_all(admin, eo['id'])['invoice_id']}")
    assert (einv["currency"], einv["total"]) == ("EUR", "975.95")
    day(D1)
    return {"account": acct, "customer": c, "invoice": inv, "eur_invoice": einv}


def upload(api: Client, *txns: Txn, ref: str = "PKO-1", currency: str = "PLN", iban: str = PLN_IBAN) -> Any:
    data = camt053(iban, currency, [Stmt(ref, D1, D1, D("0.00"), list(txns))])
    return api.c.post("/api/v1/bank/statements", data=data, headers=api._h(XML))


def lines_of(admin: Client, statement_id: int) -> list[dict[str, Any]]:
    return admin.ok("get", f"/api/v1/bank/statements/{statement_id}")["lines"]


def line(engine: Engine, line_id: int) -> dict[str, Any]:
    with unit_of_work(engine, "test", readonly=True) as tx:
        return bankmatch.get_line(tx, line_id)


def bank_check(admin: Client, iban: str = PLN_IBAN) -> dict[str, Any]:
    rep = reconciliation_ok(admin)
    return next(c for c in rep["checks"] if c["name"] == "bank" and c["details"]["iban"] == iban)


def payment_entry(admin: Client, payment_id: int) -> set[tuple[str, str, str, str, str]]:
    e = next(x for x in admin.ok("get", "/api/v1/ledger/entries?source_type=payment")["items"]
             if x["source_id"] == payment_id)
    return {(ln["account"], ln["debit"], ln["credit"], ln["currency"], ln["amount"]) for ln in e["lines"]}


#: The typed-in payment's figures (tests/scenarios/test_foreign_currency.py),
#: the money on the złoty account's GL account 1010: 400.00 PLN at 4.3010 is
#: 93.00; it settles 400.00 of 975.95 booked at 228.30, 93.57: 0.57 lost.
#: Beside it the EUR invoice: receivables 975.95 + 228.30 − 93.57 = 1110.68;
#: revenue 799.96 + 187.13; VAT 175.99 + 41.17; 8 of 20 clocks at 20.00 sold.
AFTER_400 = {"1010": "93.00", "1100": "1110.68", "1200": "240.00", "2100": "-400.00", "2200": "-217.16",
             "4000": "-987.09", "5000": "160.00", "6900": "0.57"}


def test_a_zloty_line_pays_a_zloty_invoice_by_the_rules_at_the_booking_days_rate(
        admin: Client, zloty: dict[str, Any], engine: Engine) -> None:
    inv = zloty["invoice"]
    r = upload(admin, Txn(D1, D("400.00"), "Kawiarnia Wawa", "", "Zapłata", creditor_reference(inv["number"]),
                          bank_ref="P1"))
    assert r.status_code == 201, r.get_json()
    (ln,) = lines_of(admin, r.get_json()["id"])
    assert (ln["status"], ln["rule"], ln["currency"]) == ("matched", "creditor_reference", "PLN")
    p = admin.ok("get", f"/api/v1/payments/{ln['payment_id']}")
    assert (p["currency"], p["amount"], p["received_on"]) == ("PLN", "400.00", D1.isoformat())
    assert p["allocations"] == [{"invoice_id": inv["id"], "amount": "400.00"}]
    assert admin.ok("get", f"/api/v1/invoices/{inv['id']}")["balance_due"] == "575.95"
    assert payment_entry(admin, p["id"]) == {
        ("1010", "93.00", "0.00", "PLN", "400.00"), ("1100", "0.00", "93.57", "PLN", "-400.00"),
        ("6900", "0.57", "0.00", "EUR", "0.57")}
    assert balances(admin) == AFTER_400
    check = bank_check(admin)
    assert (check["left"], check["right"], check["details"]["currency"]) == ("400.00", "400.00", "PLN")
    with unit_of_work(engine, "test", readonly=True) as tx:  # the statement's page: GL 1010 in złoty
        st = bank_import.statement_reconciliation(tx, r.get_json()["id"])
    assert (st["gl_balance"], st["difference"]) == (D("400.00"), D("0.00"))

    # Reversed (returned by the payer's bank): back off GL 1010 in złoty, the line on the worklist again.
    admin.ok("post", f"/api/v1/payments/{p['id']}/reverse", {"reason": "Returned"})
    assert admin.ok("get", f"/api/v1/invoices/{inv['id']}")["balance_due"] == "975.95"
    check = bank_check(admin)
    assert (check["left"], check["details"]["not_applied_total"]) == ("0.00", "400.00")
    b = balances(admin)  # the receivable back at the 93.57 it was settled at: the 0.57 lost is undone as a gain
    assert "1010" not in b and (b["1100"], b["4900"], b["6900"]) == ("1204.25", "-0.57", "0.57")


def test_the_rules_offer_a_zloty_line_zloty_invoices_only(admin: Client, zloty: dict[str, Any]) -> None:
    """The same amount and the EUR invoice's number in the text: not applied
    to it (the rules read the złoty invoices alone); the PLN invoice's number
    is applied."""
    e, inv = zloty["eur_invoice"], zloty["invoice"]
    r = upload(admin, Txn(D1, D("975.95"), "Bar Milano", "", f"Invoice {e['number']}", bank_ref="P1"),
               Txn(D1, D("975.95"), "Kawiarnia Wawa", "", f"Faktura {inv['number']}", bank_ref="P2"))
    eur_line, pln_line = lines_of(admin, r.get_json()["id"])
    assert eur_line["status"] == "unmatched" and eur_line["payment_id"] is None
    assert (pln_line["status"], pln_line["rule"]) == ("matched", "document_numbers")
    assert admin.ok("get", f"/api/v1/invoices/{e['id']}")["balance_due"] == "975.95"
    assert admin.ok("get", f"/api/v1/invoices/{inv['id']}")["status"] == "paid"
    # 975.95 at 4.3010 is 226.91 for the 228.30 booked: 1.39 lost.
    b = balances(admin)
    assert (b["1010"], b["6900"]) == ("226.91", "1.39")
    check = bank_check(admin)  # the złoty the bank holds: 1951.90, of which 975.95 not applied
    assert (check["left"], check["details"]["not_applied_total"]) == ("975.95", "975.95")


def test_a_zloty_shortfall_within_the_tolerance_is_a_bank_fee_at_the_days_rate(
        admin: Client, zloty: dict[str, Any]) -> None:
    """973.95 PLN from the customer's name: the invoice is paid in full
    (975.95 PLN, 226.91 EUR, 1.39 lost) and 2.00 PLN (0.47 EUR) is the bank's fee."""
    r = upload(admin, Txn(D1, D("973.95"), "Kawiarnia Wawa", "", "Przelew", bank_ref="P1"))
    (ln,) = lines_of(admin, r.get_json()["id"])
    assert (ln["status"], ln["rule"]) == ("matched", "amount_tolerance")
    assert admin.ok("get", f"/api/v1/invoices/{zloty['invoice']['id']}")["status"] == "paid"
    fee = next(x for x in admin.ok("get", "/api/v1/ledger/entries?source_type=bank_line")["items"])
    assert {(x["account"], x["debit"], x["credit"], x["currency"], x["amount"]) for x in fee["lines"]} == {
        ("6800", "0.47", "0.00", "PLN", "2.00"), ("1010", "0.00", "0.47", "PLN", "-2.00")}
    b = balances(admin)
    assert (b["1010"], b["6800"], b["6900"], b["1100"]) == ("226.44", "0.47", "1.39", "975.95")  # 1100: the EUR one
    assert bank_check(admin)["left"] == "973.95"


def test_a_zloty_line_matched_by_hand_and_a_charge_booked_by_hand(admin: Client, zloty: dict[str, Any]) -> None:
    inv = zloty["invoice"]
    r = upload(admin, Txn(D1, D("400.00"), "Someone", "", "?", bank_ref="P1"),
               Txn(D1, D("-12.50"), "", "", "Opłata", bank_ref="P2", code="ACMT/MDOP/CHRG"))
    money, charge = lines_of(admin, r.get_json()["id"])
    assert money["status"] == "unmatched" and charge["status"] == "unmatched"
    got = admin.ok("post", f"/api/v1/bank/lines/{money['id']}/match",
                   {"allocations": [{"invoice_id": inv["id"], "amount": "400.00"}]}, status=201)
    assert (got["line_status"], got["currency"]) == ("matched", "PLN")
    assert payment_entry(admin, got["id"]) == {
        ("1010", "93.00", "0.00", "PLN", "400.00"), ("1100", "0.00", "93.57", "PLN", "-400.00"),
        ("6900", "0.57", "0.00", "EUR", "0.57")}
    assert balances(admin) == AFTER_400
    # 12.50 PLN at 4.3010: 2.91 EUR of bank charges.
    admin.ok("post", f"/api/v1/bank/lines/{charge['id']}/book", {"account": "6800"})
    b = balances(admin)
    assert (b["1010"], b["6800"]) == ("90.09", "2.91")
    assert bank_check(admin)["left"] == "387.50"


def test_a_zloty_line_given_a_customer_by_hand_pays_their_zloty_invoices(admin: Client, zloty: dict[str, Any]) -> None:
    r = upload(admin, Txn(D1, D("400.00"), "Someone", "", "?", bank_ref="P1"))
    (ln,) = lines_of(admin, r.get_json()["id"])
    got = admin.ok("post", f"/api/v1/bank/lines/{ln['id']}/match", {"customer_id": zloty["customer"]["id"]},
                   status=201)
    p = admin.ok("get", f"/api/v1/payments/{got['id']}")
    assert p["allocations"] == [{"invoice_id": zloty["invoice"]["id"], "amount": "400.00"}]
    assert balances(admin) == AFTER_400


def test_the_batched_run_hands_zloty_lines_to_the_one_by_one_path(
        admin: Client, zloty: dict[str, Any], engine: Engine) -> None:
    """A run over a EUR and a złoty statement: the EUR line goes the batched
    way, the złoty one is handed to the payment service line by line, which
    converts it; each is matched against its own currency's invoices."""
    e, inv = zloty["eur_invoice"], zloty["invoice"]
    with unit_of_work(engine, "test") as tx:  # the statements stored without applying them
        for iban, cur, txn in ((COMPANY_IBAN, "EUR", Txn(D1, D("975.95"), "Bar Milano", "", e["number"],
                                                               creditor_reference(e["number"]), bank_ref="E1")),
                               (PLN_IBAN, "PLN", Txn(D1, D("400.00"), "Kawiarnia Wawa", "", inv["number"],
                                                     creditor_reference(inv["number"]), bank_ref="P1"))):
            bank_import.ensure_company_account(tx)
            bank_import.import_file(tx, camt053(iban, cur, [Stmt(f"S-{cur}", D1, D1, D("0.00"), [txn])]),
                                    "camt.053")
        rows = tx.conn.execute(select(*bankmatch._LINE_COLS).order_by(m.BankLine.id)).all()
        decided = {r.currency: (r, cm.decide(bankmatch._facts(r), bankmatch.open_items(tx, None, r.currency),
                                             bankmatch.load_rules(tx))) for r in rows}
    assert bankpost.postable(*decided["EUR"], D1) and not bankpost.postable(*decided["PLN"], D1)
    assert bankmatch.apply_lines(engine, "test:cash", batched=True) == {"matched": 2}
    assert admin.ok("get", f"/api/v1/invoices/{e['id']}")["status"] == "paid"
    assert admin.ok("get", f"/api/v1/invoices/{inv['id']}")["balance_due"] == "575.95"
    b = balances(admin)
    assert (b["1010"], b["6900"]) == ("93.00", "0.57")
    assert bank_check(admin)["left"] == "400.00" and bank_check(admin, COMPANY_IBAN)["difference"] == "0.00"


def test_a_line_in_another_currency_than_its_account_is_refused(
        admin: Client, zloty: dict[str, Any], engine: Engine) -> None:
    """A EUR statement for the złoty account is refused whole at import; a
    EUR line found on it anyway is not posted by the rules (it stays on the
    worklist saying why) nor by hand (422 ``currency_mismatch``), nothing written."""
    e = zloty["eur_invoice"]
    r = upload(admin, Txn(D1, D("975.95"), "Bar Milano", "", e["number"], bank_ref="E1"), currency="EUR")
    assert r.status_code == 422 and "PLN" in r.get_json()["error"]["message"]
    with unit_of_work(engine, "test") as tx:
        acct = zloty["account"]["id"]
        sid = tx.conn.execute(insert(m.BankStatement).returning(m.BankStatement.id), {
            "bank_account_id": acct, "identity": "X", "statement_ref": "X", "format": "camt.053", "from_date": D1,
            "to_date": D1, "opening_balance": None, "closing_balance": None, "currency": "PLN", "continuity": "ok",
            "file_sha256": "0" * 64, "created_by": "test", "created_at": tx.now}).scalar_one()
        lid = tx.conn.execute(insert(m.BankLine).returning(m.BankLine.id), {
            "statement_id": sid, "bank_account_id": acct, "identity": "X-1", "position": 1, "booking_date": D1,
            "value_date": None, "amount": D("975.95"), "currency": "EUR", "counterparty_name": "Bar Milano",
            "counterparty_iban": None, "remittance": e["number"], "creditor_ref": creditor_reference(e["number"]),
            "status": "unmatched", "created_at": tx.now}).scalar_one()
    before = balances(admin)
    assert bankmatch.apply_lines(engine, "test:cash") == {"unmatched": 1}
    ln = line(engine, lid)
    assert ln["status"] == "unmatched" and "its bank account in PLN" in ln["unmatched_reason"], ln
    for path, body in (("match", {"allocations": [{"invoice_id": e["id"], "amount": "975.95"}]}),
                       ("book", {"account": "6800"})):
        r = admin.post(f"/api/v1/bank/lines/{lid}/{path}", body)
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "currency_mismatch", r.get_json()
    assert line(engine, lid)["status"] == "unmatched" and line(engine, lid)["payment_ids"] == []
    assert balances(admin) == before and admin.ok("get", f"/api/v1/invoices/{e['id']}")["balance_due"] == "975.95"


def test_a_bank_account_in_another_currency_is_enabled_and_on_a_gl_account_of_its_own(admin: Client) -> None:
    r = admin.post("/api/v1/bank/accounts", {"iban": PLN_IBAN, "currency": "PLN", "gl_account": "1010"})
    assert r.status_code == 422 and "PLN" in r.get_json()["error"]["message"]  # not enabled
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "1010", "name": "Bank PLN", "type": "asset"}, status=201)
    r = admin.post("/api/v1/bank/accounts", {"iban": PLN_IBAN, "currency": "PLN", "gl_account": "1000"})
    assert r.status_code == 422 and r.get_json()["error"]["details"]["fields"]["gl_account"], r.get_json()
    made = admin.ok("post", "/api/v1/bank/accounts", {"iban": PLN_IBAN, "currency": "PLN", "gl_account": "1010"},
                    status=201)
    assert (made["currency"], made["gl_account"]) == ("PLN", "1010")
    r = admin.patch(f"/api/v1/bank/accounts/{made['id']}", {"gl_account": "1000"})
    assert r.status_code == 422


def test_a_zloty_line_of_a_day_without_a_rate_waits_on_the_worklist_saying_so(
        admin: Client, zloty: dict[str, Any]) -> None:
    """A line the rules decide but no rate converts (the day's, or one
    within the allowed days before): nothing posted, the line says why."""
    inv, early = zloty["invoice"], dt.date(2026, 10, 1)
    data = camt053(PLN_IBAN, "PLN", [Stmt("PKO-0", early, early, D("0.00"), [
        Txn(early, D("400.00"), "Kawiarnia Wawa", "", "?", creditor_reference(inv["number"]), bank_ref="P0")])])
    r = admin.c.post("/api/v1/bank/statements", data=data, headers=admin._h(XML))
    assert r.status_code == 201, r.get_json()
    (ln,) = lines_of(admin, r.get_json()["id"])
    assert ln["status"] == "unmatched" and "No PLN rate for 2026-10-01" in ln["reason"], ln
    assert ln["payment_id"] is None and admin.ok("get", f"/api/v1/invoices/{inv['id']}")["balance_due"] == "975.95"
    assert bank_check(admin)["details"]["not_applied_total"] == "400.00"


def test_a_zloty_refund_leaves_the_zloty_account_its_statement_reports_it_on(
        admin: Client, zloty: dict[str, Any], engine: Engine) -> None:
    """1000.00 PLN arrives for the 975.95 invoice; the 24.05 left over is paid
    back: booked on GL 1010 in złoty (not on 1000), so the PKO statement that
    reports both lines agrees with the GL account."""
    r = upload(admin, Txn(D1, D("1000.00"), "Someone", "", "?", bank_ref="P1"))
    (ln,) = lines_of(admin, r.get_json()["id"])
    got = admin.ok("post", f"/api/v1/bank/lines/{ln['id']}/match", {"customer_id": zloty["customer"]["id"]},
                   status=201)
    assert admin.ok("get", f"/api/v1/payments/{got['id']}")["unapplied"] == "24.05"
    rf = admin.ok("post", "/api/v1/refunds", {"customer_id": zloty["customer"]["id"], "amount": "24.05",
                                              "currency": "PLN"}, status=201)
    entry = next(x for x in admin.ok("get", "/api/v1/ledger/entries?source_type=refund")["items"]
                 if x["source_id"] == rf["id"])
    # 24.05 PLN at 4.3010 = 5.59 EUR paid out; the credit was booked at 4.3010 too (the payment's day)
    assert {(l["account"], l["debit"], l["credit"], l["currency"], l["amount"]) for l in entry["lines"]} == {
        ("1010", "0.00", "5.59", "PLN", "-24.05"), ("2300", "5.59", "0.00", "PLN", "24.05")}
    data = camt053(PLN_IBAN, "PLN", [Stmt("PKO-2", D1, D1, D("1000.00"), [
        Txn(D1, D("-24.05"), "Kawiarnia Wawa", "", f"Zwrot {rf['number']}", bank_ref="R1",
            code="PMNT/ICDT/ESCT")])])
    r = admin.c.post("/api/v1/bank/statements", data=data, headers=admin._h(XML))
    assert r.status_code == 201, r.get_json()
    (out,) = lines_of(admin, r.get_json()["id"])
    assert (out["status"], out["rule"], line(engine, out["id"])["refund_id"]) == ("matched", "refund", rf["id"])
    check = bank_check(admin)
    assert (check["left"], check["right"], check["details"]["currency"]) == ("975.95", "975.95", "PLN")
    assert "1010" in balances(admin) and balances(admin).get("1000") is None


def test_money_on_a_zloty_account_is_revalued_at_month_end_on_its_own_gl_account(
        admin: Client, zloty: dict[str, Any], day: Any) -> None:
    """400.00 PLN on GL 1010 booked at 93.00 (4.3010); at 4.3200 on 30 November
    it is worth 92.59: 0.41 lost on 1010, beside the receivable's 1.41, both
    reversed on 1 December. The statement still agrees with GL 1010 in złoty."""
    inv = zloty["invoice"]
    upload(admin, Txn(D1, D("400.00"), "Kawiarnia Wawa", "", "Zapłata", creditor_reference(inv["number"]),
                      bank_ref="P1"))
    assert balances(admin)["1010"] == "93.00"
    end, nxt = dt.date(2026, 11, 30), dt.date(2026, 12, 1)
    day(nxt)
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": end.isoformat(), "rate": "4.3200"}, status=201)
    r = admin.ok("post", "/api/v1/fx/revaluation", {"as_of": end.isoformat()}, status=201)
    # 400.00 / 4.32 = 92.5926 → 92.59 against 93.00; 575.95 / 4.32 = 133.3218 → 133.32 against 134.73
    assert [(b["role"], b["amount"], b["booked"], b["revalued"], b["difference"]) for b in r["balances"]] == [
        ("bank:1010", "400.00", "93.00", "92.59", "-0.41"), ("receivables", "575.95", "134.73", "133.32", "-1.41")]
    assert (r["gain"], r["loss"]) == ("0.00", "1.82")
    assert {(l["account"], l["debit"], l["credit"], l["currency"]) for l in r["entry"]["lines"]} == {
        ("1010", "0.00", "0.41", "PLN"), ("1100", "0.00", "1.41", "PLN"), ("6910", "1.82", "0.00", "EUR")}
    tb = admin.ok("get", f"/api/v1/ledger/trial-balance?as_of={end.isoformat()}")
    at_end = {a["code"]: a["balance"] for a in tb["accounts"]}
    # 1100: the Milan customer's 975.95 EUR and the złoty receivable's 133.32
    assert (at_end["1010"], at_end["1100"], at_end["6910"]) == ("92.59", "1109.27", "1.82")
    assert balances(admin)["1010"] == "93.00" and "6910" not in balances(admin)  # reversed on 1 December
    check = bank_check(admin)  # in złoty: the revaluation moved no złoty
    assert (check["left"], check["right"]) == ("400.00", "400.00")


def test_a_zloty_payment_typed_in_is_booked_on_the_zloty_account_and_its_statement_line_reports_it(
        admin: Client, zloty: dict[str, Any], engine: Engine) -> None:
    """Typed in before the statement came: booked on GL 1010 (the account held
    in złoty), so the PKO line of the same money reports that payment instead
    of becoming a second one (on 1000 the line could not have found it)."""
    inv = zloty["invoice"]
    p = admin.ok("post", "/api/v1/payments", {
        "customer_id": zloty["customer"]["id"], "amount": "400.00", "currency": "PLN", "received_on": D1.isoformat(),
        "reference": "PKO-TYPED", "method": "bank_transfer",
        "allocations": [{"invoice_id": inv["id"], "amount": "400.00"}]}, status=201)
    assert payment_entry(admin, p["id"]) == {
        ("1010", "93.00", "0.00", "PLN", "400.00"), ("1100", "0.00", "93.57", "PLN", "-400.00"),
        ("6900", "0.57", "0.00", "EUR", "0.57")}
    r = upload(admin, Txn(D1, D("400.00"), "Kawiarnia Wawa", "", "Zapłata", creditor_reference(inv["number"]),
                          bank_ref="P1"))
    (ln,) = lines_of(admin, r.get_json()["id"])
    assert (ln["status"], ln["rule"], line(engine, ln["id"])["payment_ids"]) == ("matched", "booked_payment",
                                                                                   [p["id"]])
    with engine.connect() as c:  # no second payment of the same money
        assert c.execute(select(m.Payment.id).where(m.Payment.customer_id == zloty["customer"]["id"])).all() == [
            (p["id"],)]
    assert balances(admin) == AFTER_400
    check = bank_check(admin)
    assert (check["left"], check["right"]) == ("400.00", "400.00")
