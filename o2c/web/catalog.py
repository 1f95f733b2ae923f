"""Master data and stock in the back office: customers, products, stock
levels, goods receipts and movements per SKU."""
from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from o2c.schemas import api as s
from o2c.services import queries
from o2c.services.customers import records
from o2c.services.fulfilment import stock
from o2c.services.sales import catalog
from o2c.web.core import (
    Form,
    Problem,
    amount,
    args_without,
    back_to,
    blank,
    bp,
    int_arg,
    integer,
    load,
    percent,
    principal,
    rate_as_percent,
    read,
    requires,
    str_arg,
    submit,
    unflatten,
)

ADDRESS_FIELDS = ("name", "line1", "line2", "city", "postal_code", "country")
PAGE = 25


# -- customers ---------------------------------------------------------------------

@bp.route("/customers")
@requires("customers:read")
def customers() -> Any:
    page = read(lambda tx: queries.search_customers(tx, str_arg("q"), next_=int_arg("next"), prev=int_arg("prev"),
                                                    limit=PAGE))
    return render_template("web/customers/list.html", page=page, q=str_arg("q"),
                           base_args=args_without("next", "prev"))


@bp.route("/customers/<id:customer_id>")
@requires("customers:read")
def customer(customer_id: int) -> Any:
    def run(tx: Any) -> dict[str, Any]:
        c = records.get_customer(tx, customer_id)
        return {
            "c": c, "summary": queries.customer_summary(tx, customer_id),
            "orders": queries.search_orders(tx, principal(), queries.OrderFilters(customer_id=customer_id),
                                            limit=10),
            "invoices": queries.open_invoices(tx, customer_id),
            "payments": queries.search_payments(tx, customer_id=customer_id, limit=10),
        }
    return render_template("web/customers/show.html", **read(run))


def _address(values: dict[str, str], prefix: str, default_name: str, country: str) -> dict[str, Any] | None:
    a = unflatten(values, prefix)
    if all(blank(a.get(f)) for f in ADDRESS_FIELDS if f not in ("name", "country")):
        return None
    out: dict[str, Any] = {f: (a.get(f) or "").strip() for f in ADDRESS_FIELDS}
    out["name"] = out["name"] or default_name
    out["country"] = (out["country"] or country).upper()
    out["line2"] = out["line2"] or None
    return out


def _customer_body(v: dict[str, str]) -> dict[str, Any]:
    name = v.get("name", "").strip()
    country = v.get("country", "").strip().upper()
    return {
        "code": v.get("code", "").strip(), "name": name, "email": v.get("email", "").strip(),
        "country": country, "language": v.get("language") or "en", "tax_id": v.get("tax_id", "").strip(),
        "customer_type": v.get("customer_type") or None,
        "payment_terms_days": integer(v.get("payment_terms_days")) if not blank(v.get("payment_terms_days")) else 30,
        "credit_limit": amount(v.get("credit_limit")), "currency": (v.get("currency") or "EUR").strip().upper(),
        "billing_address": _address(v, "billing_address", name, country) or {},
        "shipping_address": _address(v, "shipping_address", name, country),
    }


def _customer_values(c: dict[str, Any]) -> dict[str, str]:
    values = {k: ("" if c.get(k) is None else str(c[k])) for k in (
        "code", "name", "email", "country", "language", "tax_id", "customer_type", "payment_terms_days",
        "credit_limit", "currency")}
    for kind in ("billing_address", "shipping_address"):
        for f in ADDRESS_FIELDS:
            values[f"{kind}.{f}"] = ((c.get(kind) or {}).get(f) or "")
    return values


def _customer_form(form: Form, customer_id: int | None = None, status: int = 200) -> Any:
    return render_template("web/customers/form.html", form=form, customer_id=customer_id), status


@bp.route("/customers/new", methods=["GET", "POST"])
@requires("customers:write")
def new_customer() -> Any:
    if request.method == "GET":
        return _customer_form(Form({"language": "en", "currency": "EUR", "payment_terms_days": "30"}))
    form = Form.posted()
    data, problem = load(s.CustomerIn(), _customer_body(form.values))
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            c = records.create_customer(tx, data)
            return url_for("web.customer", customer_id=c["id"]), f"Customer {c['code']} created."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _customer_form(form, status=422)


@bp.route("/customers/<id:customer_id>/edit", methods=["GET", "POST"])
@requires("customers:write")
def edit_customer(customer_id: int) -> Any:
    if request.method == "GET":
        c = read(lambda tx: records.get_customer(tx, customer_id))
        return _customer_form(Form(_customer_values(c)), customer_id)
    form = Form.posted()
    data, problem = load(s.CustomerPatch(), _customer_body(form.values))
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            c = records.update_customer(tx, customer_id, data)
            return url_for("web.customer", customer_id=customer_id), f"Customer {c['code']} saved."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _customer_form(form, customer_id, 422)


# -- products -----------------------------------------------------------------------

@bp.route("/products")
@requires("catalog:read")
def products() -> Any:
    show_inactive = request.args.get("inactive", "1") == "1"
    page = read(lambda tx: queries.search_products(
        tx, str_arg("q"), include_inactive=show_inactive, next_=str_arg("next", max_len=64) or None,
        prev=str_arg("prev", max_len=64) or None, limit=50))
    return render_template("web/products/list.html", page=page, q=str_arg("q"), show_inactive=show_inactive,
                           base_args=args_without("next", "prev"))


def _product_body(v: dict[str, str], with_sku: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": v.get("name", "").strip(), "unit_price": amount(v.get("unit_price")),
        "vat_rate": percent(v.get("vat_rate")), "unit": v.get("unit", "").strip() or "pcs",
        "tax_class": v.get("tax_class") or "standard",
        "active": v.get("active") == "1",
    }
    if with_sku:
        body["sku"] = v.get("sku", "").strip()
    return {k: val for k, val in body.items() if val is not None or k in ("unit_price", "vat_rate")}


def _product_form(form: Form, sku: str | None = None, status: int = 200) -> Any:
    if form.problem:  # rates are entered as percentages: say so in the error
        for k in ("vat_rate",):
            if k in form.problem.fields:
                form.problem.fields[k] = "A percentage from 0 to below 100, e.g. 22."
    return render_template("web/products/form.html", form=form, sku=sku,
                           tax_classes=[(c, c.replace("_", "-")) for c in s.TAX_CLASSES]), status


@bp.route("/products/new", methods=["GET", "POST"])
@requires("catalog:write")
def new_product() -> Any:
    if request.method == "GET":
        return _product_form(Form({"unit": "pcs", "vat_rate": "22", "active": "1", "tax_class": "standard"}))
    form = Form.posted()
    data, problem = load(s.ProductIn(), _product_body(form.values, with_sku=True))
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            p = catalog.create_product(tx, data)
            return url_for("web.products", q=p["sku"]), f"Product {p['sku']} created."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _product_form(form, status=422)


@bp.route("/products/<sku:sku>/edit", methods=["GET", "POST"])
@requires("catalog:write")
def edit_product(sku: str) -> Any:
    if request.method == "GET":
        p = read(lambda tx: catalog.get_product(tx, sku))
        return _product_form(Form({"sku": p["sku"], "name": p["name"], "unit_price": f"{p['unit_price']:.2f}",
                                   "vat_rate": rate_as_percent(p["vat_rate"]), "unit": p["unit"],
                                   "tax_class": p["tax_class"],
                                   "active": "1" if p["active"] else ""}), sku)
    form = Form.posted()
    form.values["sku"] = sku
    data, problem = load(s.ProductPatch(), _product_body(form.values, with_sku=False))
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            p = catalog.update_product(tx, sku, data)
            return url_for("web.products", q=sku), f"Product {p['sku']} saved."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _product_form(form, sku, 422)


@bp.route("/products/<sku:sku>/active", methods=["POST"])
@requires("catalog:write")
def set_product_active(sku: str) -> Any:
    """Deactivate (or reactivate): products are never deleted, orders refer to them."""
    active = request.form.get("active") == "1"

    def work(tx: Any) -> tuple[str, str]:
        p = catalog.update_product(tx, sku, {"active": active})
        state = "active again" if active else "deactivated: it can no longer be ordered"
        return url_for("web.products", q=sku), f"Product {p['sku']} {state}."
    return back_to(url_for("web.products", q=sku), submit(work))


# -- stock ----------------------------------------------------------------------------

@bp.route("/stock", endpoint="stock")
@requires("catalog:read")
def stock_levels() -> Any:
    page = read(lambda tx: queries.search_products(
        tx, str_arg("q"), include_inactive=False, next_=str_arg("next", max_len=64) or None,
        prev=str_arg("prev", max_len=64) or None, limit=50))
    return render_template("web/stock/list.html", page=page, q=str_arg("q"), base_args=args_without("next", "prev"))



@bp.route("/stock/<sku:sku>")
@requires("catalog:read")
def stock_sku(sku: str) -> Any:
    product, page = read(lambda tx: queries.stock_movements(tx, sku, next_=int_arg("next"), prev=int_arg("prev")))
    return render_template("web/stock/sku.html", p=product, page=page, base_args=args_without("next", "prev"))


def _receipt_form(form: Form, status: int = 200) -> Any:
    products = read(queries.product_choices)
    return render_template("web/stock/receipt.html", form=form, products=products), status


@bp.route("/stock/receipts/new", methods=["GET", "POST"])
@requires("stock:write")
def new_receipt() -> Any:
    if request.method == "GET":
        return _receipt_form(Form({"sku": str_arg("sku", max_len=64)}))
    form = Form.posted()
    data, problem = load(s.StockReceiptIn(), {"sku": form.value("sku").strip(),
                                              "quantity": integer(form.value("quantity")),
                                              "unit_cost": amount(form.value("unit_cost"))})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            r = stock.receive(tx, data["sku"], data["quantity"], data["unit_cost"])
            return url_for("web.stock_sku", sku=r["sku"]), \
                f"Goods receipt {r['document']}: {r['quantity']} × {r['sku']} at {r['unit_cost']:.2f} received."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _receipt_form(form, 422)
