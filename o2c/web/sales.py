"""The sales cycle in the back office: dashboard, orders, shipments,
invoices and payments."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask import Response, abort, redirect, render_template, request, url_for
from marshmallow import ValidationError

from o2c.domain.actions import open_to_cancel, open_to_pack, order_actions, shipment_actions
from o2c.domain.allocation import these_first
from o2c.domain.downloads import content_disposition
from o2c.schemas import api as s
from o2c.services import queries
from o2c.services.billing import invoicing
from o2c.services.cash import payments
from o2c.services.crm import associations
from o2c.services.fulfilment import shipping
from o2c.services.sales import orders
from o2c.web import charts
from o2c.web.core import (
    Form,
    Problem,
    amount,
    args_without,
    ascii_digits,
    back_to,
    blank,
    bp,
    date_arg,
    dry_run,
    flatten_errors,
    int_arg,
    integer,
    load,
    percent,
    principal,
    read,
    renumber_rows,
    requires,
    rows,
    str_arg,
    submit,
)
from o2c.web.lookups import pick_customer

ORDER_STATUSES = ("draft", "confirmed", "completed", "cancelled")
FULFILMENT = ("unfulfilled", "partially_shipped", "shipped", "partially_returned", "returned")
PAYMENT = ("unpaid", "partially_paid", "paid", "refunded")
INVOICE_STATUSES = ("open", "partially_paid", "paid", "credited")
METHODS = ("bank_transfer", "card", "cash", "cheque", "other")
NEW_ORDER_LINES = 3
PAGE = 25


# -- dashboard ------------------------------------------------------------------

@bp.route("/")
def dashboard() -> Any:
    figures = read(queries.dashboard)
    return render_template("web/dashboard.html", d=figures, chart=charts.bar_chart(figures["revenue"]))


# -- orders -----------------------------------------------------------------------

def _order_filters() -> queries.OrderFilters:
    # The fulfilment filter offers the stored statuses and the warehouse's
    # stages ("to pack", "packed, not shipped"), which are derived.
    return queries.OrderFilters(
        q=str_arg("q"), status=str_arg("status", ORDER_STATUSES), fulfillment=str_arg("fulfillment", FULFILMENT),
        payment=str_arg("payment", PAYMENT), channel=str_arg("channel", max_len=64),
        date_from=date_arg("from"), date_to=date_arg("to"), customer_id=int_arg("customer"),
        stage=str_arg("fulfillment", queries.STAGES))


@bp.route("/orders", endpoint="orders")
@requires("orders:read")
def orders_list() -> Any:
    f = _order_filters()
    page, channels = read(lambda tx: (
        queries.search_orders(tx, principal(), f, next_=int_arg("next"), prev=int_arg("prev"), limit=PAGE),
        queries.order_channels(tx)))
    return render_template("web/orders/list.html", page=page, f=f, channels=channels, statuses=ORDER_STATUSES,
                           fulfilment=FULFILMENT, stages=queries.STAGES, payment=PAYMENT,
                           base_args=args_without("next", "prev"))



def _order_input(form: Form) -> tuple[dict[str, Any] | None, Problem | None]:
    """The order form as the API's order body, validated by its schema."""
    v = form.values
    if not blank(v.get("customer.name")):
        country = (v.get("customer.country") or "").strip().upper()
        ref: dict[str, Any] = {
            "name": v.get("customer.name", "").strip(), "email": v.get("customer.email", "").strip(),
            "country": country, "language": v.get("customer.language") or "en",
            "payment_terms_days": integer(v.get("customer.payment_terms_days")) or 30,
            "billing_address": {
                "name": v.get("customer.name", "").strip(), "line1": v.get("customer.billing_address.line1", ""),
                "city": v.get("customer.billing_address.city", ""),
                "postal_code": v.get("customer.billing_address.postal_code", ""), "country": country},
        }
        if not blank(v.get("customer.new_code")):
            ref["code"] = v["customer.new_code"].strip()
    elif not blank(v.get("customer.code")):
        ref = {"code": v["customer.code"].strip()}
    else:
        return None, Problem("validation_error", "Please correct the fields marked below.",
                             fields={"customer.code": "Pick a customer, or enter a new one below."})
    order_lines = []
    index: list[int] = []
    for i, row in rows(v, "lines"):
        if all(blank(row.get(k)) for k in ("sku", "quantity", "unit_price", "discount")):
            continue
        line: dict[str, Any] = {"sku": (row.get("sku") or "").strip(), "quantity": integer(row.get("quantity"))}
        if not blank(row.get("unit_price")):
            line["unit_price"] = amount(row.get("unit_price"))
        if not blank(row.get("discount")):
            line["discount"] = percent(row.get("discount"))
        order_lines.append(line)
        index.append(i)
    if not order_lines:
        return None, Problem("validation_error", "Please correct the fields marked below.",
                             fields={"lines.0.sku": "Enter at least one line."})
    body = {"customer": ref, "lines": order_lines,  # in the customer's currency
            "external_ref": None if blank(v.get("external_ref")) else v["external_ref"].strip(),
            "confirm": v.get("confirm") == "1", "allow_backorder": v.get("allow_backorder") == "1"}
    if not blank(v.get("coupon")):
        body["coupon"] = v["coupon"].strip()
    if not blank(v.get("promised_date")):
        body["promised_date"] = v["promised_date"].strip()
    data, problem = load(s.OrderIn(), body)
    if problem is not None:
        problem.fields = renumber_rows(_new_customer_names(problem.fields), index)
    return data, problem


def _new_customer_names(fields: dict[str, str]) -> dict[str, str]:
    """Schema paths of a new customer → the fields of the form."""
    out = {}
    for k, msg in fields.items():
        if k == "customer.code":
            k = "customer.new_code"
        elif k in ("customer.billing_address.country", "customer.billing_address.name"):
            k = k.replace("billing_address.", "")
        out[k] = msg
    return out


def _order_form_page(form: Form, preview: Any = None, status: int = 200, customer: dict[str, Any] | None = None,
                     candidates: list[dict[str, Any]] | None = None) -> Any:
    products = read(queries.product_choices)
    n = max([i for i, _ in rows(form.values, "lines")] + [NEW_ORDER_LINES - 1]) + 1
    skus = [(row.get("sku") or "").strip() for _, row in rows(form.values, "lines") if not blank(row.get("sku"))]
    customer_id = customer.get("id") if customer else None
    suggestions = read(lambda tx: associations.for_basket(tx, skus, customer_id))
    return render_template("web/orders/new.html", form=form, customer=customer, candidates=candidates or [],
                           products=products, line_count=n, preview=preview, suggestions=suggestions), status


@bp.route("/orders/new", methods=["GET", "POST"])
@requires("orders:write")
def new_order() -> Any:
    if request.method == "GET":
        form = Form({"customer.code": str_arg("customer", max_len=64), "confirm": "1"})
        if str_arg("sku", max_len=64):  # a suggestion taken from an order page
            form.values.update({"lines.0.sku": str_arg("sku", max_len=64), "lines.0.quantity": "1"})
        customer, _, _ = pick_customer(form.values)
        return _order_form_page(form, customer=customer)
    form = Form.posted()
    action = request.form.get("action", "save")
    customer, candidates, problem = (None, [], None) if not blank(form.value("customer.name")) \
        else pick_customer(form.values)
    form.values.pop("customer.pick", None)
    if customer is not None:  # the text typed becomes the customer's code
        form.values["customer.code"] = customer["code"]
    if action.startswith("suggest:"):  # one click adds a suggested product as a line of one
        shown = max([i for i, _ in rows(form.values, "lines")] + [NEW_ORDER_LINES - 1]) + 1
        n = next((i for i in range(shown) if blank(form.values.get(f"lines.{i}.sku"))), shown)
        form.values[f"lines.{n}.sku"] = action.removeprefix("suggest:")[:64]
        form.values[f"lines.{n}.quantity"] = "1"
        return _order_form_page(form, customer=customer, candidates=candidates)
    if action == "add_line":
        n = max([i for i, _ in rows(form.values, "lines")] + [NEW_ORDER_LINES - 1]) + 1
        form.values[f"lines.{n}.sku"] = ""
        return _order_form_page(form, customer=customer, candidates=candidates)
    if problem is not None:
        form.problem = problem
        return _order_form_page(form, status=422, candidates=candidates)
    data, problem = _order_input(form)
    if problem is None and action == "preview":
        outcome = dry_run(lambda tx: orders.create_order(tx, principal(), {**data, "confirm": False}))
        if isinstance(outcome, Problem):
            problem = outcome
        else:
            return _order_form_page(form, preview=outcome, customer=customer)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            o = orders.create_order(tx, principal(), data)
            verb = "created and confirmed" if o["status"] == "confirmed" else "created as a draft"
            return url_for("web.order", order_id=o["id"]), f"Order {o['number']} {verb}."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    if problem.code == "out_of_stock":  # mark the lines that are short
        short = {l["sku"]: l for l in problem.details.get("lines", [])}
        for i, row in rows(form.values, "lines"):
            line = short.get((row.get("sku") or "").strip())
            if line:
                problem.fields[f"lines.{i}.quantity"] = f"Only {line['available']} available."
    form.problem = problem
    return _order_form_page(form, status=422, customer=customer)


def _order_page(order_id: int, forms: dict[str, Form] | None = None, status: int = 200) -> Any:
    d = read(lambda tx: queries.order_page(tx, order_id, principal()))
    o = d["order"]
    moves = order_actions(o["status"], o["lines"], d["policy"])
    for sh in d["shipments"]:
        sh["actions"] = shipment_actions(sh["status"])
    forms = forms or {}
    forms.setdefault("pack", Form({f"lines.{i}.quantity": str(open_to_pack(l)) for i, l in enumerate(o["lines"])}))
    forms.setdefault("cancel_lines", Form())
    for sh in d["shipments"]:
        forms.setdefault(f"ship-{sh['id']}", Form())
    suggestions = read(lambda tx: associations.for_basket(tx, [l["sku"] for l in o["lines"]], o["customer_id"]))
    return render_template("web/orders/show.html", d=d, o=o, moves=moves, forms=forms, suggestions=suggestions,
                           open_to_pack=open_to_pack, open_to_cancel=open_to_cancel), status


@bp.route("/orders/<id:order_id>")
@requires("orders:read")
def order(order_id: int) -> Any:
    return _order_page(order_id)


@bp.route("/orders/<id:order_id>/confirm", methods=["POST"])
@requires("orders:write")
def confirm_order(order_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        o = orders.confirm_order(tx, order_id, principal())
        return url_for("web.order", order_id=order_id), f"Order {o['number']} confirmed: stock reserved."
    return back_to(url_for("web.order", order_id=order_id), submit(work))


@bp.route("/orders/<id:order_id>/cancel", methods=["POST"])
@requires("orders:write")
def cancel_order(order_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        o = orders.cancel_order(tx, order_id, principal())
        return url_for("web.order", order_id=order_id), f"Order {o['number']} cancelled."
    return back_to(url_for("web.order", order_id=order_id), submit(work))


@bp.route("/orders/<id:order_id>/pack", methods=["POST"])
@requires("fulfilment:write")
def pack_order(order_id: int) -> Any:
    form = Form.posted()
    requested = []
    problem = None
    for i, row in rows(form.values, "lines"):
        qty = integer(row.get("quantity"))
        if qty in (None, 0):
            continue
        requested.append({"sku": (row.get("sku") or "").strip(), "quantity": qty})
    if not requested:
        problem = Problem("validation_error", "Enter a quantity to pack for at least one line.")
    else:
        data, problem = load(s.PackIn(), {"lines": requested})
        if problem is None:
            def work(tx: Any) -> tuple[str, str]:
                sh = shipping.pack(tx, order_id, principal(), data["lines"])
                return url_for("web.shipment", shipment_id=sh["id"]), f"Shipment {sh['number']} packed."
            outcome = submit(work)
            if not isinstance(outcome, Problem):
                return outcome
            problem = outcome
        else:
            problem.message = "Quantities to pack are whole numbers from 1."
    form.problem = problem
    return _order_page(order_id, {"pack": form}, 422)


@bp.route("/orders/<id:order_id>/invoice", methods=["POST"])
@requires("fulfilment:write")
def invoice_order(order_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        iid = invoicing.invoice_order(tx, order_id, principal())
        inv = invoicing.get_invoice(tx, iid, principal())
        return url_for("web.invoice", invoice_id=iid), f"Invoice {inv['number']} issued."
    return back_to(url_for("web.order", order_id=order_id), submit(work))


# -- shipments --------------------------------------------------------------------

@bp.route("/shipments/<id:shipment_id>")
@requires("orders:read")
def shipment(shipment_id: int) -> Any:
    return _shipment_page(shipment_id)


def _shipment_page(shipment_id: int, form: Form | None = None, status: int = 200) -> Any:
    d = read(lambda tx: queries.shipment_page(tx, shipment_id, principal()))
    return render_template("web/shipments/show.html", d=d, sh=d["shipment"], form=form or Form(),
                           actions=shipment_actions(d["shipment"]["status"])), status


@bp.route("/shipments/<id:shipment_id>/packing-slip")
@requires("orders:read")
def packing_slip(shipment_id: int) -> Any:
    d = read(lambda tx: queries.shipment_page(tx, shipment_id, principal()))
    return render_template("web/shipments/slip.html", d=d, sh=d["shipment"])


@bp.route("/shipments/<id:shipment_id>/ship", methods=["POST"])
@requires("fulfilment:write")
def ship_shipment(shipment_id: int) -> Any:
    form = Form.posted()
    data, problem = load(s.ShipIn(), {"carrier": form.value("carrier").strip(),
                                      "tracking_number": form.value("tracking_number").strip()})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            sh = shipping.ship(tx, shipment_id, principal(), data["carrier"], data["tracking_number"])
            message = f"Shipment {sh['number']} shipped with {sh['carrier']} ({sh['tracking_number']})."
            if sh["invoice_id"]:
                inv = invoicing.get_invoice(tx, sh["invoice_id"], principal())
                message += f" Invoice {inv['number']} issued."
            return url_for("web.order", order_id=sh["order_id"]), message
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    if request.form.get("from") == "order":
        order_id = read(lambda tx: shipping.get_shipment(tx, shipment_id, principal()))["order_id"]
        return _order_page(order_id, {f"ship-{shipment_id}": form}, 422)
    return _shipment_page(shipment_id, form, 422)


@bp.route("/shipments/<id:shipment_id>/cancel", methods=["POST"])
@requires("fulfilment:write")
def cancel_shipment(shipment_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        sh = shipping.cancel_shipment(tx, shipment_id, principal())
        return url_for("web.order", order_id=sh["order_id"]), \
            f"Shipment {sh['number']} cancelled; the goods stay reserved for the order."
    return back_to(url_for("web.shipment", shipment_id=shipment_id), submit(work))


# -- invoices ---------------------------------------------------------------------

@bp.route("/invoices")
@requires("invoices:read")
def invoices() -> Any:
    f = queries.InvoiceFilters(q=str_arg("q"), status=str_arg("status", INVOICE_STATUSES),
                               overdue=request.args.get("overdue") == "1", customer_id=int_arg("customer"))
    page = read(lambda tx: queries.search_invoices(tx, principal(), f, next_=int_arg("next"),
                                                   prev=int_arg("prev"), limit=PAGE))
    return render_template("web/invoices/list.html", page=page, f=f, statuses=INVOICE_STATUSES,
                           base_args=args_without("next", "prev"))


@bp.route("/invoices/<id:invoice_id>")
@requires("invoices:read")
def invoice(invoice_id: int) -> Any:
    d = read(lambda tx: queries.invoice_page(tx, invoice_id, principal()))
    return render_template("web/invoices/show.html", d=d, inv=d["invoice"], has_pdf=True)


@bp.route("/invoices/<id:invoice_id>/pdf")
@requires("invoices:read")
def invoice_pdf(invoice_id: int) -> Any:
    """The stored PDF, rendered on first request outside any transaction."""
    from o2c.api.common import engine
    from o2c.domain.errors import NotFound
    from o2c.services.billing import documents
    try:
        f = documents.invoice_pdf(engine(), invoice_id, principal())
    except NotFound:
        abort(404)
    return Response(f.content, mimetype=f.media_type, headers={
        "Content-Disposition": content_disposition(f.filename), "ETag": f'"{f.sha256}"'})


# -- payments ----------------------------------------------------------------------

@bp.route("/payments", endpoint="payments")
@requires("payments:read")
def payments_list() -> Any:
    page = read(lambda tx: queries.search_payments(tx, customer_id=int_arg("customer"), q=str_arg("q"),
                                                   next_=int_arg("next"), prev=int_arg("prev"), limit=PAGE))
    return render_template("web/payments/list.html", page=page, q=str_arg("q"),
                           base_args=args_without("next", "prev"))



@bp.route("/payments/<id:payment_id>")
@requires("payments:read")
def payment(payment_id: int) -> Any:
    d = read(lambda tx: queries.payment_page(tx, payment_id, principal()))
    return render_template("web/payments/show.html", d=d, p=d["payment"], reverse=Form())


def _payment_context(code: str, invoice_id: int | None = None, order_id: int | None = None) -> dict[str, Any]:
    """The customer's open invoices for the payment form; started from an
    invoice (or an order), that invoice (the order's open invoices) first and
    marked as the ones this payment is for."""
    def run(tx: Any) -> dict[str, Any]:
        customer = queries.customer_by_code(tx, code) if code else None
        ctx: dict[str, Any] = {"customer": customer, "customers": queries.customer_choices(tx),
                               "invoices": [], "credit": Decimal("0.00"), "for_invoice": None, "for_order": None}
        if customer:
            # A payment is in the customer's currency and pays invoices in it.
            invoices = queries.open_invoices(tx, customer["id"], customer["currency"])
            for inv in invoices:
                inv["target"] = inv["id"] == invoice_id or (order_id is not None and inv["order_id"] == order_id)
            ctx["invoices"] = [i for i in invoices if i["target"]] + [i for i in invoices if not i["target"]]
            ctx["credit"] = queries.customer_credit(tx, customer["id"], customer["currency"])
            target = [i for i in invoices if i["target"]]
            if target and invoice_id is not None:
                ctx["for_invoice"] = target[0]
            elif target:
                ctx["for_order"] = {"id": order_id, "number": queries.order_number_of(tx, order_id)}
        return ctx
    return read(run)


def _suggest(form: Form, invoices: list[dict[str, Any]]) -> None:
    """Fill the allocation fields: the invoices the payment was started from
    first, then the others oldest first, each up to its balance."""
    try:
        total = Decimal(amount(form.value("amount")) or "0")
    except ArithmeticError:
        total = Decimal("0")
    plan = dict(these_first(((i["id"], i["balance_due"]) for i in invoices), max(total, Decimal("0")),
                            [i["id"] for i in invoices if i.get("target")]))
    for n, inv in enumerate(invoices):
        form.values[f"allocations.{n}.invoice_id"] = str(inv["id"])
        take = plan.get(inv["id"])
        form.values[f"allocations.{n}.amount"] = f"{take:.2f}" if take else ""


def _settles(form: Form, invoices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the amounts now in the form do to each invoice they touch: the
    amount applied, what is left open, and whether that settles it."""
    by_id = {str(i["id"]): i for i in invoices}
    out = []
    for _, row in rows(form.values, "allocations"):
        inv = by_id.get((row.get("invoice_id") or "").strip())
        try:
            take = Decimal(amount(row.get("amount")) or "0")
        except ArithmeticError:
            continue
        if inv is None or not take.is_finite() or take <= 0:
            continue
        left = inv["balance_due"] - take
        out.append({"invoice": inv, "amount": take, "left": max(left, Decimal("0")), "settled": left <= 0,
                    "over": left < 0})
    return out


def _payment_page(form: Form, ctx: dict[str, Any], status: int = 200) -> Any:
    applied = Decimal("0")
    unapplied = None
    try:
        for _, row in rows(form.values, "allocations"):
            applied += Decimal(amount(row.get("amount")) or "0")
        unapplied = max(Decimal(amount(form.value("amount")) or "0") - applied, Decimal("0"))
    except ArithmeticError:
        pass
    return render_template("web/payments/new.html", form=form, applied=applied, unapplied=unapplied,
                           settles=_settles(form, ctx["invoices"]),
                           methods=[(m, m.replace("_", " ")) for m in METHODS], **ctx), status


def _posted_id(name: str) -> int | None:
    raw = (request.form.get(name) or "").strip()
    return int(raw) if ascii_digits(raw) and 1 <= int(raw) <= 2**63 - 1 else None


@bp.route("/payments/new", methods=["GET", "POST"])
@requires("payments:write")
def new_payment() -> Any:
    if request.method == "GET":
        from o2c.services.platform import clock
        invoice_id, order_id = int_arg("invoice"), int_arg("order")
        code = str_arg("customer", max_len=64)
        if not code and (invoice_id or order_id):
            code = read(lambda tx: queries.customer_code_of(tx, invoice_id=invoice_id, order_id=order_id)) or ""
        form = Form({"customer.code": code, "amount": str_arg("amount", max_len=32),
                     "received_on": clock.now().date().isoformat(), "method": "bank_transfer"})
        ctx = _payment_context(code, invoice_id, order_id)
        if not form.value("amount") and (ctx["for_invoice"] or ctx["for_order"]):
            form.values["amount"] = f"{sum(i['balance_due'] for i in ctx['invoices'] if i['target']):.2f}"
        _suggest(form, ctx["invoices"])
        return _payment_page(form, ctx)
    form = Form.posted()
    ctx = _payment_context(form.value("customer.code").strip(), _posted_id("for_invoice"), _posted_id("for_order"))
    action = request.form.get("action", "save")
    if ctx["customer"] is None:
        form.problem = Problem("validation_error", "Please correct the fields marked below.",
                               fields={"customer.code": "Pick a customer by code."})
        return _payment_page(form, ctx, 422 if action == "save" else 200)
    same_customer = request.form.get("customer_shown") == ctx["customer"]["code"]
    if action == "update" and same_customer:
        return _payment_page(form, ctx)  # the clerk's amounts, with what they settle
    if action != "save" or not same_customer:
        _suggest(form, ctx["invoices"])  # a new customer or amount: suggest afresh
        return _payment_page(form, ctx)
    data, problem = load(s.PaymentIn(), {
        "customer_id": ctx["customer"]["id"], "amount": amount(form.value("amount")),
        "currency": ctx["customer"]["currency"],
        "received_on": form.value("received_on").strip(), "method": form.value("method") or "bank_transfer",
        "reference": form.value("reference").strip()})
    allocations = []
    alloc_errors: dict[str, str] = {}
    for i, row in rows(form.values, "allocations"):
        if blank(row.get("amount")) or amount(row.get("amount")) in ("0", "0.00", "0.0"):
            continue
        try:
            allocations.append(s.AllocationIn().load({"invoice_id": integer(row.get("invoice_id")),
                                                      "amount": amount(row.get("amount"))}))
        except ValidationError as exc:
            for k, msg in flatten_errors(exc.messages).items():
                alloc_errors[f"allocations.{i}.{k}"] = msg
    if alloc_errors:
        problem = problem or Problem("validation_error", "Please correct the fields marked below.")
        problem.fields.update(alloc_errors)
    if problem is None:
        # Allocations as the clerk left them (none: all of it stays as credit).
        payload = {**data, "allocations": allocations if ctx["invoices"] else None}

        def work(tx: Any) -> tuple[str, str]:
            p = payments.record_payment(tx, payload)
            message = f"Payment {p['number']} of {p['amount']:.2f} {p['currency']} recorded"
            if p["unapplied"]:
                message += f"; {p['unapplied']:.2f} kept as customer credit"
            return url_for("web.payment", payment_id=p["id"]), message + "."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _payment_page(form, ctx, 422)


@bp.route("/go")
def go() -> Any:
    """Jump to a document by its number (``SO-…``, ``SH-…``, ``PAY-…``; anything
    else searches the invoices)."""
    text = str_arg("q").upper()
    prefix, _, rest = text.partition("-")
    digits = rest.rpartition("-")[2].lstrip("0")
    if prefix == "SO" and ascii_digits(digits):
        return redirect(url_for("web.order", order_id=int(digits)))
    if prefix == "SH" and ascii_digits(digits):
        return redirect(url_for("web.shipment", shipment_id=int(digits)))
    if prefix == "PAY" and ascii_digits(digits):
        return redirect(url_for("web.payment", payment_id=int(digits)))
    return redirect(url_for("web.invoices", q=text) if text else url_for("web.dashboard"))

