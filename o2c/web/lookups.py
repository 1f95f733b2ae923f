"""What the new-order form's script asks while a clerk types: customers
matching a code, name, e-mail or VAT id, and what the entered lines come to.
Signed-in users with the right role only; the line quote is a POST with the
page's CSRF token. The form works without them: saving (or "Calculate
totals") resolves the customer and prices the lines on the server anyway."""
from __future__ import annotations

from typing import Any

from flask import jsonify, request
from marshmallow import ValidationError

from o2c.schemas import api as s
from o2c.services.sales import lookups
from o2c.web.core import (
    Problem,
    amount,
    blank,
    bp,
    flatten_errors,
    integer,
    json_view,
    percent,
    read,
    requires,
    str_arg,
)

#: The most lines one quote prices (a form has a few dozen at most).
QUOTE_LINES = 200


def _customer(c: dict[str, Any]) -> dict[str, Any]:
    return {"code": c["code"], "name": c["name"], "email": c["email"] or "", "tax_id": c["tax_id"] or "",
            "country": c["country"]}


@json_view
@bp.route("/lookup/customers")
@requires("customers:read")
def lookup_customers() -> Any:
    """``?q=`` → ``{"data": [{code, name, email, tax_id, country}], "has_more"}``."""
    found, more = read(lambda tx: lookups.find_customers(tx, str_arg("q")))
    return jsonify({"data": [_customer(c) for c in found], "has_more": more})


def _money(v: Any) -> str | None:
    return None if v is None else f"{v:.2f}"


@json_view
@bp.route("/lookup/order-lines", methods=["POST"])
@requires("orders:write")
def quote_order_lines() -> Any:
    """``{"lines": [{sku, quantity, unit_price, discount}]}`` as typed (strings)
    → each line's product, availability, price and net, and the totals."""
    body = request.get_json(silent=True)
    raw = body.get("lines") if isinstance(body, dict) else None
    if not isinstance(raw, list) or len(raw) > QUOTE_LINES:
        from o2c.api.errors import error_response
        return error_response(422, "validation_error", f"Send up to {QUOTE_LINES} lines as a list.",
                              {"fields": {"lines": ["A list of lines."]}})
    wanted: list[dict[str, Any]] = []
    problems: dict[int, str] = {}
    for i, row in enumerate(raw):
        row = row if isinstance(row, dict) else {}
        text = {k: row.get(k) if isinstance(row.get(k), str) else None
                for k in ("sku", "quantity", "unit_price", "discount")}
        if blank(text["sku"]):
            wanted.append({})
            continue
        line = {"sku": text["sku"].strip(), "quantity": integer(text["quantity"]) if not blank(text["quantity"]) else 1}
        if not blank(text["unit_price"]):
            line["unit_price"] = amount(text["unit_price"])
        if not blank(text["discount"]):
            line["discount"] = percent(text["discount"])
        try:
            loaded = s.OrderLineIn().load(line)
            if blank(text["quantity"]):
                loaded["quantity"] = None  # no quantity yet: the product, but no net
            wanted.append(loaded)
        except ValidationError as exc:
            problems[i] = "; ".join(f"{k.replace('_', ' ')}: {v}" for k, v in flatten_errors(exc.messages).items())
            wanted.append({"sku": line["sku"], "quantity": None})
    priced = [w for w in wanted if w]
    quote = read(lambda tx: lookups.quote_lines(tx, priced)) if priced else \
        {"lines": [], "net_total": None, "vat_total": None, "total": None}
    answers = iter(quote["lines"])
    out: list[dict[str, Any] | None] = []
    for i, w in enumerate(wanted):
        if not w:
            out.append(None)
            continue
        q = dict(next(answers))
        if i in problems and q.get("known"):
            q["error"], q["net"] = problems[i], None
        for k in ("unit_price", "list_price", "net"):
            if k in q:
                q[k] = _money(q[k])
        for k in ("discount", "vat_rate"):
            if q.get(k) is not None:
                q[k] = str(q[k])
        out.append(q)
    return jsonify({"lines": out, "currency": "EUR", "net_total": _money(quote["net_total"]),
                    "vat_total": _money(quote["vat_total"]), "total": _money(quote["total"])})


def pick_customer(values: dict[str, str]) -> tuple[dict[str, Any] | None, list[dict[str, Any]], Problem | None]:
    """The customer an order form names in ``customer.code`` (or ``customer.pick``,
    a choice from candidates offered before): an exact code, else the one
    customer whose code, name, e-mail or VAT id contains the text. Returns the
    customer, the candidates to choose from when several match, and why not."""
    text = (values.get("customer.pick") or values.get("customer.code") or "").strip()
    if not text:
        return None, [], None
    found, more = read(lambda tx: lookups.find_customers(tx, text))
    if found and (found[0]["code"] == text or (len(found) == 1 and not more)):
        return found[0], [], None
    if not found:
        message = (f"No customer’s code, name, e-mail or VAT id contains “{text}”. "
                   "Check the spelling, or enter a new customer below.")
        return None, [], Problem("validation_error", "Please correct the fields marked below.",
                                 fields={"customer.code": message})
    several = "More than {0} customers match".format(len(found)) if more else f"{len(found)} customers match"
    return None, found, Problem("validation_error", f"{several} “{text}”: pick one below.",
                                fields={"customer.code": "Pick one of the customers listed below, or type more of the name."})
