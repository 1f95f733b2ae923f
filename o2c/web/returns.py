"""After-sales in the back office: the return form on the order page,
returns and credit notes with their pages, the credit note PDF, and paying
an invoice from the customer's credit."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Response, abort, render_template, url_for
from sqlalchemy import select

from o2c.db import models as m
from o2c.domain.downloads import content_disposition
from o2c.domain.numbering import order_number
from o2c.schemas import api as s
from o2c.services import queries
from o2c.services.billing import invoicing
from o2c.services.fulfilment import returns
from o2c.web import nav
from o2c.web.core import (
    Form,
    Problem,
    back_to,
    blank,
    bp,
    can,
    int_arg,
    integer,
    load,
    principal,
    read,
    requires,
    rows,
    submit,
)

PAGE = 25
EXCHANGE_LINES = 2

nav.add("Orders", nav.Item("Returns", "web.returns", "orders:read", ("web.return_page",)))
nav.add("Invoices", nav.Item("Credit notes", "web.credit_notes", "invoices:read", ("web.credit_note",)))


@dataclass
class Page:
    items: list[dict[str, Any]]
    prev: Any
    next: Any


def _customer_names(tx: Any, ids: set[int]) -> dict[int, tuple[str, str]]:
    c = m.Customer.__table__
    return {r.id: (r.name, r.code) for r in tx.conn.execute(select(c.c.id, c.c.name, c.c.code).where(c.c.id.in_(ids)))}


def _with_customers(tx: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    names = _customer_names(tx, {i["customer_id"] for i in items})
    for i in items:
        i["customer_name"], i["customer_code"] = names.get(i["customer_id"], ("", ""))
    return items


# -- the order page's part ------------------------------------------------------------

@bp.app_template_global()
def after_sales_of(order: dict[str, Any]) -> dict[str, Any]:
    """Returns and credit notes of an order, and the return it replaces, for its page."""
    def run(tx: Any) -> dict[str, Any]:
        own, _ = returns.list_returns(tx, principal(), order_id=order["id"], limit=100)
        replaced, _ = returns.list_returns(tx, principal(), exchange_order_id=order["id"], limit=1)
        notes, _ = returns.list_credit_notes(tx, principal(), order_id=order["id"], limit=100)
        return {"returns": own, "exchange_for": replaced[0] if replaced else None, "credit_notes": notes}
    return read(run)


def returnable(line: dict[str, Any]) -> int:
    return line["shipped_quantity"] - line["returned_quantity"]


bp.add_app_template_global(returnable, "returnable")


def _return_input(form: Form) -> tuple[dict[str, Any] | None, Problem | None]:
    """The return form as the API's return body, validated by its schema."""
    v = form.values
    lines, index = [], []
    for i, row in rows(v, "lines"):
        if blank(row.get("quantity")) or row.get("quantity", "").strip() == "0":
            continue
        lines.append({"sku": (row.get("sku") or "").strip(), "quantity": integer(row.get("quantity"))})
        index.append(i)
    if not lines:
        return None, Problem("validation_error", "Enter a quantity to return for at least one line.")
    body: dict[str, Any] = {"lines": lines, "restock": v.get("restock", "1") == "1",
                            "refund": v.get("refund") or "credit"}
    exchange = [{"sku": (row.get("sku") or "").strip(), "quantity": integer(row.get("quantity"))}
                for _, row in rows(v, "exchange") if not blank(row.get("sku")) or not blank(row.get("quantity"))]
    if exchange:
        body["exchange"] = {"lines": exchange, "confirm": True}
    data, problem = load(s.ReturnIn(), body)
    if problem is not None:
        fields = {}
        for k, msg in problem.fields.items():
            parts = k.split(".")
            if parts[0] == "lines" and len(parts) > 1 and parts[1].isdigit() and int(parts[1]) < len(index):
                parts[1] = str(index[int(parts[1])])
            elif parts[0] == "exchange" and len(parts) > 1 and parts[1] == "lines":
                parts.pop(1)
            fields[".".join(parts)] = msg
        problem.fields = fields
        problem.message = "Please correct the fields marked below."
    return data, problem


@bp.route("/orders/<id:order_id>/returns", methods=["POST"])
@requires("returns:write")
def new_return(order_id: int) -> Any:
    from o2c.web.sales import _order_page
    form = Form.posted()
    data, problem = _return_input(form)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            r = returns.create_return(tx, order_id, principal(), data)
            message = f"Return {r['number']} received"
            if r["credit_notes"]:
                message += "; credit note " + ", ".join(c["number"] for c in r["credit_notes"]) + " issued"
            if r["exchange_order_number"]:
                message += f"; replacement order {r['exchange_order_number']} created"
            return url_for("web.return_page", return_id=r["id"]), message + "."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
        if problem.code == "conflict":
            short = {l["sku"]: l for l in problem.details.get("lines", []) if "returnable" in l}
            for i, row in rows(form.values, "lines"):
                line = short.get((row.get("sku") or "").strip())
                if line:
                    problem.fields[f"lines.{i}.quantity"] = f"At most {line['returnable']} can come back."
    form.problem = problem
    return _order_page(order_id, {"return": form}, 422)


# -- returns ---------------------------------------------------------------------------

@bp.route("/returns", endpoint="returns")
@requires("orders:read")
def returns_list() -> Any:
    def run(tx: Any) -> Page:
        items, cursor = returns.list_returns(tx, principal(), customer_id=int_arg("customer"),
                                             cursor=int_arg("next"), limit=PAGE)
        return Page(_with_customers(tx, items), None, cursor)
    return render_template("web/returns/list.html", page=read(run), base_args={})


@bp.route("/returns/<id:return_id>")
@requires("orders:read")
def return_page(return_id: int) -> Any:
    def run(tx: Any) -> dict[str, Any]:
        r = returns.get_return(tx, return_id, principal())
        notes = [returns.get_credit_note(tx, c["id"], principal()) for c in r["credit_notes"]]
        trail = queries.audit_trail(tx, [("return", [return_id]), ("credit_note", [c["id"] for c in notes])],
                                   principal=principal())
        refunds = tx.conn.execute(select(m.Refund.id, m.Refund.amount, m.Refund.paid_on, m.Refund.created_at)
                                  .where(m.Refund.credit_note_id.in_([c["id"] for c in notes]))).all()
        return {"r": _with_customers(tx, [r])[0], "notes": notes, "audit": trail,
                "refunds": [{"number": returns.refund_number(f.id, f.created_at), "amount": f.amount,
                             "paid_on": f.paid_on} for f in refunds]}
    d = read(run)
    return render_template("web/returns/show.html", d=d, r=d["r"])


# -- credit notes ------------------------------------------------------------------------

@bp.route("/credit-notes", endpoint="credit_notes")
@requires("invoices:read")
def credit_notes_list() -> Any:
    def run(tx: Any) -> Page:
        items, cursor = returns.list_credit_notes(tx, principal(), customer_id=int_arg("customer"),
                                                  cursor=int_arg("next"), limit=PAGE)
        return Page(_with_customers(tx, items), None, cursor)
    return render_template("web/credit_notes/list.html", page=read(run), base_args={})


@bp.route("/credit-notes/<id:credit_note_id>")
@requires("invoices:read")
def credit_note(credit_note_id: int) -> Any:
    def run(tx: Any) -> dict[str, Any]:
        cn = _with_customers(tx, [returns.get_credit_note(tx, credit_note_id, principal())])[0]
        o = tx.conn.execute(select(m.Order.id, m.Order.created_at).where(m.Order.id == cn["order_id"])).one()
        cn["order_number"] = order_number(o.id, o.created_at)
        if cn["return_id"]:
            cn["return_number"] = returns.get_return(tx, cn["return_id"], principal())["number"]
        return {"cn": cn, "audit": queries.audit_trail(tx, [("credit_note", [credit_note_id])], principal=principal())}
    d = read(run)
    return render_template("web/credit_notes/show.html", d=d, cn=d["cn"])


@bp.route("/credit-notes/<id:credit_note_id>/pdf")
@requires("invoices:read")
def credit_note_pdf(credit_note_id: int) -> Any:
    """The stored PDF, rendered on first request outside any transaction."""
    from o2c.api.common import engine
    from o2c.domain.errors import NotFound
    from o2c.services.billing import documents
    try:
        f = documents.credit_note_pdf(engine(), credit_note_id, principal())
    except NotFound:
        abort(404)
    return Response(f.content, mimetype=f.media_type, headers={
        "Content-Disposition": content_disposition(f.filename), "ETag": f'"{f.sha256}"'})


# -- customer credit on an invoice ------------------------------------------------------------

@bp.app_template_global()
def credit_for_invoice(invoice: dict[str, Any]) -> dict[str, Any]:
    """The customer's unapplied credit and the invoice's credit notes, for its page."""
    def run(tx: Any) -> dict[str, Any]:
        notes, _ = returns.list_credit_notes(tx, principal(), invoice_id=invoice["id"], limit=100)
        credit = queries.customer_credit(tx, invoice["customer_id"]) if can("payments:read") else None
        return {"credit": credit, "credit_notes": notes}
    return read(run)


@bp.route("/invoices/<id:invoice_id>/apply-credit", methods=["POST"])
@requires("payments:write")
def apply_credit(invoice_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        returns.apply_credit(tx, invoice_id, principal())
        inv = invoicing.get_invoice(tx, invoice_id, principal())
        return url_for("web.invoice", invoice_id=invoice_id), \
            f"Customer credit applied to invoice {inv['number']}: balance due {inv['balance_due']:.2f}."
    return back_to(url_for("web.invoice", invoice_id=invoice_id), submit(work))


@bp.app_template_global()
def form_for_return() -> Form:
    return Form({"restock": "1", "refund": "credit"})
