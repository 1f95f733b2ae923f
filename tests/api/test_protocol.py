"""The protocol an integrator meets before any business rule: every answer is
JSON in the contract's shape (sizes, methods, 401s), idempotency keys compare
what a request means rather than its bytes and replay without doing the work
again, unknown query parameters are refused, and list cursors are opaque and
belong to their list."""
from __future__ import annotations

import base64
import json
import logging
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.config import Config
from o2c.db import models as m
from o2c.services.crm import feedback
from o2c.services.platform import jobs, webhooks
from o2c.services.platform.idempotency import canonical_body
from o2c.services.platform.uow import unit_of_work
from tests.api.books_helpers import on
from tests.conftest import Client, customer, order, product
from tests.services.test_hot_path import counting


def assert_error(r: Any, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    assert r.mimetype == "application/json", r.mimetype
    body = r.get_json()
    assert set(body) == {"error"} and body["error"]["code"] == code, body
    return body["error"]


# -- everything answers JSON (14.8) --------------------------------------------------------

def test_a_request_target_over_the_limit_is_a_json_414_with_a_request_id(admin: Client) -> None:
    r = admin.get("/api/v1/orders?external_ref=" + "x" * 8100)
    assert_error(r, 414, "uri_too_long")
    assert r.headers["X-Request-Id"]
    assert admin.get("/api/v1/orders?external_ref=" + "x" * 100).status_code == 200


def test_too_many_or_too_long_header_fields_are_a_json_431(admin: Client) -> None:
    many = {f"X-Extra-{i}": "1" for i in range(120)}
    assert_error(admin.get("/api/v1/orders", headers=many), 431, "request_header_fields_too_large")
    err = assert_error(admin.get("/api/v1/orders", headers={"X-Big": "y" * 9000}), 431,
                       "request_header_fields_too_large")
    assert "X-Big" in err["message"]
    assert admin.get("/api/v1/orders", headers={f"X-Extra-{i}": "1" for i in range(20)}).status_code == 200


def test_a_control_character_in_the_idempotency_key_is_a_json_422(admin: Client) -> None:
    r = admin.post("/api/v1/customers", {"code": "C-1", "name": "One"}, headers={"Idempotency-Key": "k\x01y"})
    assert "Idempotency-Key" in assert_error(r, 422, "validation_error")["details"]["fields"]


def test_a_401_has_a_request_id_and_a_request_log_line(app: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="o2c.request")
    r = app.test_client().get("/api/v1/orders", headers={"X-Request-Id": "rid-401"})
    assert_error(r, 401, "unauthorized")
    assert r.headers["X-Request-Id"] == "rid-401"
    lines = [rec for rec in caplog.records if rec.name == "o2c.request"]
    assert [(rec.fields["request_id"], rec.fields["status"]) for rec in lines] == [("rid-401", 401)]  # type: ignore[attr-defined]


def test_a_405_is_json_and_says_which_methods_are_allowed(admin: Client) -> None:
    r = admin.c.delete("/api/v1/orders", headers={"Authorization": f"Bearer {admin.key}"})
    assert_error(r, 405, "method_not_allowed")
    assert {m.strip() for m in r.headers["Allow"].split(",")} >= {"GET", "POST"}
    assert "DELETE" not in r.headers["Allow"]


def test_the_csv_export_says_its_charset_once(accountant: Client) -> None:
    r = accountant.get("/api/v1/ledger/export?format=csv")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"


# -- idempotency: the meaning of the body, replays marked and free (14.9, 15.11) -------------

ORDER = {"customer": {"code": "C-ROSSI"}, "currency": "EUR", "confirm": True,
         "lines": [{"sku": "MUG-01", "quantity": 2, "unit_price": "8.50"}]}


@pytest.fixture
def shelf(admin: Client) -> None:
    customer(admin, "C-ROSSI")
    product(admin, "MUG-01", "8.50", stock=100)


def _raw_post(api: Client, path: str, raw: str, key: str) -> Any:
    return api.c.post(path, data=raw, headers={"Authorization": f"Bearer {api.key}", "Idempotency-Key": key,
                                               "Content-Type": "application/json"})


def test_the_same_json_in_another_key_order_and_spacing_is_a_replay(admin: Client, shelf: None, engine: Engine) -> None:
    first = _raw_post(admin, "/api/v1/orders", json.dumps(ORDER), "order-1")
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    reordered = json.dumps(dict(reversed(list(ORDER.items()))), indent=4, sort_keys=False)
    again = _raw_post(admin, "/api/v1/orders", reordered, "order-1")
    assert again.status_code == 201, again.get_json()
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.Order.__table__)).scalar_one() == 1
    changed = {**ORDER, "lines": [{"sku": "MUG-01", "quantity": 3, "unit_price": "8.50"}]}
    assert_error(_raw_post(admin, "/api/v1/orders", json.dumps(changed), "order-1"), 422, "idempotency_key_reused")


def test_a_refusal_is_replayed_marked_as_such(admin: Client, shelf: None) -> None:
    body = {**ORDER, "lines": [{"sku": "MUG-01", "quantity": 1000}]}
    first = admin.post("/api/v1/orders", body, headers={"Idempotency-Key": "too-many"})
    assert_error(first, 409, "out_of_stock")
    again = admin.post("/api/v1/orders", body, headers={"Idempotency-Key": "too-many"})
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"


def test_the_canonical_body_sorts_keys_and_keeps_numbers_and_non_json_as_sent() -> None:
    assert canonical_body(b'{ "b": 1,\n "a": [1.50, "\\u00e8", true, null] }') == \
        '{"a":[1.50,"è",true,null],"b":1}'.encode()
    assert canonical_body(b'{"q": 1.5}') != canonical_body(b'{"q": 1.50}')
    assert canonical_body(b"not json {") == b"not json {"
    assert canonical_body(b"") == b""


def test_a_replay_writes_nothing_and_uses_no_number(admin: Client, shelf: None, engine: Engine) -> None:
    first = admin.ok("post", "/api/v1/orders", ORDER, status=201, headers={"Idempotency-Key": "once"})
    for _ in range(5):
        with counting(engine) as seen:
            r = admin.post("/api/v1/orders", ORDER, headers={"Idempotency-Key": "once"})
        assert r.status_code == 201 and r.get_json() == first
        writes = [s for s in seen if s.lstrip().split()[0].upper() in ("INSERT", "UPDATE", "DELETE")]
        assert writes == [], writes
        # the API key's read (every request makes it) and the Idempotency-Key's
        # lookup (SQLite adds its BEGIN); no lock, no business read
        reads = [s for s in seen if not s.lstrip().upper().startswith("BEGIN")]
        assert len(reads) == 2 and "FROM api_keys" in reads[0] and "FROM idempotency_keys" in reads[1], seen
    second = admin.ok("post", "/api/v1/orders", ORDER, status=201)
    assert second["id"] == first["id"] + 1  # no order id burnt by the replays
    assert int(second["number"].rsplit("-", 1)[1]) == int(first["number"].rsplit("-", 1)[1]) + 1


# -- unknown query parameters are refused (14.10) ------------------------------------------

@pytest.mark.parametrize(("method", "path", "unknown"), [
    ("get", "/api/v1/orders?staus=confirmed", "staus"),  # a typo must not silently list everything
    ("get", "/api/v1/orders?limit=5&sort=asc", "sort"),
    ("get", "/api/v1/customers/1?expand=orders", "expand"),  # an endpoint that takes none
    ("get", "/api/v1/ledger/entries?form=2026-01-01", "form"),
    ("get", "/api/v1/events?after=0&page=2", "page"),
    ("post", "/api/v1/customers?dry_run=1", "dry_run"),
])
def test_an_unknown_query_parameter_is_a_validation_error(admin: Client, method: str, path: str, unknown: str) -> None:
    r = getattr(admin, method)(path, **({"json": {"code": "C-Q", "name": "Q"}} if method == "post" else {}))
    fields = assert_error(r, 422, "validation_error")["details"]["fields"]
    assert list(fields) == [unknown]
    if method == "post":
        assert admin.ok("get", "/api/v1/customers")["items"] == []  # nothing written


def test_the_declared_query_parameters_and_the_pages_still_work(admin: Client, app: Any) -> None:
    assert admin.ok("get", "/api/v1/orders?status=confirmed&limit=5&customer_id=1")["items"] == []
    assert admin.ok("get", "/api/v1/ledger/entries?from=2026-01-01&to=2026-12-31")["items"] == []
    assert app.test_client().get("/api/openapi.json?x=1").status_code == 200
    assert app.test_client().get("/login?next=/orders&whatever=1").status_code == 200


# -- cursors: opaque, bound to their list, has_more (14.11) ---------------------------------

def _walk(api: Client, path: str, limit: int = 1) -> tuple[list[Any], int]:
    """Every item of a list, page by page; and the number of pages."""
    items: list[Any] = []
    cursor, pages = None, 0
    sep = "&" if "?" in path else "?"
    while True:
        page = api.ok("get", f"{path}{sep}limit={limit}" + (f"&cursor={cursor}" if cursor else ""))
        pages += 1
        got = page.get("items", page.get("lines"))
        items += got
        assert page["has_more"] is (page["next_cursor"] is not None), page
        cursor = page["next_cursor"]
        if cursor is None:
            return items, pages
        assert pages < 200, "paging does not end"


def _ident(item: dict[str, Any]) -> Any:
    return item.get("id", item.get("sku"))


@pytest.fixture
def busy(admin: Client, engine: Engine) -> dict[str, Any]:
    """At least two of everything that is listed."""
    for code in ("C-A", "C-B", "C-C"):
        customer(admin, code, payment_terms_days=10)
    product(admin, "MUG-01", "8.50", stock=100)
    product(admin, "TEA-100", "4.00", stock=100)
    product(admin, "LAMP-01", "30.00")  # none in stock: backorders
    orders = []
    with on("2026-03-02"):
        for code in ("C-A", "C-B", "C-A"):
            r = order(admin, code, [("MUG-01", 2), ("TEA-100", 1)])
            assert r.status_code == 201, r.get_json()
            o = r.get_json()
            sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
            admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
            orders.append(o["id"])
        for oid in orders[:2]:
            admin.ok("post", f"/api/v1/orders/{oid}/returns", {"lines": [{"sku": "MUG-01", "quantity": 1}]},
                     status=201)
        for _ in range(2):
            assert order(admin, "C-C", [("LAMP-01", 1)], allow_backorder=True).status_code == 201
    with on("2026-03-10"):
        # Satisfaction links for the three deliveries, each answered with a low score: feedback and tasks.
        with unit_of_work(engine, "worker") as tx:
            asked = feedback.queue_followups(tx, "https://o2c.example", 7)
        for _, token in asked:
            with unit_of_work(engine, "customer:feedback") as tx:
                feedback.answer(tx, token, 1)
    assert len(asked) == 3
    with on("2026-05-01"):
        admin.ok("post", "/api/v1/dunning/runs", {"as_of": "2026-05-01"})
    for code in ("C-A", "C-B", "C-A"):
        admin.ok("post", "/api/v1/quotes", {"customer": {"code": code}, "lines": [{"sku": "MUG-01", "quantity": 1}]},
                 status=201)
    hooks = [admin.ok("post", "/api/v1/webhooks", {"url": f"https://hooks.example.com/{i}"}, status=201)
             for i in range(3)]
    return {"hooks": hooks}


LISTS = [
    "/api/v1/customers", "/api/v1/products", "/api/v1/stock", "/api/v1/orders", "/api/v1/invoices",
    "/api/v1/ledger/entries", "/api/v1/backorders", "/api/v1/returns", "/api/v1/credit-notes",
    "/api/v1/dunning/letters", "/api/v1/webhooks", "/api/v1/ledger/accounts/1200/ledger", "/api/v1/api-keys",
    "/api/v1/quotes", "/api/v1/feedback", "/api/v1/tasks",
]


def test_every_list_pages_to_its_end_giving_each_item_once(admin: Client, busy: dict[str, Any]) -> None:
    for path in LISTS:
        everything = admin.ok("get", f"{path}?limit=100")
        whole = everything.get("items", everything.get("lines"))
        assert len(whole) >= 2 and everything["has_more"] is False, (path, len(whole))
        paged, pages = _walk(admin, path)
        key = (lambda i: (i["entry_id"], i["balance"])) if path.endswith("/ledger") else _ident
        assert [key(i) for i in paged] == [key(i) for i in whole], path
        assert pages == len(whole), path


def test_the_lists_tested_are_every_cursor_list_of_the_api(admin: Client) -> None:
    spec = admin.c.get("/api/openapi.json").get_json()
    schemas = spec["components"]["schemas"]

    def paged(op: dict[str, Any]) -> bool:
        ref = op.get("responses", {}).get("200", {}).get("content", {}).get("application/json", {}).get(
            "schema", {}).get("$ref", "")
        return "next_cursor" in schemas.get(ref.rsplit("/", 1)[-1], {}).get("properties", {})

    lists = {path for path, ops in spec["paths"].items() if "get" in ops and paged(ops["get"])}
    tested = {p.replace("/accounts/1200/", "/accounts/{code}/") for p in LISTS}
    # the feed (positioned by event id) and a webhook's deliveries have tests of their own below; the lists of
    # the outbox, bank statements, currencies and revaluations are paged in their own tests (test_messages_api,
    # test_bank_statements, test_fx, test_fx_revaluation)
    assert lists - tested == {
        "/api/v1/events", "/api/v1/webhooks/{webhook_id}/deliveries",
        "/api/v1/messages", "/api/v1/bank/statements", "/api/v1/bank/lines", "/api/v1/currencies", "/api/v1/fx/rates",
        "/api/v1/fx/prices", "/api/v1/fx/revaluations",
    }, lists - tested


def test_a_cursor_works_only_on_its_own_list(admin: Client, busy: dict[str, Any]) -> None:
    customers = admin.ok("get", "/api/v1/customers?limit=1")
    assert customers["has_more"] is True
    cursor = customers["next_cursor"]
    assert not cursor.isdigit()
    for other in ("/api/v1/orders", "/api/v1/invoices", "/api/v1/webhooks", "/api/v1/credit-notes"):
        err = assert_error(admin.get(f"{other}?cursor={cursor}"), 422, "validation_error")
        assert list(err["details"]["fields"]) == ["cursor"]
    page = admin.ok("get", "/api/v1/ledger/accounts/1200/ledger?limit=1")
    assert_error(admin.get(f"/api/v1/ledger/accounts/4000/ledger?cursor={page['next_cursor']}"), 422,
                 "validation_error")


@pytest.mark.parametrize("tamper", ["flip", "forged", "bare", "truncate"])
def test_a_tampered_or_forged_cursor_is_a_validation_error(admin: Client, busy: dict[str, Any], tamper: str) -> None:
    cursor = admin.ok("get", "/api/v1/orders?limit=1")["next_cursor"]
    blob = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    mac, position = blob[:16], json.loads(blob[16:])
    bad = {
        "flip": base64.urlsafe_b64encode(mac + json.dumps(position - 1).encode()).decode().rstrip("="),
        "forged": base64.urlsafe_b64encode(b"\0" * 16 + json.dumps(position).encode()).decode().rstrip("="),
        "bare": str(position),
        "truncate": cursor[:-3],
    }[tamper]
    err = assert_error(admin.get(f"/api/v1/orders?cursor={bad}"), 422, "validation_error")
    assert list(err["details"]["fields"]) == ["cursor"]


def test_the_event_feed_says_whether_more_follow(admin: Client, busy: dict[str, Any]) -> None:
    everything = admin.ok("get", "/api/v1/events?limit=1000")["items"]
    assert len(everything) > 3
    seen, after = [], 0
    while True:
        page = admin.ok("get", f"/api/v1/events?after={after}&limit=2")
        seen += [e["id"] for e in page["items"]]
        if not page["has_more"]:
            break
        after = int(page["next_cursor"])
    assert seen == [e["id"] for e in everything]


def test_a_webhooks_deliveries_page_with_cursors_of_that_webhook_only(
        admin: Client, busy: dict[str, Any], engine: Engine, db_url: str) -> None:
    hook_a, hook_b = busy["hooks"][0]["id"], busy["hooks"][1]["id"]
    for _ in range(3):
        assert order(admin, "C-A", [("MUG-01", 1)], confirm=False).status_code == 201
    config = Config(DATABASE_URL=db_url, ENV="testing", EVENTS_SETTLE_WAIT_S=0)
    assert webhooks.dispatch(jobs.JobContext(engine, config, 0, "webhooks.dispatch", 1, "test")) >= 6
    path = f"/api/v1/webhooks/{hook_a}/deliveries"
    whole = admin.ok("get", f"{path}?limit=100")["items"]
    paged, pages = _walk(admin, path)
    assert len(whole) == 3 and [d["id"] for d in paged] == [d["id"] for d in whole] and pages == 3
    cursor = admin.ok("get", f"{path}?limit=1")["next_cursor"]
    err = assert_error(admin.get(f"/api/v1/webhooks/{hook_b}/deliveries?cursor={cursor}"), 422, "validation_error")
    assert list(err["details"]["fields"]) == ["cursor"]


# -- events describe what was committed (15.12) ----------------------------------------------

def test_order_created_describes_the_order_as_committed(admin: Client, shelf: None) -> None:
    confirmed = admin.ok("post", "/api/v1/orders", ORDER, status=201)
    draft = admin.ok("post", "/api/v1/orders", {**ORDER, "confirm": False}, status=201)
    feed = admin.ok("get", "/api/v1/events?type=order.created&type=order.confirmed")["items"]
    by_order = {(e["order_id"], e["type"]): e["data"] for e in feed}
    assert by_order[(confirmed["id"], "order.created")]["status"] == "confirmed" == confirmed["status"]
    assert (confirmed["id"], "order.confirmed") in by_order  # still announced as well
    assert by_order[(draft["id"], "order.created")]["status"] == "draft" == draft["status"]
    assert (draft["id"], "order.confirmed") not in by_order
