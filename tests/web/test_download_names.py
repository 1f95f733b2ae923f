"""Every download is named in a header any server and client accepts, for
customers whose code and name are Polish, Russian or hold an emoji: RFC 6266
``Content-Disposition`` with ``filename*=UTF-8''…`` (RFC 8187) and a plain
ASCII ``filename="…"`` stand-in, through the API and the back office."""
from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote

import pytest
from werkzeug.http import parse_options_header

from o2c.domain.downloads import ascii_fallback, content_disposition
from tests.api.books_helpers import on, sell
from tests.conftest import Client, customer, product
from tests.web.conftest import Web

CUSTOMERS = {
    "polish": ("C-ŁÓDŹ-ŻÓŁW", "Żółw i Łódź Spółka z o.o.", "pl"),
    "russian": ("С-ЖУРАВЛЬ", "ООО «Журавль»", "ru"),
    "emoji": ("C-☕🙂", "Caffè 🙂 Emoji", "it"),
}
_PARAM = re.compile(r';\s*([A-Za-z*]+)=("(?:[^"\\]|\\.)*"|[^;\s]*)')


def parse(header: str) -> tuple[str, dict[str, str]]:
    """``(disposition, {parameter: raw value})``, strictly: a parameter named twice fails."""
    disposition = header.split(";", 1)[0].strip()
    params: dict[str, str] = {}
    for name, value in _PARAM.findall(header):
        assert name.lower() not in params, header
        params[name.lower()] = value
    return disposition, params


def assert_named(response: Any, intended: str, disposition: str) -> None:
    assert response.status_code == 200, (response.status_code, response.get_data()[:300])
    header = response.headers["Content-Disposition"]
    header.encode("latin-1")  # what WSGI servers demand of a header; ASCII in fact:
    assert header.isascii(), header
    kind, params = parse(header)
    assert kind == disposition
    assert set(params) == {"filename", "filename*"}, header
    fallback = params["filename"]
    assert fallback.startswith('"') and fallback.endswith('"')
    fallback = fallback[1:-1]
    assert fallback and fallback.isascii() and fallback.isprintable() and not re.search(r'["\\/]', fallback)
    assert fallback == ascii_fallback(intended)
    charset, language, encoded = params["filename*"].split("'", 2)
    assert (charset, language) == ("UTF-8", "")
    assert re.fullmatch(r"[A-Za-z0-9!#$&+\-.^_`|~%]+", encoded), encoded  # RFC 8187 attr-chars only
    assert unquote(encoded, encoding="utf-8", errors="strict") == intended
    # …and a client's parser (werkzeug's, which prefers filename* as RFC 6266 says) reads the same name.
    assert parse_options_header(header) == (disposition, {"filename": intended})


@pytest.fixture(params=sorted(CUSTOMERS))
def documents(request: Any, admin: Client, accountant: Client) -> dict[str, Any]:
    """A customer with an invoice (overdue), a credit note and a dunning letter."""
    code, name, language = CUSTOMERS[request.param]
    c = customer(admin, code, name=name, language=language, payment_terms_days=30,
                 billing_address={"name": name, "line1": "ul. Długa 1", "city": "Gdańsk", "postal_code": "80-827",
                                  "country": "PL"})
    product(admin, "MUG-01", "10.00", "0.23", stock=20, cost="3.00")
    inv = sell(admin, code, [("MUG-01", 3)], "2026-03-02")
    with on("2026-03-05"):
        rma = admin.ok("post", f"/api/v1/orders/{inv['order_id']}/returns",
                       {"lines": [{"sku": "MUG-01", "quantity": 1}]}, status=201)
    cn = admin.ok("get", f"/api/v1/credit-notes/{rma['credit_note_ids'][0]}")
    with on("2026-04-20"):
        run = accountant.ok("post", "/api/v1/dunning/runs", {"as_of": "2026-04-20"})
    assert [l["customer_code"] for l in run["letters"]] == [code]
    letter = accountant.ok("get", f"/api/v1/dunning/letters?customer_id={c['id']}")["items"][0]
    return {"code": code, "customer": c, "invoice": inv, "credit_note": cn, "letter": letter}


def test_every_api_download_is_named_in_utf8_with_an_ascii_fallback(
    documents: dict[str, Any], admin: Client, accountant: Client,
) -> None:
    d = documents
    inv, cn, letter = d["invoice"]["number"], d["credit_note"]["number"], d["letter"]["number"]
    cases = [
        (admin, f"/api/v1/invoices/{d['invoice']['id']}/pdf", f"{inv}.pdf", "inline"),
        (admin, f"/api/v1/invoices/{d['invoice']['id']}/ubl", f"{inv}.xml", "inline"),
        (admin, f"/api/v1/credit-notes/{d['credit_note']['id']}/pdf", f"{cn}.pdf", "inline"),
        (admin, f"/api/v1/credit-notes/{d['credit_note']['id']}/ubl", f"{cn}.xml", "inline"),
        (accountant, f"/api/v1/customers/{d['customer']['id']}/statement/pdf?from=2026-03-01&to=2026-04-30",
         f"statement_{d['code']}_2026-04-30.pdf", "inline"),
        (accountant, f"/api/v1/dunning/letters/{d['letter']['id']}/pdf", f"{letter}.pdf", "inline"),
        (accountant, "/api/v1/ledger/export?format=csv&from=2026-03-01&to=2026-04-30",
         "journal_2026-03-01_2026-04-30.csv", "attachment"),
        (accountant, "/api/v1/ledger/export?format=xlsx&from=2026-03-01", "journal_2026-03-01_today.xlsx",
         "attachment"),
        (accountant, "/api/v1/ledger/export?format=saft&to=2026-04-30", "journal_start_2026-04-30.xml",
         "attachment"),
        (accountant, "/api/v1/ledger/trial-balance/export?format=csv&as_of=2026-04-30",
         "trial_balance_start_2026-04-30.csv", "attachment"),
        (accountant, "/api/v1/ledger/trial-balance/export?format=xlsx", "trial_balance_start_today.xlsx",
         "attachment"),
    ]
    for api, path, intended, disposition in cases:
        assert_named(api.get(path), intended, disposition)


def test_every_back_office_download_is_named_in_utf8_with_an_ascii_fallback(
    documents: dict[str, Any], admin_web: Web,
) -> None:
    d = documents
    inv, cn, letter = d["invoice"]["number"], d["credit_note"]["number"], d["letter"]["number"]
    cases = [
        (f"/invoices/{d['invoice']['id']}/pdf", f"{inv}.pdf"),
        (f"/credit-notes/{d['credit_note']['id']}/pdf", f"{cn}.pdf"),
        (f"/customers/{d['customer']['id']}/statement.pdf?from=2026-03-01&to=2026-04-30",
         f"statement_{d['code']}_2026-04-30.pdf"),
        (f"/dunning/letters/{d['letter']['id']}.pdf", f"{letter}.pdf"),
        ("/books/export/download?format=csv&from=2026-03-01&to=2026-04-30", "journal_2026-03-01_2026-04-30.csv"),
        ("/books/export/download?format=xlsx&from=2026-03-01&to=2026-04-30", "journal_2026-03-01_2026-04-30.xlsx"),
        ("/books/export/download?format=saft&from=2026-03-01&to=2026-04-30", "journal_2026-03-01_2026-04-30.xml"),
        ("/books/trial-balance/export?format=csv&as_of=2026-04-30", "trial_balance_start_2026-04-30.csv"),
        ("/books/trial-balance/export?format=xlsx&as_of=2026-04-30", "trial_balance_start_2026-04-30.xlsx"),
    ]
    for path, intended in cases:
        assert_named(admin_web.get(path), intended, "attachment")


@pytest.mark.parametrize("name, fallback", [
    ("INV-2026-000001.pdf", "INV-2026-000001.pdf"),
    ("statement_C-ŁÓDŹ-ŻÓŁW_2026-04-30.pdf", "statement_C-LODZ-ZOLW_2026-04-30.pdf"),
    ("statement_С-ЖУРАВЛЬ_2026-04-30.pdf", "statement_2026-04-30.pdf"),
    ("statement_C-☕🙂_2026-04-30.pdf", "statement_C_2026-04-30.pdf"),
    ("ЖЖЖ.pdf", "download.pdf"),
    ('a"b\\c/d;e.pdf', "a_b_c_d_e.pdf"),
    ("bell\x07.pdf", "bell.pdf"),
])
def test_the_header_value_for_any_name(name: str, fallback: str) -> None:
    header = content_disposition(name)
    assert header.isascii() and "\n" not in header and "\r" not in header
    _, params = parse(header)
    assert params["filename"] == f'"{fallback}"'
    intended = name.replace("/", "_").replace("\\", "_").replace("\x07", "")
    assert unquote(params["filename*"].split("'", 2)[2]) == intended
    with pytest.raises(ValueError):
        content_disposition(name, "form-data")
