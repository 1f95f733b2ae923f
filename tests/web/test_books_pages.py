"""The accountant's side of the books in the back office: an administrator
reopens a closed month (audited, with the reason), anyone who reads the
ledger verifies the hash chain and sees where it breaks, administrators keep
the chart of accounts, the trial balance downloads as of the date shown, and
every document shows the journal entries it posted."""
from __future__ import annotations

import csv
import datetime as dt
import io
import re
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, event, select, text

from o2c.db import models as m
from o2c.domain.access import SYSTEM
from o2c.services import queries
from o2c.services.billing import invoicing
from o2c.services.cash import payments
from o2c.services.fulfilment import returns
from o2c.services.platform import clock
from o2c.services.platform.uow import unit_of_work
from tests.api.books_helpers import on
from tests.conftest import make_key
from tests.web.conftest import Web, add_order, flashes, pack_and_ship
from tests.web.test_receivables_pages import cells

P = m.Period.__table__
AUDIT = m.AuditLog.__table__


def last_month() -> str:
    return (clock.now().date().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")


def sell(engine: Engine, lines: list[tuple[str, int]]) -> dict[str, Any]:
    """An order for Rossi, shipped: its invoice (with the order and shipment ids)."""
    o = add_order(engine, "C-ROSSI", lines)
    sh = pack_and_ship(engine, o["id"])
    with unit_of_work(engine, "test", readonly=True) as tx:
        return {**invoicing.get_invoice(tx, sh["invoice_id"], SYSTEM), "shipment_id": sh["id"]}


def section(html: str, heading: str) -> str:
    """The panel whose heading is ``heading``."""
    found = re.search(rf"<section[^>]*>\s*<h2>{re.escape(heading)}</h2>(.*?)</section>", html, re.S)
    return found.group(1) if found else ""


def api_get(app: Any, key: str, path: str) -> Any:
    r = app.test_client().get(path, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


# -- periods ---------------------------------------------------------------------------

def test_an_admin_reopens_a_closed_month_with_a_reason_and_it_is_audited(
        engine: Engine, shop: Any, accountant_web: Web, admin_web: Web) -> None:
    period = last_month()
    assert accountant_web.post(f"/books/periods/{period}/close", {"form_token": "close-1"}).status_code == 303
    # An accountant closes months but does not reopen them, nor is offered to.
    page = accountant_web.get("/books/periods").text
    assert f"Reopen {period}" not in page
    assert accountant_web.post(f"/books/periods/{period}/reopen", {"reason": "late invoice"}).status_code == 403

    page = admin_web.get("/books/periods").text
    assert f"Reopen {period}" in page and f'action="/books/periods/{period}/reopen"' in page
    # Without a reason nothing happens: the reason is what the audit trail keeps.
    r = admin_web.post(f"/books/periods/{period}/reopen", {"form_token": "reopen-1", "reason": " "})
    assert r.status_code == 422 and 'id="f-reason-error"' in r.text and "Say why the month is reopened" in r.text
    assert 'aria-current="page">Periods<' in r.text  # still under Books → Periods
    with engine.connect() as c:
        assert c.execute(select(P.c.closed_at).where(P.c.period == period)).scalar_one() is not None

    r = admin_web.post(f"/books/periods/{period}/reopen",
                       {"form_token": "reopen-2", "reason": "Supplier credit note dated in the month"})
    assert r.status_code == 303 and r.headers["Location"] == "/books/periods"
    page = admin_web.get("/books/periods").text
    assert f"Period {period} reopened" in flashes(page)
    assert f"Close {period}" in page and "reopened" in cells(page, f">{period}<")[3]
    with engine.connect() as c:
        row = c.execute(select(P).where(P.c.period == period)).one()
        audit = c.execute(select(AUDIT.c.action, AUDIT.c.actor, AUDIT.c.after)
                          .where(AUDIT.c.object_type == "period").order_by(AUDIT.c.id)).all()
    assert row.closed_at is None and row.reopened_by == "user:admin" and row.chain_seq is not None
    assert [(a.action, a.actor) for a in audit] == [("period.closed", "user:accountant"),
                                                   ("period.reopened", "user:admin")]
    assert audit[1].after["reason"] == "Supplier credit note dated in the month"
    history = section(page, "Closed and reopened")
    assert cells(history, "user:admin") [2:] == [period, "reopened", "Supplier credit note dated in the month"]
    # Reopening what is open is refused with the reason, on the same page.
    again = admin_web.post(f"/books/periods/{period}/reopen", {"form_token": "reopen-3", "reason": "again"})
    assert again.status_code == 409 and f"Period {period} is not closed" in flashes(again.text)


# -- the hash chain ------------------------------------------------------------------------

def test_the_chain_is_verified_from_the_page_and_a_changed_line_is_shown_in_red(
        engine: Engine, shop: Any, accountant_web: Web, clerk_web: Web) -> None:
    inv = sell(engine, [("RETRO-CLOCK", 2)])
    assert clerk_web.get("/books/verify").status_code == 403
    r = accountant_web.get("/books/verify")
    assert r.status_code == 200 and "badge-ok" in r.text and "chain-break" not in r.text
    with engine.connect() as c:
        rows = c.execute(text("SELECT id, seq, hash, document FROM journal_entries ORDER BY seq")).all()
    assert all(row.seq for row in rows)  # the page sealed what was committed, as the API does
    assert f"Every one of the {len(rows)} sealed entries matches its hash" in r.text
    assert re.search(rf'Sealed up to</span><span class="tile-value">{len(rows)}<', r.text)

    target = next(row for row in rows if row.document == inv["number"])
    with engine.begin() as c:  # a cent moved from revenue to VAT behind the books' back
        c.execute(text("UPDATE journal_lines SET credit = credit - 1 WHERE entry_id = :e AND account = '4000'"),
                  {"e": target.id})
        c.execute(text("UPDATE journal_lines SET credit = credit + 1 WHERE entry_id = :e AND account = '2200'"),
                  {"e": target.id})
    r = accountant_web.get("/books/verify")
    assert r.status_code == 200 and "badge-bad" in r.text
    broken = re.search(r'<div class="problem chain-break" role="alert">(.*?)</div>\s*(?=<section)', r.text, re.S)
    assert broken, "the broken link is shown in the red problem box"
    box = broken.group(1)
    assert f"The chain is broken at entry {target.seq} ({inv['number']})" in box
    assert f"#{target.id}</a>" in box and target.hash in box  # the sealed hash, and the one it gives now
    assert re.search(rf'Entries verified</span><span class="tile-value">{target.seq - 1}<', r.text)
    stored_now = section(r.text, f"Entry #{target.id} as stored now")
    assert cells(stored_now, ">4000<")[-1] == "79.99" and cells(stored_now, ">2200<")[-1] == "17.61"


# -- the chart of accounts ---------------------------------------------------------------------

def test_an_admin_adds_an_account_and_edits_one_under_the_chart_rules(
        app: Any, engine: Engine, accountant_web: Web, admin_web: Web) -> None:
    page = accountant_web.get("/books/accounts").text
    assert "Posting role" in page and cells(page, ">1100<")[3] == "receivables"
    assert "Add an account" not in page and "/edit" not in page
    assert accountant_web.post("/books/accounts", {"code": "4010"}).status_code == 403
    assert accountant_web.get("/books/accounts/1100/edit").status_code == 403

    r = admin_web.post("/books/accounts", {"form_token": "acc-1", "code": "4010", "name": "Revenue, trade",
                                           "type": "revenue", "role": "revenue"})
    assert r.status_code == 303
    page = admin_web.get("/books/accounts").text
    assert "Account 4010 Revenue, trade added; revenue is posted to it from now on." in flashes(page)
    row = [" ".join(c.split()) for c in cells(page, ">4010<")]
    assert row[1:4] == ["Revenue, trade", "revenue (credit)", "revenue"]
    assert cells(page, ">4000<")[3] == "formerly revenue"
    admin_key = make_key(engine, "books-admin", "admin")
    chart = {a["code"]: a for a in api_get(app, admin_key, "/api/v1/ledger/accounts")["items"]}
    assert chart["4010"]["name"] == "Revenue, trade" and chart["4010"]["role"] == "revenue"

    # What the chart refuses comes back as the form, the refusal next to its field.
    twice = admin_web.post("/books/accounts", {"form_token": "acc-2", "code": "4010", "name": "Again",
                                               "type": "revenue", "role": ""})
    assert twice.status_code == 422 and "Account 4010 already exists." in twice.text
    assert 'id="f-code-error"' in twice.text and 'value="Again"' in twice.text
    assert 'aria-current="page">Accounts<' in twice.text
    bad = admin_web.post("/books/accounts", {"form_token": "acc-3", "code": "=SUM(A1)", "name": "x",
                                             "type": "revenue", "role": ""})
    assert bad.status_code == 422 and 'id="f-code-error"' in bad.text and "is not an account code" in bad.text
    no_type = admin_web.post("/books/accounts", {"form_token": "acc-4", "code": "4020", "name": "x", "type": "misc"})
    assert no_type.status_code == 422 and 'id="f-type-error"' in no_type.text

    form = admin_web.get("/books/accounts/4010/edit")
    assert form.status_code == 200 and 'value="Revenue, trade"' in form.text
    r = admin_web.post("/books/accounts/4010/edit", {"form_token": "edit-1", "name": "Sales", "type": "revenue",
                                                     "role": "revenue"})
    assert r.status_code == 303
    assert cells(admin_web.get("/books/accounts").text, ">4010<")[1] == "Sales"
    with engine.connect() as c:
        updated = c.execute(select(AUDIT.c.actor, AUDIT.c.before, AUDIT.c.after)
                            .where(AUDIT.c.action == "account.updated")).all()
    assert [(u.actor, u.before, u.after) for u in updated] == [("user:admin", {"name": "Revenue, trade"},
                                                                {"name": "Sales"})]
    # An account serves one role in its life: 4000 served revenue, it cannot become cost of goods.
    r = admin_web.post("/books/accounts/4000/edit", {"form_token": "edit-2", "name": "Revenue", "type": "revenue",
                                                     "role": "cogs"})
    assert r.status_code == 422 and 'id="f-role-error"' in r.text and "served revenue before" in r.text
    empty = admin_web.post("/books/accounts/4010/edit", {"form_token": "edit-3", "name": "", "type": "revenue"})
    assert empty.status_code == 422 and 'id="f-name-error"' in empty.text
    assert admin_web.get("/books/accounts/NOPE/edit").status_code == 404
    assert admin_web.get("/books/accounts/" + "9" * 40 + "/edit").status_code == 404


# -- the trial balance, downloaded ----------------------------------------------------------

def test_the_trial_balance_downloads_as_of_the_date_shown_and_matches_the_api(
        app: Any, engine: Engine, shop: Any, accountant_web: Web) -> None:
    with on("2026-03-10"):
        sell(engine, [("RETRO-CLOCK", 2)])
    with on("2026-04-10"):
        sell(engine, [("DESK-LAMP", 1)])
    page = accountant_web.get("/books/trial-balance?as_of=2026-03-31").text
    assert 'href="/books/trial-balance/export?format=csv&amp;as_of=2026-03-31"' in page
    assert 'href="/books/trial-balance/export?format=xlsx&amp;as_of=2026-03-31"' in page
    r = accountant_web.get("/books/trial-balance/export?format=csv&as_of=2026-03-31")
    assert r.status_code == 200 and r.is_streamed and r.mimetype == "text/csv"
    assert 'filename="trial_balance_start_2026-03-31.csv"' in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    accounts, total = rows[:-1], rows[-1]
    assert sum(Decimal(a["balance"]) for a in accounts) == 0
    assert total["account_name"] == "Total" and total["debit"] == total["credit"] and total["balance"] == "0.00"
    key = make_key(engine, "books-accountant", "accountant")
    tb = api_get(app, key, "/api/v1/ledger/trial-balance?as_of=2026-03-31")
    assert {a["account"]: (a["debit"], a["credit"], a["balance"]) for a in accounts} == {
        a["code"]: (a["debit"], a["credit"], a["balance"]) for a in tb["accounts"]}
    assert next(a for a in accounts if a["account"] == "1100")["balance"] == "97.60"  # the lamp is April's
    xlsx = accountant_web.get("/books/trial-balance/export?format=xlsx&as_of=2026-03-31")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    everything = accountant_web.get("/books/trial-balance/export")
    assert 'filename="trial_balance_start_today.csv"' in everything.headers["Content-Disposition"]
    for bad in ("format=saft", "format=pdf", "as_of=March"):
        assert accountant_web.get(f"/books/trial-balance/export?{bad}").status_code == 400, bad


# -- a document's journal entries ---------------------------------------------------------------

def test_each_document_shows_the_entries_it_posted(engine: Engine, shop: Any, accountant_web: Web,
                                                   clerk_web: Web) -> None:
    inv = sell(engine, [("RETRO-CLOCK", 2)])
    with unit_of_work(engine, "test") as tx:
        pay = payments.record_payment(tx, {"customer_id": inv["customer_id"], "amount": Decimal("97.60"),
                                           "currency": "EUR", "received_on": tx.today, "method": "bank_transfer",
                                           "reference": "SEPA-JOURNAL-1"})
    with unit_of_work(engine, "test") as tx:
        rma = returns.create_return(tx, inv["order_id"], SYSTEM, {
            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}], "restock": True, "refund": "credit"})
    with engine.connect() as c:
        posted_all = c.execute(text("SELECT id, source_type, source_id FROM journal_entries ORDER BY id")).all()
    entry_of = {(r.source_type, r.source_id): r.id for r in posted_all}  # the first of each document

    page = accountant_web.get(f"/invoices/{inv['id']}").text
    posted = section(page, "Journal entries")
    eid = entry_of[("invoice", inv["id"])]
    assert f'href="/books/journal?from={inv["issue_date"]}&amp;after={eid - 1}#entry-{eid}">#{eid}</a>' in posted
    assert cells(posted, ">1100<")[-2:] == ["97.60", ""]  # receivable: the total
    assert cells(posted, ">4000<")[-2:] == ["", "80.00"]  # revenue: the net
    assert cells(posted, ">2200<")[-2:] == ["", "17.60"]  # VAT payable
    assert "Cost of goods" not in posted  # the shipment's entry is on the shipment
    journal = accountant_web.get(f"/books/journal?from={inv['issue_date']}&after={eid - 1}").text
    assert f'id="entry-{eid}"' in journal

    shipment = section(accountant_web.get(f"/shipments/{inv['shipment_id']}").text, "Journal entries")
    assert cells(shipment, ">5000<")[-2:] == ["30.00", ""] and cells(shipment, ">1200<")[-2:] == ["", "30.00"]
    payment = section(accountant_web.get(f"/payments/{pay['id']}").text, "Journal entries")
    assert f"#{entry_of[('payment', pay['id'])]}<" in payment and cells(payment, ">1000<")[-2:] == ["97.60", ""]
    credit_note = section(accountant_web.get(f"/credit-notes/{rma['credit_note_ids'][0]}").text, "Journal entries")
    assert cells(credit_note, ">4000<")[-2:] == ["40.00", ""]
    returned = section(accountant_web.get(f"/returns/{rma['id']}").text, "Journal entries")
    assert cells(returned, ">1200<")[-2:] == ["15.00", ""]
    # The order shows what all its documents posted, in the order they were posted.
    order = section(accountant_web.get(f"/orders/{inv['order_id']}").text, "Journal entries")
    numbers = [int(n) for n in re.findall(r">#(\d+)</a>", order)]
    mine = {("shipment", inv["shipment_id"]), ("invoice", inv["id"]), ("return", rma["id"]),
            ("credit_note", rma["credit_note_ids"][0])}
    assert numbers == [r.id for r in posted_all if (r.source_type, r.source_id) in mine]
    assert len(numbers) == 5  # the credit note posted twice: the credit, and the paid part released as credit
    # Clerks do not read the ledger: no journal on their pages.
    assert "Journal entries" not in clerk_web.get(f"/invoices/{inv['id']}").text


def test_an_orders_journal_is_read_in_one_query(engine: Engine, shop: Any) -> None:
    inv = sell(engine, [("RETRO-CLOCK", 1)])
    sell(engine, [("DESK-LAMP", 1)])  # another order's entries stay out
    statements: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)
    with unit_of_work(engine, "test", readonly=True) as tx:
        event.listen(engine, "before_cursor_execute", count)
        try:
            entries = queries.document_journal(tx, "order", inv["order_id"])
        finally:
            event.remove(engine, "before_cursor_execute", count)
    assert len(statements) == 1
    assert [e["source_type"] for e in entries] == ["shipment", "invoice"] and entries[1]["document"] == inv["number"]
    assert all(sum(l["debit"] for l in e["lines"]) == sum(l["credit"] for l in e["lines"]) for e in entries)
