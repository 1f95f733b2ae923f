"""Bank statements: bank accounts, importing statement files, reading
statements and their lines."""
from __future__ import annotations

import json
from typing import Any

from flask import request
from flask_smorest import Blueprint

from o2c.api.common import REPLAYED_HEADER, engine, int_cursor, mutate, page, principal, read, requires
from o2c.inputs import raw_body
from o2c.schemas import bank as b
from o2c.services.cash import bank_import, bankmatch
from o2c.services.platform.uow import unit_of_work

blp = Blueprint("bank", __name__, url_prefix="/api/v1", description="Bank statements")

FILE_TYPES = ("application/xml", "text/xml", "text/plain", "text/csv")


@blp.route("/bank/accounts", methods=["GET"])
@requires("bank:read")
@blp.response(200, b.BankAccountList)
def list_accounts() -> Any:
    """The company's bank accounts, each with its GL account and CSV mappings."""
    return read(lambda tx: {"items": bank_import.list_accounts(tx)}, b.BankAccountList())


@blp.route("/bank/accounts", methods=["POST"])
@requires("ledger:write")
@blp.arguments(b.BankAccountIn)
@blp.response(201, b.BankAccountOut)
def create_account(data: dict[str, Any]) -> Any:
    """Add a bank account: its IBAN (validated), currency and the GL asset account it is booked on.

    An IBAN o2c holds already is a 409 `conflict`."""
    return mutate(lambda tx: bank_import.create_account(tx, data), b.BankAccountOut(), 201)


@blp.route("/bank/accounts/<id:account_id>", methods=["PATCH"])
@requires("ledger:write")
@blp.arguments(b.BankAccountPatch)
@blp.response(200, b.BankAccountOut)
def update_account(data: dict[str, Any], account_id: int) -> Any:
    """Rename a bank account, move it to another GL account, or add CSV column mappings."""
    return mutate(lambda tx: bank_import.update_account(tx, account_id, data), b.BankAccountOut())


@blp.route("/bank/statements", methods=["POST"])
@requires("bank:write")
@raw_body(*FILE_TYPES, limit="BANK_FILE_MAX_BYTES")
@blp.arguments(b.BankImportArgs, location="query")
@blp.doc(requestBody={"required": True, "description": "The statement file as the bank sent it.", "content": {
    "application/xml": {"schema": {"type": "string", "description": "CAMT.053, versions 001.02 to 001.08"}},
    "text/plain": {"schema": {"type": "string", "description": "MT940"}},
    "text/csv": {"schema": {"type": "string", "description": "CSV, read with ?mapping="}}}})
@blp.response(201, b.BankImportOut)
@blp.alt_response(200, schema=b.BankImportOut, description="The file was imported before: nothing added")
def import_statement(args: dict[str, Any]) -> Any:
    """Import a bank statement file (CAMT.053, MT940 or CSV); the same statement again answers 200, adding nothing.

    The whole file is imported or nothing: an account IBAN o2c does not hold, another currency than the
    account's, a zero amount, balances that do not add up (a truncated file) or a file that is not a statement
    are a 422 naming the problem. Lines already imported (an overlapping export) are not added again."""
    kind = bank_import.file_format(request.mimetype)
    data = request.get_data()

    def work(tx: Any) -> dict[str, Any]:
        result = bank_import.import_file(tx, data, kind, args.get("mapping"), args.get("account"))
        return {**result.statements[0], "statements": result.statements, "_created": result.created}

    response = mutate(work, b.BankImportOut(), status_of=lambda r: 201 if r["_created"] else 200)
    if response.status_code == 201 and not response.headers.get(REPLAYED_HEADER):
        response = _apply_cash(response)
    return response


def _apply_cash(response: Any) -> Any:
    """Right after the import: the cash application rules over the new lines
    (each decisive line posts in its own transaction), and the answer shows
    the statements as they stand afterwards."""
    ids = [st["id"] for st in response.get_json()["statements"]]
    for sid in ids:
        bankmatch.apply_lines(engine(), principal().actor, statement_id=sid)
    with unit_of_work(engine(), principal().actor, readonly=True) as tx:
        statements = [bank_import.get_statement(tx, sid, with_lines=False) for sid in ids]
    response.set_data(json.dumps(b.BankImportOut().dump({**statements[0], "statements": statements})))
    return response


@blp.route("/bank/statements", methods=["GET"])
@requires("bank:read")
@blp.arguments(b.BankStatementArgs, location="query")
@blp.response(200, b.BankStatementPage)
def list_statements(args: dict[str, Any]) -> Any:
    """Imported statements, newest first, with how many lines are matched, suggested, unmatched and ignored."""
    return page(lambda tx: bank_import.list_statements(tx, int_cursor(args), args["limit"], args.get("account_id")),
                b.BankStatementPage())


@blp.route("/bank/statements/<id:statement_id>", methods=["GET"])
@requires("bank:read")
@blp.response(200, b.BankStatementDetail)
def get_statement(statement_id: int) -> Any:
    """One statement with its lines in the bank's order."""
    return read(lambda tx: bank_import.get_statement(tx, statement_id), b.BankStatementDetail())


@blp.route("/bank/lines", methods=["GET"])
@requires("bank:read")
@blp.arguments(b.BankLineArgs, location="query")
@blp.response(200, b.BankLinePage)
def list_lines(args: dict[str, Any]) -> Any:
    """Statement lines, newest first; filter by status or statement."""
    return page(lambda tx: bank_import.list_lines(tx, args.get("status"), int_cursor(args), args["limit"],
                                                  args.get("statement_id")), b.BankLinePage())
