"""Cash application end to end: statement lines posted through the payment
service by the rules, matched, booked or ignored by hand, never twice, and
the books reconcile after each."""
from __future__ import annotations

import datetime as dt
import threading
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from o2c.db import models as m
from o2c.documents.payment import creditor_reference
from o2c.domain.errors import Conflict
from o2c.services.cash import bankmatch
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client, D, customer, order, product, reconciliation_ok

TODAY = dt.date.today()
OUR_IBAN = "IT60X0542811101000000123456"
PAYER_IBAN = "DE89370400440532013000"
OTHER_IBAN = "GB82WEST12345698765432"


def invoiced(admin: Client, code: str, qty: int, currency: str = "EUR") -> dict[str, Any]:
    """``qty`` mugs at 10.00 + 10 % VAT, shipped and invoiced: 11.00 a mug (in EUR)."""
    r = order(admin, code, [("MUG-01", qty)], currency=currency)
    assert r.status_code == 201, r.get_json()
    sh = admin.ok("post", f"/api/v1/orders/{r.get_json()['id']}/shipments", {}, status=201)
    sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T"})
    return admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")


@pytest.fixture
def books(admin: Client) -> dict[str, Any]:
    rossi = customer(admin, "C-BANKROSSI", channels=["shop-a"])
    bianchi = customer(admin, "C-BANKBIANCHI", name="Bianchi Srl", channels=["shop-a"])
    product(admin, "MUG-01", "10.00", "0.10", stock=100, cost="4.00")
    return {"rossi": rossi, "bianchi": bianchi,
            "a": invoiced(admin, "C-BANKROSSI", 2),    # 22.00
            "b": invoiced(admin, "C-BANKROSSI", 3),    # 33.00
            "c": invoiced(admin, "C-BANKBIANCHI", 5)}  # 55.00


def statement(engine: Engine, *lines: dict[str, Any], gl: str = "1000") -> list[int]:
    """A statement of our account with ``lines`` (amount, remittance, iban, name…), as imported."""
    with unit_of_work(engine, "test") as tx:
        c = tx.conn
        acc = c.execute(select(m.BankAccount.id).where(m.BankAccount.iban == OUR_IBAN)).scalar()
        if acc is None:
            acc = c.execute(insert(m.BankAccount).returning(m.BankAccount.id), {
                "iban": OUR_IBAN, "name": "Main", "currency": "EUR", "gl_account": gl, "csv_mappings": {},
                "created_at": tx.now}).scalar_one()
        n = c.execute(select(func.count()).select_from(m.BankStatement)).scalar_one()
        sid = c.execute(insert(m.BankStatement).returning(m.BankStatement.id), {
            "bank_account_id": acc, "identity": f"S{n}", "statement_ref": f"S{n}", "format": "camt.053",
            "from_date": TODAY, "to_date": TODAY, "opening_balance": None, "closing_balance": None,
            "currency": "EUR", "continuity": "ok", "file_sha256": "0" * 64, "created_by": "test",
            "created_at": tx.now}).scalar_one()
        ids = []
        for i, ln in enumerate(lines):
            ids.append(c.execute(insert(m.BankLine).returning(m.BankLine.id), {
                "statement_id": sid, "bank_account_id": acc, "identity": f"S{n}-{i}", "position": i,
                "booking_date": ln.get("date", TODAY), "value_date": None, "amount": D(ln["amount"]),
                "currency": "EUR", "counterparty_name": ln.get("name", ""), "counterparty_iban": ln.get("iban"),
                "remittance": ln.get("text", ""), "creditor_ref": ln.get("ref"), "status": "unmatched",
                "created_at": tx.now}).scalar_one())
    return ids


def apply(engine: Engine) -> dict[str, int]:
    return bankmatch.apply_lines(engine, "test")


def line(engine: Engine, line_id: int) -> dict[str, Any]:
    with unit_of_work(engine, "test", readonly=True) as tx:
        return bankmatch.get_line(tx, line_id)


def balance(admin: Client, invoice: dict[str, Any]) -> str:
    return admin.ok("get", f"/api/v1/invoices/{invoice['id']}")["balance_due"]


def gl(admin: Client, code: str) -> Decimal:
    tb = admin.ok("get", "/api/v1/ledger/trial-balance")
    return next((D(a["debit"]) - D(a["credit"]) for a in tb["accounts"] if a["code"] == code), D("0"))


def test_each_rule_posts_through_the_payment_service(admin: Client, books: dict[str, Any], engine: Engine) -> None:
    a, b, c = books["a"], books["b"], books["c"]
    ids = statement(
        engine,
        {"amount": "22.00", "ref": creditor_reference(a["number"])},                 # 1 reference
        {"amount": "55.00", "text": f"Fattura {c['number'].replace('-', ' ')}"},     # 2 number, no dashes
        {"amount": "7.00", "text": "?"},                                              # unknown
    )
    assert apply(engine) == {"matched": 2, "unmatched": 1}
    first, second, third = (line(engine, i) for i in ids)
    assert (first["status"], first["rule"]) == ("matched", "creditor_reference")
    assert (second["status"], second["rule"]) == ("matched", "document_numbers")
    assert third["status"] == "unmatched" and third["unmatched_reason"]
    assert balance(admin, a) == "0.00" and balance(admin, c) == "0.00" and balance(admin, b) == "33.00"
    p = admin.ok("get", f"/api/v1/payments/{first['payment_id']}")
    assert p["allocations"] == [{"invoice_id": a["id"], "amount": "22.00"}] and p["method"] == "bank_transfer"
    # Audit rows name the rule; the event is registered.
    with unit_of_work(engine, "test", readonly=True) as tx:
        rules = tx.conn.execute(select(m.AuditLog.after).where(m.AuditLog.action == "bank_line.matched")).scalars()
        assert sorted(r["rule"] for r in rules) == ["creditor_reference", "document_numbers"]
        assert tx.conn.execute(select(func.count()).select_from(m.Event)
                               .where(m.Event.type == "bank_line.matched")).scalar_one() == 2
    reconciliation_ok(admin)

    # Matching the unknown line by hand to Rossi teaches o2c the payer's IBAN.
    with unit_of_work(engine, "test") as tx:
        tx.conn.execute(update(m.BankLine).where(m.BankLine.id == ids[2]).values(counterparty_iban=PAYER_IBAN))
    admin.ok("post", f"/api/v1/bank/lines/{ids[2]}/match", {"customer_id": books["rossi"]["id"]}, status=201)
    assert balance(admin, b) == "26.00"
    (iban_line,) = statement(engine, {"amount": "26.00", "iban": PAYER_IBAN, "text": "thanks"})
    apply(engine)
    got = line(engine, iban_line)
    assert (got["status"], got["rule"]) == ("matched", "payer_iban") and balance(admin, b) == "0.00"
    reconciliation_ok(admin)


def test_tolerance_writes_off_a_bank_fee_and_the_bank_gl_follows_the_statement(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    before = gl(admin, "1000")
    (fee_line,) = statement(engine, {"amount": "54.00", "name": "Bianchi Srl", "text": "bonifico"})
    assert apply(engine) == {"matched": 1}
    got = line(engine, fee_line)
    assert got["rule"] == "amount_tolerance" and balance(admin, books["c"]) == "0.00"
    assert gl(admin, "6800") == D("1.00") and gl(admin, "1000") - before == D("54.00")
    reconciliation_ok(admin)


def test_ambiguous_lines_are_suggested_and_confirmed_with_their_allocations(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    a, b = books["a"], books["b"]
    (sid,) = statement(engine, {"amount": "40.00", "text": f"{a['number']}"})  # owes 22.00: a suggestion
    assert apply(engine) == {"suggested": 1}
    got = line(engine, sid)
    assert got["status"] == "suggested" and got["suggestion"]["invoice_ids"] == [a["id"], b["id"]]
    assert "owing 22.00" in got["suggestion"]["reason"]
    allocs = got["suggestion"]["allocations"]
    r = admin.ok("post", f"/api/v1/bank/lines/{sid}/match", {"allocations": allocs}, status=201)
    assert r["line_status"] == "matched" and r["unapplied"] == "0.00"
    assert balance(admin, a) == "0.00" and balance(admin, b) == "15.00"
    # Again: the line is decided, nothing posts twice.
    again = admin.post(f"/api/v1/bank/lines/{sid}/match", {"allocations": allocs})
    assert again.status_code == 409, again.get_json()
    assert balance(admin, b) == "15.00"
    reconciliation_ok(admin)


def test_a_line_split_across_customers_makes_one_payment_each_and_the_rest_is_credit(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    a, c = books["a"], books["c"]
    (sid,) = statement(engine, {"amount": "100.00", "text": "collective transfer"})
    r = admin.ok("post", f"/api/v1/bank/lines/{sid}/match", {
        "allocations": [{"invoice_id": a["id"], "amount": "22.00"}, {"invoice_id": c["id"], "amount": "55.00"}],
        "customer_id": books["bianchi"]["id"]}, status=201)
    assert len(r["payments"]) == 2
    by_customer = {p["customer_id"]: p for p in r["payments"]}
    assert by_customer[books["rossi"]["id"]]["amount"] == "22.00"
    assert by_customer[books["bianchi"]["id"]]["amount"] == "78.00"
    assert by_customer[books["bianchi"]["id"]]["unapplied"] == "23.00"
    reconciliation_ok(admin)


def test_book_and_ignore(admin: Client, books: dict[str, Any], engine: Engine) -> None:
    before = gl(admin, "1000")
    fee, junk = statement(engine, {"amount": "-3.50", "text": "Commissioni"}, {"amount": "0.01", "text": "test"})
    assert apply(engine) == {"unmatched": 2}
    booked = admin.ok("post", f"/api/v1/bank/lines/{fee}/book", {"account": "6800", "description": "Bank fees"})
    assert booked["status"] == "booked" and booked["journal_entry_id"]
    assert gl(admin, "6800") == D("3.50") and gl(admin, "1000") - before == D("-3.50")
    bad = admin.post(f"/api/v1/bank/lines/{junk}/book", {"account": "9999"})
    assert bad.status_code == 422, bad.get_json()
    assert admin.post(f"/api/v1/bank/lines/{junk}/ignore", {"reason": "  "}).status_code == 422
    ign = admin.ok("post", f"/api/v1/bank/lines/{junk}/ignore", {"reason": "Bank's test transfer"})
    assert ign["status"] == "ignored"
    assert admin.post(f"/api/v1/bank/lines/{fee}/ignore", {"reason": "x"}).status_code == 409
    reconciliation_ok(admin)


def test_a_line_in_a_closed_period_stays_unmatched_and_says_why(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    old = TODAY.replace(day=1) - dt.timedelta(days=40)
    with unit_of_work(engine, "test") as tx:
        tx.conn.execute(insert(m.Period), {"period": old.strftime("%Y-%m"), "closed_at": tx.now, "closed_by": "t"})
    (sid,) = statement(engine, {"amount": "22.00", "ref": creditor_reference(books["a"]["number"]), "date": old})
    assert apply(engine) == {"unmatched": 1}
    assert "closed period" in line(engine, sid)["unmatched_reason"]
    assert balance(admin, books["a"]) == "22.00"


def test_outgoing_refund_lines_match_the_refund(admin: Client, books: dict[str, Any], engine: Engine) -> None:
    rossi = books["rossi"]["id"]
    admin.ok("post", "/api/v1/payments", {"customer_id": rossi, "amount": "80.00", "currency": "EUR",
                                          "received_on": TODAY.isoformat(), "reference": "T-1"}, status=201)
    refund = admin.ok("post", "/api/v1/refunds", {"customer_id": rossi, "amount": "25.00"}, status=201)
    (sid,) = statement(engine, {"amount": "-25.00", "text": f"Rimborso {refund['number']}"})
    assert apply(engine) == {"matched": 1}
    got = line(engine, sid)
    assert (got["rule"], got["refund_id"]) == ("refund", refund["id"])
    reconciliation_ok(admin)


def test_rules_can_be_reordered_and_switched_off_by_admins_only(
        admin: Client, clerk: Client, accountant: Client, shop: Client, books: dict[str, Any],
        engine: Engine) -> None:
    rules = admin.ok("get", "/api/v1/bank/rules")["items"]
    assert [r["name"] for r in rules] == ["booked_payment", "creditor_reference", "document_numbers", "payer_iban",
                                          "amount_tolerance"]
    moved = admin.ok("patch", "/api/v1/bank/rules/amount_tolerance", {"position": 1, "enabled": False})
    assert (moved["position"], moved["enabled"]) == (1, False)
    assert [r["name"] for r in admin.ok("get", "/api/v1/bank/rules")["items"]][0] == "amount_tolerance"
    assert admin.patch("/api/v1/bank/rules/amount_tolerance", {"params": {"colour": 1}}).status_code == 422
    assert admin.patch("/api/v1/bank/rules/nope", {"enabled": True}).status_code == 404
    (sid,) = statement(engine, {"amount": "54.00", "name": "Bianchi Srl"})
    assert apply(engine) == {"unmatched": 1}
    for who in (clerk, accountant, shop):
        assert who.get("/api/v1/bank/rules").status_code == 403
        assert who.patch("/api/v1/bank/rules/payer_iban", {"enabled": False}).status_code == 403


@pytest.mark.parametrize("role", ["clerk", "accountant", "admin", "shop"])
def test_who_may_decide_lines(role: str, request: pytest.FixtureRequest, books: dict[str, Any],
                              engine: Engine) -> None:
    api: Client = request.getfixturevalue(role)
    a, b, c = statement(engine, {"amount": "22.00"}, {"amount": "-1.00"}, {"amount": "1.00"})
    calls = [("match", a, {"allocations": [{"invoice_id": books["a"]["id"], "amount": "22.00"}]}, 201),
             ("book", b, {"account": "6800"}, 200), ("ignore", c, {"reason": "noise"}, 200)]
    for action, lid, body, ok in calls:
        r = api.post(f"/api/v1/bank/lines/{lid}/{action}", body)
        assert r.status_code == (403 if role == "shop" else ok), (role, action, r.get_json())


def test_double_submissions_race_and_post_once(admin: Client, books: dict[str, Any], engine: Engine) -> None:
    (sid,) = statement(engine, {"amount": "22.00"})
    body = {"allocations": [{"invoice_id": books["a"]["id"], "amount": D("22.00")}]}
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def go() -> None:
        barrier.wait()
        try:
            with unit_of_work(engine, "test") as tx:
                bankmatch.match_line(tx, sid, body)
            results.append("ok")
        except Conflict as e:
            results.append(type(e).__name__)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["Conflict"] * 3 + ["ok"], results
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert tx.conn.execute(select(func.count()).select_from(m.Payment)).scalar_one() == 1
    reconciliation_ok(admin)


def test_an_imported_camt_statement_is_applied_at_once(admin: Client, books: dict[str, Any]) -> None:
    from o2c.domain.bankfiles.generate import Stmt, Txn, camt053
    assert OUR_IBAN in [x["iban"] for x in admin.ok("get", "/api/v1/bank/accounts")["items"]]  # the company's
    a, c = books["a"], books["c"]
    txns = [Txn(TODAY, D("22.00"), "Rossi Arredamenti", PAYER_IBAN, "Saldo", creditor_reference(a["number"]),
                bank_ref="B1"),
            Txn(TODAY, D("30.00"), "Bianchi Srl", OTHER_IBAN, f"acconto {c['number']}", bank_ref="B2"),
            Txn(TODAY, D("-2.00"), "Banca", "", "Commissioni", bank_ref="B3")]
    body = camt053(OUR_IBAN, "EUR", [Stmt("ST-1", TODAY, TODAY, D("0.00"), txns)])
    r = admin.c.post("/api/v1/bank/statements", data=body, headers={
        "Authorization": f"Bearer {admin.key}", "Content-Type": "application/xml"})
    assert r.status_code == 201, r.get_json()
    st = r.get_json()
    assert (st["matched"], st["suggested"], st["unmatched"]) == (1, 1, 1)
    assert balance(admin, a) == "0.00" and balance(admin, c) == "55.00"
    lines = admin.ok("get", f"/api/v1/bank/statements/{st['id']}")["lines"]
    fee = next(x for x in lines if x["amount"] == "-2.00")
    admin.ok("post", f"/api/v1/bank/lines/{fee['id']}/book", {"account": "6800", "description": "Fees"})
    suggested = next(x for x in lines if x["status"] == "suggested")
    assert suggested["suggestion"]["invoice_ids"] == [c["id"]]
    admin.ok("post", f"/api/v1/bank/lines/{suggested['id']}/match",
             {"allocations": [{"invoice_id": c["id"], "amount": "30.00"}]}, status=201)
    assert balance(admin, c) == "25.00"
    # The same file again adds nothing and posts nothing.
    again = admin.c.post("/api/v1/bank/statements", data=body, headers={
        "Authorization": f"Bearer {admin.key}", "Content-Type": "application/xml"})
    assert again.status_code == 200
    assert balance(admin, c) == "25.00"
    reconciliation_ok(admin)


def _bank_check(admin: Client) -> dict[str, Any]:
    (check,) = [c for c in admin.ok("get", "/api/v1/reconciliation")["checks"] if c["name"] == "bank"]
    return check


def test_a_payment_from_a_statement_line_is_reversed_on_its_bank_account_and_the_line_is_worked_again(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    """The bank took the money back (a returned transfer): the payment is
    reversed as a typed one would be, on the GL account it was booked on, and
    its line returns to the worklist saying why; the bank check stays zero
    throughout, listing the payment and its reversal as bookings no line
    reports."""
    a = books["a"]
    with unit_of_work(engine, "test") as tx:
        tx.conn.execute(insert(m.Account), {"code": "1010", "name": "Bank, second account", "type": "asset"})
    (lid,) = statement(engine, {"amount": "22.00", "ref": creditor_reference(a["number"])})
    with unit_of_work(engine, "test") as tx:  # our account books on 1010, and its statement has balances
        tx.conn.execute(update(m.BankAccount).where(m.BankAccount.iban == OUR_IBAN).values(gl_account="1010"))
        tx.conn.execute(update(m.BankStatement).values(opening_balance=D("0.00"), closing_balance=D("22.00")))
    assert apply(engine) == {"matched": 1}
    pid = line(engine, lid)["payment_id"]
    assert gl(admin, "1010") == D("22.00") and _bank_check(admin)["difference"] == "0.00"

    r = admin.post(f"/api/v1/payments/{pid}/reverse", json={"reason": "Returned by the payer's bank"})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "reversed" and balance(admin, a) == "22.00"
    assert gl(admin, "1010") == D("0.00") and gl(admin, "1000") == D("0.00")
    got = line(engine, lid)
    assert (got["status"], got["payment_id"], got["payment_ids"]) == ("unmatched", None, [])
    assert "Returned by the payer's bank" in got["unmatched_reason"]
    assert lid in [ln["id"] for ln in admin.ok("get", "/api/v1/bank/lines?status=unmatched")["items"]]
    check = _bank_check(admin)
    assert check["difference"] == "0.00" and check["details"]["not_applied_total"] == "22.00"
    assert sorted(e["amount"] for e in check["details"]["not_reported"]) == ["-22.00", "22.00"]
    reconciliation_ok(admin)

    # Matched again by hand: the line reports the new payment; the old one and its reversal stay listed.
    admin.ok("post", f"/api/v1/bank/lines/{lid}/match", {"allocations": [{"invoice_id": a["id"], "amount": "22.00"}]},
             status=201)
    check = _bank_check(admin)
    assert check["difference"] == "0.00" and check["details"]["not_applied_total"] == "0.00"
    assert check["details"]["not_reported_total"] == "0.00" and balance(admin, a) == "0.00"
    reconciliation_ok(admin)


def test_statement_lines_in_euros_leave_invoices_in_zloty_alone(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    """Cash application offers a EUR line the open EUR invoices only; put by
    hand on a złoty invoice it is 422 ``currency_mismatch``, nothing written."""
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": TODAY.isoformat(), "rate": "4.2750"}, status=201)
    customer(admin, "C-BANKWAWA", name="Kawiarnia Wawa", currency="PLN", channels=["shop-a"])
    z = invoiced(admin, "C-BANKWAWA", 2, "PLN")
    assert z["currency"] == "PLN"
    (lid,) = statement(engine, {"amount": z["total"], "ref": creditor_reference(z["number"]),
                                "text": z["number"], "name": "Kawiarnia Wawa"})
    apply(engine)
    assert line(engine, lid)["status"] != "matched" and balance(admin, z) == z["total"]
    r = admin.post(f"/api/v1/bank/lines/{lid}/match", json={"allocations": [{"invoice_id": z["id"],
                                                                             "amount": z["total"]}]})
    assert r.status_code == 422 and r.get_json()["error"]["code"] == "currency_mismatch", r.get_json()
    got = line(engine, lid)
    assert got["status"] != "matched" and got["payment_ids"] == [] and balance(admin, z) == z["total"]
    reconciliation_ok(admin)
