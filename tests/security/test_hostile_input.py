"""Hostile and malformed input: request bodies that are too big, too deep,
not UTF-8, not JSON or not strictly JSON; characters no document can hold;
and script, markup, SQL-ish and formula payloads in names, descriptions,
addresses and references, followed into the pages (escaped), the invoice
PDF and e-invoice (shown as text), and the CSV and XLSX exports (never a
formula)."""
from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
from decimal import Decimal, InvalidOperation
from typing import Any

import pytest
from sqlalchemy import Engine, text

from tests.conftest import Client, customer, order, product
from tests.security.conftest import Web, row_counts

# -- request bodies ---------------------------------------------------------------------

ORDER_PATH = "/api/v1/customers"


def raw_post(api: Client, body: bytes, content_type: str | None = "application/json",
             path: str = ORDER_PATH) -> Any:
    headers = {"Authorization": f"Bearer {api.key}"}
    if content_type is not None:
        headers["Content-Type"] = content_type
    return api.c.post(path, data=body, headers=headers)


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data()[:300])
    assert r.mimetype == "application/json"
    body = r.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}, body
    assert body["error"]["code"] == code and body["error"]["message"], body
    return body["error"]


def nested(depth: int) -> bytes:
    return b'{"code": "C-DEEP", "name": ' + b"[" * depth + b"]" * depth + b"}"


BAD_BODIES = {
    "nested 100000 deep (lists)": b"[" * 100_000 + b"]" * 100_000,
    "nested 50000 deep (objects)": b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    "nested 33 deep": nested(32),  # the body object itself is the first level
    "not UTF-8": b'{"code": "C-\xff\xfe", "name": "x"}',
    "UTF-16": '{"code": "C-1", "name": "x"}'.encode("utf-16"),
    "Latin-1": '{"code": "C-1", "name": "Caffè"}'.encode("latin-1"),
    "a lone surrogate": b'{"code": "C-1", "name": "A\\ud800B"}',
    "NaN": b'{"code": "C-1", "payment_terms_days": NaN}',
    "Infinity": b'{"code": "C-1", "payment_terms_days": -Infinity}',
    "a 5000-digit number": b'{"code": "C-1", "payment_terms_days": ' + b"9" * 5000 + b"}",
    "truncated": b'{"code": "C-1", "name": ',
    "trailing garbage": b'{"code": "C-1"} {"code": "C-2"}',
}


@pytest.mark.parametrize("body", list(BAD_BODIES.values()), ids=list(BAD_BODIES))
def test_a_malformed_body_is_a_clear_400_and_writes_nothing(admin: Client, engine: Engine, body: bytes) -> None:
    before = row_counts(engine)
    err = assert_error(raw_post(admin, body), 400, "bad_request")
    assert "JSON" in err["message"] or "UTF" in err["message"] or "nests" in err["message"] \
        or "surrogate" in err["message"] or "number" in err["message"], err
    assert row_counts(engine) == before


def test_nesting_up_to_the_limit_reaches_validation(admin: Client) -> None:
    """Deep but not too deep: the body is read and its fields judged (422)."""
    from o2c.inputs import MAX_DEPTH
    err = assert_error(raw_post(admin, nested(MAX_DEPTH - 1)), 422, "validation_error")
    assert "name" in err["details"]["fields"]


def test_deeply_nested_order_lines_are_refused_too(admin: Client, engine: Engine) -> None:
    before = row_counts(engine)
    body = b'{"customer": {"code": "C-1"}, "lines": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    assert_error(raw_post(admin, body, path="/api/v1/orders"), 400, "bad_request")
    assert row_counts(engine) == before


@pytest.mark.parametrize("megabytes", [2, 5, 12])
def test_a_body_of_several_megabytes_is_413_in_the_contracts_shape(admin: Client, engine: Engine,
                                                                   megabytes: int) -> None:
    before = row_counts(engine)
    body = b'{"code": "C-BIG", "name": "' + b"x" * (megabytes * 1024 * 1024) + b'"}'
    err = assert_error(raw_post(admin, body), 413, "payload_too_large")
    assert "too large" in err["message"]
    assert row_counts(engine) == before


def test_a_large_body_of_the_wrong_type_is_still_413(admin: Client) -> None:
    assert_error(raw_post(admin, b"x" * (3 * 1024 * 1024), "text/plain"), 413, "payload_too_large")


@pytest.mark.parametrize("content_type, body", [
    ("text/plain", b'{"code": "C-1", "name": "x"}'),
    ("application/x-www-form-urlencoded", b"code=C-1&name=x"),
    ("multipart/form-data; boundary=xx",
     b'--xx\r\nContent-Disposition: form-data; name="code"\r\n\r\nC-1\r\n--xx--\r\n'),
    ("application/xml", b"<customer><code>C-1</code></customer>"),
    (None, b'{"code": "C-1", "name": "x"}'),
], ids=["text", "form", "multipart", "xml", "no-content-type"])
def test_a_body_that_is_not_json_is_415(admin: Client, engine: Engine, content_type: str | None,
                                        body: bytes) -> None:
    before = row_counts(engine)
    err = assert_error(raw_post(admin, body, content_type), 415, "unsupported_media_type")
    assert "application/json" in err["message"]
    assert row_counts(engine) == before


def test_json_media_types_with_parameters_are_accepted(admin: Client) -> None:
    body = {"code": "C-CT", "name": "Charset Srl", "email": "a@b.example", "country": "IT", "language": "it",
            "payment_terms_days": 30, "billing_address": {"name": "Charset Srl", "line1": "Via Po 1",
                                                          "city": "Torino", "postal_code": "10100",
                                                          "country": "IT"}}
    r = raw_post(admin, json.dumps(body).encode(), "application/json; charset=utf-8")
    assert r.status_code == 201, r.get_json()


def test_an_action_without_a_body_needs_no_content_type(admin: Client) -> None:
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", stock=2)
    o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)], confirm=False).get_json()
    r = admin.c.post(f"/api/v1/orders/{o['id']}/confirm", headers={"Authorization": f"Bearer {admin.key}"})
    assert r.status_code == 200 and r.get_json()["status"] == "confirmed"


def test_a_stranger_is_refused_before_the_body_is_judged(app: Any) -> None:
    r = app.test_client().post(ORDER_PATH, data=b"[" * 10_000, content_type="application/json")
    assert_error(r, 401, "unauthorized")


# -- characters no document can hold -------------------------------------------------------

@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85", "\x9b", "\ufffe", "\uffff",
                                  "\U0010ffff", "\ufdd0"],
                         ids=["NUL", "BEL", "ESC", "DEL", "NEL", "CSI", "U+FFFE", "U+FFFF", "U+10FFFF", "U+FDD0"])
def test_control_characters_and_noncharacters_in_a_name_are_refused(admin: Client, engine: Engine,
                                                                   char: str) -> None:
    before = row_counts(engine)
    r = admin.post("/api/v1/products", {"sku": "CTRL-1", "name": f"Lamp{char}shade", "unit_price": "1.00",
                                        "vat_rate": "0.22"})
    err = assert_error(r, 422, "validation_error")
    assert "Control characters" in err["details"]["fields"]["name"][0]
    assert f"U+{ord(char):04X}" in err["details"]["fields"]["name"][0]
    assert row_counts(engine) == before


def test_tabs_newlines_and_unusual_but_valid_unicode_are_kept(admin: Client) -> None:
    name = "Zażółć\tgęślą\njaźń — Ёлка ﬁ e\u0301 \u202eRTL\u202c 😀 \u200d"
    p = admin.ok("post", "/api/v1/products", {"sku": "UNI-1", "name": name, "unit_price": "1.00",
                                              "vat_rate": "0.22"}, status=201)
    assert p["name"] == name
    assert admin.ok("get", "/api/v1/products/UNI-1")["name"] == name


# -- payloads followed into pages, documents and exports -------------------------------------

SCRIPT = '<script>alert("o2c")</script><img src=x onerror=alert(1)>'
SQLISH = "Robert'); DROP TABLE customers;--"
UNICODE = "Zażółć gęślą jaźń Ёлка Straße"
FORMULA_CODE = '=HYPERLINK("http://evil.example","ok")'
FORMULA_REF = "-2+3+cmd|' /C calc'!A0"
FORMULA_ACCOUNT = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.fixture
def hostile(admin: Client) -> dict[str, Any]:
    """A customer, a product, an order and its invoice, written in payloads."""
    c = customer(admin, FORMULA_CODE, name=f"{SQLISH} {SCRIPT}", language="pl",
                 billing_address={"name": f"{UNICODE} {SCRIPT}", "line1": f"{SQLISH}",
                                  "city": "+39 Kraków", "postal_code": "30-001", "country": "PL"})
    product_ = admin.ok("post", "/api/v1/products", {"sku": "EVIL-1", "name": f"{SCRIPT} {UNICODE}",
                                                    "unit_price": "10.00", "vat_rate": "0.22"}, status=201)
    admin.ok("post", "/api/v1/stock/receipts", {"sku": "EVIL-1", "quantity": 5, "unit_cost": "4.00"}, status=201)
    o = order(admin, FORMULA_CODE, [("EVIL-1", 2)], external_ref=FORMULA_REF).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    shipped = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship",
                       {"carrier": SCRIPT[:60], "tracking_number": "=1+1"})
    admin.ok("post", "/api/v1/ledger/accounts", {"code": "4990", "name": FORMULA_ACCOUNT, "type": "revenue"},
             status=201)
    return {"customer": c, "product": product_, "order": o, "shipment": sh, "invoice_id": shipped["invoice_id"]}


def test_payloads_are_stored_exactly_as_sent(admin: Client, hostile: dict[str, Any]) -> None:
    c = admin.ok("get", f"/api/v1/customers/{hostile['customer']['id']}")
    assert c["name"] == f"{SQLISH} {SCRIPT}" and c["code"] == FORMULA_CODE
    assert c["billing_address"]["line1"] == SQLISH
    o = admin.ok("get", f"/api/v1/orders/{hostile['order']['id']}")
    assert o["external_ref"] == FORMULA_REF
    # The SQL-ish name did nothing to the tables: every customer is still there.
    assert [x["code"] for x in admin.ok("get", "/api/v1/customers")["items"]] == [FORMULA_CODE]


def _assert_escaped(html: str, where: str) -> None:
    assert SCRIPT not in html, where
    assert "<script>alert" not in html and "<img src=x" not in html, where
    assert "&lt;script&gt;alert(" in html, where


@pytest.fixture
def admin_pages(admin_web: Web, hostile: dict[str, Any]) -> dict[str, str]:
    h = hostile
    paths = {
        "customer": f"/customers/{h['customer']['id']}", "customers": "/customers",
        "customer edit": f"/customers/{h['customer']['id']}/edit",
        "order": f"/orders/{h['order']['id']}", "orders": "/orders",
        "shipment": f"/shipments/{h['shipment']['id']}",
        "packing slip": f"/shipments/{h['shipment']['id']}/packing-slip",
        "invoice": f"/invoices/{h['invoice_id']}", "invoices": "/invoices",
        "products": "/products", "product edit": "/products/EVIL-1/edit", "stock": "/stock/EVIL-1",
        "journal": "/books/journal", "payments new": f"/payments/new?customer={FORMULA_CODE}",
        "search": "/orders?q=" + SCRIPT,
    }
    out = {}
    for name, path in paths.items():
        r = admin_web.get(path)
        assert r.status_code == 200, (name, r.status_code)
        out[name] = r.text
    return out


def test_script_and_markup_payloads_are_escaped_in_every_page(admin_pages: dict[str, str]) -> None:
    for name in ("customer", "customers", "customer edit", "order", "orders", "shipment", "packing slip",
                 "invoice", "invoices", "products", "product edit", "stock", "search"):
        _assert_escaped(admin_pages[name], name)
    # The SQL-ish and unicode text shows as it was typed (HTML-escaped quotes aside).
    assert "Robert&#39;); DROP TABLE customers;--" in admin_pages["customer"]
    assert UNICODE in admin_pages["customer"]


def test_the_invoice_pdf_shows_the_payloads_as_text(admin: Client, hostile: dict[str, Any]) -> None:
    if shutil.which("pdftotext") is None:
        pytest.fail("pdftotext is missing: apt-get install -y poppler-utils")
    r = admin.get(f"/api/v1/invoices/{hostile['invoice_id']}/pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    # Compared without white space: the layout wraps long words (and pdftotext
    # joins a line ending in a hyphen to the next without it).
    solid = "".join(pdf_text(r.get_data()).split())
    for shown in ("Robert');DROPTABLEcustomers;-", '<script>alert("o2c")</script><imgsrc=xonerror=alert(1)>',
                  "Zażółćgęśląjaźń", "ЁлкаStraße", FORMULA_REF.replace(" ", ""), "=1+1", "+39Kraków"):
        assert shown in solid, shown


def pdf_text(pdf: bytes) -> str:
    run = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf,  # noqa: S603,S607
                         capture_output=True, timeout=60, check=True)
    return run.stdout.decode("utf-8")


def test_the_ubl_e_invoice_carries_the_payloads_as_text(admin: Client, hostile: dict[str, Any]) -> None:
    from lxml import etree
    r = admin.get(f"/api/v1/invoices/{hostile['invoice_id']}/ubl")
    assert r.status_code == 200
    tree = etree.fromstring(r.get_data(), parser=etree.XMLParser(resolve_entities=False, no_network=True))
    texts = {t for t in tree.itertext()}
    assert f"{SQLISH} {SCRIPT}" in texts
    assert any(SCRIPT in t and UNICODE in t for t in texts)
    assert not tree.xpath("//*[local-name()='script']")  # text, never elements


def test_the_e_invoices_and_credit_note_of_hostile_names_keep_the_en16931_rules(
        admin: Client, hostile: dict[str, Any]) -> None:
    """Payloads in every name change no figure and no structure: the invoice
    and its credit note, in both syntaxes, keep the business rules and carry
    the payloads as text."""
    from lxml import etree

    from tests.docbuild import embedded_xml
    from tests.documents.en16931 import assert_en16931, read
    rma = admin.ok("post", f"/api/v1/orders/{hostile['order']['id']}/returns",
                   {"lines": [{"sku": "EVIL-1", "quantity": 1}]}, status=201)
    cn_id = rma["credit_note_ids"][0]
    for path in (f"/api/v1/invoices/{hostile['invoice_id']}", f"/api/v1/credit-notes/{cn_id}"):
        pdf, ubl = admin.get(f"{path}/pdf"), admin.get(f"{path}/ubl")
        assert pdf.status_code == ubl.status_code == 200, path
        for xml in (embedded_xml(pdf.get_data()), ubl.get_data()):
            assert_en16931(xml)
            inv = read(xml)
            assert inv.buyer.name == f"{SQLISH} {SCRIPT}" and inv.buyer.country == "PL"
            assert [l.name for l in inv.lines] == [f"{SCRIPT} {UNICODE}"]
            assert not etree.fromstring(xml).xpath("//*[local-name()='script' or local-name()='img']")


def test_control_characters_already_stored_are_dropped_from_documents_and_exports(
        admin: Client, accountant: Client, engine: Engine, hostile: dict[str, Any]) -> None:
    """Data written before input was checked (or behind the API's back)
    still renders: the characters are dropped, nothing crashes."""
    with engine.begin() as c:
        c.execute(text("UPDATE customers SET name = :n, code = :c WHERE id = :id"),
                  {"n": "Bell\x07 \x1bCorp\x85\ufffe Ltd\x0c", "c": "C-\x0bCTRL", "id": hostile["customer"]["id"]})
        c.execute(text("UPDATE invoice_lines SET description = :d"), {"d": "Lamp\x7f\x9b shade\uffff"})
    r = admin.get(f"/api/v1/invoices/{hostile['invoice_id']}/pdf")
    assert r.status_code == 200
    ubl = admin.get(f"/api/v1/invoices/{hostile['invoice_id']}/ubl")
    assert ubl.status_code == 200
    from lxml import etree
    texts = set(etree.fromstring(ubl.get_data()).itertext())
    assert "Bell Corp Ltd" in texts and "Lamp shade" in texts
    for fmt in ("csv", "saft"):
        export = accountant.get(f"/api/v1/ledger/export?format={fmt}")
        assert export.status_code == 200, fmt
        data = export.get_data()
        assert b"\x07" not in data and b"\x1b" not in data and b"\x0b" not in data, fmt
    from openpyxl import load_workbook
    xlsx = accountant.get("/api/v1/ledger/export?format=xlsx")
    assert xlsx.status_code == 200
    cells = {c for row in load_workbook(io.BytesIO(xlsx.get_data()))["Journal"].iter_rows(values_only=True)
             for c in row}
    assert "C-CTRL" in cells
    rows = list(csv.reader(io.StringIO(accountant.get("/api/v1/ledger/export?format=csv").get_data(as_text=True))))
    assert "C-CTRL" in {row[7] for row in rows}


def _cells_are_safe(rows: list[list[str]]) -> list[str]:
    """Cells a spreadsheet would run as a formula: starting with = + @ tab or
    CR, or with - when it is not a number."""
    bad = []
    for row in rows:
        for cell in row:
            if not cell:
                continue
            if cell[0] in "=+@\t\r":
                bad.append(cell)
            elif cell[0] == "-":
                try:
                    Decimal(cell)
                except InvalidOperation:
                    bad.append(cell)
    return bad


def test_csv_exports_neutralise_formulas_and_keep_numbers(accountant: Client, hostile: dict[str, Any]) -> None:
    journal = list(csv.reader(io.StringIO(
        accountant.get("/api/v1/ledger/export?format=csv").get_data(as_text=True))))
    trial = list(csv.reader(io.StringIO(
        accountant.get("/api/v1/ledger/trial-balance/export?format=csv").get_data(as_text=True))))
    assert _cells_are_safe(journal) == [] and _cells_are_safe(trial) == []
    assert "'" + FORMULA_CODE in {row[7] for row in journal}  # the customer column, as text
    by_account = {row[0]: row for row in trial[1:]}
    assert by_account["4990"][1] == "'" + FORMULA_ACCOUNT
    # Amounts stay numbers: revenue's negative balance is written as -20.00, not '-20.00.
    assert by_account["4000"][5] == "-20.00"
    assert Decimal(by_account["4000"][5]) == Decimal("-20.00")


def test_xlsx_exports_hold_payloads_as_strings_never_formulas(accountant: Client,
                                                              hostile: dict[str, Any]) -> None:
    from openpyxl import load_workbook
    for path in ("/api/v1/ledger/export?format=xlsx", "/api/v1/ledger/trial-balance/export?format=xlsx"):
        wb = load_workbook(io.BytesIO(accountant.get(path).get_data()))
        cells = [c for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value is not None]
        assert cells
        assert [c.coordinate for c in cells if c.data_type == "f"] == [], path
        strings = {c.value for c in cells if c.data_type == "s"}
        assert not any(s.startswith(("=", "+", "@")) for s in strings), path
        numbers = [c.value for c in cells if c.data_type == "n"]
        assert numbers and all(isinstance(v, (int, float, Decimal)) for v in numbers)
        if "trial-balance" in path:
            assert "'" + FORMULA_ACCOUNT in strings
            assert any(v == -20 for v in numbers)  # revenue's balance, a number
        else:
            assert "'" + FORMULA_CODE in strings
        wb.close()


# -- control characters in query strings, forms and paths ---------------------------------------

@pytest.mark.parametrize("path", [
    "/api/v1/orders?external_ref=%00", "/api/v1/orders?external_ref=a%1Bb", "/api/v1/customers?q=%7F",
    "/api/v1/invoices?status=%C2%85", "/api/v1/events?type=%00", "/api/v1/ledger/entries?account=%00",
])
def test_a_control_character_in_an_api_query_is_a_validation_error(admin: Client, path: str) -> None:
    err = assert_error(admin.get(path), 422, "validation_error")
    assert err["details"]["fields"]


@pytest.mark.parametrize("path", [
    "/orders?q=%00", "/customers?q=%00", "/go?q=%00", "/invoices?q=a%00", "/products?q=%1B",
    "/books/journal?account=%00", "/payments/new?customer=%00", "/stock?q=%7F", "/orders?from=%00",
])
def test_a_control_character_in_a_page_query_is_a_bad_request_page(admin_web: Web, path: str) -> None:
    r = admin_web.get(path)
    assert r.status_code == 400 and "text/html" in r.content_type


def test_a_control_character_in_a_form_is_refused_and_writes_nothing(admin_web: Web, engine: Engine) -> None:
    before = row_counts(engine)
    r = admin_web.post("/customers/new", {"code": "C-NUL", "name": "Nul\x00 Srl", "form_token": "t1"})
    assert r.status_code == 400
    r = admin_web.post("/login", {"username": "admin\x00", "password": "x"})
    assert r.status_code == 400
    assert row_counts(engine) == before


def test_printable_queries_still_work(admin_web: Web, admin: Client) -> None:
    assert admin_web.get("/orders?q=Zaż%C3%B3łć+%E2%80%94+%F0%9F%98%80").status_code == 200
    assert admin.get("/api/v1/orders?external_ref=%E2%80%94%09tab").status_code == 200
