"""The VAT return's pages under Books: an accountant reads the VAT report,
the EC sales list and the OSS return of every treatment, downloads each as
CSV, sees a bad period named next to its field, and a clerk is kept out."""
from __future__ import annotations

import csv
import io
from typing import Any

from tests.api.test_tax_reports import world  # noqa: F401  (fixture)
from tests.conftest import Client
from tests.web.conftest import Web


def test_the_accountant_reads_each_report_under_books_and_downloads_it(
        accountant_web: Web, admin: Client, world: dict[str, Any]) -> None:  # noqa: F811
    day = world["domestic"]["issue_date"]
    page = accountant_web.get(f"/books/vat-report?from={day}&to={day}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for text in ("VAT report", "EC sales list", "OSS return",  # in the Books menu
                 "Intra eu b2b", "Eu distance sale", "Export", "Exempt", "486.00", "162.00", "1,086.60"):
        assert text.lower() in html.lower(), text
    got = accountant_web.get(f"/books/vat-report?from={day}&to={day}&format=csv")
    assert got.mimetype == "text/csv"
    assert list(csv.reader(io.StringIO(got.get_data(as_text=True))))[-1] == ["total", "", "", "", "1086.60", "28.91"]

    esl = accountant_web.get(f"/books/ec-sales-list?period={day[:7]}").get_data(as_text=True)
    assert "DE287451934" in esl and "PL6772398046" in esl and "642.00" in esl
    quarter = f"{day[:4]}-Q{(int(day[5:7]) - 1) // 3 + 1}"
    oss = accountant_web.get(f"/books/oss-return?quarter={quarter}")
    assert oss.status_code == 200 and "15.60" in oss.get_data(as_text=True)
    assert accountant_web.get(f"/books/oss-return?quarter={quarter}&format=csv").get_data(as_text=True).startswith(
        "country,rate,net,vat\r\nPL,0.08,15.60,1.25\r\n")
    recon = accountant_web.get("/books/reconciliation").get_data(as_text=True)
    assert "/books/vat-report" in recon and "/books/ec-sales-list" in recon and "/books/oss-return" in recon


def test_a_bad_period_is_named_next_to_its_field(accountant_web: Web) -> None:
    for path, message in (("/books/ec-sales-list?period=2026-13", "Use YYYY-MM"),
                          ("/books/oss-return?quarter=2026-Q7", "Use YYYY-Qn"),
                          ("/books/vat-report?from=2026-03-31&to=2026-03-01", "is before"),
                          ("/books/vat-report?from=yesterday", "Use a date")):
        r = accountant_web.get(path)
        assert r.status_code == 422 and message in r.get_data(as_text=True), path


def test_a_clerk_does_not_see_the_vat_return(clerk_web: Web) -> None:
    for path in ("/books/vat-report", "/books/ec-sales-list", "/books/oss-return"):
        assert clerk_web.get(path).status_code == 403, path
