"""After-sales corrections in the back office: cancelling open quantities of
an order, the backorder list, reversing a payment, and applying or moving a
customer's credit between invoices. Same services as the API."""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for
from sqlalchemy import select

from o2c.db import models as m
from o2c.schemas import api as s
from o2c.services import queries
from o2c.services.cash import corrections
from o2c.services.sales import backorders
from o2c.web import nav
from o2c.web.core import (
    Form,
    Problem,
    amount,
    args_without,
    blank,
    bp,
    int_arg,
    integer,
    load,
    principal,
    read,
    requires,
    rows,
    str_arg,
    submit,
)

invoices = m.Invoice.__table__
PAGE = 50

nav.add("Orders", nav.Item("Backorders", "web.backorders", "orders:read"))


# -- cancelling open quantities ---------------------------------------------------------

@bp.route("/orders/<id:order_id>/cancel-lines", methods=["POST"])
@requires("orders:write")
def cancel_order_lines(order_id: int) -> Any:
    from o2c.web.sales import _order_page
    form = Form.posted()
    requested = []
    for _, row in rows(form.values, "lines"):
        qty = integer(row.get("quantity"))
        if qty in (None, 0):
            continue
        requested.append({"sku": (row.get("sku") or "").strip(), "quantity": qty})
    problem: Problem | None
    if not requested:
        problem = Problem("validation_error", "Enter a quantity to cancel for at least one line.")
    else:
        data, problem = load(s.CancelIn(), {"lines": requested})
        if problem is None:
            def work(tx: Any) -> tuple[str, str]:
                from o2c.services.sales import orders
                o = orders.cancel_order(tx, order_id, principal(), data["lines"])
                what = ", ".join(f"{r['quantity']} × {r['sku']}" for r in data["lines"])
                if o["status"] == "cancelled":
                    return url_for("web.order", order_id=order_id), f"Order {o['number']} cancelled ({what})."
                return url_for("web.order", order_id=order_id), \
                    f"Cancelled {what} of order {o['number']}; new total {o['total']:.2f} {o['currency']}."
            outcome = submit(work)
            if not isinstance(outcome, Problem):
                return outcome
            problem = outcome
        else:
            problem.message = "Quantities to cancel are whole numbers from 1."
    form.problem = problem
    return _order_page(order_id, {"cancel_lines": form}, 422)


# -- backorders -----------------------------------------------------------------------

@bp.route("/backorders", endpoint="backorders")
@requires("orders:read")
def backorder_list() -> Any:
    sku = str_arg("sku", max_len=64)
    items, nxt = read(lambda tx: backorders.list_backorders(tx, principal(), sku=sku or None,
                                                            customer_id=int_arg("customer"),
                                                            cursor=int_arg("after"), limit=PAGE))
    waiting: dict[str, int] = {}
    for i in items:
        waiting[i["sku"]] = waiting.get(i["sku"], 0) + i["waiting"]
    return render_template("web/backorders/list.html", items=items, next_cursor=nxt, sku=sku, waiting=waiting,
                           base_args=args_without("after"))


# -- payment reversal -----------------------------------------------------------------

@bp.route("/payments/<id:payment_id>/reverse", methods=["POST"])
@requires("payments:write")
def reverse_payment(payment_id: int) -> Any:
    form = Form.posted()
    data, problem = load(s.ReverseIn(), {"reason": form.value("reason").strip()})
    if problem is None and form.value("confirm") != "1":
        problem = Problem("validation_error", "Please confirm the reversal.",
                          fields={"confirm": "Tick to confirm that the money did not arrive."})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            p = corrections.reverse_payment(tx, payment_id, data["reason"])
            return url_for("web.payment", payment_id=payment_id), \
                f"Payment {p['number']} of {p['amount']:.2f} {p['currency']} reversed; its invoices are open again."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    d = read(lambda tx: queries.payment_page(tx, payment_id, principal()))
    return render_template("web/payments/show.html", d=d, p=d["payment"], reverse=form), 422


# -- customer credit ------------------------------------------------------------------

def _credit_context(customer_id: int) -> dict[str, Any]:
    def run(tx: Any) -> dict[str, Any]:
        from o2c.services.customers import records
        c = records.get_customer(tx, customer_id)
        paid = [r._asdict() for r in tx.conn.execute(
            select(invoices.c.id, invoices.c.number, invoices.c.total, invoices.c.amount_paid,
                   invoices.c.credited_amount, invoices.c.status)
            .where(invoices.c.customer_id == customer_id, invoices.c.amount_paid > 0)
            .order_by(invoices.c.issue_date, invoices.c.id))]
        return {"c": c, "credit": corrections.credit_view(tx, customer_id), "open": queries.open_invoices(tx, customer_id),
                "paid": paid}
    return read(run)


def _credit_page(customer_id: int, forms: dict[str, Form] | None = None, status: int = 200) -> Any:
    forms = forms or {}
    forms.setdefault("apply", Form())
    forms.setdefault("reallocate", Form())
    ctx = _credit_context(customer_id)
    open_options = [(i["id"], f"{i['number']} · due {i['balance_due']:.2f}") for i in ctx["open"]]
    paid_options = [(i["id"], f"{i['number']} · paid {i['amount_paid']:.2f}") for i in ctx["paid"]]
    return render_template("web/customers/credit.html", forms=forms, open_options=open_options,
                           paid_options=paid_options, **ctx), status


@bp.route("/customers/<id:customer_id>/credit")
@requires("payments:read")
def customer_credit(customer_id: int) -> Any:
    return _credit_page(customer_id)


def _money_field(form: Form, name: str) -> str | None:
    v = form.value(name)
    return None if blank(v) else amount(v)


@bp.route("/customers/<id:customer_id>/credit/apply", methods=["POST"])
@requires("payments:write")
def apply_customer_credit(customer_id: int) -> Any:
    form = Form.posted()
    data, problem = load(s.CreditApplyIn(), {"invoice_id": integer(form.value("invoice_id")),
                                             "amount": _money_field(form, "amount")})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            out = corrections.apply_credit(tx, customer_id, data["invoice_id"], data["amount"])
            i = out["invoices"][0]
            return url_for("web.customer_credit", customer_id=customer_id), \
                f"{data['amount']:.2f} of credit applied to {i['number']}; {i['balance_due']:.2f} still due."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _credit_page(customer_id, {"apply": form}, 422)


@bp.route("/customers/<id:customer_id>/credit/reallocate", methods=["POST"])
@requires("payments:write")
def reallocate_customer_credit(customer_id: int) -> Any:
    form = Form.posted()
    data, problem = load(s.CreditReallocateIn(), {
        "from_invoice_id": integer(form.value("from_invoice_id")),
        "to_invoice_id": integer(form.value("to_invoice_id")), "amount": _money_field(form, "amount")})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            out = corrections.reallocate_credit(tx, customer_id, data["from_invoice_id"], data["to_invoice_id"],
                                                data["amount"])
            src, dst = out["invoices"]
            return url_for("web.customer_credit", customer_id=customer_id), \
                f"{data['amount']:.2f} moved from {src['number']} to {dst['number']}."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _credit_page(customer_id, {"reallocate": form}, 422)
