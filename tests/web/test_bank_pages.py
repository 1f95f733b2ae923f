"""The bank statement pages: upload a file, see the statements, and one
statement beside the GL bank account."""
from __future__ import annotations

import datetime as dt
import io
from decimal import Decimal
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from tests.bankfiles import COMPANY_IBAN, Stmt, Txn, camt053
from tests.web.conftest import Web, flashes

DAY = dt.date(2026, 11, 2)


def _file(data: bytes, name: str = "statement.xml") -> tuple[io.BytesIO, str]:
    return io.BytesIO(data), name


def test_a_clerk_uploads_a_statement_and_sees_it_beside_the_books(clerk_web: Web, app: Any) -> None:
    st = Stmt("WEB-1", DAY, DAY + dt.timedelta(days=1), Decimal("0.00"), [
        Txn(DAY, Decimal("122.00"), "Rossi Arredamenti", "DE89370400440532013000", "Payment INV-2026-000001"),
        Txn(DAY + dt.timedelta(days=1), Decimal("-2.50"), remittance="Account fee")])
    data = camt053(COMPANY_IBAN, "EUR", [st])
    page = clerk_web.get("/bank/statements")
    assert page.status_code == 200 and "No bank statement imported yet" in page.text
    token = clerk_web.form_token("/bank/statements")
    r = clerk_web.post("/bank/statements/import", {"file": _file(data), "format": "", "form_token": token},
                       content_type="multipart/form-data")
    assert r.status_code == 303, r.text
    shown = clerk_web.get(r.headers["Location"])
    assert "Imported 1 statement with 2 lines." in flashes(shown.text)
    html = shown.text
    assert "Opening balance" in html and "Closing balance" in html and "Payment INV-2026-000001" in html
    assert "General ledger 1000" in html and "119.50" in html
    # The bank reconciliation on the statement's day: the lines not applied
    # explain the whole difference (the payment is no invoice's, the fee unbooked).
    recon = html[html.index('id="bank-reconciliation"'):]
    assert "Reported by the bank, not applied yet" in recon and "Booked in o2c, not reported" in recon
    assert 'id="bank-reconciliation-difference">0.00<' in recon.replace(" ", ""), recon[:3000]
    listing = clerk_web.get("/bank/statements").text
    assert "WEB-1" in listing and COMPANY_IBAN in listing

    token = clerk_web.form_token("/bank/statements")
    again = clerk_web.post("/bank/statements/import", {"file": _file(data), "format": "camt.053",
                                                       "form_token": token}, content_type="multipart/form-data")
    assert "imported before; nothing was added" in flashes(clerk_web.get(again.headers["Location"]).text)


def test_a_bad_file_is_refused_on_the_page_with_the_reason(clerk_web: Web) -> None:
    data = camt053("DE89370400440532013000", "EUR", [Stmt("X", DAY, DAY, Decimal("0"), [
        Txn(DAY, Decimal("1.00"), "A", remittance="x")])])
    token = clerk_web.form_token("/bank/statements")
    r = clerk_web.post("/bank/statements/import", {"file": _file(data), "form_token": token},
                       content_type="multipart/form-data")
    assert r.status_code == 422 and "DE89370400440532013000" in r.text


def test_a_file_larger_than_a_form_but_within_the_bank_limit_is_taken(clerk_web: Web, app: Any) -> None:
    big = camt053(COMPANY_IBAN, "EUR", [Stmt("BIG", DAY, DAY, Decimal("0.00"), [
        Txn(DAY, Decimal("1.00"), f"Payer {i}", remittance="r" * 100) for i in range(5000)])])
    assert len(big) > app.config["MAX_CONTENT_LENGTH"]
    token = clerk_web.form_token("/bank/statements")
    # encoded here, in memory: the test client would spool a body this large to a file it never closes
    boundary, body = encode_multipart(MultiDict({"file": FileStorage(io.BytesIO(big), "statement.xml"),
                                                 "form_token": token, "csrf_token": clerk_web.csrf}))
    r = clerk_web.c.post("/bank/statements/import", data=body,
                         content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code == 303, r.status_code


def test_the_webshop_has_no_bank_pages_and_the_accountant_reads_them(accountant_web: Web, app: Any,
                                                                     people: dict[str, str]) -> None:
    assert accountant_web.get("/bank/statements").status_code == 200
    assert accountant_web.get("/bank/statements/999").status_code == 404
