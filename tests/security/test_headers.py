"""Security headers on every answer, pages and API alike (errors and files
included), and templates that a Content-Security-Policy without
'unsafe-inline' can serve: no inline script, no event handler attributes,
no style attributes, no javascript: URLs."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import Client, customer, product
from tests.security.conftest import Web
from tests.security.test_web_authorization import ROUTES, caller, fill

ROOT = Path(__file__).resolve().parents[2]
WEB_TEMPLATES = ROOT / "o2c" / "web" / "templates"
DOCUMENT_TEMPLATES = ROOT / "templates"


def assert_secure_headers(r: Any, where: str) -> None:
    h = r.headers
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "DENY", where
    assert h.get("Referrer-Policy") == "same-origin", where
    csp = {d.split()[0]: d.split()[1:] for d in h.get("Content-Security-Policy", "").split(";") if d.strip()}
    assert csp.get("default-src") == ["'self'"], where
    assert csp.get("script-src") == ["'self'"], where  # no inline script, no eval, nothing from elsewhere
    assert csp.get("style-src") == ["'self'"], where
    assert csp.get("object-src") == ["'none'"], where
    assert csp.get("frame-ancestors") == ["'none'"], where
    assert csp.get("base-uri") == ["'self'"] and csp.get("form-action") == ["'self'"], where
    assert "unsafe-inline" not in h["Content-Security-Policy"] and "unsafe-eval" not in h["Content-Security-Policy"]


#: The one page shown inside another: an e-mail's HTML part, framed by its
#: message page only. It may be framed by o2c itself; nothing in it runs.
FRAMED = {"GET /outbox/<id:message_id>/preview"}


def assert_sandboxed_frame(r: Any, where: str) -> None:
    h = r.headers
    assert h.get("X-Content-Type-Options") == "nosniff", where
    assert h.get("X-Frame-Options") == "SAMEORIGIN", where
    csp = {d.split()[0]: d.split()[1:] for d in h.get("Content-Security-Policy", "").split(";") if d.strip()}
    assert csp.get("default-src") == ["'none'"], where  # no script, no network
    assert "sandbox" in csp and csp["sandbox"] == [], where  # no forms, no script, an origin of its own
    assert csp.get("frame-ancestors") == ["'self'"], where
    assert "script-src" not in csp and "unsafe-eval" not in h["Content-Security-Policy"], where


def test_every_back_office_page_carries_the_headers(app: Any, engine: Engine, people: dict[str, str],
                                                    book: dict[str, Any]) -> None:
    admin = caller(app, engine, "admin")
    seen = 0
    for route in ROUTES:
        method, rule = route.split(" ", 1)
        if method != "GET":
            continue
        with admin.get(fill(rule, book)) as r:
            assert r.status_code < 500, route
            if route in FRAMED:
                assert_sandboxed_frame(r, route)
            else:
                assert_secure_headers(r, route)
            seen += 1
    assert seen >= 30


def test_refusals_and_error_pages_carry_the_headers(app: Any, engine: Engine, people: dict[str, str],
                                                   book: dict[str, Any]) -> None:
    anonymous = Web(app.test_client())
    clerk = caller(app, engine, "clerk")
    answers = {
        "sign-in page": anonymous.get("/login"),
        "sent to sign in": anonymous.get("/orders"),
        "not found": clerk.get("/no-such-page"),
        "forbidden": clerk.get("/books/journal"),
        "csrf refused": clerk.post("/orders/new", {}, csrf=False),
        "wrong method": clerk.c.delete("/orders"),  # the CSRF check comes first: 400
        "bad query": clerk.get("/orders?q=%00"),
    }
    assert [a.status_code for a in answers.values()] == [200, 302, 404, 403, 400, 400, 400]
    for where, r in answers.items():
        assert_secure_headers(r, where)


def test_every_kind_of_api_answer_carries_the_headers(app: Any, admin: Client, accountant: Client) -> None:
    customer(admin, "C-ROSSI")
    p = product(admin, "RETRO-CLOCK", "49.90", stock=2)
    stranger = app.test_client()
    answers = {
        "list": admin.get("/api/v1/products"),
        "one": admin.get(f"/api/v1/products/{p['sku']}"),
        "created": admin.post("/api/v1/products", {"sku": "LAMP-1", "name": "Lamp", "unit_price": "1.00",
                                                   "vat_rate": "0.22"}),
        "validation": admin.post("/api/v1/products", {"sku": ""}),
        "unauthorized": stranger.get("/api/v1/orders"),
        "forbidden": accountant.post("/api/v1/products", {}),
        "not found": admin.get("/api/v1/orders/999999"),
        "no route": admin.get("/api/v1/nothing-here"),
        "wrong method": admin.c.delete("/api/v1/orders", headers={"Authorization": f"Bearer {admin.key}"}),
        "too large": admin.post("/api/v1/products", data=b"x" * (2 * 1024 * 1024),
                                headers={"Content-Type": "application/json"}),
        "not json": admin.post("/api/v1/products", data=b"sku=x", headers={"Content-Type": "text/plain"}),
        "export": accountant.get("/api/v1/ledger/export?format=csv"),
        "openapi": stranger.get("/api/openapi.json"),
        "docs": stranger.get("/api/docs"),
        "health": stranger.get("/healthz"),
        "ready": stranger.get("/readyz"),
    }
    statuses = {k: r.status_code for k, r in answers.items()}
    assert statuses == {"list": 200, "one": 200, "created": 201, "validation": 422, "unauthorized": 401,
                        "forbidden": 403, "not found": 404, "no route": 404, "wrong method": 405,
                        "too large": 413, "not json": 415, "export": 200, "openapi": 200, "docs": 200,
                        "health": 200, "ready": 200}
    for where, r in answers.items():
        assert_secure_headers(r, where)
        r.close()


# -- templates a strict policy can serve ----------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script\b(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER = re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.I | re.S)
STYLE_ATTR = re.compile(r"<[a-z][^>]*\sstyle\s*=", re.I | re.S)
STYLE_BLOCK = re.compile(r"<style\b", re.I)
JS_URL = re.compile(r"(?:href|src|action|formaction)\s*=\s*[\"']?\s*javascript:", re.I)


def scan(text: str) -> list[str]:
    found = []
    for what, pattern in (("inline <script>", INLINE_SCRIPT), ("on…= handler", HANDLER),
                          ("style= attribute", STYLE_ATTR), ("<style> block", STYLE_BLOCK),
                          ("javascript: URL", JS_URL)):
        found += [f"{what}: {m.group(0)[:60]!r}" for m in pattern.finditer(text)]
    return found


def test_the_scanner_finds_what_a_strict_policy_would_block() -> None:
    assert len(scan('<script>alert(1)</script><a href="javascript:x()" onclick="y()">'
                    '<p style="color:red"><style>p{}</style>')) == 5
    assert scan('<script src="/assets/app.js" defer></script><p class="on-hold" data-style="x">') == []


def test_back_office_templates_have_no_inline_script_handlers_or_styles() -> None:
    files = sorted(WEB_TEMPLATES.rglob("*.html"))
    assert len(files) >= 20
    found = [f"{f.relative_to(ROOT)}: {hit}" for f in files for hit in scan(f.read_text(encoding="utf-8"))]
    assert found == []


def test_document_templates_run_no_script() -> None:
    """templates/ feeds WeasyPrint (PDF letters and invoices), never a browser:
    their <style> blocks are fine, script and handlers are not."""
    files = sorted(DOCUMENT_TEMPLATES.rglob("*.html"))
    assert files
    found = [f"{f.relative_to(ROOT)}: {hit}" for f in files for hit in scan(f.read_text(encoding="utf-8"))
             if not hit.startswith(("style= attribute", "<style> block"))]
    assert found == []


@pytest.mark.parametrize("path", ["/", "/orders", "/orders/new", "/payments/new", "/books/trial-balance"])
def test_rendered_pages_have_no_inline_script_or_styles(admin_web: Web, book: dict[str, Any], path: str) -> None:
    """What a page really sends, not only the templates (macros and filters
    such as the chart write markup too)."""
    r = admin_web.get(path)
    assert r.status_code == 200
    assert scan(r.text) == []
