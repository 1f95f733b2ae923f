"""The accountant's pages: trial balance, journal, reconciliation, periods
(closed by accountants, reopened by administrators), the hash chain's
verification, and the journal entries shown on each document's page."""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for

from o2c.schemas import books as b
from o2c.services import chain, clock, ledger, queries, reconciliation
from o2c.web.core import (
    Form, Problem, args_without, back_to, bp, can, date_arg, engine, int_arg, load, read, requires, str_arg, submit,
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
}


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
    report = read(lambda tx: reconciliation.reconcile(tx, as_of))
    for ch in report["checks"]:
        endpoint, text = CHECK_LINKS.get(ch["name"], ("web.invoices", "Invoices"))
        args = {"status": "open"} if ch["name"] == "receivables" else {}
        ch["link"] = (url_for(endpoint, **args), text)
    return render_template("web/books/reconciliation.html", report=report, as_of=as_of)


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
        ledger.close_period(tx, period)
        return url_for("web.periods"), f"Period {period} closed: nothing more can be posted into it."
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
    return _periods_page({period: form}, 422 if problem.code == "validation_error" else 409)


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


# -- a document's journal entries --------------------------------------------------------

@bp.app_template_global()
def journal_of(kind: str, doc_id: int) -> list[dict[str, Any]]:
    """The journal entries a document posted, for its page (only to those who read the ledger)."""
    if not can("ledger:read"):
        return []
    return read(lambda tx: queries.document_journal(tx, kind, doc_id))  # type: ignore[no-any-return]


add("Books", Item("Verify chain", "web.verify_chain", "ledger:read"), after="Periods")
