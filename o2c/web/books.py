"""The accountant's pages: trial balance, journal, reconciliation, periods
(closed by accountants, reopened by administrators), the hash chain's
verification, the chart of accounts (changed by administrators), and the
journal entries shown on each document's page."""
from __future__ import annotations

from typing import Any

from flask import abort, render_template, request, url_for

from o2c.ledger.accounts import ACCOUNT_TYPES, ROLE_TYPES, ROLES, normal_balance
from o2c.schemas import books as b
from o2c.services import queries
from o2c.services.books import chain, chart, ledger, reconciliation
from o2c.services.platform import clock
from o2c.services.sales import lookups
from o2c.web.core import (
    Form,
    Problem,
    args_without,
    back_to,
    blank,
    bp,
    can,
    date_arg,
    engine,
    int_arg,
    load,
    read,
    requires,
    str_arg,
    submit,
)
from o2c.web.nav import Item, add

# Where the documents behind each reconciliation check are.
CHECK_LINKS = {
    "journal_balanced": ("web.journal", "Journal"),
    "stock_on_hand": ("web.stock", "Stock levels"),
    "stock_reserved": ("web.stock", "Stock levels"),
    "stock_not_oversold": ("web.stock", "Stock levels"),
    "inventory_value": ("web.stock", "Stock levels"),
    "inventory_movements": ("web.stock", "Stock levels"),
    "revenue": ("web.invoices", "Invoices"),
    "vat": ("web.invoices", "Invoices"),
    "receivables": ("web.invoices", "Open invoices"),
    "customer_credit": ("web.payments", "Payments"),
    "fulfilment": ("web.orders", "Orders"),
    "open_quantities": ("web.backorders", "Backorders"),
    "vat_report": ("web.vat_report", "VAT report"),
    "ec_sales_list": ("web.ec_sales_list", "EC sales list"),
    "oss_return": ("web.oss_return", "OSS return"),
    "bank": ("web.bank_statements", "Bank statements"),
}
#: The numbering checks: each series is of invoices or of credit notes.
NUMBERING_LINKS = {"invoice": ("web.invoices", "Invoices"), "credit_note": ("web.credit_notes", "Credit notes")}


@bp.route("/books/trial-balance")
@requires("ledger:read")
def trial_balance() -> Any:
    as_of = date_arg("as_of")
    tb = read(lambda tx: ledger.trial_balance(tx, as_of))
    return render_template("web/books/trial_balance.html", tb=tb, as_of=as_of)


@bp.route("/books/journal")
@requires("ledger:read")
def journal() -> Any:
    today = clock.now().date()
    date_from = date_arg("from") or today.replace(day=1)
    date_to = date_arg("to")
    account = str_arg("account", max_len=16)

    def run(tx: Any) -> Any:
        items, cursor = ledger.list_entries(tx, date_from=date_from, date_to=date_to, account=account or None,
                                            cursor=int_arg("after"), limit=50)
        orders_of = queries.journal_documents(tx, [(e["source_type"], e["source_id"]) for e in items])
        accounts = {a["code"]: a["name"] for a in ledger.trial_balance(tx, None)["accounts"]}
        return items, cursor, orders_of, accounts
    items, cursor, orders_of, accounts = read(run)
    return render_template("web/books/journal.html", items=items, cursor=cursor, orders_of=orders_of,
                           accounts=accounts, date_from=date_from, date_to=date_to, account=account,
                           base_args=args_without("after"))


@bp.route("/books/reconciliation", endpoint="reconciliation")
@requires("ledger:read")
def reconciliation_page() -> Any:
    as_of = date_arg("as_of")
    def run(tx: Any) -> tuple[dict[str, Any], dict[int, str]]:
        report = reconciliation.reconcile(tx, as_of)
        ids = [line["order_id"] for ch in report["checks"] for line in ch.get("lines") or []]
        return report, lookups.order_numbers(tx, ids)
    report, order_numbers = read(run)
    for ch in report["checks"]:
        if ch.get("kind") == "numbering":
            endpoint, text = NUMBERING_LINKS[ch["document"]]
        else:
            endpoint, text = CHECK_LINKS[ch["name"]]
        args = {"status": "open"} if ch["name"] == "receivables" else {}
        ch["link"] = (url_for(endpoint, **args), text)
    return render_template("web/books/reconciliation.html", report=report, as_of=as_of,
                           order_numbers=order_numbers)


# -- periods ------------------------------------------------------------------------

def _periods_page(forms: dict[str, Form] | None = None, status: int = 200) -> Any:
    def run(tx: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows = queries.periods_overview(tx)
        return rows, queries.periods_history(tx, [p["period"] for p in rows])
    rows, history = read(run)
    forms = forms or {}
    failed = next((f for f in forms.values() if f.problem), None)
    return render_template("web/books/periods.html", periods=rows, history=history, forms=forms,
                           failed=failed), status


@bp.route("/books/periods")
@requires("ledger:read")
def periods() -> Any:
    return _periods_page()


@bp.route("/books/periods/<string:period>/close", methods=["POST"])
@requires("ledger:write")
def close_period(period: str) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        closed = ledger.close_period(tx, period)
        said = "".join(f" Note: {w['message']}" for w in closed["warnings"])
        return url_for("web.periods"), f"Period {period} closed: nothing more can be posted into it.{said}"
    return back_to(url_for("web.periods"), submit(work))


@bp.route("/books/periods/<string:period>/reopen", methods=["POST"])
@requires("ledger:admin")
def reopen_period(period: str) -> Any:
    form = Form.posted()
    data, problem = load(b.ReopenIn(), {"reason": form.value("reason").strip()})
    if problem is not None and "reason" in problem.fields:
        problem.fields["reason"] = "Say why the month is reopened (3 to 500 characters): the audit trail keeps it."
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            ledger.reopen_period(tx, period, data["reason"])
            return url_for("web.periods"), (f"Period {period} reopened: postings dated in it are accepted again "
                                            "until it is closed.")
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _periods_page({period: form}, problem.status)


# -- the hash chain -------------------------------------------------------------------

@bp.route("/books/verify", endpoint="verify_chain")
@requires("ledger:read")
def verify_chain_page() -> Any:
    chain.seal_journal(engine())  # as the API does: what is committed is checked too

    def run(tx: Any) -> dict[str, Any]:
        report = chain.verify(tx)
        broken = report["first_broken"]
        entry = ledger.get_entry(tx, broken["entry_id"]) if broken and broken["entry_id"] else None
        anchors = [p for p in ledger.list_periods(tx) if p["chain_seq"] is not None]
        return {"report": report, "entry": entry, "anchors": anchors}
    return render_template("web/books/verify.html", **read(run))


# -- chart of accounts ----------------------------------------------------------------

TYPE_OPTIONS = [(t, f"{t} ({normal_balance(t)})") for t in ACCOUNT_TYPES]


def _role_options(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    serving = {a["role"]: a["code"] for a in items if a["role"]}

    def label(r: str) -> str:
        now = f", now {serving[r]}" if r in serving else ""
        return f"{r.replace('_', ' ')} ({' or '.join(ROLE_TYPES[r])}{now})"
    return [(r, label(r)) for r in ROLES]


def _accounts_page(form: Form, status: int = 200) -> Any:
    def run(tx: Any) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        return chart.list_accounts(tx), {a["code"]: a["balance"] for a in ledger.trial_balance(tx, None)["accounts"]}
    items, balances = read(run)
    return render_template("web/books/accounts.html", items=items, balances=balances, form=form,
                           types=TYPE_OPTIONS, roles=_role_options(items)), status


def _account_refused(problem: Problem, field: str) -> Problem:
    """A refusal of the chart's rules, shown next to the field it is about."""
    if problem.code == "conflict" and not problem.fields:
        problem.fields = {"role" if "role" in problem.details else "type" if "type" in problem.details else field:
                          problem.message}
        problem.message = "Please correct the fields marked below."
    return problem


@bp.route("/books/accounts")
@requires("ledger:read")
def accounts() -> Any:
    return _accounts_page(Form({"type": "asset"}))


@bp.route("/books/accounts", methods=["POST"])
@requires("ledger:admin")
def create_account() -> Any:
    form = Form.posted()
    data, problem = load(b.AccountIn(), {
        "code": form.value("code").strip(), "name": form.value("name").strip(), "type": form.value("type"),
        "role": None if blank(form.value("role")) else form.value("role")})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            a = chart.create_account(tx, data)
            serves = f"; {a['role'].replace('_', ' ')} is posted to it from now on" if a["role"] else ""
            return url_for("web.accounts"), f"Account {a['code']} {a['name']} added{serves}."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = _account_refused(outcome, "code")
    form.problem = problem
    return _accounts_page(form, 422)


def _account_form(code: str, form: Form | None = None, status: int = 200) -> Any:
    def run(tx: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        return chart.get_account(tx, code), chart.list_accounts(tx)
    account, items = read(run)
    form = form or Form({"name": account["name"], "type": account["type"], "role": account["role"] or ""})
    return render_template("web/books/account_form.html", account=account, form=form, types=TYPE_OPTIONS,
                           roles=_role_options(items)), status


@bp.route("/books/accounts/<string:code>/edit", methods=["GET", "POST"])
@requires("ledger:admin")
def edit_account(code: str) -> Any:
    if len(code) > 16:
        abort(404)
    if request.method == "GET":
        return _account_form(code)
    form = Form.posted()
    body = {"name": form.value("name").strip(), "type": form.value("type")}
    if not blank(form.value("role")):
        body["role"] = form.value("role")
    data, problem = load(b.AccountPatch(), body)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            a = chart.update_account(tx, code, data)
            return url_for("web.accounts"), f"Account {a['code']} {a['name']} saved."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = _account_refused(outcome, "name")
    form.problem = problem
    return _account_form(code, form, 422)


# -- a document's journal entries --------------------------------------------------------

@bp.app_template_global()
def journal_of(kind: str, doc_id: int) -> list[dict[str, Any]]:
    """The journal entries a document posted, for its page (only to those who read the ledger)."""
    if not can("ledger:read"):
        return []
    return read(lambda tx: queries.document_journal(tx, kind, doc_id))  # type: ignore[no-any-return]


add("Books", Item("Accounts", "web.accounts", "ledger:read",
                  ("web.account_ledger", "web.create_account", "web.edit_account")), after="Journal")
add("Books", Item("Verify chain", "web.verify_chain", "ledger:read"), after="Periods")
