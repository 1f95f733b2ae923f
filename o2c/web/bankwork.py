"""The cash application worklist: statement lines the rules could not decide
(suggested or unmatched), newest first. A clerk confirms a suggestion with one
click (or Alt+Shift+C on the first one), matches a line to invoices of any
customers found by a search (split across customers), books it to an account
or ignores it with a reason — the same services as the API."""
from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from flask import render_template, request, url_for

from o2c.domain.errors import ValidationFailed
from o2c.services.cash import bankmatch
from o2c.web.core import Form, Problem, back_to, bp, read, requires, submit
from o2c.web.nav import Item, add

WORKLIST_PAGE = 200


@bp.route("/bank/worklist")
@requires("bank:read")
def bank_worklist() -> Any:
    def load(tx: Any) -> tuple[list[dict[str, Any]], dict[int, dict[str, Any]]]:
        lines = bankmatch.worklist(tx, limit=WORKLIST_PAGE)
        ids = sorted({i for ln in lines for i in ((ln["suggestion"] or {}).get("invoice_ids") or [])})
        return lines, bankmatch.invoice_labels(tx, ids)
    lines, labels = read(load)
    return render_template("web/bank/worklist.html", lines=lines, labels=labels, form=Form())


def _line_page(line_id: int, form: Form, status: int = 200) -> Any:
    q = request.args.get("q", form.value("q"))

    def load(tx: Any) -> tuple[dict[str, Any], list[dict[str, Any]], dict[int, dict[str, Any]]]:
        line = bankmatch.get_line(tx, line_id)
        found = (bankmatch.search_open_invoices(tx, q, currency=line["currency"])
                 if q or line["status"] in bankmatch.UNDECIDED else [])
        ids = (line["suggestion"] or {}).get("invoice_ids") or []
        return line, found, bankmatch.invoice_labels(tx, ids)
    line, found, labels = read(load)
    return render_template("web/bank/line.html", line=line, found=found, labels=labels, q=q, form=form), status


@bp.route("/bank/lines/<id:line_id>")
@requires("bank:read")
def bank_line(line_id: int) -> Any:
    return _line_page(line_id, Form())


def _decide(line_id: int, work: Any, done: str) -> Any:
    form = Form.posted()

    def run(tx: Any) -> tuple[str, str]:
        work(tx, form)
        return url_for("web.bank_worklist"), done
    outcome = submit(run)
    if isinstance(outcome, Problem):
        form.problem = outcome
        return _line_page(line_id, form, outcome.status)
    return outcome


def _allocations(form: Form) -> list[dict[str, Any]]:
    out = []
    for key, raw in form.values.items():
        if not key.startswith("alloc.") or not raw.strip():
            continue
        try:
            amount = Decimal(raw.strip().replace(",", "."))
            iid = int(key.split(".", 1)[1])
        except (InvalidOperation, ValueError):
            raise ValidationFailed("Please correct the fields marked below.",
                                   {key: ["Enter an amount such as 12.50."]}) from None
        if amount != amount.quantize(Decimal("0.01")) or amount <= 0:
            raise ValidationFailed("Please correct the fields marked below.",
                                   {key: ["Enter a positive amount with at most two decimals."]})
        out.append({"invoice_id": iid, "amount": amount})
    return out


@bp.route("/bank/lines/<id:line_id>/match", methods=["POST"])
@requires("bank:write")
def bank_match(line_id: int) -> Any:
    def work(tx: Any, form: Form) -> None:
        allocations = _allocations(form)
        customer = form.value("customer_id").strip()
        data: dict[str, Any] = {"allocations": allocations or None,
                                "customer_id": int(customer) if customer.isdigit() else None}
        if not allocations and data["customer_id"] is None:
            raise ValidationFailed("Enter an amount for at least one invoice, or a customer to credit.",
                                   {"customer_id": ["A customer id, or amounts above."]})
        bankmatch.match_line(tx, line_id, data)
    return _decide(line_id, work, "Line matched; the payment is recorded.")


@bp.route("/bank/lines/<id:line_id>/confirm", methods=["POST"])
@requires("bank:write")
def bank_confirm(line_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        line = bankmatch.get_line(tx, line_id)
        s = line["suggestion"] or {}
        if s.get("payment_ids"):
            # The line reports a payment booked before: linked to it (the closest in date), nothing posted.
            bankmatch.match_line(tx, line_id, {"payment_id": s["payment_ids"][0]})
            return url_for("web.bank_worklist"), "Suggestion confirmed; the line reports the payment booked before."
        if s.get("allocations"):
            data = {"allocations": [{"invoice_id": a["invoice_id"], "amount": Decimal(a["amount"])}
                                    for a in s["allocations"]], "customer_id": s.get("customer_id")}
        elif s.get("customer_id") is not None:
            data = {"customer_id": s["customer_id"]}
        else:
            raise ValidationFailed("This line has no suggestion to confirm; match it by hand.",
                                   {"suggestion": ["None to confirm."]})
        bankmatch.match_line(tx, line_id, data)
        return url_for("web.bank_worklist"), "Suggestion confirmed; the payment is recorded."
    return back_to(url_for("web.bank_worklist"), submit(work))


@bp.route("/bank/lines/<id:line_id>/book", methods=["POST"])
@requires("bank:write")
def bank_book(line_id: int) -> Any:
    def work(tx: Any, form: Form) -> None:
        bankmatch.book_line(tx, line_id, {"account": form.value("account").strip(),
                                          "description": form.value("description")})
    return _decide(line_id, work, "Line booked.")


@bp.route("/bank/lines/<id:line_id>/ignore", methods=["POST"])
@requires("bank:write")
def bank_ignore(line_id: int) -> Any:
    def work(tx: Any, form: Form) -> None:
        bankmatch.ignore_line(tx, line_id, {"reason": form.value("reason")})
    return _decide(line_id, work, "Line ignored.")


add("Bank", Item("Worklist", "web.bank_worklist", "bank:read", ("web.bank_line",)))
