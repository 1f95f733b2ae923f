"""Schemas of cash application: matching, booking and ignoring statement
lines, and the rules (API.md § "Bank statements")."""
from __future__ import annotations

from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from o2c.schemas.api import AllocationIn, PaymentOut, Str, _text
from o2c.schemas.fields import Id


class MatchIn(Schema):
    allocations = fields.List(fields.Nested(AllocationIn), validate=validate.Length(min=1, max=500),
                              load_default=None, metadata={
                                  "description": "Invoices of any customers: one payment per customer."})
    customer_id = Id(load_default=None, metadata={
        "description": "Alone: the customer's open invoices oldest first, the rest credit. With allocations: "
                       "who gets what the allocations leave over (else the first allocation's customer)."})
    payment_id = Id(load_default=None, metadata={
        "description": "Alone: a payment booked before (typed in) that this line is the bank's report of; "
                       "the line is linked to it and nothing is posted."})

    @validates_schema
    def _one(self, data: dict[str, Any], **_: Any) -> None:
        if data.get("payment_id") is not None:
            if data.get("allocations") or data.get("customer_id") is not None:
                raise ValidationError("A payment_id stands alone: no allocations or customer_id with it.",
                                      "payment_id")
            return
        if not data.get("allocations") and data.get("customer_id") is None:
            raise ValidationError("Give allocations or a customer_id (or a payment_id).", "allocations")


class MatchOut(PaymentOut):
    line_id = fields.Integer()
    line_status = Str()
    payments = fields.List(fields.Nested(PaymentOut), metadata={
        "description": "Every payment the line became (one per customer); the first is this answer itself."})


class BookIn(Schema):
    account = Str(required=True, validate=validate.Regexp(r"^[0-9]{3,10}$"), metadata={"example": "6800"})
    description = Str(validate=validate.Length(max=255), load_default="")


class IgnoreIn(Schema):
    reason = _text(500, required=True)


class LineDecisionOut(Schema):
    id = fields.Integer()
    statement_id = fields.Integer()
    status = Str()
    rule = Str(allow_none=True)
    payment_id = fields.Integer(allow_none=True)
    payment_ids = fields.List(fields.Integer())
    refund_id = fields.Integer(allow_none=True)
    journal_entry_id = fields.Integer(allow_none=True)
    ignore_reason = Str(allow_none=True)
    decided_by = Str(allow_none=True)
    decided_at = fields.DateTime(allow_none=True)


class RuleOut(Schema):
    name = Str()
    position = fields.Integer()
    enabled = fields.Boolean()
    params = fields.Dict()
    updated_at = fields.DateTime(allow_none=True)
    updated_by = Str(allow_none=True)


class RuleList(Schema):
    items = fields.List(fields.Nested(RuleOut))


class RulePatch(Schema):
    position = fields.Integer(validate=validate.Range(1, 100))
    enabled = fields.Boolean()
    params = fields.Dict(keys=fields.String(validate=validate.Length(max=32)))


class ApplyIn(Schema):
    statement_id = Id(load_default=None)


class ApplyOut(Schema):
    matched = fields.Integer()
    suggested = fields.Integer()
    unmatched = fields.Integer()
