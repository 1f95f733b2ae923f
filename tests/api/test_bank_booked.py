"""A payment typed in before the bank reported it: the statement line for
that money is linked to the payment as its report (rule ``booked_payment``),
never posted as a second payment; two candidates wait for a clerk; a payment
outside the window in days leaves the line to the ordinary rules."""
from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, func, insert, select, update

from o2c.db import models as m
from o2c.documents.payment import creditor_reference
from o2c.services.books import reconciliation
from o2c.services.platform.uow import unit_of_work
from tests.api.test_bank_matching import PAYER_IBAN, TODAY, apply, balance, books, line, statement  # noqa: F401
from tests.conftest import Client, reconciliation_ok


def typed(admin: Client, customer_id: int, amount: str, reference: str, days_ago: int = 0,
          allocations: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    body = {"customer_id": customer_id, "amount": amount, "currency": "EUR", "method": "bank_transfer",
            "received_on": (TODAY - dt.timedelta(days=days_ago)).isoformat(), "reference": reference}
    return admin.ok("post", "/api/v1/payments", {**body, "allocations": allocations} if allocations else body,
                    status=201)


def payments(engine: Engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(m.Payment)).scalar_one()


def closing(engine: Engine, line_id: int, opening: str, closing_: str) -> None:
    with unit_of_work(engine, "test") as tx:
        sid = tx.conn.execute(select(m.BankLine.statement_id).where(m.BankLine.id == line_id)).scalar_one()
        tx.conn.execute(update(m.BankStatement).where(m.BankStatement.id == sid).values(
            opening_balance=opening, closing_balance=closing_, from_date=TODAY - dt.timedelta(days=3)))


def bank_check(engine: Engine) -> dict[str, Any]:
    with unit_of_work(engine, "test", readonly=True) as tx:
        (check,) = reconciliation.bank_checks(tx, None)
    return check


def learn(engine: Engine, customer_id: int) -> None:
    with unit_of_work(engine, "test") as tx:
        tx.conn.execute(insert(m.CustomerIban), {"iban": PAYER_IBAN, "customer_id": customer_id,
                                                 "learned_from_line_id": None, "created_at": tx.now})


def test_the_line_of_a_payment_typed_before_is_its_report_not_a_second_payment(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    a = books["a"]
    p = typed(admin, books["rossi"]["id"], "22.00", "WIRE-4711", days_ago=2,
              allocations=[{"invoice_id": a["id"], "amount": "22.00"}])
    assert balance(admin, a) == "0.00"
    (lid,) = statement(engine, {"amount": "22.00", "ref": creditor_reference(a["number"])})
    closing(engine, lid, "0.00", "22.00")
    before = bank_check(engine)
    assert [r["document"] for r in before["not_reported"]] == [p["number"]]
    assert apply(engine) == {"matched": 1}
    got = line(engine, lid)
    assert (got["status"], got["rule"], got["payment_id"], got["payment_ids"]) == (
        "matched", "booked_payment", p["id"], [p["id"]])
    assert payments(engine) == 1 and balance(admin, a) == "0.00"
    assert admin.ok("get", f"/api/v1/payments/{p['id']}")["unapplied"] == "0.00"
    with unit_of_work(engine, "test", readonly=True) as tx:
        (after,) = tx.conn.execute(select(m.AuditLog.after).where(m.AuditLog.action == "bank_line.matched")).scalars()
        assert after["rule"] == "booked_payment" and after["payments"] == [p["number"]]
        assert tx.conn.execute(select(func.count()).select_from(m.Event)
                               .where(m.Event.type == "bank_line.matched")).scalar_one() == 1
    check = bank_check(engine)
    assert check["difference"] == 0 and check["not_reported"] == [] and check["not_applied"] == []
    reconciliation_ok(admin)
    # A second line of the same money finds no payment left to report: the ordinary rules.
    (again,) = statement(engine, {"amount": "22.00", "ref": creditor_reference(a["number"])})
    apply(engine)
    assert line(engine, again)["rule"] is None and payments(engine) == 1


def test_two_booked_payments_that_fit_are_a_suggestion_the_clerk_links(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    rossi = books["rossi"]["id"]
    learn(engine, rossi)
    first = typed(admin, rossi, "40.00", "WIRE-1", days_ago=1)
    second = typed(admin, rossi, "40.00", "WIRE-2", days_ago=3)
    (lid,) = statement(engine, {"amount": "40.00", "iban": PAYER_IBAN, "text": "thanks"})
    assert apply(engine) == {"suggested": 1}
    got = line(engine, lid)
    assert (got["status"], got["rule"]) == ("suggested", "booked_payment")
    assert got["suggestion"]["payment_ids"] == [first["id"], second["id"]] and payments(engine) == 2
    bad = admin.post(f"/api/v1/bank/lines/{lid}/match", {"payment_id": second["id"], "customer_id": rossi})
    assert bad.status_code == 422, bad.get_json()
    r = admin.ok("post", f"/api/v1/bank/lines/{lid}/match", {"payment_id": second["id"]}, status=201)
    assert r["id"] == second["id"] and r["line_status"] == "matched" and payments(engine) == 2
    got = line(engine, lid)
    assert (got["rule"], got["payment_ids"]) == ("booked_payment", [second["id"]])
    # That payment is reported now: another line cannot be linked to it.
    (other,) = statement(engine, {"amount": "40.00", "text": "?"})
    assert admin.post(f"/api/v1/bank/lines/{other}/match", {"payment_id": second["id"]}).status_code == 409
    assert line(engine, other)["status"] == "unmatched"
    reconciliation_ok(admin)


def test_a_booked_payment_outside_the_window_leaves_the_line_to_the_rules(
        admin: Client, books: dict[str, Any], engine: Engine) -> None:
    rossi = books["rossi"]["id"]
    learn(engine, rossi)
    p = typed(admin, rossi, "22.00", "WIRE-OLD", days_ago=6, allocations=[{"invoice_id": books["a"]["id"],
                                                                            "amount": "22.00"}])
    (lid,) = statement(engine, {"amount": "22.00", "iban": PAYER_IBAN, "text": "thanks"})
    apply(engine)
    got = line(engine, lid)
    # Six days apart (the window is 5): the payer's IBAN rule, which finds no invoice owing 22.00.
    assert (got["status"], got["rule"]) == ("suggested", "payer_iban") and "payment_ids" not in got["suggestion"]
    # The administrator widens the window: the line is the payment's report.
    admin.ok("patch", "/api/v1/bank/rules/booked_payment", {"params": {"days": 7}})
    assert admin.patch("/api/v1/bank/rules/booked_payment", {"params": {"days": -1}}).status_code == 422
    apply(engine)
    got = line(engine, lid)
    assert (got["status"], got["rule"], got["payment_id"]) == ("matched", "booked_payment", p["id"])
    assert payments(engine) == 1
    reconciliation_ok(admin)
