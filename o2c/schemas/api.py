"""Request and response schemas of the JSON API (API.md)."""
from __future__ import annotations

import copy
import datetime as dt
from decimal import Decimal
from typing import Any

from marshmallow import missing
from marshmallow import Schema, ValidationError, fields, post_dump, validate, validates_schema

from o2c.domain.currencies import ISO_4217
from o2c.domain.mailaddr import address_error, addresses_error
from o2c.schemas.fields import BookDate, ExchangeRate, Id, Money, Quantity, Rate, Text, Whole

Str = Text
LANGUAGES = ("en", "it", "pl", "ru", "de", "fr", "es")


def _in_places(schema: Schema, data: dict[str, Any], places: int) -> None:
    """Write the schema's amounts in ``data`` (and its nested lines') with
    ``places`` decimals; the ``functional_*`` ones are in the functional
    currency and keep two."""
    for name, field in schema.dump_fields.items():
        key = field.data_key or name
        value = data.get(key)
        if value is None or name.startswith("functional_"):
            continue
        if isinstance(field, Money):
            data[key] = f"{Decimal(value).quantize(Decimal(1).scaleb(-places)):f}"
        elif isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
            for item in value:
                _in_places(field.inner.schema, item, places)


class DocumentOut(Schema):
    """A document in a ``currency``: its amounts are written with that
    currency's decimals (JPY ``"14896"``, EUR and PLN ``"975.95"``), as the
    document states them."""

    @post_dump(pass_original=True)
    def _minor_units(self, data: dict[str, Any], original: Any, **_: Any) -> dict[str, Any]:
        currency = original.get("currency") if isinstance(original, dict) else getattr(original, "currency", None)
        places = ISO_4217.get(currency or "", 2)
        if places != 2:
            _in_places(self, data, places)
        return data


def _not_blank(value: str) -> None:
    """A name, address line or reference of white space alone names nothing
    (and an e-invoice without a buyer name breaks EN 16931 BR-07)."""
    if not value.strip():
        raise ValidationError("Enter more than white space.")


def _one_address(value: str) -> None:
    if value:
        problem = address_error(value) if not any(c in value for c in "\r\n,;") else (
            "One e-mail address, without line breaks, commas or semicolons.")
        if problem:
            raise ValidationError(problem)


def _addresses(value: str) -> None:
    problem = addresses_error(value)
    if problem:
        raise ValidationError(problem)


def _text(max_len: int = 255, **kw: Any) -> fields.String:
    return Str(validate=[validate.Length(min=1, max=max_len), _not_blank], **kw)


def reveals_cost(field: fields.Field) -> fields.Field:
    """Mark a field that tells what goods cost us (unit cost, stock value, the
    cost of returned goods): margins, which only roles with ``costs:read`` see
    (``for_reader``)."""
    field.reveals_cost = True  # type: ignore[attr-defined]
    field.metadata = {**field.metadata, "description": (
        (field.metadata.get("description", "") + " ").lstrip() + "Not shown to webshop keys.")}
    return field


class ErrorBody(Schema):
    code = Str(required=True)
    message = Str(required=True)
    details = fields.Dict()


class ErrorResponse(Schema):
    error = fields.Nested(ErrorBody, required=True)


class Address(Schema):
    name = _text(required=True)
    line1 = _text(required=True)
    line2 = Str(validate=validate.Length(max=255), allow_none=True, load_default=None, dump_default=None)
    city = _text(required=True)
    postal_code = _text(32, required=True)
    country = Str(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="Use an ISO 3166 alpha-2 code, e.g. IT."))


TAX_TREATMENTS = ("domestic", "intra_eu_b2b", "eu_distance_sale", "export", "exempt")
TAX_CLASSES = ("standard", "reduced", "super_reduced", "zero", "exempt")
VAT_CATEGORIES = ("S", "Z", "E", "K", "G", "AE", "O")


class VatIdCheck(Schema):
    """A VIES check made outside o2c, recorded on the customer."""

    status = Str(required=True, validate=validate.OneOf(("valid", "invalid", "unchecked")))
    checked_on = BookDate(allow_none=True, load_default=None)
    reference = Str(validate=validate.Length(max=64), allow_none=True, load_default=None,
                    metadata={"description": "The VIES consultation number."})


class CustomerIn(Schema):
    code = _text(64, required=True)
    name = _text(required=True)
    email = Str(validate=[validate.Length(max=255), _one_address], load_default="")
    invoice_email = Str(validate=[validate.Length(max=1000), _addresses], load_default="", metadata={
        "description": "Where invoices, credit notes, statements and letters are sent: one or more addresses "
                       "separated by commas; empty: email."})
    send_invoices = Str(load_default="manual", validate=validate.OneOf(("auto", "manual")), metadata={
        "description": "auto: invoices and credit notes are e-mailed when issued; manual: only when sent."})
    country = Str(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="Use an ISO 3166 alpha-2 code, e.g. IT."))
    language = Str(load_default="en", validate=validate.OneOf(LANGUAGES))
    tax_id = Str(validate=validate.Length(max=64), load_default="", metadata={
        "description": "The VAT id; in an EU member state checked for format and check digits."})
    customer_type = Str(validate=validate.OneOf(("business", "consumer")), load_default=None, metadata={
        "description": "Default: business when a tax_id is given, else consumer."})
    vat_id_check = fields.Nested(VatIdCheck, load_default=None, allow_none=True)
    payment_terms_days = Whole(load_default=30, validate=validate.Range(0, 365))
    credit_limit = Money(allow_none=True, load_default=None)
    currency = Str(load_default="EUR", validate=validate.Regexp(r"^[A-Z]{3}$"))
    billing_address = fields.Nested(Address, required=True)
    shipping_address = fields.Nested(Address, allow_none=True, load_default=None)
    channels = fields.List(
        Str(validate=[validate.Length(min=1, max=64), _not_blank]), load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "The webshop channels that may reference this customer in orders (a webshop "
                                 "key's channel is its name). A customer a webshop creates inline gets its "
                                 "channel; the back office shares others here."})


def patch_of(schema: type[Schema]) -> type[Schema]:
    """The same fields, none required and none defaulted: a PATCH changes only
    what it names."""
    declared = {}
    for name, field in schema._declared_fields.items():
        f = copy.deepcopy(field)
        f.required = False
        f.load_default = missing
        declared[name] = f
    return type(schema.__name__.removesuffix("In") + "Patch", (Schema,), declared)


CustomerPatch = patch_of(CustomerIn)


class CustomerOut(Schema):
    id = fields.Integer()
    code = Str()
    name = Str()
    email = Str()
    invoice_email = Str()
    send_invoices = Str()
    country = Str()
    language = Str()
    tax_id = Str()
    customer_type = Str()
    vat_id_check = fields.Nested(VatIdCheck)
    payment_terms_days = fields.Integer()
    credit_limit = Money(allow_none=True)
    currency = Str()
    billing_address = fields.Nested(Address)
    shipping_address = fields.Nested(Address, allow_none=True)
    channels = fields.List(Str(), metadata={"description": "The webshop channels that may reference it."})


class ProductIn(Schema):
    sku = Str(required=True, validate=validate.Regexp(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
                                                       error="Letters, digits, '.', '_' and '-', up to 64."))
    name = _text(required=True)
    unit_price = Money(required=True)
    vat_rate = Rate(required=True, metadata={"description": "The domestic rate."})
    tax_class = Str(load_default="standard", validate=validate.OneOf(TAX_CLASSES), metadata={
        "description": "Picks the rate of another member state (distance sales); zero and exempt are 0 %."})
    unit = Str(load_default="pcs", validate=validate.Length(min=1, max=16))
    active = fields.Boolean(load_default=True)


class ProductPatch(Schema):
    name = _text()
    unit_price = Money()
    vat_rate = Rate()
    tax_class = Str(validate=validate.OneOf(TAX_CLASSES))
    unit = Str(validate=validate.Length(min=1, max=16))
    active = fields.Boolean()


class ProductOut(Schema):
    sku = Str()
    name = Str()
    unit_price = Money()
    vat_rate = Rate()
    tax_class = Str()
    unit = Str()
    active = fields.Boolean()
    unit_cost = reveals_cost(Str(metadata={"description": "Moving-average unit cost, four decimals."}))


class StockReceiptIn(Schema):
    sku = _text(64, required=True)
    quantity = Quantity(required=True)
    unit_cost = Money(required=True)


class StockOut(Schema):
    sku = Str()
    on_hand = fields.Integer()
    reserved = fields.Integer()
    available = fields.Integer()
    unit_cost = reveals_cost(Str())
    value = reveals_cost(Money())


class StockReceiptOut(Schema):
    id = fields.Integer()
    document = Str()
    sku = Str()
    quantity = fields.Integer()
    unit_cost = reveals_cost(Money())
    value = reveals_cost(Money())
    stock = fields.Nested(StockOut)
    backorders_filled = fields.List(fields.Nested("BackorderFilled"), metadata={
        "description": "Open backorders this receipt reserved goods for, oldest first."})


class CustomerRef(Schema):
    """``{"id": …}``, ``{"code": …}``, or a whole new customer."""

    id = Id()
    code = _text(64)
    name = _text()
    email = Str(validate=[validate.Length(max=255), _one_address], load_default=None)
    country = Str(validate=validate.Regexp(r"^[A-Z]{2}$"))
    language = Str(validate=validate.OneOf(LANGUAGES))
    tax_id = Str(validate=validate.Length(max=64))
    customer_type = Str(validate=validate.OneOf(("business", "consumer")))
    payment_terms_days = Whole(validate=validate.Range(0, 365))
    credit_limit = Money(allow_none=True)
    currency = Str(validate=validate.Regexp(r"^[A-Z]{3}$"))
    billing_address = fields.Nested(Address)
    shipping_address = fields.Nested(Address, allow_none=True)

    @validates_schema
    def _one_way(self, data: dict[str, Any], **kwargs: Any) -> None:
        data = {k: v for k, v in data.items() if v is not None}
        if "name" in data:
            missing = [f for f in ("country", "billing_address") if f not in data]
            if missing:
                raise ValidationError({f: ["Required for a new customer."] for f in missing})
            if "id" in data:
                raise ValidationError({"id": ["Give an id, a code, or a new customer, not both."]})
        elif ("id" in data) == ("code" in data) or len(data) != 1:
            raise ValidationError({"_schema": ['Give {"id": …}, {"code": …}, or a new customer with a name.']})


class OrderLineIn(Schema):
    sku = _text(64, required=True)
    quantity = Quantity(required=True)
    unit_price = Money(allow_none=True)
    discount = Rate(load_default=None, allow_none=True)


class OrderIn(Schema):
    external_ref = Str(validate=validate.Length(min=1, max=128), allow_none=True, load_default=None)
    customer = fields.Nested(CustomerRef, required=True)
    currency = Str(validate=validate.Regexp(r"^[A-Z]{3}$"), load_default=None)
    lines = fields.List(fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=500))
    shipping_address = fields.Nested(Address, allow_none=True, load_default=None)
    confirm = fields.Boolean(load_default=False)
    allow_backorder = fields.Boolean(load_default=False, metadata={
        "description": "Confirm with what is in stock and keep the rest of each line backordered until goods "
                       "arrive, instead of refusing the confirmation out_of_stock."})
    coupon = Str(validate=validate.Length(min=1, max=64), load_default=None, allow_none=True, metadata={
        "description": "A coupon code: its discount is carried by the lines (line discounts); it is redeemed when "
                       "the order is confirmed. Unknown, used up, expired or another customer's: 409 "
                       "coupon_unavailable."})
    promised_date = fields.Date(load_default=None, allow_none=True, metadata={
        "description": "The date delivery was promised for (on-time shipment and perfect-order KPIs)."})


class OrderLineOut(Schema):
    line_no = fields.Integer()
    sku = Str()
    description = Str()
    quantity = fields.Integer()
    unit_price = Money()
    discount = Rate()
    vat_rate = Rate()
    vat_category = Str(metadata={"description": "UNCL 5305: S, Z, E, K, G, AE, O."})
    net = Money()
    reserved_quantity = fields.Integer()
    packed_quantity = fields.Integer()
    shipped_quantity = fields.Integer()
    invoiced_quantity = fields.Integer()
    returned_quantity = fields.Integer()
    cancelled_quantity = fields.Integer()
    backordered_quantity = fields.Integer(metadata={"description": "Confirmed, waiting for stock."})


class OrderOut(DocumentOut):
    id = fields.Integer()
    number = Str()
    status = Str()
    fulfillment_status = Str()
    payment_status = Str()
    channel = Str()
    external_ref = Str(allow_none=True)
    customer_id = fields.Integer()
    currency = Str()
    shipping_address = fields.Nested(Address, allow_none=True)
    tax_treatment = Str(metadata={"description": "domestic, intra_eu_b2b, eu_distance_sale, export or exempt."})
    tax_country = Str(metadata={"description": "Whose VAT applies."})
    lines = fields.List(fields.Nested(OrderLineOut))
    net_total = Money()
    vat_total = Money()
    total = Money()
    invoiced_total = Money()
    amount_paid = Money()
    balance_due = Money()
    shipment_ids = fields.List(fields.Integer())
    invoice_ids = fields.List(fields.Integer())
    created_at = fields.DateTime()
    confirmed_at = fields.DateTime(allow_none=True)
    allow_backorder = fields.Boolean()
    payment_terms_days = fields.Integer(allow_none=True, metadata={
        "description": "Terms agreed for this order (an accepted quotation's); null: the customer's."})
    coupon_id = fields.Integer(allow_none=True)
    promised_date = fields.Date(allow_none=True)


class SkuQuantity(Schema):
    sku = _text(64, required=True)
    quantity = Quantity(required=True)


class CancelIn(Schema):
    """No body (or no ``lines``): the whole order. With ``lines``: only that much
    of what is still open (not shipped) of a confirmed order."""

    lines = fields.List(fields.Nested(SkuQuantity), validate=validate.Length(min=1, max=500),
                        load_default=None, allow_none=True)


class BackorderFilled(Schema):
    order_id = fields.Integer()
    number = Str()
    sku = Str()
    line_no = fields.Integer()
    quantity = fields.Integer(metadata={"description": "Reserved for the line by this receipt."})
    still_backordered = fields.Integer()


class BackorderOut(Schema):
    order_id = fields.Integer()
    order_number = Str()
    line_no = fields.Integer()
    sku = Str()
    description = Str()
    ordered = fields.Integer()
    reserved = fields.Integer()
    waiting = fields.Integer(metadata={"description": "Backordered: confirmed, not yet reserved."})
    customer_id = fields.Integer()
    customer_code = Str()
    customer_name = Str()
    channel = Str()
    since = fields.DateTime(metadata={"description": "When the order was confirmed."})


class PackIn(Schema):
    lines = fields.List(fields.Nested(SkuQuantity), validate=validate.Length(min=1, max=500),
                        load_default=None, allow_none=True)


class ShipIn(Schema):
    carrier = _text(64, required=True)
    tracking_number = _text(128, required=True)


class ShipmentOut(Schema):
    id = fields.Integer()
    number = Str()
    order_id = fields.Integer()
    status = Str()
    lines = fields.List(fields.Nested(SkuQuantity))
    carrier = Str(allow_none=True)
    tracking_number = Str(allow_none=True)
    shipped_at = fields.DateTime(allow_none=True)
    invoice_id = fields.Integer(allow_none=True)
    created_at = fields.DateTime()


class InvoiceLineOut(Schema):
    sku = Str()
    description = Str()
    quantity = fields.Integer()
    unit_price = Money()
    discount = Rate()
    vat_rate = Rate()
    vat_category = Str()
    net = Money()


class VatOut(Schema):
    category = Str()
    rate = Rate()
    net = Money()
    vat = Money()
    functional_net = Money(metadata={"description": "In a document of another currency: the net in the "
                                                    "functional currency (converted and rounded)."})
    functional_vat = Money(metadata={"description": "In a document of another currency: the VAT in the "
                                                    "functional currency (where the law asks for it: Italy)."})
    exemption_reason_code = Str(metadata={"description": "VATEX code, for categories E, K, G."})
    exemption_reason = Str()


class InvoiceOut(DocumentOut):
    id = fields.Integer()
    number = Str()
    order_id = fields.Integer()
    customer_id = fields.Integer()
    shipment_id = fields.Integer(allow_none=True)
    status = Str()
    issue_date = BookDate()
    due_date = BookDate()
    currency = Str()
    lines = fields.List(fields.Nested(InvoiceLineOut))
    vat = fields.List(fields.Nested(VatOut))
    tax_treatment = Str(metadata={"description": "domestic, intra_eu_b2b, eu_distance_sale, export or exempt."})
    tax_country = Str(metadata={"description": "Whose VAT applies."})
    buyer_vat_id = Str()
    net_total = Money()
    vat_total = Money()
    total = Money()
    amount_paid = Money()
    credited_amount = Money()
    balance_due = Money()
    exchange_rate = ExchangeRate(metadata={
        "description": "Units of the currency per 1 unit of the functional currency, frozen at issue (1 in it).",
        "example": "4.2750"})
    functional_currency = Str(metadata={"example": "EUR"})
    functional_net_total = Money(metadata={"description": "Σ of the VAT rows' nets, each converted at the rate "
                                                          "and rounded to the cent."})
    functional_vat_total = Money(metadata={"description": "Σ of the VAT rows' VAT, each converted and rounded."})
    functional_total = Money(metadata={"description": "functional_net_total + functional_vat_total: what the "
                                                      "ledger posts as receivable."})


class AllocationIn(Schema):
    invoice_id = Id(required=True)
    amount = Money(required=True, positive=True)


class PaymentIn(Schema):
    customer_id = Id(required=True)
    amount = Money(required=True, positive=True)
    currency = Str(required=True, validate=validate.Regexp(r"^[A-Z]{3}$"))
    received_on = BookDate(required=True)
    method = Str(load_default="bank_transfer", validate=validate.Length(min=1, max=32))
    reference = _text(128, required=True)
    allocations = fields.List(fields.Nested(AllocationIn), validate=validate.Length(min=1, max=500),
                              load_default=None, allow_none=True)


class AllocationOut(Schema):
    invoice_id = fields.Integer()
    amount = Money()


class PaymentOut(DocumentOut):
    id = fields.Integer()
    number = Str()
    customer_id = fields.Integer()
    amount = Money()
    currency = Str()
    received_on = BookDate()
    method = Str()
    reference = Str()
    allocations = fields.List(fields.Nested(AllocationOut))
    unapplied = Money()
    status = Str(metadata={"description": "received, or reversed"})
    reversed_at = fields.DateTime(allow_none=True)
    reversal_reason = Str(allow_none=True)


class ReverseIn(Schema):
    reason = _text(500, required=True)


class CreditApplyIn(Schema):
    invoice_id = Id(required=True)
    amount = Money(required=True, positive=True)


class CreditReallocateIn(Schema):
    from_invoice_id = Id(required=True)
    to_invoice_id = Id(required=True)
    amount = Money(required=True, positive=True)


class CreditPaymentOut(Schema):
    payment_id = fields.Integer()
    number = Str()
    amount = Money()
    received_on = BookDate()
    unapplied = Money()


class CreditInvoiceOut(Schema):
    invoice_id = fields.Integer()
    number = Str()
    order_id = fields.Integer()
    status = Str()
    total = Money()
    amount_paid = Money()
    balance_due = Money()
    change = Money(metadata={"description": "What this correction added to (or took from) amount_paid."})


class CustomerCreditOut(Schema):
    customer_id = fields.Integer()
    credit = Money(metadata={"description": "Unapplied credit: the sum of the payments' unapplied amounts."})
    payments = fields.List(fields.Nested(CreditPaymentOut))
    invoices = fields.List(fields.Nested(CreditInvoiceOut))


# -- after-sales: returns, credit notes, refunds ------------------------------------

class ExchangeIn(Schema):
    lines = fields.List(fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=500))
    confirm = fields.Boolean(load_default=True)


class ReturnIn(Schema):
    lines = fields.List(fields.Nested(SkuQuantity), required=True, validate=validate.Length(min=1, max=500))
    restock = fields.Boolean(load_default=True)
    refund = Str(load_default="credit", validate=validate.OneOf(("credit", "bank")))
    exchange = fields.Nested(ExchangeIn, load_default=None, allow_none=True)


class ReturnLineOut(Schema):
    sku = Str()
    quantity = fields.Integer()
    cost = reveals_cost(Money())


class CreditNoteRef(Schema):
    id = fields.Integer()
    number = Str()
    total = Money()


class ReturnOut(Schema):
    id = fields.Integer()
    number = Str()
    order_id = fields.Integer()
    order_number = Str()
    customer_id = fields.Integer()
    status = Str()
    restock = fields.Boolean()
    refund = Str()
    lines = fields.List(fields.Nested(ReturnLineOut))
    cost = reveals_cost(Money())
    credit_note_ids = fields.List(fields.Integer())
    credit_notes = fields.List(fields.Nested(CreditNoteRef))
    credited_total = Money()
    exchange_order_id = fields.Integer(allow_none=True)
    exchange_order_number = Str(allow_none=True)
    created_by = Str()
    created_at = fields.DateTime()


class CreditNoteOut(DocumentOut):
    id = fields.Integer()
    number = Str()
    invoice_id = fields.Integer()
    invoice_number = Str()
    order_id = fields.Integer()
    customer_id = fields.Integer()
    return_id = fields.Integer(allow_none=True)
    issue_date = BookDate()
    currency = Str()
    lines = fields.List(fields.Nested(InvoiceLineOut))
    vat = fields.List(fields.Nested(VatOut))
    tax_treatment = Str(metadata={"description": "domestic, intra_eu_b2b, eu_distance_sale, export or exempt."})
    tax_country = Str(metadata={"description": "Whose VAT applies."})
    buyer_vat_id = Str()
    net_total = Money()
    vat_total = Money()
    total = Money()
    applied = Money()
    to_credit = Money()
    refunded = Money()
    created_at = fields.DateTime()
    exchange_rate = ExchangeRate(metadata={"description": "The invoice's frozen rate.", "example": "4.2750"})
    functional_currency = Str(metadata={"example": "EUR"})
    functional_net_total = Money()
    functional_vat_total = Money()
    functional_total = Money()


class RefundIn(Schema):
    customer_id = Id(required=True)
    amount = Money(required=True, positive=True)
    currency = Str(load_default="EUR", validate=validate.Regexp(r"^[A-Z]{3}$"))
    method = Str(load_default="bank_transfer", validate=validate.Length(min=1, max=32))


class RefundSourceOut(Schema):
    payment_id = fields.Integer()
    amount = Money()


class RefundOut(DocumentOut):
    id = fields.Integer()
    number = Str()
    customer_id = fields.Integer()
    order_id = fields.Integer(allow_none=True)
    credit_note_id = fields.Integer(allow_none=True)
    amount = Money()
    currency = Str()
    paid_on = BookDate()
    method = Str()
    sources = fields.List(fields.Nested(RefundSourceOut))
    created_at = fields.DateTime()


class ApplyCreditIn(Schema):
    amount = Money(positive=True, load_default=None, allow_none=True)


def signed_amount(amount: Decimal | None, currency: str | None) -> str | None:
    """A signed amount with its currency's decimals (``-975.95``, ``-14896``)."""
    if amount is None:
        return None
    places = ISO_4217.get(currency or "", 2)
    return f"{amount.quantize(Decimal(1).scaleb(-places)):f}"


class JournalLineOut(Schema):
    account = Str()
    debit = Money()
    credit = Money()
    currency = Str(metadata={"description": "The document's currency (the functional one for most lines)."})
    amount = fields.Function(lambda line: signed_amount(line.get("amount"), line.get("currency")), metadata={
        "type": "string", "example": "-975.95",
        "description": "The document's amount in its currency, signed (debit positive), with its decimals."})


class JournalEntryOut(Schema):
    id = fields.Integer()
    date = BookDate()
    period = Str()
    source_type = Str()
    source_id = fields.Integer()
    document = Str()
    customer_id = fields.Integer(allow_none=True)
    description = Str()
    lines = fields.List(fields.Nested(JournalLineOut))


class TrialBalanceAccount(Schema):
    code = Str()
    name = Str()
    type = Str()
    debit = Money()
    credit = Money()
    balance = Str()


class TrialBalanceOut(Schema):
    as_of = BookDate(allow_none=True)
    accounts = fields.List(fields.Nested(TrialBalanceAccount))
    total_debit = Money()
    total_credit = Money()
    balanced = fields.Boolean()


class ReconciliationCheck(Schema):
    name = Str()
    description = Str()
    left = Str()
    right = Str()
    left_label = Str(metadata={"description": "What the left side is, e.g. 'General ledger 1200'."})
    right_label = Str(metadata={"description": "What the right side is, e.g. 'Stock valuation'."})
    difference = Str()
    details = fields.Dict()


class ReconciliationOut(Schema):
    as_of = BookDate()
    ok = fields.Boolean()
    checks = fields.List(fields.Nested(ReconciliationCheck))


class PeriodOut(Schema):
    period = Str()
    closed = fields.Boolean()
    closed_at = fields.DateTime()
    closed_by = Str()


# -- query strings -------------------------------------------------------------

#: Opaque cursors (o2c.api.common.encode_cursor) are at most this long.
CURSOR_MAX = 256


class PageArgs(Schema):
    cursor = Str(validate=validate.Length(max=CURSOR_MAX),
                 metadata={"description": "The next_cursor of the previous page of this list."})
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class OrderListArgs(PageArgs):
    status = Str(validate=validate.OneOf(("draft", "confirmed", "completed", "cancelled")))
    customer_id = Id(strict=False)
    external_ref = Str(validate=validate.Length(max=128))


class BackorderListArgs(PageArgs):
    sku = Str(validate=validate.Length(max=64))
    customer_id = Id(strict=False)
    order_id = Id(strict=False)


class InvoiceListArgs(PageArgs):
    customer_id = Id(strict=False)
    status = Str(validate=validate.OneOf(("open", "partially_paid", "paid", "credited")))
    overdue = fields.Boolean(load_default=False)


class ReturnListArgs(PageArgs):
    order_id = Id(strict=False)
    customer_id = Id(strict=False)


class CreditNoteListArgs(PageArgs):
    order_id = Id(strict=False)
    invoice_id = Id(strict=False)
    customer_id = Id(strict=False)


class LedgerEntryArgs(PageArgs):
    from_ = BookDate(data_key="from")
    to = BookDate()
    account = Str(validate=validate.Length(max=16))
    source_type = Str(validate=validate.Length(max=32))
    source_id = Id(strict=False)

    @validates_schema
    def _source_id_needs_its_type(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("source_id") is not None and not data.get("source_type"):
            raise ValidationError({"source_type": ["Required with source_id: ids are numbered per kind of document."]})


class AsOfArgs(Schema):
    as_of = BookDate()


NEXT_CURSOR_DOC = ("Opaque: pass it as `cursor` for the next page of this same list (it works on no other); "
                   "null on the last page.")
HAS_MORE_DOC = "Whether another page follows this one."


def page_of(schema: type[Schema]) -> type[Schema]:
    """A list response: ``{"items": [...], "next_cursor": … | null, "has_more": bool}``."""
    return type(f"{schema.__name__.removesuffix('Out')}Page", (Schema,), {
        "items": fields.List(fields.Nested(schema)),
        "next_cursor": Str(allow_none=True, metadata={"description": NEXT_CURSOR_DOC}),
        "has_more": fields.Boolean(metadata={"description": HAS_MORE_DOC}),
    })


# -- what a reader sees ------------------------------------------------------------

def _nested_schema(field: fields.Field) -> type[Schema] | None:
    inner = field.inner if isinstance(field, fields.List) else field
    if not isinstance(inner, fields.Nested):
        return None
    nested = inner.nested
    if isinstance(nested, str):
        from marshmallow import class_registry
        nested = class_registry.get_class(nested)
    if isinstance(nested, Schema):
        return type(nested)
    return nested if isinstance(nested, type) and issubclass(nested, Schema) else None


def cost_paths(schema: type[Schema], prefix: str = "") -> list[str]:
    """Every field of ``schema`` marked ``reveals_cost``, nested ones dotted
    (``items.lines.cost``), as marshmallow's ``exclude`` takes them."""
    paths = []
    for name, field in schema._declared_fields.items():
        if getattr(field, "reveals_cost", False):
            paths.append(prefix + name)
        elif (nested := _nested_schema(field)) is not None:
            paths.extend(cost_paths(nested, f"{prefix}{name}."))
    return paths


_WITHOUT_COSTS: dict[tuple[type[Schema], bool], Schema] = {}


def for_reader(schema: Schema, sees_costs: bool) -> Schema:
    """The schema an answer is dumped with: as it is for a reader who may see
    costs, and without every cost field (nested ones too) for one who may not."""
    if sees_costs:
        return schema
    key = (type(schema), bool(schema.many))
    shaped = _WITHOUT_COSTS.get(key)
    if shaped is None:
        paths = cost_paths(type(schema))
        shaped = type(schema)(exclude=paths, many=schema.many) if paths else schema
        _WITHOUT_COSTS[key] = shaped
    return shaped


# -- API keys (administrators) ----------------------------------------------------

API_KEY_ROLES = ("webshop", "clerk", "accountant", "admin")
API_KEY_STATUSES = ("active", "expiring", "expired", "revoked")


class ApiKeyIn(Schema):
    name = _text(64, required=True, metadata={"description": "The key's name; a rotated key keeps it."})
    role = Str(required=True, validate=validate.OneOf(API_KEY_ROLES))
    channel = Str(validate=[validate.Length(min=1, max=64), _not_blank], load_default=None, allow_none=True,
                  metadata={"description": "The channel a webshop key orders for (default: the name). "
                                           "Several keys may serve one channel."})
    expires_at = fields.AwareDateTime(load_default=None, allow_none=True, default_timezone=dt.timezone.utc,
                                      metadata={"description": "When the key stops working (default: never)."})


class ApiKeyRotateIn(Schema):
    grace_minutes = fields.Integer(load_default=0, validate=validate.Range(0, 7 * 24 * 60),
                                   metadata={"description": "How long the old key keeps working (default 0: "
                                                            "revoked at once)."})


class ApiKeyOut(Schema):
    id = fields.Integer()
    name = Str()
    channel = Str()
    role = Str()
    prefix = Str(metadata={"description": "The key starts with o2c_<prefix>_: enough to recognise it."})
    status = Str(metadata={"description": "One of " + ", ".join(API_KEY_STATUSES) + " (expiring: revoked at a "
                                          "future moment, during a rotation's grace period)."})
    created_at = fields.DateTime()
    last_used_at = fields.DateTime(allow_none=True, metadata={"description": "Updated at most once a minute."})
    expires_at = fields.DateTime(allow_none=True)
    revoked_at = fields.DateTime(allow_none=True)


class ApiKeyWithSecret(ApiKeyOut):
    key = Str(allow_none=True, metadata={
        "description": "The key: shown only in this answer, never stored (only its hash is). A replay of the "
                       "same Idempotency-Key answers null here."})


class ApiKeyListArgs(PageArgs):
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 500))


ApiKeyPage = page_of(ApiKeyOut)


# -- tax ------------------------------------------------------------------------------

class CompanyOut(Schema):
    name = Str()
    address = Str()
    country = Str()
    vat_id = Str()
    iban = Str()
    bic = Str()
    currency = Str()
    oss_registered = fields.Boolean(metadata={
        "description": "Destination VAT on EU consumer sales from the first euro."})
    distance_sales_threshold = Money(metadata={"description": "EU-wide, a year."})


class CompanyPatch(Schema):
    name = _text()
    address = Str(validate=validate.Length(max=1000))
    country = Str(validate=validate.Regexp(r"^[A-Z]{2}$", error="Use an ISO 3166 alpha-2 code, e.g. IT."))
    vat_id = Str(validate=validate.Length(max=64))
    iban = Str(validate=validate.Length(max=34))
    bic = Str(validate=validate.Length(max=11))
    oss_registered = fields.Boolean()
    distance_sales_threshold = Money()


class TaxRateOut(Schema):
    country = Str()
    tax_class = Str()
    rate = Rate()
    valid_from = BookDate()
    valid_to = BookDate(allow_none=True)


class TaxRateIn(Schema):
    country = Str(required=True, validate=validate.Regexp(r"^[A-Z]{2}$", error="Use an ISO 3166 alpha-2 code."))
    tax_class = Str(required=True, validate=validate.OneOf(TAX_CLASSES[:-1]))
    rate = Rate(required=True)
    valid_from = BookDate(required=True)
    valid_to = BookDate(allow_none=True, load_default=None, metadata={"description": "The last day it applies."})


class TaxRateArgs(Schema):
    country = Str(validate=validate.Regexp(r"^[A-Z]{2}$"))
    on = BookDate()


class TaxRateList(Schema):
    items = fields.List(fields.Nested(TaxRateOut))


class TaxPreviewIn(Schema):
    customer = fields.Nested(CustomerRef, required=True)
    currency = Str(validate=validate.Regexp(r"^[A-Z]{3}$"), load_default=None, metadata={
        "description": "Any enabled currency; default: the customer's."})
    lines = fields.List(fields.Nested(OrderLineIn), required=True, validate=validate.Length(min=1, max=500))
    shipping_address = fields.Nested(Address, allow_none=True, load_default=None)


class TaxPreviewLine(Schema):
    sku = Str()
    quantity = fields.Integer()
    unit_price = Money()
    discount = Rate()
    net = Money()
    vat_category = Str()
    vat_rate = Rate()


class TaxPreviewOut(DocumentOut):
    currency = Str()
    tax_treatment = Str()
    tax_country = Str()
    lines = fields.List(fields.Nested(TaxPreviewLine))
    vat = fields.List(fields.Nested(VatOut))
    net_total = Money()
    vat_total = Money()
    total = Money()
    notes = fields.List(Str())
