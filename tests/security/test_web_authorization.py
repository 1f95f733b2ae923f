"""Who may open which back-office page or submit which form: every web route
of ``app.url_map`` (the JSON API under /api has its own matrix in
tests/api/test_access.py) against every kind of caller, with the outcome the
table below expects. A route missing from the table fails the test, so every
new page is classified when it is added.

Callers: nobody signed in, a webshop's API key sent to a web page (keys are
for /api only: it counts as nobody), and a signed-in clerk, accountant and
admin. Expected: the sign-in page for nobody, 403 for a role the table does
not name, and for a role it names the page itself (200, or a redirect that is
not to the sign-in page) or, for a form, an answer from behind the gate (a
redirect, the form again with its errors, or a refusal of the business
rule) — never 401/403, never 5xx.

Every form also refuses a submission without a valid CSRF token (400) and
writes nothing."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import make_key
from tests.security.conftest import FEEDBACK_TOKEN, Web, row_counts

PUBLIC = "public"  # anyone, signed in or not
STAFF = "clerk accountant admin"
CLERKS = "clerk admin"
BOOKS = "accountant admin"
MONEY = "clerk accountant admin"

#: "METHOD rule" (the rule as ``app.url_map`` spells it) → who may use it.
#: One line per route: add yours here.
ROUTES: dict[str, str] = {
    "GET /login":                                        PUBLIC,
    "POST /login":                                       PUBLIC,
    "GET /healthz":                                      PUBLIC,
    "GET /readyz":                                       PUBLIC,
    "GET /assets/<path:filename>":                       PUBLIC,
    "POST /logout":                                      STAFF,
    "GET /":                                             STAFF,
    "GET /go":                                           STAFF,
    # orders and shipments
    "GET /orders":                                       STAFF,
    "GET /orders/new":                                   CLERKS,
    "POST /orders/new":                                  CLERKS,
    "GET /orders/<id:order_id>":                         STAFF,
    "GET /lookup/customers":                             STAFF,   # JSON for the new-order form's script
    "POST /lookup/order-lines":                          CLERKS,  # JSON: what the entered lines come to
    "POST /orders/<id:order_id>/confirm":                CLERKS,
    "POST /orders/<id:order_id>/cancel":                 CLERKS,
    "POST /orders/<id:order_id>/pack":                   CLERKS,
    "POST /orders/<id:order_id>/invoice":                CLERKS,
    "GET /shipments/<id:shipment_id>":                   STAFF,
    "GET /shipments/<id:shipment_id>/packing-slip":      STAFF,
    "POST /shipments/<id:shipment_id>/ship":             CLERKS,
    "POST /shipments/<id:shipment_id>/cancel":           CLERKS,
    # invoices and payments
    "GET /invoices":                                     STAFF,
    "GET /invoices/<id:invoice_id>":                     STAFF,
    "GET /invoices/<id:invoice_id>/pdf":                 STAFF,
    "GET /payments":                                     STAFF,
    "GET /payments/new":                                 MONEY,
    "POST /payments/new":                                MONEY,
    "GET /payments/<id:payment_id>":                     STAFF,
    # master data and stock
    "GET /customers":                                    STAFF,
    "GET /customers/new":                                CLERKS,
    "POST /customers/new":                               CLERKS,
    "GET /customers/<id:customer_id>":                   STAFF,
    "GET /customers/<id:customer_id>/edit":              CLERKS,
    "POST /customers/<id:customer_id>/edit":             CLERKS,
    "GET /products":                                     STAFF,
    "GET /products/new":                                 CLERKS,
    "POST /products/new":                                CLERKS,
    "GET /products/<sku:sku>/edit":                      CLERKS,
    "POST /products/<sku:sku>/edit":                     CLERKS,
    "POST /products/<sku:sku>/active":                   CLERKS,
    "GET /stock":                                        STAFF,
    "GET /stock/<sku:sku>":                              STAFF,
    "GET /stock/receipts/new":                           CLERKS,
    "POST /stock/receipts/new":                          CLERKS,
    # the books
    "GET /books/trial-balance":                          BOOKS,
    "GET /books/journal":                                BOOKS,
    "GET /books/reconciliation":                         BOOKS,
    "GET /books/periods":                                BOOKS,
    "POST /books/periods/<string:period>/close":         BOOKS,
    "POST /books/periods/<string:period>/reopen":        "admin",
    "GET /books/verify":                                 BOOKS,
    "GET /books/trial-balance/export":                   BOOKS,
    "GET /books/accounts":                               BOOKS,
    "POST /books/accounts":                              "admin",
    "GET /books/accounts/<string:code>":                 BOOKS,
    "GET /books/accounts/<string:code>/edit":            "admin",
    "POST /books/accounts/<string:code>/edit":           "admin",
    "GET /books/currencies":                             BOOKS,
    "GET /books/revaluation":                            BOOKS,
    "POST /books/revaluation":                           BOOKS,
    "POST /books/currencies/enable":                     "admin",
    "POST /books/currencies/rates":                      "admin",
    "GET /books/export":                                 BOOKS,
    "GET /books/export/download":                        BOOKS,
    # receivables
    "GET /receivables/aging":                            BOOKS,
    "GET /customers/<id:customer_id>/statement":         BOOKS,
    "GET /customers/<id:customer_id>/statement.pdf":     BOOKS,
    "GET /dunning":                                      BOOKS,
    "POST /dunning/run":                                 BOOKS,
    "GET /dunning/letters/<id:letter_id>":               BOOKS,
    "GET /dunning/letters/<id:letter_id>.pdf":           BOOKS,
    # the outbox: clerks, accountants, administrators
    "GET /outbox":                                       STAFF,
    "GET /outbox/<id:message_id>":                       STAFF,
    "GET /outbox/<id:message_id>/preview":               STAFF,   # the HTML part, sandboxed, for the iframe
    "POST /outbox/<id:message_id>/resend":               STAFF,
    "POST /invoices/<id:invoice_id>/send":               STAFF,
    "POST /customers/<id:customer_id>/statement/send":   BOOKS,
    # after-sales corrections
    "POST /orders/<id:order_id>/cancel-lines":           CLERKS,
    "GET /backorders":                                   STAFF,
    "POST /payments/<id:payment_id>/reverse":            MONEY,
    "GET /customers/<id:customer_id>/credit":            STAFF,
    "POST /customers/<id:customer_id>/credit/apply":     MONEY,
    "POST /customers/<id:customer_id>/credit/reallocate": MONEY,
    "POST /orders/<id:order_id>/returns":                CLERKS,
    "GET /returns":                                      STAFF,
    "GET /returns/<id:return_id>":                       STAFF,
    "GET /credit-notes":                                 STAFF,
    "GET /credit-notes/<id:credit_note_id>":             STAFF,
    "GET /credit-notes/<id:credit_note_id>/pdf":         STAFF,
    "POST /invoices/<id:invoice_id>/apply-credit":       MONEY,
    # VAT return reports and the company's settings
    "GET /books/vat-report":                             BOOKS,
    "GET /books/ec-sales-list":                          BOOKS,
    "GET /books/oss-return":                             BOOKS,
    "GET /settings/company":                             "admin",
    "POST /settings/company":                            "admin",
    # customers after the sale; the satisfaction link's page is public (the token is the key)
    "GET /reports/kpis":                                 STAFF,
    "GET /reports/kpis/<figure>":                        STAFF,
    "GET /customers/winback":                            STAFF,
    "POST /customers/<id:customer_id>/winback":          CLERKS,
    "GET /tasks":                                        STAFF,
    "POST /tasks/<id:task_id>":                          CLERKS,
    "GET /f/<token>":                                    PUBLIC,
    "POST /f/<token>":                                   PUBLIC,
    # bank statements
    "GET /bank/statements":                              MONEY,
    "POST /bank/statements/import":                      MONEY,
    "GET /bank/statements/<id:statement_id>":            MONEY,
    "GET /bank/accounts":                                MONEY,
    "POST /bank/accounts":                               BOOKS,
    "POST /bank/accounts/<id:account_id>":               BOOKS,
    # cash application worklist
    "GET /bank/worklist":                                MONEY,
    "GET /bank/lines/<id:line_id>":                      MONEY,
    "POST /bank/lines/<id:line_id>/match":               MONEY,
    "POST /bank/lines/<id:line_id>/confirm":             MONEY,
    "POST /bank/lines/<id:line_id>/book":                MONEY,
    "POST /bank/lines/<id:line_id>/ignore":              MONEY,
    # the job queue and webhooks (admins)
    "GET /jobs":                                         "admin",
    "GET /webhooks":                                     "admin",
    "POST /webhooks":                                    "admin",
    "GET /webhooks/failed":                              "admin",
    "POST /webhooks/failed/redeliver":                   "admin",
    "GET /webhooks/<id:webhook_id>":                     "admin",
    "POST /webhooks/<id:webhook_id>/disable":            "admin",
    "POST /webhooks/<id:webhook_id>/enable":             "admin",
    "POST /webhooks/<id:webhook_id>/rotate-secret":      "admin",
    "POST /webhooks/<id:webhook_id>/delete":             "admin",
    "POST /webhooks/<id:webhook_id>/redeliver-failed":   "admin",
    "GET /webhooks/<id:webhook_id>/deliveries/<id:delivery_id>": "admin",
    "POST /webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver": "admin",
    # API keys (admins)
    "GET /keys":                                         "admin",
    "POST /keys":                                        "admin",
    "POST /keys/<id:key_id>/revoke":                     "admin",
    "POST /keys/<id:key_id>/rotate":                     "admin",
    # quotations; the acceptance link's pages are public (the token is the key)
    "GET /quotes":                                       STAFF,
    "GET /quotes/pipeline":                              STAFF,
    "GET /quotes/<id:quote_id>":                         STAFF,
    "GET /quotes/<id:quote_id>/pdf":                     STAFF,
    "POST /quotes/<id:quote_id>/send":                   CLERKS,
    "POST /quotes/<id:quote_id>/accept":                 CLERKS,
    "POST /quotes/<id:quote_id>/decline":                CLERKS,
    "POST /quotes/<id:quote_id>/cancel":                 CLERKS,
    "GET /quotes/new":                                   CLERKS,
    "POST /quotes/new":                                  CLERKS,
    "GET /quotes/<id:quote_id>/edit":                    CLERKS,
    "POST /quotes/<id:quote_id>/edit":                   CLERKS,
    "GET /q/<token>":                                    PUBLIC,
    "POST /q/<token>/accept":                            PUBLIC,
    "POST /q/<token>/decline":                           PUBLIC,
}

CALLERS = ("anonymous", "webshop_key", "clerk", "accountant", "admin")
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_PARAM = re.compile(r"<(?:[a-z]+:)?([a-z_]+)>")


def web_routes(app: Any) -> set[str]:
    out = set()
    for rule in app.url_map.iter_rules():
        if rule.rule == "/api" or rule.rule.startswith("/api/"):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            out.add(f"{method} {rule.rule}")
    return out


def fill(rule: str, book: dict[str, Any]) -> str:
    """The rule's path with real documents in its parameters."""
    values = {"order_id": book["draft"]["id"], "shipment_id": book["pending_shipment"],
              "invoice_id": book["invoice_id"], "payment_id": book["payment_id"],
              "customer_id": book["customer_id"], "sku": "RETRO-CLOCK", "filename": "app.css",
              "letter_id": book["letter_id"], "webhook_id": book["webhook_id"], "key_id": book["api_key_id"],
              "delivery_id": book["delivery_id"], "code": "1100",
              "return_id": book["return_id"], "credit_note_id": book["credit_note_id"],
              "message_id": book["message_id"], "statement_id": book["statement_id"], "line_id": book["line_id"],
              "figure": "dso", "task_id": 10**9, "account_id": 1,  # the company's own bank account
              "quote_id": book["quote_id"], "token": book["quote_token"],
              # a period long past: closing it may be refused, but only behind the gate
              "period": "2001-01"}

    if rule.startswith("/f/"):
        values["token"] = FEEDBACK_TOKEN

    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in values:
            raise AssertionError(f"{rule}: no fixture document for <{name}>: add one to fill()")
        return str(values[name])
    return _PARAM.sub(value, rule)


def caller(app: Any, engine: Engine, who: str) -> Web:
    w = Web(app.test_client())
    if who in ("clerk", "accountant", "admin"):
        assert w.login(who).status_code == 303
    else:
        # A browser that opened the sign-in page: its CSRF token is valid, so
        # a refusal below is the sign-in gate, not the missing token.
        w.csrf = _CSRF.search(w.get("/login").text).group(1)
        if who == "webshop_key":
            key = make_key(engine, "shop-web", "webshop")
            w.c.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    return w


def outcome(r: Any, route: str) -> str:
    """What an answer means: ``login`` (sent to sign in), ``forbidden``,
    ``allowed`` or ``error`` (a 5xx, or a 400 that is not a business answer)."""
    location = r.headers.get("Location", "")
    if route == "POST /login" and r.status_code == 401:
        return "allowed"  # the sign-in form, refusing the empty credentials
    if r.status_code in (301, 302, 303, 307) and location.split("?")[0].endswith("/login"):
        # The gate sends the visitor to sign in and back (?next=); signing out
        # lands on the sign-in page by design.
        return "allowed" if route == "POST /logout" and "next=" not in location else "login"
    if r.status_code == 401 and r.is_json and r.json["error"]["code"] == "unauthorized":
        return "login"  # a page's script is told to sign in again, not redirected
    if r.status_code in (401, 403):
        return "forbidden"
    if r.status_code >= 500 or r.status_code in (400, 405):
        return "error"
    return "allowed"


def expected(who: str, allowed: str) -> str:
    if allowed == PUBLIC:
        # Signed-in users are sent on from the sign-in page; that is not a refusal.
        return "allowed"
    if who in ("anonymous", "webshop_key"):
        return "login"
    return "allowed" if who in allowed.split() else "forbidden"


def order_of_play(routes: list[str]) -> list[str]:
    """Pages first, then forms; signing out last (it ends the session)."""
    return sorted(routes, key=lambda r: (r == "POST /logout", r.startswith("POST"), r))


def test_every_web_route_is_in_the_table(app: Any) -> None:
    actual = web_routes(app)
    unclassified = sorted(actual - set(ROUTES))
    stale = sorted(set(ROUTES) - actual)
    assert unclassified == [], f"classify these routes in ROUTES: {unclassified}"
    assert stale == [], f"these routes no longer exist: {stale}"


def test_the_table_names_only_known_roles() -> None:
    for route, allowed in ROUTES.items():
        assert allowed == PUBLIC or set(allowed.split()) <= {"clerk", "accountant", "admin"}, route


@pytest.mark.parametrize("who", CALLERS)
def test_each_caller_gets_what_the_table_says_on_every_web_route(
        app: Any, engine: Engine, people: dict[str, str], book: dict[str, Any], who: str) -> None:
    w = caller(app, engine, who)
    wrong = []
    checked = 0
    for route in order_of_play(sorted(web_routes(app) & set(ROUTES))):
        method, rule = route.split(" ", 1)
        path = fill(rule, book)
        if method == "GET":
            r = w.get(path)
        else:
            r = w.post(path, {})
        got, want = outcome(r, route), expected(who, ROUTES[route])
        r.close()  # file answers (assets, PDFs) hold their file open until closed
        checked += 1
        if got != want:
            wrong.append(f"{route} as {who}: expected {want}, got {r.status_code} "
                         f"{r.headers.get('Location', '')}")
    assert wrong == [], "\n".join(wrong)
    assert checked == len(ROUTES)


def test_pages_allowed_to_a_role_answer_200(app: Any, engine: Engine, people: dict[str, str],
                                            book: dict[str, Any]) -> None:
    """The stricter reading for pages: an allowed GET is the page itself."""
    redirects = {"GET /go", "GET /login"}  # /go jumps to a document; /login sends a signed-in user on
    for who in ("clerk", "accountant", "admin"):
        w = caller(app, engine, who)
        for route, allowed in ROUTES.items():
            method, rule = route.split(" ", 1)
            if method != "GET" or route in redirects or (allowed != PUBLIC and who not in allowed.split()):
                continue
            with w.get(fill(rule, book)) as r:
                assert r.status_code == 200, (route, who, r.status_code)


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(app: Any, book: dict[str, Any]) -> None:
    w = Web(app.test_client())
    r = w.get(f"/orders/{book['draft']['id']}")
    assert r.status_code == 302
    assert r.headers["Location"].startswith("/login?next=")
    assert f"%2Forders%2F{book['draft']['id']}" in r.headers["Location"]


# -- CSRF -------------------------------------------------------------------------------

def post_routes(app: Any) -> list[str]:
    return [r for r in sorted(web_routes(app)) if r.startswith("POST ")]


@pytest.mark.parametrize("token", ["missing", "empty", "forged", "another session's"])
def test_every_form_refuses_a_submission_without_a_valid_csrf_token(
        app: Any, engine: Engine, people: dict[str, str], book: dict[str, Any], token: str) -> None:
    admin = caller(app, engine, "admin")  # admin may submit every form: only the token can stop it
    other = caller(app, engine, "clerk")
    before = row_counts(engine)
    routes = post_routes(app)
    assert len(routes) >= 15
    for route in routes:
        path = fill(route.split(" ", 1)[1], book)
        data = {"username": "admin", "password": "whatever", "quantity": "1", "sku": "RETRO-CLOCK",
                "carrier": "BRT", "tracking_number": "X1", "form_token": "t-" + route}
        if token == "empty":
            data["csrf_token"] = ""
        elif token == "forged":
            data["csrf_token"] = admin.csrf[:-4] + ("AAAA" if not admin.csrf.endswith("AAAA") else "BBBB")
        elif token == "another session's":
            data["csrf_token"] = other.csrf
        r = admin.post(path, data, csrf=False)
        assert r.status_code == 400, (route, token, r.status_code)
        assert "The form has expired" in r.text
    assert row_counts(engine) == before  # nothing written, not even an audit row or a login attempt
    # The session survived the refusals: the same user still works with the right token.
    assert admin.get("/orders").status_code == 200


def test_a_get_request_never_changes_anything(app: Any, engine: Engine, people: dict[str, str],
                                              book: dict[str, Any]) -> None:
    """Forms change state only by POST: fetching every page as an admin
    (who may see all) writes nothing but the sign-in."""
    admin = caller(app, engine, "admin")
    before = row_counts(engine)
    # The first download keeps the issued document (invoice, reminder letter), audited.
    archives = {"GET /invoices/<id:invoice_id>/pdf", "GET /dunning/letters/<id:letter_id>.pdf",
                "GET /credit-notes/<id:credit_note_id>/pdf"}
    for route in ROUTES:
        method, rule = route.split(" ", 1)
        if method == "GET" and route not in archives:
            with admin.get(fill(rule, book)) as r:
                assert r.status_code < 500, route
    assert row_counts(engine) == before


# -- cookies and sign-in --------------------------------------------------------------------

def test_the_session_cookie_is_http_only_same_site_lax_and_expires(app: Any, people: dict[str, str]) -> None:
    w = Web(app.test_client())
    w.get("/login")
    page = w.get("/login")
    token = _CSRF.search(page.text).group(1)
    r = w.c.post("/login", data={"csrf_token": token, "username": "clerk",
                                 "password": "correct horse battery"})
    assert r.status_code == 303
    cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("o2c_session="))
    attrs = {a.strip().split("=")[0].lower(): a.strip() for a in cookie.split(";")[1:]}
    assert "httponly" in attrs and attrs["samesite"].lower() == "samesite=lax"
    assert "secure" not in attrs  # testing: plain http on localhost
    expires = dt.datetime.strptime(attrs["expires"].split("=", 1)[1], "%a, %d %b %Y %H:%M:%S GMT")
    hours = (expires.replace(tzinfo=dt.timezone.utc) - dt.datetime.now(dt.timezone.utc)).total_seconds() / 3600
    assert 7.9 < hours <= 8.01


def test_the_session_cookie_is_secure_in_production(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from o2c import create_app
    from o2c.config import Config
    from o2c.db.engine import make_engine
    from o2c.db.migrate import upgrade
    from tests.web.conftest import make_user
    monkeypatch.setenv("O2C_ENV", "production")
    monkeypatch.delenv("O2C_SESSION_COOKIE_SECURE", raising=False)
    url = f"sqlite:///{tmp_path}/prod.sqlite3"
    e = make_engine(url)
    upgrade(e)
    make_user(e, "clerk", "clerk")
    e.dispose()
    app = create_app(Config(DATABASE_URL=url, SECRET_KEY="k" * 40))
    try:
        c = app.test_client()
        token = _CSRF.search(c.get("/login", base_url="https://o2c.example").text).group(1)
        r = c.post("/login", base_url="https://o2c.example", headers={"Referer": "https://o2c.example/login"},
                   data={"csrf_token": token, "username": "clerk", "password": "correct horse battery"})
        assert r.status_code == 303
        cookie = next(h for h in r.headers.getlist("Set-Cookie") if h.startswith("o2c_session="))
        assert "; Secure" in cookie and "; HttpOnly" in cookie and "SameSite=Lax" in cookie
    finally:
        app.extensions["o2c.engine"].dispose()


def test_guessing_passwords_is_stopped_after_five_tries(app: Any, engine: Engine, people: dict[str, str]) -> None:
    """Sign-in is rate limited per account: after five wrong passwords even
    the right one is refused (for 15 minutes), and the lock is audited."""
    from o2c.services.platform import users
    w = Web(app.test_client())
    statuses = [w.login("accountant", f"guess-{i}").status_code for i in range(users.MAX_FAILED_LOGINS + 3)]
    assert statuses == [401] * (users.MAX_FAILED_LOGINS + 3)
    right = w.login("accountant")
    assert right.status_code == 401 and "locked" in right.text
    assert w.get("/books/journal").status_code == 302  # still signed out
    # Another account is not affected by the lock.
    assert Web(app.test_client()).login("clerk").status_code == 303
