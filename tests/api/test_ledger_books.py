"""The accountant trusts the books: a sealed, verifiable journal; months that
close and stay closed; a chart of accounts of their own; who may do what."""
from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from o2c.cli import main
from o2c.services.books import chain
from o2c.services.platform.uow import forget_chart, unit_of_work
from tests.api.books_helpers import on, pay, sell
from tests.conftest import PG_URL, Client, customer, product, reconciliation_ok


@pytest.fixture
def book(admin: Client) -> dict[str, Any]:
    """Rossi bought three retro clocks in January and paid part in February."""
    c = customer(admin, "C-ROSSI", payment_terms_days=30)
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    inv = sell(admin, "C-ROSSI", [("RETRO-CLOCK", 3)], "2026-01-15")
    with on("2026-02-03"):
        assert pay(admin, c["id"], "100.00", "2026-02-03", "BANK-1").status_code == 201
    return {"customer": c, "invoice": inv}


def journal(engine: Engine) -> list[Any]:
    with engine.connect() as c:
        return c.execute(text("SELECT id, seq, hash, document FROM journal_entries ORDER BY id")).all()


# -- the hash chain --------------------------------------------------------------------

def test_verify_seals_every_entry_in_a_gapless_chain(accountant, book, engine):  # type: ignore[no-untyped-def]
    assert all(r.seq is None for r in journal(engine))  # posting does not touch the chain
    report = accountant.ok("get", "/api/v1/ledger/verify")
    rows = journal(engine)
    assert report["ok"] and report["first_broken"] is None
    assert report["checked"] == len(rows) == 4  # receipt, COGS, invoice, payment
    assert sorted(r.seq for r in rows) == [1, 2, 3, 4]
    assert report["head"] == {"seq": 4, "hash": max(rows, key=lambda r: r.seq).hash}
    again = accountant.ok("get", "/api/v1/ledger/verify")
    assert again["head"] == report["head"]  # nothing new: nothing resealed


def test_editing_a_journal_line_in_the_database_is_caught(accountant, book, engine):  # type: ignore[no-untyped-def]
    accountant.ok("get", "/api/v1/ledger/verify")
    inv_entry = next(r for r in journal(engine) if r.document == book["invoice"]["number"])
    with engine.begin() as c:  # someone with database access shaves a cent off the revenue line
        c.execute(text("UPDATE journal_lines SET credit = credit - 1 WHERE entry_id = :e AND account = '4000'"),
                  {"e": inv_entry.id})
        c.execute(text("UPDATE journal_lines SET credit = credit + 1 WHERE entry_id = :e AND account = '2200'"),
                  {"e": inv_entry.id})
    report = accountant.ok("get", "/api/v1/ledger/verify")
    assert not report["ok"]
    broken = report["first_broken"]
    assert (broken["reason"], broken["seq"], broken["document"]) == ("hash_mismatch", inv_entry.seq,
                                                                     book["invoice"]["number"])
    assert broken["stored_hash"] == inv_entry.hash != broken["expected_hash"]


def test_rewriting_a_hash_to_match_breaks_the_next_link(accountant, book, engine):  # type: ignore[no-untyped-def]
    accountant.ok("get", "/api/v1/ledger/verify")
    rows = sorted(journal(engine), key=lambda r: r.seq)
    with engine.begin() as c:
        c.execute(text("UPDATE journal_entries SET description = 'nothing to see' WHERE id = :e"), {"e": rows[1].id})
    with unit_of_work(engine, "test", readonly=True) as tx:
        expected = chain.verify(tx)["first_broken"]["expected_hash"]
    with engine.begin() as c:  # ... and recomputes that entry's hash, but not the rest of the chain
        c.execute(text("UPDATE journal_entries SET hash = :h WHERE id = :e"), {"h": expected, "e": rows[1].id})
    broken = accountant.ok("get", "/api/v1/ledger/verify")["first_broken"]
    assert (broken["reason"], broken["seq"]) == ("hash_mismatch", rows[2].seq)


def test_removing_the_last_entry_is_caught(accountant, book, engine):  # type: ignore[no-untyped-def]
    accountant.ok("get", "/api/v1/ledger/verify")
    last = max(journal(engine), key=lambda r: r.seq)
    with engine.begin() as c:
        c.execute(text("DELETE FROM journal_lines WHERE entry_id = :e"), {"e": last.id})
        c.execute(text("DELETE FROM journal_entries WHERE id = :e"), {"e": last.id})
    broken = accountant.ok("get", "/api/v1/ledger/verify")["first_broken"]
    assert broken["reason"] == "head_mismatch" and broken["seq"] == last.seq


def test_an_entry_committed_late_with_a_lower_id_is_sealed_next_not_skipped(book, engine):  # type: ignore[no-untyped-def]
    """On PostgreSQL ids are taken before commit: id 100 may commit after 101
    was sealed. The sealer takes whatever is committed and unsealed."""
    chain.seal_journal(engine)
    top = max(r.id for r in journal(engine))

    def add(entry_id: int) -> None:
        with engine.begin() as c:
            c.execute(text("INSERT INTO journal_entries (id, date, period, source_type, source_id, document, "
                           "description, created_at) VALUES (:i, '2026-02-04', '2026-02', 'test', :i, :d, 'late', "
                           "CURRENT_TIMESTAMP)"), {"i": entry_id, "d": f"T-{entry_id}"})
            c.execute(text("INSERT INTO journal_lines (entry_id, account, debit, credit) VALUES "
                           "(:i, '1000', 500, 0), (:i, '2300', 0, 500)"), {"i": entry_id})

    add(top + 10)
    assert chain.seal_journal(engine).sealed == 1
    add(top + 5)  # the lower id commits after the higher one was sealed
    result = chain.seal_journal(engine)
    assert result.sealed == 1
    seqs = {r.id: r.seq for r in journal(engine)}
    assert seqs[top + 5] == seqs[top + 10] + 1 == result.head.seq
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert chain.verify(tx)["ok"]


@pytest.mark.slow
def test_sealers_racing_with_postings_build_one_gapless_chain(app, admin, keys, engine):  # type: ignore[no-untyped-def]
    product(admin, "RETRO-CLOCK", "49.90", "0.22")
    stop = threading.Event()
    errors: list[BaseException] = []

    def post(i: int) -> None:
        api = Client(app.test_client(), keys["admin"])
        try:
            for n in range(15):
                api.ok("post", "/api/v1/stock/receipts", {"sku": "RETRO-CLOCK", "quantity": 1, "unit_cost": "1.00"},
                       status=201)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    def seal() -> None:
        try:
            while not stop.is_set():
                chain.seal_journal(engine, batch=3)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    posters = [threading.Thread(target=post, args=(i,)) for i in range(4)]
    sealers = [threading.Thread(target=seal) for _ in range(2)]
    for t in posters + sealers:
        t.start()
    for t in posters:
        t.join(60)
    stop.set()
    for t in sealers:
        t.join(60)
    assert not errors, errors
    chain.seal_journal(engine)
    rows = journal(engine)
    assert len(rows) == 60 and sorted(r.seq for r in rows) == list(range(1, 61))
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert chain.verify(tx)["ok"]


def test_cli_verify_exits_non_zero_on_a_broken_chain(book, engine, db_url, monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)
    runner = CliRunner()
    ok = runner.invoke(main, ["ledger", "verify"])
    assert ok.exit_code == 0 and "ok: 4 entries verified" in ok.output
    with engine.begin() as c:
        c.execute(text("UPDATE journal_lines SET debit = debit + 100 WHERE id = (SELECT min(id) FROM journal_lines)"))
    bad = runner.invoke(main, ["ledger", "verify"])
    assert bad.exit_code == 1 and "BROKEN at entry 1 (hash_mismatch)" in bad.output


# -- periods -------------------------------------------------------------------------

def test_a_month_closes_once_it_has_ended_and_refuses_postings_dated_in_it(admin, accountant, book):  # type: ignore[no-untyped-def]
    with on("2026-01-31"):
        r = accountant.post("/api/v1/ledger/periods/2026-01/close")
        assert r.status_code == 409 and "has not ended" in r.get_json()["error"]["message"]
    with on("2026-02-10"):
        closed = accountant.ok("post", "/api/v1/ledger/periods/2026-01/close")
        assert closed["closed"] and closed["closed_by"] == "api_key:accountant"
        assert closed["chain_seq"] == 4 and len(closed["chain_hash"]) == 64
        again = accountant.post("/api/v1/ledger/periods/2026-01/close")
        assert again.status_code == 409
        # A bank line from January arrives late: refused, with the way out in the message.
        late = pay(admin, book["customer"]["id"], "10.00", "2026-01-30", "BANK-LATE")
        assert late.status_code == 409
        err = late.get_json()["error"]
        assert err["code"] == "period_closed" and err["details"] == {"period": "2026-01"}
        # What happens now is dated now: February is open.
        assert pay(admin, book["customer"]["id"], "10.00", "2026-02-10", "BANK-NOW").status_code == 201
        periods = {p["period"]: p["closed"] for p in accountant.ok("get", "/api/v1/ledger/periods")["items"]}
        assert periods["2026-01"] is True and periods["2026-02"] is False
        assert accountant.ok("get", "/api/v1/ledger/verify")["ok"]


def test_only_an_administrator_reopens_a_period_and_it_is_audited(admin, accountant, book, engine):  # type: ignore[no-untyped-def]
    with on("2026-02-10"):
        accountant.ok("post", "/api/v1/ledger/periods/2026-01/close")
        r = accountant.post("/api/v1/ledger/periods/2026-01/reopen", {"reason": "late bank line"})
        assert r.status_code == 403
        assert admin.post("/api/v1/ledger/periods/2026-01/reopen", {}).status_code == 422  # a reason is required
        opened = admin.ok("post", "/api/v1/ledger/periods/2026-01/reopen", {"reason": "late bank line BANK-LATE"})
        assert not opened["closed"] and opened["reopened_by"] == "api_key:admin"
        assert opened["chain_seq"] == 4  # the anchor stays
        assert pay(admin, book["customer"]["id"], "10.00", "2026-01-30", "BANK-LATE").status_code == 201
        assert admin.post("/api/v1/ledger/periods/2026-01/reopen", {"reason": "again"}).status_code == 409
        accountant.ok("post", "/api/v1/ledger/periods/2026-01/close")
    with engine.connect() as c:
        audit = c.execute(text("SELECT action, actor, after FROM audit_log WHERE object_type = 'period' "
                               "ORDER BY id")).all()
    assert [(a.action, a.actor) for a in audit] == [
        ("period.closed", "api_key:accountant"), ("period.reopened", "api_key:admin"),
        ("period.closed", "api_key:accountant")]
    assert "late bank line BANK-LATE" in str(audit[1].after)


def test_verify_checks_the_anchor_recorded_at_close(accountant, book, engine):  # type: ignore[no-untyped-def]
    with on("2026-02-10"):
        accountant.ok("post", "/api/v1/ledger/periods/2026-01/close")
    with engine.begin() as c:  # rewrite the whole chain consistently, except for the anchor
        rows = c.execute(text("SELECT id FROM journal_entries ORDER BY seq")).all()
        c.execute(text("UPDATE journal_entries SET description = 'rewritten' WHERE id = :i"), {"i": rows[0].id})
    with unit_of_work(engine, "test") as tx:
        tx.conn.execute(text("UPDATE journal_entries SET seq = NULL, hash = NULL"))
        tx.conn.execute(text("UPDATE journal_chain SET last_seq = 0, last_hash = :g"), {"g": "0" * 64})
        chain.seal_pending(tx)
    broken = accountant.ok("get", "/api/v1/ledger/verify")["first_broken"]
    assert broken["reason"] == "anchor_mismatch" and broken["period"] == "2026-01"


# -- the chart of accounts ---------------------------------------------------------------

@pytest.fixture
def restore_chart(engine: Engine) -> Any:
    yield
    if PG_URL:  # the chart outlives a test on PostgreSQL: put the defaults back
        from tests.conftest import _truncate_pg
        _truncate_pg(engine)
        with engine.begin() as c:
            c.execute(text("UPDATE accounts SET role = NULL WHERE code = '4010'"))
            c.execute(text("UPDATE accounts SET role = 'revenue' WHERE code = '4000'"))
            c.execute(text("DELETE FROM account_roles WHERE account = '4010'"))
            c.execute(text("DELETE FROM accounts WHERE code IN ('4010', '4020')"))
    forget_chart()


def test_revenue_moves_to_a_new_account_and_the_books_still_reconcile(admin, accountant, restore_chart):  # type: ignore[no-untyped-def]
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=10, cost="20.00")
    sell(admin, "C-ROSSI", [("RETRO-CLOCK", 1)])
    body = {"code": "4010", "name": "Revenue, webshop and trade", "type": "revenue", "role": "revenue"}
    assert accountant.post("/api/v1/ledger/accounts", body).status_code == 403
    acc = admin.ok("post", "/api/v1/ledger/accounts", body, status=201)
    assert acc["role"] == "revenue" and acc["normal_balance"] == "credit"
    sell(admin, "C-ROSSI", [("RETRO-CLOCK", 2)])
    tb = {a["code"]: a for a in accountant.ok("get", "/api/v1/ledger/trial-balance")["accounts"]}
    assert tb["4000"]["balance"] == "-49.90" and tb["4010"]["balance"] == "-99.80"
    chart = {a["code"]: a for a in accountant.ok("get", "/api/v1/ledger/accounts")["items"]}
    assert chart["4000"]["role"] is None and chart["4000"]["former_role"] == "revenue"
    reconciliation_ok(accountant)  # revenue = 4000 + 4010 = Σ invoice nets
    # An account serves one role in its life.
    r = admin.patch("/api/v1/ledger/accounts/4000", {"role": "cogs"})
    assert r.status_code == 409 and "served revenue" in r.get_json()["error"]["message"]
    assert admin.patch("/api/v1/ledger/accounts/4010", {"role": "bank"}).status_code == 409
    renamed = admin.ok("patch", "/api/v1/ledger/accounts/4010", {"name": "Sales"})
    assert renamed["name"] == "Sales" and renamed["role"] == "revenue"
    bad = admin.post("/api/v1/ledger/accounts", {"code": "=4020", "name": "x", "type": "revenue"})
    assert bad.status_code == 422


def test_an_account_saved_as_it_is_changes_nothing_and_audits_nothing(admin, engine):  # type: ignore[no-untyped-def]
    def audited() -> list[Any]:
        with engine.connect() as c:
            return c.execute(text("SELECT action, before, after FROM audit_log WHERE object_type = 'account'")).all()
    same = admin.ok("patch", "/api/v1/ledger/accounts/1000", {"name": "Bank", "type": "asset"})
    assert (same["name"], same["type"]) == ("Bank", "asset") and audited() == []
    admin.ok("patch", "/api/v1/ledger/accounts/1000", {"name": "Bank, current account", "type": "asset"})
    [row] = audited()
    assert row.action == "account.updated" and "type" not in str(row.after) and "current account" in str(row.after)


# -- who may do what -------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/api/v1/ledger/verify", "/api/v1/ledger/export?format=csv",
                                  "/api/v1/ledger/periods", "/api/v1/receivables/aging",
                                  "/api/v1/ledger/accounts/1000/ledger", "/api/v1/dunning/letters"])
def test_clerks_and_webshops_do_not_read_the_books(clerk, shop, accountant, path):  # type: ignore[no-untyped-def]
    assert clerk.get(path).status_code == 403
    assert shop.get(path).status_code == 403
    assert accountant.get(path).status_code == 200


def test_clerks_neither_close_periods_nor_run_dunning(clerk):  # type: ignore[no-untyped-def]
    assert clerk.post("/api/v1/ledger/periods/2026-01/close").status_code == 403
    assert clerk.post("/api/v1/dunning/runs", {}).status_code == 403
    assert clerk.post("/api/v1/ledger/seal").status_code == 403


# -- the general ledger of one account ------------------------------------------------------

def test_account_ledger_runs_the_balance_across_pages(accountant, book):  # type: ignore[no-untyped-def]
    path = "/api/v1/ledger/accounts/1100/ledger"
    full = accountant.ok("get", path)
    assert [(l["document"], l["debit"], l["credit"], l["balance"]) for l in full["lines"]] == [
        (book["invoice"]["number"], "182.63", "0.00", "182.63"),
        (full["lines"][1]["document"], "0.00", "100.00", "82.63")]
    assert full["closing_balance"] == "82.63" and full["opening_balance"] == "0.00"
    first = accountant.ok("get", f"{path}?limit=1")
    second = accountant.ok("get", f"{path}?limit=1&cursor={first['next_cursor']}")
    assert second["lines"][0]["balance"] == "82.63" and second["next_cursor"] is None
    feb = accountant.ok("get", f"{path}?from=2026-02-01")
    assert feb["opening_balance"] == "182.63" and feb["lines"][0]["balance"] == "82.63"
    assert accountant.get("/api/v1/ledger/accounts/9999/ledger").status_code == 404
    assert Decimal(full["total_debit"]) - Decimal(full["total_credit"]) == Decimal("82.63")


# -- the reconciliation points at the document ---------------------------------------------

def test_a_difference_in_the_books_is_traced_to_its_document(admin, accountant, book, engine):  # type: ignore[no-untyped-def]
    second = sell(admin, "C-ROSSI", [("RETRO-CLOCK", 1)], "2026-01-20")
    reconciliation_ok(accountant)
    first = book["invoice"]["number"]
    move = ("UPDATE journal_lines SET credit = credit {} 7 WHERE account = '4000' AND entry_id = "
            "(SELECT id FROM journal_entries WHERE document = :n)")
    with engine.begin() as c:  # seven cents of revenue moved from one invoice to another
        c.execute(text(move.format("-")), {"n": first})
        c.execute(text(move.format("+")), {"n": second["number"]})
    rep = accountant.ok("get", "/api/v1/reconciliation")
    revenue = next(ch for ch in rep["checks"] if ch["name"] == "revenue")
    assert not rep["ok"] and revenue["left"] == revenue["right"]  # offsetting: invisible in the totals
    assert revenue["difference"] == "0.14"
    docs = {d["document"]: d["difference"] for d in revenue["details"]["documents"]}
    assert docs == {first: "-0.07", second["number"]: "0.07"}
    assert revenue["details"]["periods"] == []  # both in January: the month's figures agree


def test_an_entry_posted_into_another_month_than_its_invoice_is_a_difference(admin, accountant, book, engine):  # type: ignore[no-untyped-def]
    second = sell(admin, "C-ROSSI", [("RETRO-CLOCK", 1)], "2026-01-20")
    reconciliation_ok(accountant)
    with engine.begin() as c:  # the invoice's entry moved to March: right document, wrong month
        c.execute(text("UPDATE journal_entries SET period = '2026-03' WHERE document = :n"), {"n": second["number"]})
    rep = accountant.ok("get", "/api/v1/reconciliation")
    revenue = next(ch for ch in rep["checks"] if ch["name"] == "revenue")
    assert not rep["ok"] and revenue["left"] == revenue["right"] and revenue["details"]["documents"] == []
    net = second["net_total"]
    assert {p["period"]: p["difference"] for p in revenue["details"]["periods"]} == {
        "2026-01": f"-{net}", "2026-03": net}
    assert revenue["difference"] == str(2 * Decimal(net))
    vat = next(ch for ch in rep["checks"] if ch["name"] == "vat")
    assert vat["difference"] == str(2 * Decimal(second["vat_total"])) and len(vat["details"]["periods"]) == 2


def test_a_shipment_whose_cost_was_changed_is_named(accountant, book, engine):  # type: ignore[no-untyped-def]
    with engine.begin() as c:
        doc = c.execute(text("SELECT document FROM stock_movements WHERE kind = 'shipment'")).scalar_one()
        c.execute(text("UPDATE stock_movements SET value = value - 100 WHERE kind = 'shipment'"))
        c.execute(text("UPDATE stock SET value = value + 100"))
    rep = accountant.ok("get", "/api/v1/reconciliation")
    inventory = next(ch for ch in rep["checks"] if ch["name"] == "inventory_value")
    assert [d["document"] for d in inventory["details"]["documents"]] == [doc]
    assert inventory["details"]["documents"][0]["difference"] == "1.00"


def test_receivables_are_reconciled_per_customer_as_of_a_date(accountant, book):  # type: ignore[no-untyped-def]
    jan = accountant.ok("get", "/api/v1/reconciliation?as_of=2026-01-31")
    rec = next(ch for ch in jan["checks"] if ch["name"] == "receivables")
    assert jan["ok"] and rec["left"] == rec["right"] == "182.63"  # before the February payment
    feb = accountant.ok("get", "/api/v1/reconciliation?as_of=2026-02-28")
    rec = next(ch for ch in feb["checks"] if ch["name"] == "receivables")
    assert feb["ok"] and rec["left"] == "82.63"
