"""Exports leave the building: each is read back the way the receiving tool
would, and must add up to the trial balance."""
from __future__ import annotations

import csv
import io
import xml.etree.ElementTree as ET
from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from click.testing import CliRunner

from o2c.cli import main
from o2c.services.books.exports import JOURNAL_COLUMNS, SAFT_NS
from tests.api.books_helpers import on, pay, sell
from tests.conftest import Client, customer, product

NS = {"s": SAFT_NS}
ZERO = Decimal("0.00")


@pytest.fixture
def books(admin: Client) -> dict[str, Any]:
    """Two customers, one with a name a spreadsheet would run; sales and a payment over two months."""
    rossi = customer(admin, "C-ROSSI")
    evil = customer(admin, "=HYPERLINK(\"x\")", name="@Evil, \"quoted\" Ltd.", language="pl")
    product(admin, "RETRO-CLOCK", "49.90", "0.22", stock=20, cost="20.00")
    product(admin, "MUG-01", "8.50", "0.10", stock=20, cost="3.33")
    sell(admin, "C-ROSSI", [("RETRO-CLOCK", 2), ("MUG-01", 3)], "2026-01-10")
    sell(admin, evil["code"], [("MUG-01", 5)], "2026-01-20")
    sell(admin, "C-ROSSI", [("RETRO-CLOCK", 1)], "2026-02-05")
    with on("2026-02-06"):
        assert pay(admin, rossi["id"], "150.00", "2026-02-06", "BANK-1").status_code == 201
    return {"rossi": rossi, "evil": evil}


def trial_balance(api: Client, as_of: str | None = None) -> dict[str, Decimal]:
    tb = api.ok("get", "/api/v1/ledger/trial-balance" + (f"?as_of={as_of}" if as_of else ""))
    return {a["code"]: Decimal(a["debit"]) - Decimal(a["credit"]) for a in tb["accounts"] if a["debit"] != "0.00"
            or a["credit"] != "0.00"}


def summed(rows: list[tuple[str, Decimal, Decimal]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = defaultdict(lambda: ZERO)
    for account, debit, credit in rows:
        out[account] += debit - credit
    return {k: v for k, v in out.items() if v or True}


def test_csv_export_reimported_equals_the_trial_balance(accountant, books):  # type: ignore[no-untyped-def]
    r = accountant.get("/api/v1/ledger/export?format=csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="journal_')
    raw = r.get_data()
    assert b"\r\n" in raw and raw.decode("utf-8")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8"), newline="")))
    assert list(rows[0]) == list(JOURNAL_COLUMNS)
    got = summed([(x["account"], Decimal(x["debit"]), Decimal(x["credit"])) for x in rows])
    assert got == trial_balance(accountant)
    numbers = sorted({int(x["entry_number"]) for x in rows})
    assert numbers == list(range(1, len(numbers) + 1))  # gapless: the chain's sequence
    assert {x["currency"] for x in rows} == {"EUR"}
    # Cells a spreadsheet would evaluate are neutralised; quotes and commas survive.
    assert {x["customer"] for x in rows if x["customer"]} == {"C-ROSSI", "'=HYPERLINK(\"x\")"}
    assert all(not x[c].startswith(("=", "+", "-", "@")) for x in rows for c in ("account_name", "document",
                                                                                   "customer", "description"))


def test_a_date_range_exports_just_those_lines(accountant, books):  # type: ignore[no-untyped-def]
    rows = list(csv.DictReader(io.StringIO(
        accountant.get("/api/v1/ledger/export?from=2026-02-01&to=2026-02-28").get_data(as_text=True), newline="")))
    assert rows and {x["date"][:7] for x in rows} == {"2026-02"}
    jan = trial_balance(accountant, "2026-01-31")
    feb = summed([(x["account"], Decimal(x["debit"]), Decimal(x["credit"])) for x in rows])
    assert {k: jan.get(k, ZERO) + feb.get(k, ZERO) for k in jan | feb} == trial_balance(accountant, "2026-02-28")
    bad = accountant.get("/api/v1/ledger/export?format=pdf")
    assert bad.status_code == 422 and bad.get_json()["error"]["code"] == "validation_error"


def test_xlsx_export_opens_in_openpyxl_and_adds_up(accountant, books):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook
    r = accountant.get("/api/v1/ledger/export?format=xlsx")
    assert r.status_code == 200 and r.mimetype.endswith("spreadsheetml.sheet")
    wb = load_workbook(io.BytesIO(r.get_data()), read_only=True)
    ws = wb["Journal"]
    header, *rows = list(ws.iter_rows(values_only=True))
    assert header == JOURNAL_COLUMNS
    got = summed([(row[2], Decimal(str(row[4])), Decimal(str(row[5]))) for row in rows])
    assert {k: v.quantize(Decimal("0.01")) for k, v in got.items()} == trial_balance(accountant)
    assert {row[7] for row in rows if row[7]} == {"C-ROSSI", "'=HYPERLINK(\"x\")"}
    wb.close()


def test_saft_is_well_formed_and_its_totals_equal_the_journal(accountant, books):  # type: ignore[no-untyped-def]
    r = accountant.get("/api/v1/ledger/export?format=saft&from=2026-01-01&to=2026-12-31")
    assert r.status_code == 200 and r.mimetype == "application/xml"
    root = ET.fromstring(r.get_data())
    assert root.tag == f"{{{SAFT_NS}}}AuditFile"
    assert root.findtext("s:Header/s:AuditFileVersion", namespaces=NS) == "2.00"
    assert root.findtext("s:Header/s:SelectionCriteria/s:SelectionStartDate", namespaces=NS) == "2026-01-01"
    gle = root.find("s:GeneralLedgerEntries", NS)
    transactions = gle.findall("s:Journal/s:Transaction", NS)
    lines = gle.findall("s:Journal/s:Transaction/s:Line", NS)
    debit = sum((Decimal(l.findtext("s:DebitAmount/s:Amount", "0", NS)) for l in lines), ZERO)
    credit = sum((Decimal(l.findtext("s:CreditAmount/s:Amount", "0", NS)) for l in lines), ZERO)
    assert int(gle.findtext("s:NumberOfEntries", namespaces=NS)) == len(transactions)
    assert Decimal(gle.findtext("s:TotalDebit", namespaces=NS)) == debit == credit
    assert Decimal(gle.findtext("s:TotalCredit", namespaces=NS)) == credit
    per_account = summed([(l.findtext("s:AccountID", namespaces=NS),
                           Decimal(l.findtext("s:DebitAmount/s:Amount", "0", NS)),
                           Decimal(l.findtext("s:CreditAmount/s:Amount", "0", NS))) for l in lines])
    tb = trial_balance(accountant)
    assert per_account == tb
    # Master data: closing balances per account are the trial balance; customers carry their receivables account.
    for acc in root.findall("s:MasterFiles/s:GeneralLedgerAccounts/s:Account", NS):
        code = acc.findtext("s:AccountID", namespaces=NS)
        closing = Decimal(acc.findtext("s:ClosingDebitBalance", "0", NS)) - Decimal(
            acc.findtext("s:ClosingCreditBalance", "0", NS))
        assert closing == tb.get(code, ZERO), code
    names = {c.findtext("s:Name", namespaces=NS) for c in root.findall("s:MasterFiles/s:Customers/s:Customer", NS)}
    assert names == {"Rossi Arredamenti", "@Evil, \"quoted\" Ltd."}


def test_trial_balance_exports(accountant, books):  # type: ignore[no-untyped-def]
    from openpyxl import load_workbook
    rows = list(csv.reader(io.StringIO(
        accountant.get("/api/v1/ledger/trial-balance/export?format=csv").get_data(as_text=True), newline="")))
    assert rows[0] == ["account", "account_name", "type", "debit", "credit", "balance"]
    assert rows[-1][1] == "Total" and rows[-1][3] == rows[-1][4] and rows[-1][5] == "0.00"
    wb = load_workbook(io.BytesIO(accountant.get("/api/v1/ledger/trial-balance/export?format=xlsx").get_data()))
    assert [c.value for c in wb.active[1]] == ["account", "account_name", "type", "debit", "credit", "balance"]


def test_cli_export_writes_the_file(books, db_url, tmp_path, monkeypatch, accountant):  # type: ignore[no-untyped-def]
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)
    out = tmp_path / "jan.csv"
    result = CliRunner().invoke(main, ["ledger", "export", "--from", "2026-01-01", "--to", "2026-01-31",
                                       "--format", "csv", "-o", str(out), "--no-progress"])
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(io.StringIO(out.read_text("utf-8"), newline="")))
    assert f"{len(rows)} journal lines written" in result.output
    assert summed([(x["account"], Decimal(x["debit"]), Decimal(x["credit"])) for x in rows]) == \
        trial_balance(accountant, "2026-01-31")
    for fmt in ("xlsx", "saft"):
        path = tmp_path / f"all.{fmt}"
        assert CliRunner().invoke(main, ["ledger", "export", "--format", fmt, "-o", str(path),
                                         "--no-progress"]).exit_code == 0
        assert path.stat().st_size > 1000
