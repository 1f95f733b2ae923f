"""Bank statements in: CAMT.053 (two versions), MT940 and CSV files written
from o2c's own invoices round-trip into lines; the same file or an
overlapping export never adds a line twice; bad files are refused whole with
a clear message; only the back office imports and reads them."""
from __future__ import annotations

import datetime as dt
from collections import Counter
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from tests.api.books_helpers import sell
from tests.bankfiles import (
    BOMB,
    COMPANY_IBAN,
    CSV_MAPPING,
    EXTERNAL_ENTITY,
    QUIRKS_CAMT,
    Stmt,
    Txn,
    camt053,
    csv_export,
    mt940,
    payments_for,
)
from tests.conftest import Client, customer, product, reconciliation_ok
from tests.services.test_races import Answer, clients, race

XML = {"Content-Type": "application/xml"}
MT = {"Content-Type": "text/plain"}
CSV = {"Content-Type": "text/csv"}
DAY = dt.date(2026, 11, 2)


def upload(api: Client, data: bytes, headers: dict[str, str], query: str = "") -> Any:
    return api.c.post(f"/api/v1/bank/statements{query}", data=data, headers=api._h(headers))


def counts(engine: Engine) -> tuple[int, int, int, int]:
    with engine.connect() as c:
        return tuple(c.execute(select(func.count()).select_from(t)).scalar_one() for t in (  # type: ignore[return-value]
            m.BankStatement.__table__, m.BankLine.__table__, m.Event.__table__, m.AuditLog.__table__))


@pytest.fixture
def invoices(admin: Client) -> list[dict[str, Any]]:
    product(admin, "MUG-01", "12.50", stock=100)
    out = []
    for i in range(4):
        customer(admin, f"C-BANK-{i}")
        out.append(sell(admin, f"C-BANK-{i}", [("MUG-01", i + 1)]))
    return out


def month(invoices: list[dict[str, Any]]) -> list[Stmt]:
    """Two statements: three invoices paid by reference, a bank fee; then the
    fourth paid quoting its number."""
    first = payments_for(invoices[:3], DAY) + [Txn(DAY, Decimal("-2.50"), remittance="Account fee",
                                                   code="ACMT/MDOP/CHRG")]
    s1 = Stmt("2026-11-A", DAY, DAY + dt.timedelta(days=1), Decimal("1000.00"), first)
    s2 = Stmt("2026-11-B", DAY + dt.timedelta(days=2), DAY + dt.timedelta(days=3), s1.closing,
              payments_for(invoices[3:], DAY + dt.timedelta(days=3), by="number"))
    return [s1, s2]


@pytest.mark.parametrize(("kind", "version"), [("camt", "02"), ("camt", "08"), ("mt940", None)])
def test_statements_written_from_our_invoices_round_trip_and_import_once(
        admin: Client, engine: Engine, invoices: list[dict[str, Any]], kind: str, version: str | None) -> None:
    stmts = month(invoices)
    data = camt053(COMPANY_IBAN, "EUR", stmts, version or "08") if kind == "camt" else mt940(COMPANY_IBAN, "EUR",
                                                                                          stmts)
    r = upload(admin, data, XML if kind == "camt" else MT)
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert [s["line_count"] for s in body["statements"]] == [4, 1]
    first = body["statements"][0]
    assert first == {**first, "account_iban": COMPANY_IBAN, "currency": "EUR", "opening_balance": "1000.00",
                     "closing_balance": f"{stmts[0].closing:.2f}", "unmatched": 1, "matched": 3, "suggested": 0,
                     "ignored": 0, "continuity": "ok", "from_date": "2026-11-02", "to_date": "2026-11-03"}
    assert body["statements"][1]["continuity"] == "ok"

    detail = admin.ok("get", f"/api/v1/bank/statements/{first['id']}")
    lines = detail["lines"]
    assert [ln["amount"] for ln in lines] == [f"{Decimal(i['total']):.2f}" for i in invoices[:3]] + ["-2.50"]
    refs = [ln["creditor_ref"] for ln in lines[:3]]
    assert all(ref and ref.startswith("RF") for ref in refs)
    # Cash application ran right after the import: the references paid their invoices.
    assert [ln["status"] for ln in lines] == ["matched"] * 3 + ["unmatched"]
    assert lines[0]["counterparty_iban"] and lines[0]["end_to_end_id"] == f"E2E-{invoices[0]['number']}"
    second = admin.ok("get", f"/api/v1/bank/statements/{body['statements'][1]['id']}")["lines"]
    assert invoices[3]["number"] in second[0]["remittance"]

    before = counts(engine)
    again = upload(admin, data, XML if kind == "camt" else MT)
    assert again.status_code == 200, again.get_json()
    assert [s["id"] for s in again.get_json()["statements"]] == [s["id"] for s in body["statements"]]
    assert counts(engine) == before

    events = admin.ok("get", "/api/v1/events?limit=100")["items"]
    assert Counter(e["type"] for e in events)["bank_statement.imported"] == 2
    with engine.connect() as c:
        audit = c.execute(select(m.AuditLog.__table__.c.action).where(
            m.AuditLog.__table__.c.object_type == "bank_statement")).scalars().all()
    assert audit == ["bank_statement.imported"] * 2


def test_a_csv_export_is_read_with_the_accounts_named_mapping(admin: Client, clerk: Client, engine: Engine,
                                                              invoices: list[dict[str, Any]]) -> None:
    account = admin.ok("get", "/api/v1/bank/accounts")["items"][0]
    assert (account["iban"], account["gl_account"], account["currency"]) == (COMPANY_IBAN, "1000", "EUR")
    txns = payments_for(invoices, DAY, by="number") + [Txn(DAY, Decimal("-1.20"), remittance="Spese")]
    data = csv_export(txns)
    refused = upload(clerk, data, CSV, "?mapping=home-bank")
    assert refused.status_code == 422 and "home-bank" in refused.get_json()["error"]["message"]
    admin.ok("patch", f"/api/v1/bank/accounts/{account['id']}", {"csv_mappings": {"home-bank": CSV_MAPPING}})

    r = upload(clerk, data, CSV, "?mapping=home-bank")
    assert r.status_code == 201, r.get_json()
    st = admin.ok("get", f"/api/v1/bank/statements/{r.get_json()['id']}")
    assert st["opening_balance"] is None and st["line_count"] == 5
    assert [ln["amount"] for ln in st["lines"]] == [f"{Decimal(i['total']):.2f}" for i in invoices] + ["-1.20"]
    assert invoices[0]["number"] in st["lines"][0]["remittance"]
    before = counts(engine)
    assert upload(clerk, data, CSV, "?mapping=home-bank").status_code == 200
    assert counts(engine) == before


def test_bank_quirks_batches_split_remittance_reversals_and_pending_entries(admin: Client) -> None:
    r = upload(admin, QUIRKS_CAMT, XML)
    assert r.status_code == 201, r.get_json()
    st = admin.ok("get", f"/api/v1/bank/statements/{r.get_json()['id']}")
    lines = st["lines"]
    assert [ln["amount"] for ln in lines] == ["122.00", "150.00", "50.00", "-27.00"]  # the pending entry is left out
    assert lines[0]["remittance"] == "Saldo fattura INV-2026-0 00045 grazie"
    assert lines[0]["value_date"] == "2026-12-01" and lines[0]["booking_date"] == "2026-11-30"
    assert lines[0]["counterparty_iban"] == "IT02A0301503200000003517230"
    assert lines[1]["creditor_ref"] == "RF18539007547034" and lines[1]["end_to_end_id"] == "E2E-A"
    assert lines[1]["counterparty_name"] == "Alpha GmbH" and lines[2]["counterparty_name"] == "Beta SA"
    assert lines[3]["reversal"] is True and "AC04" in lines[3]["remittance"]
    assert (st["opening_balance"], st["closing_balance"]) == ("500.00", "795.00")


def test_an_overlapping_export_adds_only_the_new_lines_and_a_contained_one_nothing(
        admin: Client, engine: Engine, invoices: list[dict[str, Any]]) -> None:
    days = [DAY + dt.timedelta(days=i) for i in range(4)]
    txns = [Txn(d, Decimal(f"{10 + i}.00"), f"Payer {i}", remittance=f"Order {i}") for i, d in enumerate(days)]
    week = Stmt("WEEK-45", days[0], days[3], Decimal("0.00"), txns)
    first = upload(admin, camt053(COMPANY_IBAN, "EUR", [week]), XML).get_json()
    assert first["line_count"] == 4

    # Another export of days 2 to 4 (a different statement), plus a new day 5.
    day5 = Txn(DAY + dt.timedelta(days=4), Decimal("99.00"), "Payer 5", remittance="Order 5")
    later = Stmt("DAILY-2-5", days[1], day5.booking_date, Decimal("10.00"), txns[1:] + [day5])
    r = upload(admin, camt053(COMPANY_IBAN, "EUR", [later], "02"), XML)
    assert r.status_code == 201
    assert (r.get_json()["line_count"], r.get_json()["continuity"]) == (1, "overlap")

    before = counts(engine)
    inside = Stmt("DAILY-3", days[2], days[2], Decimal("21.00"), [txns[2]])
    r = upload(admin, mt940(COMPANY_IBAN, "EUR", [inside]), MT)
    assert r.status_code == 200 and r.get_json()["id"] == first["id"]
    assert counts(engine) == before
    lines = admin.ok("get", "/api/v1/bank/lines?limit=100")["items"]
    assert sorted(ln["amount"] for ln in lines) == ["10.00", "11.00", "12.00", "13.00", "99.00"]


def test_two_equal_transfers_on_one_day_are_two_lines(admin: Client) -> None:
    twice = [Txn(DAY, Decimal("25.00"), "Same Payer", remittance="Rent")] * 2
    r = upload(admin, camt053(COMPANY_IBAN, "EUR", [Stmt("TWICE", DAY, DAY, Decimal("0.00"), twice)]), XML)
    assert r.get_json()["line_count"] == 2


def test_a_statement_that_does_not_continue_the_last_says_which_days_are_missing(admin: Client) -> None:
    s1 = Stmt("S1", DAY, DAY, Decimal("100.00"), [Txn(DAY, Decimal("5.00"), "A", remittance="x")])
    s3 = Stmt("S3", DAY + dt.timedelta(days=4), DAY + dt.timedelta(days=4), Decimal("180.00"),
              [Txn(DAY + dt.timedelta(days=4), Decimal("7.00"), "B", remittance="y")])
    upload(admin, camt053(COMPANY_IBAN, "EUR", [s1]), XML)
    gap = upload(admin, camt053(COMPANY_IBAN, "EUR", [s3]), XML).get_json()
    assert gap["continuity"] == "gap"
    assert gap["missing_days"] == {"from": "2026-11-03", "to": "2026-11-05"}
    s4 = Stmt("S4", DAY + dt.timedelta(days=5), DAY + dt.timedelta(days=5), Decimal("187.00"), [])
    assert upload(admin, camt053(COMPANY_IBAN, "EUR", [s4]), XML).get_json()["continuity"] == "ok"


def _one(txns: list[Txn], **kw: Any) -> list[Stmt]:
    return [Stmt(kw.get("ref", "BAD"), DAY, DAY, Decimal("0.00"), txns)]


GOOD = [Txn(DAY, Decimal("10.00"), "A", remittance="x")]


@pytest.mark.parametrize(("data", "headers", "status", "words"), [
    (b'{"not": "a statement"}', {"Content-Type": "application/json"}, 415, "Content-Type"),
    (b"just some words", XML, 422, "well-formed XML"),
    (b"<html><body>hello</body></html>", XML, 422, "not a CAMT.053"),
    (b"hello: this is not MT940", MT, 422, "not an MT940"),
    (camt053(COMPANY_IBAN, "EUR", _one(GOOD)).replace(b"camt.053.001.08", b"camt.053.001.13"), XML, 422,
     "version 001.13"),
    (camt053("DE89370400440532013000", "EUR", _one(GOOD)), XML, 422, "DE89370400440532013000"),
    (camt053(COMPANY_IBAN, "USD", _one([Txn(DAY, Decimal("10.00"), "A", remittance="x")])), XML, 422, "USD"),
    (camt053(COMPANY_IBAN, "EUR", _one(GOOD))[:-120], XML, 422, "not complete"),
    (camt053(COMPANY_IBAN, "EUR", _one(GOOD + [Txn(DAY, Decimal("0.00"), "Z", remittance="zero")])), XML, 422,
     "zero amount"),
    (mt940(COMPANY_IBAN, "EUR", _one(GOOD + GOOD + GOOD)).replace(b":61:", b":XX:", 1), MT, 422, "does not add up"),
    (BOMB, XML, 422, "document type"),
    (EXTERNAL_ENTITY, XML, 422, "document type"),
    (b"", XML, 422, ""),
    (csv_export(GOOD), CSV, 422, "mapping"),
], ids=["json", "not-xml", "not-camt", "not-mt940", "camt-version", "unknown-iban", "currency", "truncated",
        "zero-amount", "mt940-truncated", "xml-bomb", "external-entity", "empty", "csv-without-mapping"])
def test_bad_files_are_refused_whole_with_a_clear_message(admin: Client, engine: Engine, data: bytes,
                                                          headers: dict[str, str], status: int, words: str) -> None:
    before = counts(engine)
    r = upload(admin, data, headers)
    assert r.status_code == status, r.get_json()
    err = r.get_json()["error"]
    assert words in err["message"], err
    assert counts(engine) == before


def test_a_file_with_one_bad_statement_imports_none_of_them(admin: Client, engine: Engine) -> None:
    good = Stmt("OK-1", DAY, DAY, Decimal("0.00"), GOOD)
    bad = Stmt("BAD-2", DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1), Decimal("10.00"),
               [Txn(DAY + dt.timedelta(days=1), Decimal("0.00"), "Z", remittance="zero")])
    before = counts(engine)
    assert upload(admin, camt053(COMPANY_IBAN, "EUR", [good, bad]), XML).status_code == 422
    assert counts(engine) == before


def test_a_file_over_the_bank_limit_is_413_while_the_general_limit_stays(app: Any, admin: Client,
                                                                        engine: Engine) -> None:
    config = app.config["O2C"]
    assert config.BANK_FILE_MAX_BYTES > app.config["MAX_CONTENT_LENGTH"]
    big = camt053(COMPANY_IBAN, "EUR", [Stmt("BIG", DAY, DAY, Decimal("0.00"), [
        Txn(DAY, Decimal("1.00"), f"Payer {i}", remittance="r" * 100) for i in range(6000)])])
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    r = upload(admin, big, XML)
    assert r.status_code == 201, r.get_json()  # bigger than any JSON body may be, within the bank limit
    config.BANK_FILE_MAX_BYTES, saved = 1000, config.BANK_FILE_MAX_BYTES
    try:
        before = counts(engine)
        r = upload(admin, big, XML)
        assert r.status_code == 413
        assert r.get_json()["error"]["code"] == "payload_too_large"
        assert counts(engine) == before
    finally:
        config.BANK_FILE_MAX_BYTES = saved
    json_big = admin.post("/api/v1/customers", {"code": "X", "name": "x" * (app.config["MAX_CONTENT_LENGTH"] + 10)})
    assert json_big.status_code == 413


def test_bank_accounts_validate_the_iban_and_are_unique(admin: Client, accountant: Client, clerk: Client) -> None:
    bad = accountant.post("/api/v1/bank/accounts", {"iban": "DE89370400440532013001", "currency": "EUR"})
    assert bad.status_code == 422 and "DE89370400440532013001" in bad.get_json()["error"]["message"]
    shared = accountant.post("/api/v1/bank/accounts", {"iban": "DE89370400440532013000", "currency": "EUR"})
    assert shared.status_code == 422 and COMPANY_IBAN in shared.get_json()["error"]["message"]
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "1010", "name": "Bank Berlin", "type": "asset"}, status=201)
    made = accountant.ok("post", "/api/v1/bank/accounts", {"iban": "DE89 3704 0044 0532 0130 00", "name": "Berlin",
                                                          "currency": "EUR", "gl_account": "1010"}, status=201)
    assert (made["iban"], made["gl_account"]) == ("DE89370400440532013000", "1010")
    again = accountant.post("/api/v1/bank/accounts", {"iban": "DE89370400440532013000", "currency": "EUR"})
    assert again.status_code == 409
    not_asset = accountant.post("/api/v1/bank/accounts", {"iban": "NL91ABNA0417164300", "currency": "EUR",
                                                          "gl_account": "1100"})
    assert not_asset.status_code == 422
    assert clerk.post("/api/v1/bank/accounts", {"iban": "NL91ABNA0417164300", "currency": "EUR"}).status_code == 403
    ibans = [a["iban"] for a in clerk.ok("get", "/api/v1/bank/accounts")["items"]]
    assert ibans == [COMPANY_IBAN, "DE89370400440532013000"]
    # a statement of the new account imports on it
    r = upload(clerk, camt053("DE89370400440532013000", "EUR", _one(GOOD)), XML)
    assert r.status_code == 201 and r.get_json()["account_iban"] == "DE89370400440532013000"


@pytest.mark.parametrize("role", ["webshop", "clerk", "accountant", "admin"])
def test_only_the_back_office_imports_and_reads_statements(app: Any, keys: dict[str, str], engine: Engine,
                                                           role: str) -> None:
    api = Client(app.test_client(), keys[role])
    data = camt053(COMPANY_IBAN, "EUR", _one(GOOD, ref=f"ROLE-{role}"))
    before = counts(engine)
    r = upload(api, data, XML)
    reads = [api.get("/api/v1/bank/statements"), api.get("/api/v1/bank/lines?status=unmatched"),
             api.get("/api/v1/bank/accounts")]
    if role == "webshop":
        assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
        assert counts(engine) == before
        assert [x.status_code for x in reads] == [403, 403, 403]
        assert api.get("/api/v1/bank/statements/1").status_code == 403
        return
    assert r.status_code == 201, r.get_json()
    assert [x.status_code for x in reads] == [200, 200, 200]
    assert reads[0].get_json()["items"][0]["id"] == r.get_json()["id"]
    assert [ln["status"] for ln in reads[1].get_json()["items"]] == ["unmatched"]


def test_lists_are_pages_and_filters_are_checked(admin: Client) -> None:
    for i in range(3):
        d = DAY + dt.timedelta(days=i)
        upload(admin, camt053(COMPANY_IBAN, "EUR", [Stmt(f"P{i}", d, d, Decimal(f"{i * 10}.00"),
                                                         [Txn(d, Decimal("10.00"), "A", remittance=f"{i}")])]), XML)
    page1 = admin.ok("get", "/api/v1/bank/statements?limit=2")
    assert [s["statement_ref"] for s in page1["items"]] == ["P2", "P1"] and page1["has_more"]
    page2 = admin.ok("get", f"/api/v1/bank/statements?limit=2&cursor={page1['next_cursor']}")
    assert [s["statement_ref"] for s in page2["items"]] == ["P0"] and not page2["has_more"]
    assert admin.get("/api/v1/bank/lines?status=lost").status_code == 422
    assert admin.get("/api/v1/bank/lines?colour=red").status_code == 422
    assert admin.ok("get", "/api/v1/bank/lines?status=matched")["items"] == []
    assert admin.get("/api/v1/bank/statements/999999").status_code == 404


def test_an_idempotency_key_replays_the_first_answer(admin: Client, engine: Engine) -> None:
    data = camt053(COMPANY_IBAN, "EUR", _one(GOOD, ref="IDEM"))
    h = {**XML, "Idempotency-Key": "bank-idem-1"}
    first = upload(admin, data, h)
    assert first.status_code == 201
    before = counts(engine)
    replay = upload(admin, data, h)
    assert replay.status_code == 201 and replay.headers.get("Idempotent-Replayed") == "true"
    assert replay.get_json() == first.get_json() and counts(engine) == before


def test_two_imports_of_one_file_racing_create_one_statement(app: Any, keys: dict[str, str], engine: Engine) -> None:
    data = camt053(COMPANY_IBAN, "EUR", [Stmt("RACE", DAY, DAY, Decimal("0.00"), [
        Txn(DAY, Decimal(f"{i + 1}.00"), f"P{i}", remittance=f"r{i}") for i in range(50)])])
    n = 6
    racers = clients(app, keys["clerk"], n)
    answers = race(n, lambda i: Answer(upload(racers[i], data, XML)))
    assert Counter(a.status for a in answers) == {201: 1, 200: n - 1}, answers
    assert len({a.body["id"] for a in answers}) == 1
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.BankStatement.__table__)).scalar_one() == 1
        assert c.execute(select(func.count()).select_from(m.BankLine.__table__)).scalar_one() == 50


def _bank_check(api: Client, as_of: str | None = None) -> dict[str, Any]:
    rep = api.ok("get", "/api/v1/reconciliation" + (f"?as_of={as_of}" if as_of else ""))
    found = [c for c in rep["checks"] if c["name"] == "bank"]
    assert len(found) == 1, found
    return found[0]


def test_the_bank_check_holds_as_lines_are_imported_applied_and_booked_ahead(
        admin: Client, engine: Engine, invoices: list[dict[str, Any]]) -> None:
    from tests.api.books_helpers import pay
    check = _bank_check(admin)
    assert check["difference"] == "0.00" and check["details"]["statement_ref"] is None

    today = dt.date.today()
    start = today - dt.timedelta(days=3)
    paid = payments_for(invoices[:2], start + dt.timedelta(days=1))
    st = Stmt("REC-1", start, start + dt.timedelta(days=1), Decimal("0.00"), paid)
    r = upload(admin, camt053(COMPANY_IBAN, "EUR", [st]), XML)
    assert r.status_code == 201
    # Cash application ran right after the import: both lines became payments of their day.
    check = _bank_check(admin)
    assert check["difference"] == "0.00"
    assert check["details"]["closing_balance"] == f"{st.closing:.2f}"
    assert check["details"]["not_applied_total"] == "0.00" and check["details"]["not_applied"] == []
    lines = admin.ok("get", f"/api/v1/bank/statements/{r.get_json()['id']}")["lines"]
    assert [ln["status"] for ln in lines] == ["matched", "matched"] and all(ln["payment_id"] for ln in lines)

    # booked in o2c today, after the statement: not reported by the bank yet, listed
    later = pay(admin, invoices[2]["customer_id"], "5.00", today.isoformat(), "HAND-TYPED")
    assert later.status_code == 201
    check = _bank_check(admin)
    assert check["difference"] == "0.00" and check["details"]["not_reported_total"] == "5.00"
    assert [e["amount"] for e in check["details"]["not_reported"]] == ["5.00"]
    reconciliation_ok(admin)
