"""Schemas of the accountant's endpoints: chart of accounts, hash chain,
periods, reports, exports and dunning."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from o2c.ledger.accounts import ACCOUNT_TYPES, CODE_PATTERN, CODE_RULE, ROLES
from o2c.schemas.api import CURSOR_MAX, HAS_MORE_DOC, NEXT_CURSOR_DOC
from o2c.schemas.fields import BookDate, Id, Money, Rate, Text, Whole

Str = Text
FORMATS = ("csv", "xlsx", "saft")


class SignedMoney(fields.Field):
    """A balance: an amount that may be negative, as a string with two decimals."""

    def _serialize(self, value, attr, obj, **kwargs):  # type: ignore[no-untyped-def]
        return None if value is None else f"{value:.2f}"


class AccountOut(Schema):
    code = Str()
    name = Str()
    type = Str()
    role = Str(allow_none=True)
    former_role = Str(allow_none=True)
    normal_balance = Str()


class AccountList(Schema):
    items = fields.List(fields.Nested(AccountOut))


class AccountIn(Schema):
    code = Str(required=True, validate=validate.Regexp("^" + CODE_PATTERN.pattern + "$", error="“{input}” is not an account code: " + CODE_RULE),
               metadata={"description": CODE_RULE})
    name = Str(required=True, validate=validate.Length(min=1, max=255))
    type = Str(required=True, validate=validate.OneOf(ACCOUNT_TYPES))
    role = Str(validate=validate.OneOf(ROLES), load_default=None, allow_none=True)


class AccountPatch(Schema):
    name = Str(validate=validate.Length(min=1, max=255))
    type = Str(validate=validate.OneOf(ACCOUNT_TYPES))
    role = Str(validate=validate.OneOf(ROLES))


class ChainHead(Schema):
    seq = fields.Integer()
    hash = Str()


class BrokenLink(Schema):
    reason = Str()
    seq = fields.Integer()
    entry_id = fields.Integer(allow_none=True)
    document = Str(allow_none=True)
    message = Str()
    expected_hash = Str()
    stored_hash = Str(allow_none=True)
    period = Str()


class VerifyOut(Schema):
    ok = fields.Boolean()
    checked = fields.Integer()
    unsealed = fields.Integer()
    head = fields.Nested(ChainHead)
    first_broken = fields.Nested(BrokenLink, allow_none=True)
    verified_at = fields.DateTime()


class SealOut(Schema):
    sealed = fields.Integer()
    head = fields.Nested(ChainHead)


class PeriodOut(Schema):
    period = Str()
    closed = fields.Boolean()
    closed_at = fields.DateTime(allow_none=True)
    closed_by = Str(allow_none=True)
    chain_seq = fields.Integer(allow_none=True)
    chain_hash = Str(allow_none=True)
    reopened_at = fields.DateTime(allow_none=True)
    reopened_by = Str(allow_none=True)
    #: Only in a close's answer: what was left undone, e.g. ``revaluation_missing``.
    warnings = fields.List(fields.Nested(lambda: PeriodWarning()))


class PeriodWarning(Schema):
    code = Str()
    message = Str()
    currencies = fields.List(Str())


class PeriodList(Schema):
    items = fields.List(fields.Nested(PeriodOut))


class ReopenIn(Schema):
    reason = Str(required=True, validate=validate.Length(min=3, max=500))


class RangeArgs(Schema):
    from_ = BookDate(data_key="from")
    to = BookDate()


class ExportArgs(RangeArgs):
    format = Str(load_default="csv", validate=validate.OneOf(FORMATS))


class TrialBalanceExportArgs(Schema):
    as_of = BookDate()
    format = Str(load_default="csv", validate=validate.OneOf(("csv", "xlsx")))


class AccountLedgerArgs(RangeArgs):
    cursor = Str(validate=validate.Length(max=CURSOR_MAX))
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))


class LedgerLineOut(Schema):
    date = BookDate()
    entry_id = fields.Integer()
    entry_number = fields.Integer(allow_none=True)
    document = Str()
    description = Str()
    customer_id = fields.Integer(allow_none=True)
    debit = Money()
    credit = Money()
    balance = SignedMoney()


class AccountRef(Schema):
    code = Str()
    name = Str()
    type = Str()
    role = Str(allow_none=True)


class AccountLedgerOut(Schema):
    account = fields.Nested(AccountRef)
    from_ = BookDate(data_key="from", attribute="from", allow_none=True)
    to = BookDate(allow_none=True)
    opening_balance = SignedMoney()
    total_debit = Money()
    total_credit = Money()
    closing_balance = SignedMoney()
    lines = fields.List(fields.Nested(LedgerLineOut))
    next_cursor = Str(allow_none=True, metadata={"description": NEXT_CURSOR_DOC})
    has_more = fields.Boolean(metadata={"description": HAS_MORE_DOC})


class AgingArgs(Schema):
    as_of = BookDate()
    customer_id = Id(strict=False)


class AgingTotals(Schema):
    """Open balances per bucket of days past due (SPEC.md aging buckets)."""
    current = Money()
    days_1_30 = Money()
    days_31_60 = Money()
    days_61_90 = Money()
    days_over_90 = Money()
    total = Money()


class AgingRow(AgingTotals):
    """One customer's open balances in one currency (a customer owing in two
    currencies has two rows)."""
    customer_id = fields.Integer()
    code = Str()
    name = Str()
    currency = Str(metadata={"description": "The invoices' currency: the row's amounts are in it."})
    open_invoices = fields.Integer()
    functional = fields.Nested(AgingTotals, metadata={
        "description": "The same buckets in the functional currency: open foreign balances at their booked values."})
    functional_total = Money(metadata={"description": "functional.total"})


class AgingCurrency(AgingTotals):
    currency = Str()
    open_invoices = fields.Integer()
    functional_total = Money(metadata={"description": "The open balances in the currency at their booked values."})


class AgingOut(Schema):
    as_of = BookDate()
    buckets = fields.List(Str())
    customers = fields.List(fields.Nested(AgingRow))
    totals = fields.Nested(AgingTotals, metadata={
        "description": "In the functional currency (EUR): Σ of the rows' functional figures; currencies are never "
                       "added together."})
    functional_currency = Str(metadata={"example": "EUR"})
    by_currency = fields.List(fields.Nested(AgingCurrency), metadata={
        "description": "Per currency the buckets in that currency, and their functional value."})


class StatementLine(Schema):
    date = BookDate()
    document = Str()
    description = Str()
    kind = Str()
    currency = Str(metadata={"description": "Debit, credit and the running balance are in this currency."})
    debit = Money()
    credit = Money()
    balance = SignedMoney(metadata={"description": "The running balance in the line's currency."})


class OpenInvoice(Schema):
    invoice_id = fields.Integer()
    number = Str()
    issue_date = BookDate()
    due_date = BookDate()
    currency = Str()
    total = Money()
    balance_due = Money()
    functional_balance_due = Money(metadata={"description": "balance_due at its booked value in the functional "
                                                            "currency."})
    days_overdue = fields.Integer()


class StatementCurrency(Schema):
    currency = Str()
    opening_balance = SignedMoney()
    closing_balance = SignedMoney()
    open_total = Money()
    overdue_total = Money()
    functional_closing_balance = SignedMoney(metadata={"description": "The ledger's value of closing_balance."})
    functional_open_total = Money()


class StatementCustomer(Schema):
    id = fields.Integer()
    code = Str()
    name = Str()
    language = Str()


class StatementOut(Schema):
    customer = fields.Nested(StatementCustomer)
    from_ = BookDate(data_key="from", attribute="from", allow_none=True)
    to = BookDate()
    opening_balance = SignedMoney()
    lines = fields.List(fields.Nested(StatementLine))
    closing_balance = SignedMoney()
    open_invoices = fields.List(fields.Nested(OpenInvoice))
    open_total = Money()
    overdue_total = Money()
    functional_currency = Str(metadata={
        "example": "EUR", "description": "The currency of opening_balance, closing_balance, open_total and "
                                         "overdue_total: functional values, foreign ones at their booked values."})
    by_currency = fields.List(fields.Nested(StatementCurrency), metadata={
        "description": "The balances and totals per document currency, in it."})


class DunningRunIn(Schema):
    as_of = BookDate(load_default=None)
    thresholds = fields.List(Whole(validate=validate.Range(1, 3650)),
                             validate=validate.Length(equal=3), load_default=None)


class DunningItem(Schema):
    invoice_id = fields.Integer()
    number = Str()
    issue_date = BookDate()
    due_date = BookDate()
    currency = Str()
    total = Money()
    level = fields.Integer()
    level_name = Str()
    days_overdue = fields.Integer()
    balance_due = Money()
    functional_balance_due = Money(metadata={"description": "balance_due at its booked value in the functional "
                                                            "currency."})


class CurrencyTotal(Schema):
    currency = Str()
    total = Money()
    functional_total = Money()


class DunningLetterOut(Schema):
    id = fields.Integer()
    number = Str()
    customer_id = fields.Integer()
    customer_code = Str()
    customer_name = Str()
    as_of = BookDate()
    level = fields.Integer()
    level_name = Str()
    language = Str()
    currency = Str(metadata={"description": "A letter chases invoices of one currency: total is in it."})
    total = Money()
    functional_currency = Str(metadata={"example": "EUR"})
    functional_total = Money(metadata={"description": "total at its booked value in the functional currency."})
    created_at = fields.DateTime()
    created_by = Str()
    invoices = fields.List(fields.Nested(DunningItem))


class DunningRunOut(Schema):
    as_of = BookDate()
    thresholds = fields.List(fields.Integer())
    notices = fields.Integer()
    letters = fields.List(fields.Nested(DunningLetterOut))
    by_currency = fields.List(fields.Nested(CurrencyTotal), metadata={
        "description": "What the run chases per currency, in it and at its booked value."})
    functional_currency = Str(metadata={"example": "EUR"})
    functional_total = Money()


class DunningListArgs(Schema):
    customer_id = Id(strict=False)
    cursor = Str(validate=validate.Length(max=CURSOR_MAX))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class DunningLetterPage(Schema):
    items = fields.List(fields.Nested(DunningLetterOut))
    next_cursor = Str(allow_none=True, metadata={"description": NEXT_CURSOR_DOC})
    has_more = fields.Boolean(metadata={"description": HAS_MORE_DOC})


# -- tax reports ---------------------------------------------------------------------------

TAX_REPORT_FORMATS = ("json", "csv")


class VatReportArgs(Schema):
    from_ = BookDate(data_key="from", required=True, metadata={"description": "First issue date of the period."})
    to = BookDate(required=True, metadata={"description": "Last issue date of the period."})
    format = Str(load_default="json", validate=validate.OneOf(TAX_REPORT_FORMATS))


class EcSalesListArgs(Schema):
    period = Str(required=True, validate=validate.Regexp(r"^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(0[1-9]|1[0-2])$",
                                                         error="“{input}” is no month: use YYYY-MM, e.g. 2026-03."),
                 metadata={"description": "The month, YYYY-MM."})
    format = Str(load_default="json", validate=validate.OneOf(TAX_REPORT_FORMATS))


class OssArgs(Schema):
    quarter = Str(required=True, validate=validate.Regexp(r"^([1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-Q[1-4]$",
                                                          error="“{input}” is no quarter: use YYYY-Qn, e.g. 2026-Q1."),
                  metadata={"description": "The calendar quarter, YYYY-Qn."})
    format = Str(load_default="json", validate=validate.OneOf(TAX_REPORT_FORMATS))


class VatReportRow(Schema):
    tax_treatment = Str()
    country = Str()
    category = Str()
    rate = Rate()
    net = SignedMoney()
    vat = SignedMoney()


class VatTotals(Schema):
    net = SignedMoney()
    vat = SignedMoney()


class VatReportOut(Schema):
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    rows = fields.List(fields.Nested(VatReportRow))
    totals = fields.Nested(VatTotals)


class EcSalesRow(Schema):
    vat_id = Str()
    country = Str()
    net = SignedMoney()


class EcSalesTotals(Schema):
    net = SignedMoney()


class EcSalesListOut(Schema):
    period = Str()
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    rows = fields.List(fields.Nested(EcSalesRow))
    totals = fields.Nested(EcSalesTotals)


class OssRow(Schema):
    country = Str()
    rate = Rate()
    net = SignedMoney()
    vat = SignedMoney()


class OssReturnOut(Schema):
    quarter = Str()
    from_ = fields.Date(data_key="from", attribute="from")
    to = fields.Date()
    rows = fields.List(fields.Nested(OssRow))
    totals = fields.Nested(VatTotals)
