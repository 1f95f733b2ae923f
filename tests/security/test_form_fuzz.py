"""Every form the back office shows, submitted with hostile values in every
field: numbers that are not numbers, too big, negative or exotic, markup,
SQL-ish text, very long text. The answer is the form again with its errors,
a refusal or a redirect: never a server error."""
from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.security.conftest import Web

HOSTILE = ["abc", "-1", "0", "1e309", "NaN", "99999999999999999999999999", "1.234567", "١٢٣", "²",
           "<script>alert(1)</script>", "Robert'); DROP TABLE orders;--", "=1+1", "x" * 5000, " ", ""]


class Forms(HTMLParser):
    """The POST forms of a page: action and the names of their fields."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self._current: dict[str, Any] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form" and (a.get("method") or "get").lower() == "post":
            self._current = {"action": a.get("action") or "", "fields": {}, "hidden": {}}
            self.forms.append(self._current)
        elif tag in ("input", "select", "textarea") and self._current is not None and a.get("name"):
            if a.get("type") == "hidden":
                self._current["hidden"][a["name"]] = a.get("value") or ""
            elif a.get("type") not in ("submit", "button"):
                self._current["fields"][a["name"]] = a.get("value") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None


def forms_of(html: str, page: str) -> list[dict[str, Any]]:
    parser = Forms()
    parser.feed(html)
    for f in parser.forms:
        f["action"] = f["action"] or page
    return parser.forms


def test_every_form_survives_hostile_values_in_every_field(admin_web: Web, engine: Engine,
                                                           book: dict[str, Any]) -> None:
    b = book
    pages = ["/orders/new", "/customers/new", f"/customers/{b['customer_id']}/edit", "/products/new",
             "/products/RETRO-CLOCK/edit", "/products", "/stock/receipts/new", "/payments/new",
             f"/orders/{b['draft']['id']}", f"/orders/{b['shipped']['id']}", f"/orders/{b['packed']['id']}",
             f"/shipments/{b['pending_shipment']}", "/books/periods"]
    forms = []
    for page in pages:
        r = admin_web.get(page)
        assert r.status_code == 200, page
        forms += [f for f in forms_of(r.text, page) if not f["action"].endswith("/logout")]
    actions = {f["action"].split("?")[0] for f in forms}
    assert len(actions) >= 12, actions  # the forms were found
    submitted = 0
    failures = []
    for n, value in enumerate(HOSTILE):
        for form in forms:
            data = {**form["hidden"], **{name: value for name in form["fields"]}}
            data["form_token"] = f"fuzz-{n}-{submitted}"  # a fresh submission each time
            r = admin_web.post(form["action"], data)
            submitted += 1
            if r.status_code >= 500:
                failures.append(f"{form['action']} with {value[:20]!r}: {r.status_code}")
    assert failures == []
    assert submitted >= len(HOSTILE) * 12
    print(f"{len(forms)} forms ({len(actions)} actions) x {len(HOSTILE)} values = {submitted} submissions")


@pytest.mark.parametrize("path", ["/go?q=SO-²", "/go?q=PAY-¹²", "/go?q=SH-٣", "/orders?customer=²",
                                  "/payments/new?customer=%C2%B2", "/orders/new?customer=³"])
def test_exotic_digits_in_queries_are_not_numbers(admin_web: Web, book: dict[str, Any], path: str) -> None:
    """``'²'.isdigit()`` is true but ``int('²')`` fails: such text is not taken for an id."""
    r = admin_web.get(path)
    assert r.status_code in (200, 302), r.status_code
