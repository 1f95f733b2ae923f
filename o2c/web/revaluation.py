"""Period-end revaluation in the back office: the foreign-currency balances
open today at their booked values, the revaluations made (each with its
entry and reversal), and (accountants, administrators) revaluing a day."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import render_template, url_for

from o2c.domain.money import ZERO
from o2c.schemas import fx as f
from o2c.services.books import revaluation
from o2c.web.core import Form, Problem, bp, load, read, requires, submit
from o2c.web.nav import Item, add

ROLE_NAMES = {"receivables": "Receivables", "customer_credit": "Customer credit"}


def role_name(role: str) -> str:
    """``Receivables``, ``Customer credit``, or ``Bank, GL 1010`` for a bank account's money."""
    if role.startswith(revaluation.BANK):
        return f"Bank, GL {role.removeprefix(revaluation.BANK)}"
    return ROLE_NAMES.get(role, role)


def _page(form: Form | None = None, status: int = 200) -> Any:
    def run(tx: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dt.date]:
        done, _ = revaluation.list_revaluations(tx, None, 24)
        open_now = [{"role": role, "currency": cur, "amount": amount, "booked": booked}
                    for (role, cur), (amount, booked) in sorted(revaluation.foreign_balances(tx, tx.today).items())
                    if amount != 0 or booked != 0]
        return done, open_now, tx.today
    done, open_now, today = read(run)
    for r in done:
        for b in r["balances"]:
            b["rate_text"] = f.rate_text(b["rate"])
    month_end = today.replace(day=1) - dt.timedelta(days=1)
    return render_template("web/books/revaluation.html", revaluations=done, open_now=open_now, role_name=role_name,
                           form=form or Form({"as_of": month_end.isoformat()}), zero=ZERO), status


@bp.route("/books/revaluation")
@requires("ledger:read")
def revaluations() -> Any:
    return _page()


@bp.route("/books/revaluation", methods=["POST"])
@requires("ledger:write")
def revalue() -> Any:
    form = Form.posted()
    data, problem = load(f.RevaluationIn(), {"as_of": form.value("as_of").strip()})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            r = revaluation.revalue(tx, data["as_of"])
            if not r["balances"]:
                return url_for("web.revaluations"), (f"Nothing in another currency was open on "
                                                     f"{r['as_of'].isoformat()}: recorded, nothing posted.")
            what = (f"an unrealised gain of {r['gain']:,.2f} EUR" if r["gain"] else
                    f"an unrealised loss of {r['loss']:,.2f} EUR" if r["loss"] else "no difference")
            return url_for("web.revaluations"), (
                f"{r['document']} posted: {what}, reversed on {r['reversal_on'].isoformat()}.")
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _page(form, status=problem.status)


add("Books", Item("Revaluation", "web.revaluations", "ledger:read", ("web.revalue",)))
