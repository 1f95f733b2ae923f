"""The company's bank accounts in the back office: each with its currency and
the GL account its money is booked on, and (accountants, administrators)
adding one, renaming one or moving it to another GL account. Column mappings
for CSV exports stay with the API (``PATCH /api/v1/bank/accounts/{id}``)."""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for

from o2c.schemas import bank as b
from o2c.services.books import fx
from o2c.services.cash import bank_import
from o2c.web.core import Form, Problem, bp, load, read, requires, submit
from o2c.web.nav import Item, add


def _page(form: Form | None = None, edit: Form | None = None, edit_id: int | None = None, status: int = 200) -> Any:
    def run(tx: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        enabled, _ = fx.list_currencies(tx, True, None, 200)
        return bank_import.list_accounts(tx), enabled
    accounts, currencies = read(run)
    return render_template("web/bank/accounts.html", accounts=accounts, form=form or Form({"currency": "EUR"}),
                           currencies=[(c["code"], f"{c['code']} — {c['name']}") for c in currencies],
                           edit=edit, edit_id=edit_id), status


@bp.route("/bank/accounts")
@requires("bank:read")
def bank_accounts() -> Any:
    return _page()


@bp.route("/bank/accounts", methods=["POST"])
@requires("ledger:write")
def add_bank_account() -> Any:
    form = Form.posted()
    raw = {k: form.value(k).strip() for k in ("iban", "name", "currency", "gl_account") if form.value(k).strip()}
    data, problem = load(b.BankAccountIn(), raw)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            a = bank_import.create_account(tx, data)
            return url_for("web.bank_accounts"), (f"Bank account {a['iban']} added: {a['currency']}, "
                                                  f"booked on GL {a['gl_account']}.")
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _page(form=form, status=problem.status)


@bp.route("/bank/accounts/<id:account_id>", methods=["POST"])
@requires("ledger:write")
def edit_bank_account(account_id: int) -> Any:
    form = Form.posted()
    data, problem = load(b.BankAccountPatch(), {k: form.value(k).strip() for k in ("name", "gl_account")})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            a = bank_import.update_account(tx, account_id, data)
            return url_for("web.bank_accounts"), f"Bank account {a['iban']} saved: {a['name']}, GL {a['gl_account']}."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _page(edit=form, edit_id=account_id, status=problem.status)


add("Payments", Item("Bank accounts", "web.bank_accounts", "bank:read", ("web.add_bank_account",
                                                                        "web.edit_bank_account")))
