"""Request and response schemas of quotations (API.md, "Quotations")."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from o2c.schemas.api import CustomerRef, DocumentOut, PageArgs, Str, VatOut, _text
from o2c.schemas.fields import BookDate, ExchangeRate, Money, Quantity, Rate, Whole

STATUSES = ("draft", "sent", "accepted", "declined", "expired", "cancelled")


class QuoteLineIn(Schema):
    sku = _text(64, required=True)
    quantity = Quantity(required=True)
    unit_price = Money(allow_none=True, metadata={"description": "Omitted: the product's price."})
    discount = Rate(load_default=None, allow_none=True)
    optional = fields.Boolean(load_default=False, metadata={
        "description": "Offered: the customer may add it when accepting; not in the totals."})


_LINES = fields.List(fields.Nested(QuoteLineIn), validate=validate.Length(min=1, max=500))


_CURRENCY = validate.Regexp(r"^[A-Z]{3}$")


class QuoteIn(Schema):
    customer = fields.Nested(CustomerRef, required=True)
    currency = Str(validate=_CURRENCY, load_default=None, metadata={
        "description": "Any enabled currency; default: the customer's. Priced as an order: the price list's "
                       "price, else the EUR price at the day's rate (409 rate_missing without one)."})
    lines = fields.List(fields.Nested(QuoteLineIn), required=True, validate=validate.Length(min=1, max=500))
    valid_until = BookDate(allow_none=True, load_default=None, metadata={
        "description": "Omitted: today plus the configured validity (30 days by default)."})
    payment_terms_days = Whole(validate=validate.Range(0, 365), allow_none=True, load_default=None,
                               metadata={"description": "Omitted: the customer's terms."})
    delivery_terms = Str(validate=validate.Length(max=500), allow_none=True, load_default=None)
    requested_delivery_date = BookDate(allow_none=True, load_default=None)
    note = Str(validate=validate.Length(max=4000), allow_none=True, load_default=None)
    coupon = Str(validate=validate.Length(min=1, max=64), allow_none=True, load_default=None, metadata={
        "description": "A coupon code, applied as on an order: its discount is added to the lines' (a percent "
                       "coupon's to the optional lines too); redeemed when the accepted quotation's order is "
                       "confirmed. Unknown, used up, expired or another customer's: 409 coupon_unavailable."})


class QuotePatch(Schema):
    """Any of these; ``lines`` replaces every line."""

    lines = fields.List(fields.Nested(QuoteLineIn), validate=validate.Length(min=1, max=500))
    currency = Str(validate=_CURRENCY, metadata={
        "description": "Another enabled currency, only before the quotation is first sent (422 after); "
                       "lines not sent with it are priced afresh in it."})
    valid_until = BookDate()
    payment_terms_days = Whole(validate=validate.Range(0, 365))
    delivery_terms = Str(validate=validate.Length(max=500), allow_none=True)
    requested_delivery_date = BookDate(allow_none=True)
    note = Str(validate=validate.Length(max=4000), allow_none=True)
    coupon = Str(validate=validate.Length(min=1, max=64), allow_none=True, metadata={
        "description": "Another coupon code, or null for none; omitted: the revision's coupon is kept (and "
                       "checked again)."})


class QuoteAcceptIn(Schema):
    accepted_by = _text(255, required=True, metadata={"description": "The name typed as signature."})
    purchase_order = Str(validate=validate.Length(max=128), allow_none=True, load_default=None)
    optional_skus = fields.List(Str(validate=validate.Length(min=1, max=64)), load_default=list,
                                validate=validate.Length(max=500))


class QuoteDeclineIn(Schema):
    reason = _text(64, required=True, metadata={"description": "One of the configured decline reasons."})
    comment = Str(validate=validate.Length(max=4000), allow_none=True, load_default=None)


class QuoteLineOut(Schema):
    line_no = fields.Integer()
    sku = Str()
    description = Str()
    quantity = fields.Integer()
    unit_price = Money()
    discount = Rate()
    vat_rate = Rate()
    vat_category = Str(metadata={"description": "UNCL 5305: S, Z, E, K, G, AE, O (as on the order and invoice)."})
    net = Money()
    optional = fields.Boolean()


class QuoteRevisionRef(Schema):
    revision = fields.Integer()
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)
    total = Money()


class QuoteOut(DocumentOut):
    id = fields.Integer()
    number = Str()
    label = Str(metadata={"description": "The number with the revision: QT-2026-000001-R2."})
    revision = fields.Integer()
    latest_revision = fields.Integer()
    status = Str(metadata={"description": "One of draft, sent, accepted, declined, expired, cancelled; "
                                          "superseded for an earlier revision."})
    customer_id = fields.Integer()
    currency = Str()
    lines = fields.List(fields.Nested(QuoteLineOut))
    optional_lines = fields.List(fields.Nested(QuoteLineOut))
    tax_treatment = Str(metadata={"description": "domestic, intra_eu_b2b, eu_distance_sale, export or exempt: "
                                                 "decided as for an order, so the invoice's."})
    tax_country = Str(metadata={"description": "Whose VAT applies."})
    vat = fields.List(fields.Nested(VatOut), metadata={
        "description": "Per VAT category and rate of the lines that are not optional, as on the invoice."})
    coupon = Str(allow_none=True, metadata={"description": "The code of the coupon the lines' discounts include."})
    net_total = Money()
    vat_total = Money()
    total = Money()
    exchange_rate = ExchangeRate(metadata={
        "description": "Units of the currency per 1 EUR on the day the revision was priced (1 in EUR); the "
                       "order's invoice freezes its own rate.", "example": "4.2750"})
    functional_currency = Str(metadata={"example": "EUR"})
    functional_total = Money(metadata={"description": "total at exchange_rate, rounded to the cent: the value "
                                                      "the pipeline report adds up."})
    valid_until = BookDate()
    payment_terms_days = fields.Integer()
    delivery_terms = Str(allow_none=True)
    requested_delivery_date = BookDate(allow_none=True)
    note = Str(allow_none=True)
    order_id = fields.Integer(allow_none=True)
    conversion_note = Str(allow_none=True, metadata={
        "description": "Why the accepted quotation's order stayed a draft (stock, credit), if it did."})
    sent_at = fields.DateTime(allow_none=True)
    accepted_at = fields.DateTime(allow_none=True)
    accepted_by = Str(allow_none=True)
    purchase_order = Str(allow_none=True)
    declined_reason = Str(allow_none=True)
    declined_comment = Str(allow_none=True)
    created_at = fields.DateTime()
    revisions = fields.List(fields.Nested(QuoteRevisionRef))
    acceptance_url = Str(metadata={"description": "Only in the answer to send: the signed acceptance link."})


class QuoteListArgs(PageArgs):
    status = Str(validate=validate.OneOf(STATUSES))
    customer_id = fields.Integer(strict=False, validate=validate.Range(1, 2**63 - 1))


class PipelineArgs(Schema):
    date_from = BookDate(data_key="from")
    date_to = BookDate(data_key="to")
    clerk = Str(validate=validate.Length(max=255))


class PipelineStatus(Schema):
    status = Str()
    count = fields.Integer()
    value = Money(metadata={"description": "In EUR: each quotation's functional_total (its total at the rate "
                                           "of the day it was priced)."})


class LostReason(Schema):
    reason = Str()
    count = fields.Integer()


class PipelineSummary(Schema):
    count = fields.Integer()
    by_status = fields.List(fields.Nested(PipelineStatus))
    open_value = Money()
    win_rate = Str(allow_none=True, metadata={"description": "Accepted out of accepted, declined and expired."})
    average_days_to_close = Str(allow_none=True)
    average_open_age_days = Str(allow_none=True)
    lost_reasons = fields.List(fields.Nested(LostReason))


class PipelineClerk(PipelineSummary):
    clerk = Str()


class PipelineOut(PipelineSummary):
    date_from = BookDate(data_key="from", allow_none=True)
    date_to = BookDate(data_key="to", allow_none=True)
    clerk = Str(allow_none=True)
    clerks = fields.List(fields.Nested(PipelineClerk))
