"""Bank statements in the back office: the list with an upload form, and one
statement beside the books (opening balance, lines, closing balance and the
GL bank account's balance on the statement's last day)."""
from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from o2c.domain.bankfiles import FORMATS
from o2c.domain.errors import ValidationFailed
from o2c.services.cash import bank_import
from o2c.web.core import Form, Problem, bp, int_arg, read, requires, submit
from o2c.web.nav import Item, add

PAGE = 50
FORMAT_CHOICES = [("", "Recognise from the file"), ("camt.053", "CAMT.053 (XML)"), ("mt940", "MT940"),
                  ("csv", "CSV with a mapping")]

add("Payments", Item("Bank statements", "web.bank_statements", "bank:read", ("web.bank_statement",)))


def _list_page(form: Form, status: int = 200) -> Any:
    after = int_arg("after")

    def run(tx: Any) -> tuple[Any, Any, list[dict[str, Any]]]:
        items, position = bank_import.list_statements(tx, after, PAGE)
        return items, position, bank_import.list_accounts(tx)
    items, next_cursor, accounts = read(run)
    mappings = [(f"{a['iban']}|{name}", f"{name} ({a['iban']})") for a in accounts for name in a["csv_mappings"]]
    return render_template("web/bank/statements.html", statements=items, next_cursor=next_cursor, form=form,
                           accounts=accounts, mappings=mappings, formats=FORMAT_CHOICES), status


@bp.route("/bank/statements")
@requires("bank:read")
def bank_statements() -> Any:
    return _list_page(Form())


@bp.route("/bank/statements/import", methods=["POST"])
@requires("bank:write")
def import_bank_statement() -> Any:
    form = Form.posted()
    upload = request.files.get("file")
    data = b""
    if upload is not None:
        with upload.stream:  # a large file is spooled to a temporary file: closed once read
            data = upload.read()
    kind = form.value("format") or (bank_import.sniff_format(data) if data else "")
    account, _, mapping = form.value("mapping").partition("|")
    if not data:
        form.problem = Problem("validation_error", "Choose the statement file to import.",
                               fields={"file": "Choose a file."})
        return _list_page(form, 422)
    if kind not in FORMATS:
        form.problem = Problem("validation_error", "Choose the file's format.", fields={"format": "Unknown."})
        return _list_page(form, 422)

    def work(tx: Any) -> tuple[str, str]:
        if kind == "csv" and not mapping:
            raise ValidationFailed("A CSV file is read with one of the bank account's column mappings: choose one.",
                                   {"mapping": ["Choose a mapping."]})
        result = bank_import.import_file(tx, data, kind, mapping or None, account or None)
        first = result.statements[0]
        n = len(result.statements)
        lines = sum(s["line_count"] for s in result.statements)
        said = (f"Imported {n} statement{'s' if n != 1 else ''} with {lines} line{'s' if lines != 1 else ''}."
                if result.created else "This statement was imported before; nothing was added.")
        return url_for("web.bank_statement", statement_id=first["id"]), said
    outcome = submit(work)
    if isinstance(outcome, Problem):
        form.problem = outcome
        return _list_page(form, outcome.status)
    return outcome


import_bank_statement.body_limit = "BANK_FILE_MAX_BYTES"  # type: ignore[attr-defined]


@bp.route("/bank/statements/<id:statement_id>")
@requires("bank:read")
def bank_statement(statement_id: int) -> Any:
    rec = read(lambda tx: bank_import.statement_reconciliation(tx, statement_id))
    return render_template("web/bank/statement.html", st=rec["statement"], rec=rec)
