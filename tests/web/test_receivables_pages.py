"""The accountant's receivables and ledger pages: aging with a link to each
customer's statement, the statement and its PDF, dunning runs and letters,
the general ledger of an account, and ledger exports — with the roles and
CSRF checks every page has."""
from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from sqlalchemy import Engine, select

from o2c.db import models as m
from tests.api.books_helpers import on
from tests.web.conftest import Web, add_customer, add_order, add_product, pack_and_ship

J = m.Job.__table__


@pytest.fixture
def overdue(engine: Engine) -> dict[str, Any]:
    """Rossi owes three invoices: issued 1 March (3 × 12.20), 20 April (1 × 12.20), and one not yet due."""
    c = add_customer(engine, "C-ROSSI")
    add_product(engine, "MUG-01", "10.00", on_hand=100, cost="3.00")
    invoices = []
    for day, qty in (("2026-03-01", 3), ("2026-04-20", 1), ("2026-05-25", 2)):
        with on(day):
            o = add_order(engine, "C-ROSSI", [("MUG-01", qty)])
            invoices.append(pack_and_ship(engine, o["id"])["invoice_id"])
    return {"customer": c, "invoices": invoices}


def cells(html: str, row_text: str) -> list[str]:
    """The cell texts of the first table row containing ``row_text``."""
    for row in re.findall(r"<tr.*?</tr>", html, re.S):
        if row_text in row:
            return [re.sub(r"<[^>]+>|\s+", " ", c).strip() for c in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)]
    raise AssertionError(f"no row with {row_text!r}")


# -- aging and statements -----------------------------------------------------------

def test_aging_buckets_per_customer_with_a_link_to_the_statement(accountant_web: Web, overdue: dict[str, Any]) -> None:
    r = accountant_web.get("/receivables/aging?as_of=2026-06-01")
    assert r.status_code == 200
    # Due 31 March (62 days), 20 May (12 days), 24 June (not yet due).
    row = cells(r.text, "C-ROSSI")
    assert row[1:8] == ["3", "24.40", "12.20", "—", "36.60", "—", "73.20"], row
    cid = overdue["customer"]["id"]
    assert f'href="/customers/{cid}/statement?to=2026-06-01"' in r.text
    assert "Receivables" in r.text and 'href="/receivables/aging"' in r.text  # in the navigation
    empty = accountant_web.get("/receivables/aging?as_of=2026-01-01")
    assert "Nothing is owed as of 2026-01-01" in empty.text


def test_statement_shows_movements_with_the_running_balance_and_downloads_as_pdf(
    accountant_web: Web, overdue: dict[str, Any],
) -> None:
    cid = overdue["customer"]["id"]
    r = accountant_web.get(f"/customers/{cid}/statement?from=2026-04-01&to=2026-06-30")
    assert r.status_code == 200
    assert cells(r.text, "Opening balance")[-1] == "36.60"
    balances = [cells(r.text, n)[-1] for n in ("INV-2026-000002", "INV-2026-000003")]
    assert balances == ["48.80", "73.20"]
    assert cells(r.text, "Closing balance")[-1] == "73.20"
    pdf = accountant_web.get(f"/customers/{cid}/statement.pdf?from=2026-04-01&to=2026-06-30")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf" and pdf.data.startswith(b"%PDF")
    assert "attachment" in pdf.headers["Content-Disposition"] and "C-ROSSI" in pdf.headers["Content-Disposition"]
    # Bad input is a clear refusal, not a broken file.
    bad = accountant_web.get(f"/customers/{cid}/statement.pdf?from=yesterday")
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    assert accountant_web.get(f"/customers/{cid}/statement.pdf?from=2026-06-30&to=2026-04-01").status_code == 400
    assert accountant_web.get("/customers/99999/statement").status_code == 404
    # A statement range given the wrong way round is read the right way round.
    swapped = accountant_web.get(f"/customers/{cid}/statement?from=2026-06-30&to=2026-04-01")
    assert swapped.status_code == 200 and cells(swapped.text, "Closing balance")[-1] == "73.20"


def test_the_customer_page_links_to_the_statement_for_those_who_may_read_it(
    accountant_web: Web, clerk_web: Web, overdue: dict[str, Any],
) -> None:
    cid = overdue["customer"]["id"]
    assert f'href="/customers/{cid}/statement"' in accountant_web.get(f"/customers/{cid}").text
    assert f'href="/customers/{cid}/statement"' not in clerk_web.get(f"/customers/{cid}").text


@pytest.mark.parametrize("path", ["/receivables/aging", "/customers/1/statement", "/customers/1/statement.pdf",
                                  "/dunning", "/dunning/letters/1", "/dunning/letters/1.pdf", "/books/accounts",
                                  "/books/accounts/1100", "/books/export", "/books/export/download"])
def test_a_clerk_may_not_read_the_books(clerk_web: Web, path: str) -> None:
    r = clerk_web.get(path)
    assert r.status_code == 403 and "may not do this" in r.text


def test_signed_out_visitors_are_sent_to_sign_in(app: Any) -> None:
    c = app.test_client()
    for path in ("/receivables/aging", "/dunning", "/books/export", "/books/accounts/1100"):
        r = c.get(path)
        assert r.status_code == 302 and "/login" in r.headers["Location"]


# -- dunning -------------------------------------------------------------------------

def test_a_dunning_run_records_letters_queues_their_pdfs_and_lists_them(
    accountant_web: Web, engine: Engine, overdue: dict[str, Any],
) -> None:
    page = accountant_web.get("/dunning")
    assert page.status_code == 200 and "No reminder letters yet." in page.text
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    body = {"as_of": "2026-06-01", "form_token": token}
    r = accountant_web.post("/dunning/run", body)
    assert r.status_code == 303
    listed = accountant_web.get(r.headers["Location"])
    assert "1 letter with 2 notices recorded as of 2026-06-01" in listed.text
    row = cells(listed.text, "C-ROSSI")
    assert row[3:6] == ["final notice", "2", "48.80"], row  # 62 days: final notice; 12 days: reminder
    # The same form sent twice is one run.
    assert accountant_web.post("/dunning/run", body).status_code == 303
    with engine.connect() as c:
        queued = c.execute(select(J.c.kind, J.c.key).where(J.c.kind == "dunning.render_letter")).all()
        letters = c.execute(select(m.DunningLetter.__table__.c.id)).scalars().all()
    assert len(letters) == 1 and [tuple(q) for q in queued] == [("dunning.render_letter", f"dunning-letter:{letters[0]}")]

    letter = accountant_web.get(f"/dunning/letters/{letters[0]}")
    assert letter.status_code == 200
    assert cells(letter.text, "INV-2026-000001")[3:5] == ["62", "final notice"]
    assert cells(letter.text, "INV-2026-000002")[3:5] == ["12", "reminder"]
    pdf = accountant_web.get(f"/dunning/letters/{letters[0]}.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF") and pdf.mimetype == "application/pdf"
    assert accountant_web.get("/dunning/letters/999.pdf").status_code == 404

    # Run again the same day: nothing more is due.
    again = accountant_web.post("/dunning/run", {"as_of": "2026-06-01",
                                                 "form_token": accountant_web.form_token("/dunning")})
    assert "Nothing to chase as of 2026-06-01" in accountant_web.get(again.headers["Location"]).text


def test_dunning_run_refusals_are_shown_on_the_form(accountant_web: Web, overdue: dict[str, Any]) -> None:
    bad = accountant_web.post("/dunning/run", {"as_of": "1st of June", "form_token": accountant_web.form_token("/dunning")})
    assert bad.status_code == 422 and "Enter a date as YYYY-MM-DD." in bad.text and 'value="1st of June"' in bad.text
    future = accountant_web.post("/dunning/run", {"as_of": "2999-01-01",
                                                  "form_token": accountant_web.form_token("/dunning")})
    assert future.status_code == 422 and "cannot be dated in the future" in future.text


def test_dunning_run_needs_the_right_role_and_a_csrf_token(
    accountant_web: Web, clerk_web: Web, admin_web: Web, overdue: dict[str, Any],
) -> None:
    assert clerk_web.post("/dunning/run", {"as_of": "2026-06-01"}).status_code == 403
    no_csrf = accountant_web.post("/dunning/run", {"as_of": "2026-06-01"}, csrf=False)
    assert no_csrf.status_code == 400 and "The form has expired" in no_csrf.text
    assert "No reminder letters yet." in accountant_web.get("/dunning").text  # nothing was recorded
    assert admin_web.post("/dunning/run", {"as_of": "2026-06-01",
                                           "form_token": admin_web.form_token("/dunning")}).status_code == 303


# -- general ledger and exports -------------------------------------------------------

def test_the_general_ledger_of_an_account_with_its_running_balance(
    accountant_web: Web, overdue: dict[str, Any],
) -> None:
    accounts = accountant_web.get("/books/accounts")
    assert accounts.status_code == 200 and 'href="/books/accounts/1100"' in accounts.text
    r = accountant_web.get("/books/accounts/1100?from=2026-04-01&to=2026-06-30")
    assert r.status_code == 200 and "Receivables" in r.text
    assert cells(r.text, "Opening balance")[-1] == "36.60"
    assert [cells(r.text, n)[-3:] for n in ("INV-2026-000002", "INV-2026-000003")] == [
        ["12.20", "", "48.80"], ["24.40", "", "73.20"]]
    empty = accountant_web.get("/books/accounts/1100?from=2025-01-01&to=2025-01-31")
    assert "No postings to 1100 in this range." in empty.text
    assert accountant_web.get("/books/accounts/9999").status_code == 404
    # A cursor that is not one is ignored, not a 500.
    assert accountant_web.get("/books/accounts/1100?from=2026-01-01&cursor=zzz").status_code == 200


def test_the_general_ledger_pages(engine: Engine, accountant_web: Web) -> None:
    add_customer(engine, "C-MANY")
    add_product(engine, "PEN", "1.00", on_hand=1000, cost="0.20")
    with on("2026-05-02"):
        for _ in range(3):
            o = add_order(engine, "C-MANY", [("PEN", 1)])
            pack_and_ship(engine, o["id"])
    import o2c.web.receivables as pages
    real, pages.LEDGER_PAGE = pages.LEDGER_PAGE, 2
    try:
        first = accountant_web.get("/books/accounts/1100?from=2026-05-01&to=2026-05-31")
        nxt = re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")
        second = accountant_web.get(nxt)
    finally:
        pages.LEDGER_PAGE = real
    assert first.text.count('<td class="nowrap">2026-05-02') == 2
    assert second.text.count('<td class="nowrap">2026-05-02') == 1
    assert cells(second.text, "INV-2026-000003")[-1] == "3.66"  # the running balance carries over the page
    assert 'rel="next"' not in second.text


def test_ledger_export_page_downloads_the_chosen_format(accountant_web: Web, overdue: dict[str, Any]) -> None:
    page = accountant_web.get("/books/export")
    assert page.status_code == 200 and 'action="/books/export/download"' in page.text
    for fmt in ("csv", "xlsx", "saft"):
        assert f'value="{fmt}"' in page.text
    r = accountant_web.get("/books/export/download?from=2026-03-01&to=2026-03-31&format=csv")
    assert r.status_code == 200 and r.is_streamed
    assert 'filename="journal_2026-03-01_2026-03-31.csv"' in r.headers["Content-Disposition"] or \
        "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True).lstrip("\ufeff"))))
    assert {row["document"] for row in rows} >= {"INV-2026-000001"}
    assert all(row["date"].startswith("2026-03") for row in rows)
    xlsx = accountant_web.get("/books/export/download?from=2026-03-01&to=2026-03-31&format=xlsx")
    assert xlsx.status_code == 200 and xlsx.data[:2] == b"PK"
    saft = accountant_web.get("/books/export/download?from=2026-03-01&to=2026-03-31&format=saft")
    assert saft.status_code == 200 and b"<AuditFile" in saft.data
    for bad in ("format=pdf", "from=March", "from=2026-04-01&to=2026-03-01"):
        r = accountant_web.get(f"/books/export/download?{bad}")
        assert r.status_code == 400, bad


def test_books_navigation_lists_the_new_pages_for_accountants_only(accountant_web: Web, clerk_web: Web) -> None:
    books = accountant_web.get("/books/accounts").text
    for href in ("/books/accounts", "/books/export"):
        assert f'href="{href}"' in books
    home = clerk_web.get("/").text
    assert 'href="/receivables/aging"' not in home and 'href="/dunning"' not in home


def test_aging_pages_through_many_customers(engine: Engine, accountant_web: Web, overdue: dict[str, Any],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    add_customer(engine, "C-VERDI", name="Verdi Mobili")
    with on("2026-05-02"):
        pack_and_ship(engine, add_order(engine, "C-VERDI", [("MUG-01", 1)])["id"])
    import o2c.web.receivables as pages
    monkeypatch.setattr(pages, "AGING_PAGE", 1)
    first = accountant_web.get("/receivables/aging?as_of=2026-06-01")
    assert "C-ROSSI" in first.text and "C-VERDI" not in first.text and "1–1 of 2" in first.text
    assert cells(first.text, "Total (2 customers)")[-2] == "85.40"  # the totals are of every customer, not the page
    nxt = re.search(r'href="([^"]+)" rel="next"', first.text).group(1).replace("&amp;", "&")
    second = accountant_web.get(nxt)
    assert "C-VERDI" in second.text and "C-ROSSI" not in second.text and 'rel="prev"' in second.text
