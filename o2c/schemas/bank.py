"""Schemas of the bank endpoints: bank accounts, statements and their lines."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from o2c.schemas.api import CURSOR_MAX, HAS_MORE_DOC, NEXT_CURSOR_DOC
from o2c.schemas.books import SignedMoney
from o2c.schemas.fields import BookDate, Id, Text

LINE_STATUSES = ("unmatched", "suggested", "matched", "booked", "ignored")


class BankAccountIn(Schema):
    iban = Text(required=True, validate=validate.Length(min=5, max=42),
                metadata={"description": "Spaces allowed; validated as an IBAN.", "example": "DE89370400440532013000"})
    name = Text(validate=validate.Length(min=1, max=255), metadata={"example": "Main account"})
    currency = Text(required=True, validate=validate.Regexp("^[A-Z]{3}$", error="A currency code such as EUR."),
                    metadata={"description": "An enabled currency: the statements' and their lines'. Another than "
                                             "EUR needs a GL asset account of its own without a posting role; its "
                                             "lines pay invoices in it, at the booking date's rate.",
                              "example": "EUR"})
    gl_account = Text(validate=validate.Length(min=1, max=16),
                      metadata={"description": "The GL asset account its money is booked on; default the bank role's "
                                               "account (1000).", "example": "1000"})
    csv_mappings = fields.Dict(keys=Text(validate=validate.Length(min=1, max=64)), values=fields.Dict(),
                               metadata={"description": "Named CSV column mappings (see the README).",
                                         "example": {}})


class BankAccountPatch(Schema):
    name = Text(validate=validate.Length(min=1, max=255), metadata={"example": "Main account"})
    gl_account = Text(validate=validate.Length(min=1, max=16), metadata={"example": "1000"})
    csv_mappings = fields.Dict(keys=Text(validate=validate.Length(min=1, max=64)), values=fields.Dict(),
                               metadata={"description": "Mappings to add or replace, by name.", "example": {
                                   "bank-export": {"columns": {"booking_date": "Date", "amount": "Amount"}}}})


class BankAccountOut(Schema):
    id = fields.Integer()
    iban = Text()
    name = Text()
    currency = Text()
    gl_account = Text()
    csv_mappings = fields.Dict()


class BankAccountList(Schema):
    items = fields.List(fields.Nested(BankAccountOut))


class Suggestion(Schema):
    invoice_ids = fields.List(fields.Integer())
    customer_id = fields.Integer(allow_none=True)
    reason = Text()


class BankLineOut(Schema):
    id = fields.Integer()
    statement_id = fields.Integer()
    booking_date = BookDate()
    value_date = BookDate(allow_none=True)
    amount = SignedMoney(metadata={"description": "Signed: credits (money in) positive."})
    currency = Text()
    counterparty_name = Text()
    counterparty_iban = Text(allow_none=True)
    remittance = Text()
    creditor_ref = Text(allow_none=True)
    end_to_end_id = Text(allow_none=True)
    bank_ref = Text(allow_none=True)
    reversal = fields.Boolean()
    status = Text(validate=validate.OneOf(LINE_STATUSES))
    rule = Text(allow_none=True)
    payment_id = fields.Integer(allow_none=True)
    journal_entry_id = fields.Integer(allow_none=True)
    suggestion = fields.Nested(Suggestion, allow_none=True)
    reason = Text(allow_none=True, metadata={"description": "Why the line is ignored, or still unmatched."})


class MissingDays(Schema):
    from_ = BookDate(data_key="from", attribute="from")
    to = BookDate()


class BankStatementOut(Schema):
    id = fields.Integer()
    account_iban = Text()
    statement_ref = Text()
    format = Text(metadata={"description": "camt.053, mt940 or csv"})
    from_date = BookDate()
    to_date = BookDate()
    opening_balance = SignedMoney(allow_none=True)
    closing_balance = SignedMoney(allow_none=True)
    currency = Text()
    line_count = fields.Integer()
    matched = fields.Integer()
    suggested = fields.Integer()
    unmatched = fields.Integer()
    ignored = fields.Integer()
    booked = fields.Integer()
    continuity = Text(validate=validate.OneOf(("ok", "gap", "overlap")))
    missing_days = fields.Nested(MissingDays, allow_none=True,
                                 metadata={"description": "With a gap: the days no statement covers."})
    created_at = fields.DateTime()


class BankStatementDetail(BankStatementOut):
    lines = fields.List(fields.Nested(BankLineOut))


class BankImportOut(BankStatementOut):
    statements = fields.List(fields.Nested(BankStatementOut),
                             metadata={"description": "Every statement of the file (the first is the answer's own)."})


class BankImportArgs(Schema):
    mapping = Text(validate=validate.Length(min=1, max=64),
                   metadata={"description": "CSV only: the bank account's column mapping to read the file with."})
    account = Text(validate=validate.Length(min=5, max=42),
                   metadata={"description": "CSV only: the bank account's IBAN, when several have the mapping."})


class BankStatementPage(Schema):
    items = fields.List(fields.Nested(BankStatementOut))
    next_cursor = Text(allow_none=True, metadata={"description": NEXT_CURSOR_DOC})
    has_more = fields.Boolean(metadata={"description": HAS_MORE_DOC})


class BankLinePage(Schema):
    items = fields.List(fields.Nested(BankLineOut))
    next_cursor = Text(allow_none=True, metadata={"description": NEXT_CURSOR_DOC})
    has_more = fields.Boolean(metadata={"description": HAS_MORE_DOC})


class BankStatementArgs(Schema):
    account_id = Id(strict=False)
    cursor = Text(validate=validate.Length(max=CURSOR_MAX))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class BankLineArgs(Schema):
    status = Text(validate=validate.OneOf(LINE_STATUSES))
    statement_id = Id(strict=False)
    cursor = Text(validate=validate.Length(max=CURSOR_MAX))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))
