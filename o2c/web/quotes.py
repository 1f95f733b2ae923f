"""Quotations in the back office: the list, a quotation's page (its
revisions and what changed between two, send, accept on the customer's
behalf, decline, cancel, the PDF) and the pipeline."""
from __future__ import annotations

from typing import Any

from flask import Response, current_app, render_template, request, url_for

from o2c.domain.downloads import content_disposition
from o2c.ratelimit import client_address
from o2c.schemas import quotes as qs
from o2c.services import queries
from o2c.services.sales import quote_documents, quotes
from o2c.web import nav
from o2c.web.core import (
    Form,
    Problem,
    amount,
    back_to,
    blank,
    bp,
    date_arg,
    engine,
    int_arg,
    integer,
    load,
    percent,
    principal,
    rate_as_percent,
    read,
    renumber_rows,
    requires,
    rows,
    str_arg,
    submit,
)
from o2c.web.lookups import pick_customer

PAGE = 25
nav.add("Orders", nav.Item("Quotations", "web.quotes", "quotes:read", ("web.quote",)), after="Orders")
nav.add("Orders", nav.Item("Pipeline", "web.quote_pipeline", "quotes:report"), after="Quotations")


def _cfg() -> Any:
    return current_app.config["O2C"]


@bp.route("/quotes", endpoint="quotes")
@requires("quotes:read")
def quotes_list() -> Any:
    status = str_arg("status", quotes.STATUSES)
    items, after = read(lambda tx: quotes.list_quotes(tx, principal(), status=status or None,
                                                      cursor=int_arg("next"), limit=PAGE))
    return render_template("web/quotes/list.html", items=items, after=after, status=status,
                           statuses=quotes.STATUSES)


@bp.route("/quotes/<id:quote_id>", endpoint="quote")
@requires("quotes:read")
def quote_page(quote_id: int) -> Any:
    def run(tx: Any) -> dict[str, Any]:
        q = quotes.get_quote(tx, quote_id, principal())
        a, b = int_arg("from"), int_arg("to")
        if q["latest_revision"] > 1 or (a and b):
            a = a if a and a <= q["latest_revision"] else max(q["latest_revision"] - 1, 1)
            b = b if b and b <= q["latest_revision"] else q["latest_revision"]
        diff = quotes.diff_revisions(tx, quote_id, principal(), a, b) if a and b and a != b else None
        shown = quotes.get_quote(tx, quote_id, principal(), int_arg("revision")) \
            if int_arg("revision") and int_arg("revision") != q["latest_revision"] else q
        return {"q": q, "shown": shown, "diff": diff}
    return render_template("web/quotes/show.html", reasons=_cfg().QUOTE_DECLINE_REASONS, **read(run))


@bp.route("/quotes/<id:quote_id>/pdf", endpoint="quote_pdf")
@requires("quotes:read")
def quote_pdf(quote_id: int) -> Any:
    content, media_type, filename, _ = quote_documents.proposal_pdf(engine(), quote_id, principal(),
                                                                    int_arg("revision"))
    response = Response(content, mimetype=media_type)
    response.headers["Content-Disposition"] = content_disposition(filename, "inline")
    return response


def _act(quote_id: int, work: Any, done: str) -> Any:
    here = url_for("web.quote", quote_id=quote_id)

    def run(tx: Any) -> tuple[str, str]:
        q = work(tx)
        return here, done.format(label=q["label"], order=q.get("order_id"))
    return back_to(here, submit(run))


@bp.route("/quotes/<id:quote_id>/send", methods=["POST"], endpoint="send_quote")
@requires("quotes:write")
def send_quote(quote_id: int) -> Any:
    base = (_cfg().PUBLIC_URL or request.host_url).rstrip("/")
    return _act(quote_id, lambda tx: quote_documents.send(tx, quote_id, principal(), base),
                "Quotation {label} sent by e-mail with its acceptance link.")


@bp.route("/quotes/<id:quote_id>/accept", methods=["POST"], endpoint="accept_quote")
@requires("quotes:write")
def accept_quote(quote_id: int) -> Any:
    data = {"accepted_by": request.form.get("accepted_by", "").strip()[:255],
            "purchase_order": request.form.get("purchase_order", "").strip()[:128] or None,
            "optional_skus": request.form.getlist("optional_skus")[:500]}
    if not data["accepted_by"]:
        return back_to(url_for("web.quote", quote_id=quote_id),
                       Problem("validation_error", "Type the name of who accepted.", {}, {}))
    ip = client_address()
    return _act(quote_id, lambda tx: quotes.accept_quote(tx, quote_id, principal(), data, ip=ip),
                "Quotation {label} accepted on the customer's behalf.")


@bp.route("/quotes/<id:quote_id>/decline", methods=["POST"], endpoint="decline_quote")
@requires("quotes:write")
def decline_quote(quote_id: int) -> Any:
    data = {"reason": request.form.get("reason", "")[:64],
            "comment": request.form.get("comment", "").strip()[:4000] or None}
    return _act(quote_id, lambda tx: quotes.decline_quote(tx, quote_id, principal(), data,
                                                          reasons=_cfg().QUOTE_DECLINE_REASONS),
                "Quotation {label} recorded as declined.")


@bp.route("/quotes/<id:quote_id>/cancel", methods=["POST"], endpoint="cancel_quote")
@requires("quotes:write")
def cancel_quote(quote_id: int) -> Any:
    return _act(quote_id, lambda tx: quotes.cancel_quote(tx, quote_id, principal()),
                "Quotation {label} cancelled.")


@bp.route("/quotes/pipeline", endpoint="quote_pipeline")
@requires("quotes:report")
def pipeline_page() -> Any:
    f = {"date_from": date_arg("from"), "date_to": date_arg("to"), "clerk": str_arg("clerk", max_len=255) or None}
    report = read(lambda tx: quotes.pipeline(tx, principal(), **f))
    return render_template("web/quotes/pipeline.html", r=report, f=f)


@bp.app_template_global()
def quotes_needing_attention() -> list[dict[str, Any]]:
    """Accepted quotations whose order stayed a draft (stock or credit), for the dashboard."""
    from o2c.web.core import can
    if not can("quotes:read"):
        return []
    return read(quotes.unconverted)  # type: ignore[no-any-return]


# -- preparing and revising a quotation ------------------------------------------------

QUOTE_FORM_LINES = 5


def _quote_input(form: Form, *, new: bool) -> tuple[dict[str, Any] | None, Problem | None]:
    """The quotation form as the API's body (create, or the revision's patch),
    validated by the API's schema; errors keyed by the form's names."""
    v = form.values
    lines, index = [], []
    for i, row in rows(v, "lines"):
        if all(blank(row.get(k)) for k in ("sku", "quantity", "unit_price", "discount")):
            continue
        line: dict[str, Any] = {"sku": (row.get("sku") or "").strip(), "quantity": integer(row.get("quantity")),
                                "optional": row.get("optional") == "1"}
        if not blank(row.get("unit_price")):
            line["unit_price"] = amount(row.get("unit_price"))
        if not blank(row.get("discount")):
            line["discount"] = percent(row.get("discount"))
        lines.append(line)
        index.append(i)
    if not lines:
        return None, Problem("validation_error", "Please correct the fields marked below.",
                             fields={"lines.0.sku": "Enter at least one line."})
    body: dict[str, Any] = {"lines": lines}
    for name in ("valid_until", "requested_delivery_date", "delivery_terms", "note"):
        if not blank(v.get(name)):
            body[name] = v[name].strip()
    if not blank(v.get("payment_terms_days")):
        body["payment_terms_days"] = integer(v.get("payment_terms_days"))
    if not blank(v.get("currency")):
        body["currency"] = v["currency"].strip().upper()
    if not blank(v.get("coupon")):
        body["coupon"] = v["coupon"].strip()
    elif not new:
        body["coupon"] = None  # emptied: the revision has no coupon
    if new:
        if blank(v.get("customer.code")):
            return None, Problem("validation_error", "Please correct the fields marked below.",
                                 fields={"customer.code": "Pick a customer."})
        body["customer"] = {"code": v["customer.code"].strip()}
    data, problem = load(qs.QuoteIn() if new else qs.QuotePatch(), body)
    if problem is not None:
        problem.fields = renumber_rows(problem.fields, index)
    return data, problem


def _quote_form_page(form: Form, q: dict[str, Any] | None = None, status: int = 200,
                     customer: dict[str, Any] | None = None,
                     candidates: list[dict[str, Any]] | None = None) -> Any:
    n = max([i for i, _ in rows(form.values, "lines")] + [QUOTE_FORM_LINES - 1]) + 1
    return render_template("web/quotes/form.html", form=form, q=q, customer=customer, candidates=candidates or [],
                           products=read(queries.product_choices), line_count=n), status


def _add_line(form: Form) -> None:
    n = max([i for i, _ in rows(form.values, "lines")] + [QUOTE_FORM_LINES - 1]) + 1
    form.values[f"lines.{n}.sku"] = ""


@bp.route("/quotes/new", methods=["GET", "POST"], endpoint="new_quote")
@requires("quotes:write")
def new_quote() -> Any:
    """A clerk prepares a proposal: a draft quotation, sent from its page."""
    if request.method == "GET":
        form = Form({"customer.code": str_arg("customer", max_len=64)})
        customer, _, _ = pick_customer(form.values)
        return _quote_form_page(form, customer=customer)
    form = Form.posted()
    customer, candidates, problem = pick_customer(form.values)
    form.values.pop("customer.pick", None)
    if customer is not None:
        form.values["customer.code"] = customer["code"]
    if request.form.get("action") == "add_line":
        _add_line(form)
        return _quote_form_page(form, customer=customer, candidates=candidates)
    if problem is None:
        data, problem = _quote_input(form, new=True)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            q = quotes.create_quote(tx, principal(), data, validity_days=_cfg().QUOTE_VALIDITY_DAYS)
            return url_for("web.quote", quote_id=q["id"]), f"Quotation {q['number']} saved as a draft."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _quote_form_page(form, status=422, customer=customer, candidates=candidates)


def _values_of(q: dict[str, Any]) -> dict[str, str]:
    """A quotation's latest revision as the form's values."""
    values = {k: "" if q.get(k) is None else str(q[k])
              for k in ("valid_until", "payment_terms_days", "delivery_terms", "requested_delivery_date", "note",
                        "coupon", "currency")}
    for i, l in enumerate([*q["lines"], *q["optional_lines"]]):
        # The discount as typed: the coupon's share is added again on saving.
        discount = l["discount"] if l.get("discount_before_coupon") is None else l["discount_before_coupon"]
        values.update({f"lines.{i}.sku": l["sku"], f"lines.{i}.quantity": str(l["quantity"]),
                       f"lines.{i}.unit_price": str(l["unit_price"]),
                       f"lines.{i}.discount": rate_as_percent(discount) if discount else "",
                       f"lines.{i}.optional": "1" if l.get("optional") else ""})
    return values


def _unpriced_in_new_currency(data: dict[str, Any], q: dict[str, Any]) -> None:
    """The form shows the lines' prices in the old currency: a price left as
    it was is dropped, so the line is priced afresh in the new currency; a
    price the clerk typed stays."""
    before = {(l["sku"], l["optional"]): l["unit_price"] for l in [*q["lines"], *q["optional_lines"]]}
    for line in data["lines"]:
        if line.get("unit_price") is not None and before.get((line["sku"], line["optional"])) == line["unit_price"]:
            line["unit_price"] = None


@bp.route("/quotes/<id:quote_id>/edit", methods=["GET", "POST"], endpoint="edit_quote")
@requires("quotes:write")
def edit_quote(quote_id: int) -> Any:
    """Change a draft in place; a sent quotation gets its next revision (the
    negotiation's history), a draft again until it is sent."""
    q = read(lambda tx: quotes.get_quote(tx, quote_id, principal()))
    if request.method == "GET":
        return _quote_form_page(Form(_values_of(q)), q=q)
    form = Form.posted()
    if request.form.get("action") == "add_line":
        _add_line(form)
        return _quote_form_page(form, q=q)
    data, problem = _quote_input(form, new=False)
    if problem is None and data.get("currency", q["currency"]) != q["currency"]:
        _unpriced_in_new_currency(data, q)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            r = quotes.update_quote(tx, quote_id, principal(), data)
            said = (f"Quotation {r['label']} revised: revision {r['latest_revision']}, a draft until it is sent."
                    if r["latest_revision"] > q["latest_revision"] else f"Quotation {r['label']} saved.")
            return url_for("web.quote", quote_id=quote_id), said
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _quote_form_page(form, q=q, status=422)
