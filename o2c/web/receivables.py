"""Receivables in the back office: aging, customer statements, dunning runs
and their letters, and the ledger of one account and ledger exports — the
accountant's pages over the same services as the API."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import Response, abort, current_app, render_template, request, url_for

from o2c.documents import letters as docs
from o2c.domain.downloads import content_disposition
from o2c.domain.errors import ValidationFailed
from o2c.services.billing.documents import render_dunning_letter
from o2c.services.books import chain, exports, ledger, reports
from o2c.services.cash import dunning
from o2c.services.platform import clock
from o2c.web.core import (
    Form,
    Problem,
    args_without,
    bp,
    date_arg,
    engine,
    int_arg,
    principal,
    read,
    requires,
    str_arg,
    submit,
)
from o2c.web import money
from o2c.web.nav import Item, add

AGING_PAGE = 50
LETTERS_PAGE = 25
LEDGER_PAGE = 100


def _pdf(content: bytes, filename: str) -> Response:
    return Response(content, mimetype="application/pdf",
                    headers={"Content-Disposition": content_disposition(filename)})


def _strict_date(name: str) -> dt.date | None:
    """A date from the query string for a download: a bad one is refused
    (400) rather than silently ignored, since the file would be wrong."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        abort(400, description=f"“{name}” must be a date as YYYY-MM-DD, not “{raw[:20]}”.")


# -- aging --------------------------------------------------------------------------

@bp.route("/receivables/aging")
@requires("ledger:read")
def aging() -> Any:
    as_of = date_arg("as_of")
    report = read(lambda tx: reports.aging(tx, as_of))
    start = int_arg("start") or 0
    rows = report["customers"][start:start + AGING_PAGE]
    return render_template("web/receivables/aging.html", report=report, rows=rows, as_of=as_of, start=start,
                           page_size=AGING_PAGE, base_args=args_without("start"))


# -- customer statement -------------------------------------------------------------

def _statement_range() -> tuple[dt.date | None, dt.date | None]:
    date_to = date_arg("to")
    date_from = date_arg("from")
    if date_from is None and "from" not in request.args:
        date_from = (date_to or clock.now().date()) - dt.timedelta(days=90)
    return date_from, date_to


@bp.route("/customers/<id:customer_id>/statement")
@requires("ledger:read")
def statement(customer_id: int) -> Any:
    date_from, date_to = _statement_range()
    if date_from and date_to and date_from > date_to:
        date_from, date_to = date_to, date_from
    st = read(lambda tx: reports.customer_statement(tx, customer_id, date_from, date_to))
    return render_template("web/receivables/statement.html", st=st, date_from=date_from, date_to=st["to"])


@bp.route("/customers/<id:customer_id>/statement.pdf")
@requires("ledger:read")
def statement_pdf(customer_id: int) -> Any:
    date_from, date_to = _strict_date("from"), _strict_date("to")
    try:
        st, company, today = read(lambda tx: (
            reports.customer_statement(tx, customer_id, date_from, date_to), reports.company(tx), tx.today))
    except ValidationFailed as exc:
        abort(400, description=exc.message)
    return _pdf(docs.statement_pdf(st, company, today), f"statement_{st['customer']['code']}_{st['to']}.pdf")


# -- dunning ------------------------------------------------------------------------

def _dunning_page(form: Form, status: int = 200) -> Any:
    cursor = int_arg("after")
    letters, next_cursor = read(lambda tx: dunning.list_letters(tx, int_arg("customer"), cursor, LETTERS_PAGE))
    return render_template("web/receivables/dunning.html", form=form, letters=letters, next_cursor=next_cursor,
                           thresholds=current_app.config["O2C"].DUNNING_DAYS, levels=dunning.LEVELS,
                           base_args=args_without("after")), status


@bp.route("/dunning")
@requires("ledger:read")
def dunning_letters() -> Any:
    return _dunning_page(Form({"as_of": clock.now().date().isoformat()}))


@bp.route("/dunning/run", methods=["POST"])
@requires("dunning:write")
def run_dunning() -> Any:
    form = Form.posted()
    raw = form.value("as_of").strip()
    try:
        as_of = dt.date.fromisoformat(raw) if raw else clock.now().date()
    except ValueError:
        form.problem = Problem("validation_error", "Please correct the fields marked below.",
                               fields={"as_of": "Enter a date as YYYY-MM-DD."})
        return _dunning_page(form, 422)
    thresholds = current_app.config["O2C"].DUNNING_DAYS

    def work(tx: Any) -> tuple[str, str]:
        result = dunning.run(tx, as_of, thresholds)
        n = len(result["letters"])
        if not n:
            return url_for("web.dunning_letters"), f"Nothing to chase as of {as_of.isoformat()}: no letter was due."
        return (url_for("web.dunning_letters"),
                f"{n} letter{'s' if n != 1 else ''} with {result['notices']} notice"
                f"{'s' if result['notices'] != 1 else ''} recorded as of {as_of.isoformat()} ("
                + ", ".join(f"{money(c['total'])} {c['currency']}" for c in result["by_currency"]) + "); "
                "their PDFs are being rendered.")
    outcome = submit(work)
    if isinstance(outcome, Problem):
        form.problem = outcome
        return _dunning_page(form, 409 if outcome.code != "validation_error" else 422)
    return outcome


@bp.route("/dunning/letters/<id:letter_id>")
@requires("ledger:read")
def dunning_letter(letter_id: int) -> Any:
    letter = read(lambda tx: dunning.get_letter(tx, letter_id))
    return render_template("web/receivables/letter.html", letter=letter)


@bp.route("/dunning/letters/<id:letter_id>.pdf")
@requires("ledger:read")
def dunning_letter_pdf(letter_id: int) -> Any:
    f = render_dunning_letter(engine(), letter_id, actor=principal().actor)
    return _pdf(f.content, f.filename)


# -- the general ledger of one account -----------------------------------------------

@bp.route("/books/accounts/<string:code>")
@requires("ledger:read")
def account_ledger(code: str) -> Any:
    if len(code) > 16:
        abort(404)
    today = clock.now().date()
    date_from = date_arg("from") or today.replace(day=1)
    date_to = date_arg("to")
    cursor = str_arg("cursor", max_len=64) or None
    try:
        gl = read(lambda tx: reports.account_ledger(tx, code, date_from, date_to, cursor, LEDGER_PAGE))
    except ValidationFailed:
        gl = read(lambda tx: reports.account_ledger(tx, code, date_from, date_to, None, LEDGER_PAGE))
    return render_template("web/books/account.html", gl=gl, date_from=date_from, date_to=date_to,
                           first_page=cursor is None, base_args=args_without("cursor"))


# -- ledger export --------------------------------------------------------------------

@bp.route("/books/export")
@requires("ledger:read")
def export() -> Any:
    today = clock.now().date()
    first = today.replace(day=1)
    last_month_end = first - dt.timedelta(days=1)
    return render_template("web/books/export.html", formats=exports.FORMATS, today=today,
                           default_from=last_month_end.replace(day=1), default_to=last_month_end)


@bp.route("/books/export/download")
@requires("ledger:read")
def export_download() -> Any:
    fmt = request.args.get("format", "csv")
    if fmt not in exports.FORMATS:
        abort(400, description=f"Choose a format: {', '.join(exports.FORMATS)}.")
    start, end = _strict_date("from"), _strict_date("to")
    if start and end and start > end:
        abort(400, description="The export starts after it ends: 'from' must not be after 'to'.")
    chain.seal_journal(engine())
    name = exports.filename("journal", fmt, start, end)
    return Response(exports.export_journal(engine(), fmt, start, end), mimetype=exports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": content_disposition(name)})


@bp.route("/books/trial-balance/export")
@requires("ledger:read")
def trial_balance_download() -> Any:
    fmt = request.args.get("format", "csv")
    if fmt not in exports.TRIAL_BALANCE_FORMATS:
        abort(400, description=f"Choose a format: {', '.join(exports.TRIAL_BALANCE_FORMATS)}.")
    as_of = _strict_date("as_of")
    report = read(lambda tx: ledger.trial_balance(tx, as_of))
    name = exports.filename("trial_balance", fmt, None, as_of)
    return Response(exports.export_trial_balance(report, fmt), mimetype=exports.MEDIA_TYPES[fmt],
                    headers={"Content-Disposition": content_disposition(name)})


add("Books", Item("Export", "web.export", "ledger:read"))
add("Receivables", Item("Aging", "web.aging", "ledger:read", ("web.statement",)))
add("Receivables", Item("Dunning", "web.dunning_letters", "ledger:read", ("web.dunning_letter",)))
