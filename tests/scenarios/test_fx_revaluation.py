"""Period-end revaluation, told as a story with the exact amount in every
account: a PLN receivable and PLN customer credit valued at the month's last
rate, the unrealised difference reversed on the first day of the next month,
and the payment after it realising the difference against the booked value."""
from __future__ import annotations

import datetime as dt
from typing import Any

from tests.conftest import Client, customer, reconciliation_ok
from tests.scenarios.test_foreign_currency import D0, D1, balances, day, pay, ship_all, zloty_shop  # noqa: F401

END, NEXT, LATER = dt.date(2026, 11, 30), dt.date(2026, 12, 1), dt.date(2026, 12, 2)


def currency_check(admin: Client, name: str, as_of: dt.date | None = None) -> dict[str, Any]:
    rep = reconciliation_ok(admin, as_of)
    return {ch["name"]: ch for ch in rep["checks"]}[name]


def test_open_pln_balances_revalued_at_month_end_and_reversed_the_next_day(admin: Client, day: Any) -> None:
    day(D0)
    c = zloty_shop(admin)
    other = customer(admin, "C-KRAK", currency="PLN")
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 4}]}, status=201)
    ship_all(admin, o["id"])  # 975.95 PLN at 4.2750: 228.30
    day(D1)
    pay(admin, c["id"], "400.00", "PLN", D1, "PKO-1")  # 93.00 in, 93.57 settled, 0.57 lost
    # Money ahead of any invoice: 100.00 PLN at 4.3010 = 23.2504 → 23.25 of credit.
    pay(admin, other["id"], "100.00", "PLN", D1, "PKO-2")
    before = balances(admin)
    assert (before["1100"], before["2300"], before["6900"]) == ("134.73", "-23.25", "0.57")

    day(END)
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": END.isoformat(), "rate": "4.3200"},
             status=201)
    r = admin.ok("post", "/api/v1/fx/revaluation", {"as_of": END.isoformat()}, status=201)
    # Receivables: 575.95 PLN / 4.32 = 133.3218 → 133.32 against 134.73 booked: −1.41.
    # Credit: 100.00 PLN / 4.32 = 23.1481 → 23.15 owed against 23.25 booked: 0.10 less owed.
    assert (r["as_of"], r["reversal_on"], r["document"]) == ("2026-11-30", "2026-12-01", "FXR-2026-11-30")
    assert [(b["role"], b["currency"], b["amount"], b["rate"], b["booked"], b["revalued"], b["difference"])
            for b in r["balances"]] == [
        ("customer_credit", "PLN", "-100.00", "4.3200", "-23.25", "-23.15", "0.10"),
        ("receivables", "PLN", "575.95", "4.3200", "134.73", "133.32", "-1.41")]
    assert (r["gain"], r["loss"]) == ("0.00", "1.31")
    lines = {(l["account"], l["debit"], l["credit"]) for l in r["entry"]["lines"]}
    assert lines == {("1100", "0.00", "1.41"), ("2300", "0.10", "0.00"), ("6910", "1.31", "0.00")}
    assert r["entry"]["date"] == "2026-11-30" and r["reversal"]["date"] == "2026-12-01"
    assert {(l["account"], l["debit"], l["credit"]) for l in r["reversal"]["lines"]} == {
        ("1100", "1.41", "0.00"), ("2300", "0.00", "0.10"), ("6910", "0.00", "1.31")}
    # On the day: the balances at their new values, the loss in 6910; the
    # money owed in złoty has not changed.
    tb = admin.ok("get", f"/api/v1/ledger/trial-balance?as_of={END.isoformat()}")
    at_end = {a["code"]: a["balance"] for a in tb["accounts"] if a["balance"] not in ("0", "0.00")}
    assert (at_end["1100"], at_end["2300"], at_end["6910"]) == ("133.32", "-23.15", "1.31")
    check = currency_check(admin, "receivables_PLN", END)
    assert (check["left"], check["right"], check["details"]["gl_amount"]) == ("133.32", "133.32", "575.95")
    assert currency_check(admin, "customer_credit_PLN", END)["left"] == "23.15"
    # The whole journal, its reversal included: back at the booked values.
    assert currency_check(admin, "receivables_PLN")["left"] == "134.73"

    # Once per day; the same day again changes nothing.
    again = admin.post("/api/v1/fx/revaluation", {"as_of": END.isoformat()})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "conflict"

    # The next month starts from the booked values, and the last payment
    # realises its difference against them: 575.95 PLN at 4.2580 = 135.2630
    # → 135.26 for 134.73 booked, 0.53 gained.
    day(LATER)
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": LATER.isoformat(), "rate": "4.2580"},
             status=201)
    pay(admin, c["id"], "575.95", "PLN", LATER, "PKO-3")
    after = balances(admin)
    assert "1100" not in after and "6910" not in after
    assert (after["1000"], after["2300"], after["4900"], after["6900"]) == ("251.51", "-23.25", "-0.53", "0.57")
    reconciliation_ok(admin)
    listed = admin.ok("get", "/api/v1/fx/revaluations")["items"]
    assert [x["id"] for x in listed] == [r["id"]]
    assert admin.ok("get", f"/api/v1/fx/revaluations/{r['id']}")["balances"] == r["balances"]


def test_a_day_without_a_rate_in_the_future_or_in_a_closed_month_is_refused_and_nothing_is_written(
        admin: Client, day: Any) -> None:
    day(D0)
    c = zloty_shop(admin)
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]}, status=201)
    ship_all(admin, o["id"])
    day(NEXT)
    before = balances(admin)
    r = admin.post("/api/v1/fx/revaluation", {"as_of": END.isoformat()})  # rates end on 4 November
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "rate_missing"
    r = admin.post("/api/v1/fx/revaluation", {"as_of": LATER.isoformat()})
    assert r.status_code == 422 and "as_of" in r.get_json()["error"]["details"]["fields"]
    for body in ({}, {"as_of": "30.11.2026"}, {"as_of": 20261130}):
        r = admin.post("/api/v1/fx/revaluation", body)
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error", body
    admin.ok("post", "/api/v1/ledger/periods/2026-11/close", {})
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": END.isoformat(), "rate": "4.3200"},
             status=201)
    r = admin.post("/api/v1/fx/revaluation", {"as_of": END.isoformat()})
    assert r.status_code == 409 and r.get_json()["error"]["code"] == "period_closed"
    assert balances(admin) == before
    assert admin.ok("get", "/api/v1/fx/revaluations")["items"] == []
    # The day after, in the open month, is fine.
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": NEXT.isoformat(), "rate": "4.3100"},
             status=201)
    assert admin.ok("post", "/api/v1/fx/revaluation", {"as_of": NEXT.isoformat()}, status=201)["reversal_on"] == \
        "2027-01-01"
    assert c["currency"] == "PLN"


def test_closing_a_month_warns_when_its_foreign_balances_were_not_revalued(admin: Client, day: Any) -> None:
    day(D0)
    zloty_shop(admin)
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]}, status=201)
    ship_all(admin, o["id"])
    day(dt.date(2026, 12, 3))
    closed = admin.ok("post", "/api/v1/ledger/periods/2026-11/close", {})
    assert closed["closed"] is True
    assert [(w["code"], w["currencies"]) for w in closed["warnings"]] == [("revaluation_missing", ["PLN"])]
    # A month whose last day was revalued closes without a word.
    admin.ok("post", "/api/v1/ledger/periods/2026-11/reopen", {"reason": "revalue first"})
    admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": END.isoformat(), "rate": "4.3200"},
             status=201)
    admin.ok("post", "/api/v1/fx/revaluation", {"as_of": END.isoformat()}, status=201)
    assert admin.ok("post", "/api/v1/ledger/periods/2026-11/close", {})["warnings"] == []


def test_revaluations_are_listed_latest_day_first_page_by_page(admin: Client, day: Any) -> None:
    day(LATER)
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    days = [dt.date(2026, 11, d) for d in (27, 30, 28)]
    for d in days:
        admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": d.isoformat(), "rate": "4.3"}, status=201)
        r = admin.ok("post", "/api/v1/fx/revaluation", {"as_of": d.isoformat()}, status=201)
        # Nothing open: recorded, nothing posted.
        assert (r["balances"], r["entry"], r["reversal"]) == ([], None, None)
    first = admin.ok("get", "/api/v1/fx/revaluations?limit=2")
    assert [x["as_of"] for x in first["items"]] == ["2026-11-30", "2026-11-28"] and first["has_more"]
    rest = admin.ok("get", f"/api/v1/fx/revaluations?limit=2&cursor={first['next_cursor']}")
    assert [x["as_of"] for x in rest["items"]] == ["2026-11-27"] and not rest["has_more"]
    assert admin.get("/api/v1/fx/revaluations/999999").status_code == 404


def test_accountants_and_administrators_revalue_clerks_and_webshops_may_not_even_look(
        admin: Client, accountant: Client, clerk: Client, shop: Client, day: Any) -> None:
    day(LATER)
    admin.ok("post", "/api/v1/currencies", {"code": "PLN", "enabled": True})
    for d in (END, NEXT):
        admin.ok("post", "/api/v1/fx/rates", {"currency": "PLN", "date": d.isoformat(), "rate": "4.3"}, status=201)
    for api in (clerk, shop):
        for method, path, body in (("post", "/api/v1/fx/revaluation", {"as_of": END.isoformat()}),
                                   ("get", "/api/v1/fx/revaluations", None)):
            r = api.post(path, body) if method == "post" else api.get(path)
            assert r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"
    assert admin.ok("get", "/api/v1/fx/revaluations")["items"] == []
    done = accountant.ok("post", "/api/v1/fx/revaluation", {"as_of": END.isoformat()}, status=201)
    assert done["created_by"] == "api_key:accountant"
    admin.ok("post", "/api/v1/fx/revaluation", {"as_of": NEXT.isoformat()}, status=201)
    assert [x["as_of"] for x in accountant.ok("get", "/api/v1/fx/revaluations")["items"]] == [
        NEXT.isoformat(), END.isoformat()]
    assert clerk.get(f"/api/v1/fx/revaluations/{done['id']}").status_code == 403


def test_accountants_revaluing_the_same_day_at_once_post_it_once(app: Any, admin: Client, keys: dict[str, str],
                                                                  day: Any) -> None:
    from tests.services.test_races import Answer, race
    day(D0)
    c = zloty_shop(admin)
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 2}]}, status=201)
    ship_all(admin, o["id"])
    day(D1)
    # Three for each of two days: one of each posts, the others find it done.
    answers = race(6, lambda i: Answer(Client(app.test_client(), keys["accountant"]).post(
        "/api/v1/fx/revaluation", {"as_of": (D1 if i % 2 else D0).isoformat()})))
    assert sorted(a.status for a in answers) == [201, 201, 409, 409, 409, 409], answers
    assert {a.code for a in answers if a.status == 409} == {"conflict"}
    assert sorted(a.body["as_of"] for a in answers if a.status == 201) == [D0.isoformat(), D1.isoformat()]
    entries = admin.ok("get", "/api/v1/ledger/entries?source_type=fx_revaluation")["items"]
    # Each an entry and its reversal (at the invoice's own rate too: 487.98 PLN
    # is 114.15 at 4.2750 as a whole, booked as 93.56 + 20.58 = 114.14 by rows).
    assert sorted((e["source_id"], e["date"]) for e in entries) == sorted(
        (a.body["id"], day) for a in answers if a.status == 201 for day in (a.body["as_of"], "2026-12-01"))
    assert c["currency"] == "PLN"
    reconciliation_ok(admin)


def test_a_book_kept_in_euro_costs_the_revaluation_check_one_probe(admin: Client, engine: Any, day: Any) -> None:
    """Closing a month asks which foreign balances were not revalued: with no
    line in another currency that is one statement (two index probes), not a
    read of the journal; the first złoty line makes the full read come back."""
    from sqlalchemy import event

    from o2c.services.books import revaluation
    from o2c.services.platform.uow import unit_of_work
    from tests.conftest import order, product
    day(D0)
    customer(admin, "C-MILANO")
    product(admin, "EUR-CLOCK", "47.00", stock=5)
    ship_all(admin, order(admin, "C-MILANO", [("EUR-CLOCK", 1)]).get_json()["id"])
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])
    event.listen(engine, "before_cursor_execute", count)
    try:
        with unit_of_work(engine, "test", readonly=True) as tx:
            assert revaluation.missing_at(tx, D0) == [] and revaluation.foreign_balances(tx, D0) == {}
        journal_reads = [s for s in seen if "journal_lines" in s]
        assert len(journal_reads) == 2 and all("min(journal_lines.currency)" in s for s in journal_reads)
        zloty_shop(admin)
        ship_all(admin, admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-WAWA"}, "confirm": True,
                                                            "lines": [{"sku": "RETRO-CLOCK", "quantity": 1}]},
                                 status=201)["id"])
        with unit_of_work(engine, "test", readonly=True) as tx:
            assert revaluation.missing_at(tx, D0) == ["PLN"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
