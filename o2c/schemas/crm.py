"""Schemas of the customers-after-the-sale API (API.md, Customers after the sale)."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from o2c.schemas.api import PageArgs, reveals_cost
from o2c.schemas.fields import BookDate, Id, Money, Rate, Text

Str = Text


#: A percentage above 0 and at most 100, at most two decimals.
PERCENT_PATTERN = r"^(100(\.00?)?|[1-9][0-9]?(\.[0-9]{1,2})?|0\.(0[1-9]|[1-9][0-9]?))$"


class CouponIn(Schema):
    code = Str(validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,63}$",
                                        error="3 to 64 letters, digits, - or _."),
               load_default=None, allow_none=True, metadata={"description": "Made up when left out."})
    percent_off = fields.Decimal(places=2, as_string=True, allow_none=True, load_default=None,
                                 metadata={"description": "A percentage above 0 and at most 100, e.g. \"10\".",
                                           "pattern": PERCENT_PATTERN})
    amount_off = Money(allow_none=True, load_default=None)
    min_order_net = Money(allow_none=True, load_default=None)
    valid_until = fields.Date(allow_none=True, load_default=None)
    customer_id = Id(allow_none=True, load_default=None,
                     metadata={"description": "Only this customer may use it; anyone when left out."})
    max_redemptions = fields.Integer(load_default=1, validate=validate.Range(1, 1_000_000))


class CouponOut(Schema):
    id = fields.Integer()
    code = Str()
    percent_off = fields.Decimal(places=2, as_string=True, allow_none=True)
    amount_off = Money(allow_none=True)
    min_order_net = Money(allow_none=True)
    valid_until = fields.Date(allow_none=True)
    customer_id = fields.Integer(allow_none=True)
    max_redemptions = fields.Integer()
    redemptions = fields.Integer()
    remaining = fields.Integer()
    created_at = fields.DateTime()


class RecommendationArgs(Schema):
    limit = fields.Integer(load_default=5, validate=validate.Range(1, 50))


class RecommendationItem(Schema):
    sku = Str()
    name = Str()
    support = fields.Decimal(as_string=True, metadata={"description": "Orders with both ÷ all orders."})
    confidence = fields.Decimal(as_string=True, metadata={"description": "Orders with both ÷ orders with the first."})
    lift = fields.Decimal(as_string=True, metadata={"description": "Confidence ÷ the share of orders with the second."})


class RecommendationsOut(Schema):
    items = fields.List(fields.Nested(RecommendationItem))
    computed_at = fields.DateTime(allow_none=True)
    data_as_of = fields.Date(allow_none=True, metadata={"description": "The day of the newest order counted."})


class AssociationRunOut(Schema):
    computed_at = fields.DateTime()
    data_as_of = fields.Date()
    orders = fields.Integer()
    rules = fields.Integer()


class RecomputeOut(Schema):
    queued = fields.Boolean()
    last = fields.Nested(AssociationRunOut, allow_none=True, metadata={"description": "The last computation."})


class RfmOut(Schema):
    recency = fields.Integer(metadata={"description": "Days since the last order."})
    frequency = fields.Integer(metadata={"description": "Orders."})
    monetary = Money(metadata={"description": "Lifetime net revenue."})
    recency_score = fields.Integer()
    frequency_score = fields.Integer()
    monetary_score = fields.Integer()
    segment = Str(metadata={"description": "champion, loyal, at_risk, lapsed, new or occasional (README)."})


class InsightsArgs(Schema):
    as_of = fields.Date(metadata={"description": "The day recency is counted to; today by default."})


class OpenBalanceOut(Schema):
    currency = Str()
    open_balance = Money()
    functional_open_balance = Money()


class InsightsOut(Schema):
    customer_id = fields.Integer()
    first_order_on = fields.Date(allow_none=True)
    last_order_on = fields.Date(allow_none=True)
    orders = fields.Integer()
    lifetime_net = Money()
    cogs = reveals_cost(Money())
    gross_margin = reveals_cost(Money())
    gross_margin_rate = reveals_cost(fields.Decimal(as_string=True, allow_none=True))
    average_order_interval_days = fields.Decimal(as_string=True, allow_none=True)
    returns_rate = fields.Decimal(as_string=True, allow_none=True)
    satisfaction_average = fields.Decimal(as_string=True, allow_none=True)
    satisfaction_answers = fields.Integer()
    open_balance = Money(metadata={"description": "In the functional currency: foreign balances at their booked "
                                                  "values (open_balance_by_currency sets out each currency)."})
    open_balance_by_currency = fields.List(fields.Nested(OpenBalanceOut))
    average_days_to_pay = fields.Decimal(as_string=True, allow_none=True)
    rfm = fields.Nested(RfmOut, allow_none=True)


class KpiArgs(Schema):
    from_ = BookDate(data_key="from", metadata={"description": "First day; a year before `to` by default."})
    to = BookDate(metadata={"description": "Last day; today by default."})


class CycleDays(Schema):
    median = fields.Decimal(as_string=True, allow_none=True)
    p90 = fields.Integer(allow_none=True)
    orders = fields.Integer()


class MarginRow(Schema):
    month = Str()
    sku = Str()
    customer_id = fields.Integer()
    code = Str()
    revenue = Money()
    cogs = Money()
    margin = Money()


class Margins(Schema):
    by_month = fields.List(fields.Nested(MarginRow))
    by_product = fields.List(fields.Nested(MarginRow))
    by_customer = fields.List(fields.Nested(MarginRow))


class KpisOut(Schema):
    from_ = fields.Date(data_key="from")
    to = fields.Date()
    days = fields.Integer()
    invoiced = Money()
    receivables_start = Money()
    receivables_end = Money()
    current_receivables_end = Money()
    dso = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "Days sales outstanding."})
    cei = fields.Decimal(as_string=True, allow_none=True, metadata={"description": "Collection effectiveness, %."})
    o2c_cycle_days = fields.Nested(CycleDays)
    perfect_order_rate = fields.Decimal(as_string=True, allow_none=True)
    on_time_shipment_rate = fields.Decimal(as_string=True, allow_none=True)
    quote_win_rate = fields.Decimal(as_string=True, allow_none=True)
    repeat_purchase_rate = fields.Decimal(as_string=True, allow_none=True)
    gross_margin = reveals_cost(fields.Nested(Margins))


FIGURE = validate.OneOf(("dso", "cei", "o2c_cycle_days", "perfect_order_rate", "on_time_shipment_rate",
                         "repeat_purchase_rate", "gross_margin"))


class KpiDocumentsOut(Schema):
    figure = Str()
    columns = fields.List(Str())
    items = fields.List(fields.Dict())


class WinbackArgs(Schema):
    as_of = BookDate(metadata={"description": "The day to judge on; today by default."})
    factor = fields.Decimal(as_string=True, metadata={
        "pattern": r"^[0-9]{1,2}(\.[0-9]{1,2})?$",
        "description": "Lapsed after the usual interval × this factor (O2C_WINBACK_FACTOR by default)."})
    one_time_days = fields.Integer(validate=validate.Range(1, 3650), metadata={
        "description": "One-time buyers are lapsed after this many days (O2C_WINBACK_ONE_TIME_DAYS)."})


class Signal(Schema):
    type = Str(metadata={"description": "low_score, return, dunning or price_increase."})
    detail = Str()


class WinbackItem(Schema):
    customer_id = fields.Integer()
    code = Str()
    name = Str()
    orders = fields.Integer()
    last_order_on = fields.Date()
    usual_interval_days = fields.Decimal(as_string=True, allow_none=True)
    threshold_days = fields.Decimal(as_string=True)
    days_since = fields.Integer()
    signals = fields.List(fields.Nested(Signal))


class WinbackOut(Schema):
    items = fields.List(fields.Nested(WinbackItem))
    as_of = fields.Date()


class WinbackIn(Schema):
    percent_off = fields.Decimal(places=2, as_string=True, allow_none=True, load_default=None,
                                 metadata={"description": "10 % when neither this nor amount_off is given.",
                                           "pattern": PERCENT_PATTERN})
    amount_off = Money(allow_none=True, load_default=None)
    valid_days = fields.Integer(load_default=30, validate=validate.Range(1, 365))
    note = Str(validate=validate.Length(max=1000), load_default="")


class WinbackSentOut(Schema):
    customer_id = fields.Integer()
    coupon = fields.Nested(CouponOut)
    message_id = fields.Integer()


class FeedbackArgs(PageArgs):
    max_score = fields.Integer(validate=validate.Range(1, 5))
    from_ = BookDate(data_key="from")
    to = BookDate()


class FeedbackOut(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    shipment_id = fields.Integer()
    score = fields.Integer(allow_none=True)
    comment = Str(allow_none=True)
    answered_at = fields.DateTime(allow_none=True)


class TaskArgs(PageArgs):
    status = Str(validate=validate.OneOf(("open", "done")))


class TaskOut(Schema):
    id = fields.Integer()
    customer_id = fields.Integer()
    customer_code = Str()
    customer_name = Str()
    feedback_id = fields.Integer(allow_none=True)
    title = Str()
    status = Str()
    owner = Str(allow_none=True)
    due_date = fields.Date()
    note = Str(allow_none=True)
    score = fields.Integer(allow_none=True)
    comment = Str(allow_none=True)
    created_at = fields.DateTime()
    done_at = fields.DateTime(allow_none=True)


class TaskPatch(Schema):
    status = Str(validate=validate.OneOf(("open", "done")))
    owner = Str(validate=validate.Length(max=128), allow_none=True)
    note = Str(validate=validate.Length(max=4000), allow_none=True)
    due_date = BookDate()
