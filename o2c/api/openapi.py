"""The OpenAPI document, completed in one place.

flask-smorest writes the paths, parameters and schemas from the views. This
module adds what an integrator and an SDK generator need and what would
otherwise be repeated on every view:

- an ``operationId`` per operation (the view function's name in camelCase),
  the summary and description from the view's docstring, the permission and
  roles it needs (``x-permission``, ``x-roles``, and a sentence), all taken
  from the ``requires`` decorator;
- the headers: ``Idempotency-Key`` on every POST, ``X-Request-Id`` on every
  answer, ``Idempotent-Replayed`` on POST answers, ``Retry-After`` on 429;
- every error status an operation can answer, with its error codes
  (:data:`CONFLICTS` and the rules in :func:`_errors`);
- the media types of every download (:data:`DOWNLOADS`);
- an example for every request and response body, built from the schema
  (field ``example`` metadata wins);
- the limits the server enforces on o2c's own fields (amounts, rates,
  quantities, ids, dates, text), from the same constants the fields check;
- the webhooks (OpenAPI 3.1 ``webhooks``): one per event type of
  :data:`o2c.domain.events.EVENT_TYPES`, with its payload and the
  ``O2C-Signature`` scheme.
"""
from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

from apispec import APISpec, BasePlugin
from flask import Flask
from marshmallow import fields as ma_fields
from marshmallow import validate

from o2c.api.errors import STATUS_OF
from o2c.domain.access import PERMISSIONS, ROLES
from o2c.domain.events import EVENT_TYPES
from o2c.domain.money import MAX_AMOUNT
from o2c.ledger.accounts import CODE_PATTERN as ACCOUNT_CODE
from o2c.schemas import fields
from o2c.services.sales.orders import FUNCTIONAL_CURRENCY

OPENAPI_VERSION = "3.1.0"
METHODS = ("get", "post", "put", "patch", "delete")
JSON = "application/json"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

#: What each download answers, by endpoint (blueprint.view).
DOWNLOADS: dict[str, tuple[str, ...]] = {
    "books.export_journal": ("text/csv", XLSX, "application/xml"),
    "books.export_trial_balance": ("text/csv", XLSX),
    "receivables.statement_pdf": ("application/pdf",),
    "receivables.letter_pdf": ("application/pdf",),
    "documents.invoice_pdf": ("application/pdf",),
    "documents.invoice_ubl": ("application/xml",),
    "returns.credit_note_pdf": ("application/pdf",),
    "returns.credit_note_ubl": ("application/xml",),
    "crm.export_kpi_figure": ("text/csv",),
}
#: Reports that answer JSON, and CSV with ``?format=csv``.
ALSO_CSV = ("books.vat_report", "books.ec_sales_list", "books.oss_return")

#: 409 codes per endpoint where the view's declared 409 does not name them.
#: Operations not listed here and not naming their codes may answer any of
#: the 409 codes (a generic but correct list).
CONFLICTS: dict[str, tuple[str, ...]] = {
    "catalog.create_customer": ("conflict",),
    "catalog.create_product": ("conflict",),
    "sales.record_payment": ("conflict",),
    "sales.invoice_order": ("invalid_transition", "period_closed"),
    "sales.cancel_shipment": ("invalid_transition",),
    "events.create_webhook": ("conflict",),
}
CONFLICT_CODES = tuple(code for code, status in STATUS_OF.items() if status == 409)

ERROR_MESSAGES = {
    "unauthorized": "Send your API key as `Authorization: Bearer <key>`.",
    "forbidden": "The webshop role may not do this (needs ledger:read).",
    "not_found": "Not found.",
    "validation_error": "The request has invalid fields: lines.",
    "idempotency_key_reused": "This Idempotency-Key was used with a different request.",
    "conflict": "A customer with this code already exists.",
    "invalid_transition": "An order in status shipped cannot be cancelled.",
    "out_of_stock": "Not enough stock for CHAIR-OAK.",
    "credit_limit_exceeded": "The order would exceed the customer's credit limit.",
    "period_closed": "The period 2026-01 is closed.",
    "rate_missing": "No PLN rate for 2026-12-06 nor for the 4 days before; record one first.",
    "currency_mismatch": "Payment PAY-2026-000012 is in PLN; invoice INV-2026-000045 is in EUR.",
    "bad_request": "The request body is not valid JSON.",
    "unsupported_media_type": "Send the request body as JSON with Content-Type: application/json.",
    "payload_too_large": "The request body is too large.",
    "rate_limited": "Too many requests: retry after the number of seconds in Retry-After.",
}
ERROR_DETAILS = {"validation_error": {"fields": {"lines": ["Missing data for required field."]}}}
STATUS_TEXT = {
    400: "The body is not valid JSON", 401: "No valid API key", 403: "The key's role may not do this",
    404: "Not found (or not visible to this key)", 409: "The request conflicts with the current state",
    413: "The body is too large", 415: "The body is not JSON", 422: "Invalid input",
    429: "Too many requests",
}

SECURITY_DESCRIPTION = (
    "An API key, sent as `Authorization: Bearer <key>`. Keys are created with `o2c create-api-key "
    "--name N --role R`; the role decides what the key may do: "
    + "; ".join(f"`{role}`" for role in ROLES)
    + ". Each operation states its permission (`x-permission`) and the roles that hold it (`x-roles`). "
    "A missing or invalid key is a 401, a role without the permission a 403.")

SIGNATURE_DESCRIPTION = (
    "o2c POSTs each event to the subscribed URL as JSON, the event exactly as `GET /api/v1/events/{id}` "
    "shows it, at least once, retried with backoff, in order per order. Every request is signed:\n\n"
    "    O2C-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<raw body>\")>\n\n"
    "`secret` is the webhook's signing secret (shown once when subscribing or rotating). During a "
    "rotation the header carries one `v1=` per valid secret: accept the request when any matches. "
    "Compare in constant time and refuse timestamps more than 5 minutes from your clock (replays). "
    "Answer 2xx within 10 seconds; anything else is retried.")

#: The ``data`` of each event type (what the service emits).
_ID = {"type": "integer", "minimum": 1}
_NUMBER = {"type": "string", "description": "The document number."}
_AMOUNT = {"type": "string", "pattern": r"^-?[0-9]+\.[0-9]{2}$", "example": "149.90"}
_LINES = {"type": "array", "items": {"type": "object", "properties": {
    "sku": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1}}}}


def _data(required: list[str], **props: Any) -> dict[str, Any]:
    return {"type": "object", "required": required, "properties": props}


_MESSAGE_EVENT: dict[str, Any] = {
    "message_id": _ID, "customer_id": _ID, "attempts": {"type": "integer", "minimum": 1},
    "kind": {"enum": ["invoice", "credit_note", "statement", "dunning_letter", "quotation", "follow_up", "winback"]},
    "to": {"type": "string", "description": "The recipients, comma-separated."},
    "document": {"type": ["object", "null"], "properties": {"type": {"type": "string"}, "id": _ID}},
}

EVENT_DATA: dict[str, dict[str, Any]] = {
    "order.created": _data(["order_id", "number", "status", "total"], order_id=_ID, number=_NUMBER,
                           external_ref={"type": ["string", "null"]}, total=_AMOUNT, status={
                               "enum": ["draft", "confirmed"],
                               "description": "confirmed when the order was created with confirm: true."}),
    "order.confirmed": _data(["order_id", "number", "status"], order_id=_ID, number=_NUMBER,
                             status={"const": "confirmed"}, backordered={
                                 "type": "array", "description": "Lines waiting for stock.",
                                 "items": {"type": "object", "properties": {
                                     "sku": {"type": "string"}, "line_no": {"type": "integer"},
                                     "quantity": {"type": "integer"}}}}),
    "order.cancelled": _data(["order_id", "number", "status"], order_id=_ID, number=_NUMBER,
                             status={"type": "string"}, shipments_cancelled={"type": "array"}),
    "order.completed": _data(["order_id", "number"], order_id=_ID, number=_NUMBER),
    "shipment.packed": _data(["shipment_id", "number", "order_id", "lines"], shipment_id=_ID, number=_NUMBER,
                             order_id=_ID, lines=_LINES),
    "shipment.shipped": _data(["shipment_id", "number", "order_id", "carrier", "tracking_number"],
                              shipment_id=_ID, number=_NUMBER, order_id=_ID, carrier={"type": "string"},
                              tracking_number={"type": "string"}, invoice_id={"type": ["integer", "null"]}),
    "shipment.cancelled": _data(["shipment_id", "number", "order_id"], shipment_id=_ID, number=_NUMBER,
                                order_id=_ID),
    "invoice.issued": _data(["invoice_id", "number", "order_id", "total", "due_date"], invoice_id=_ID,
                            number=_NUMBER, order_id=_ID, total=_AMOUNT,
                            due_date={"type": "string", "format": "date"}),
    "invoice.paid": _data(["invoice_id", "number", "order_id"], invoice_id=_ID, number=_NUMBER, order_id=_ID),
    "payment.received": _data(["payment_id", "number", "amount"], payment_id=_ID, number=_NUMBER,
                              order_id=_ID, amount=_AMOUNT),
    "bank_line.matched": _data(["line_id", "statement_id", "rule", "amount", "payment_ids"], line_id=_ID,
                               statement_id=_ID, rule={"type": ["string", "null"]}, amount=_AMOUNT,
                               payment_ids={"type": "array", "items": _ID},
                               refund_id={"type": ["integer", "null"]}),
    "return.received": _data(["return_id", "number", "order_id", "lines"], return_id=_ID, number=_NUMBER,
                             order_id=_ID, lines={"type": "array"}, restock={"type": "boolean"},
                             refund={"type": ["string", "null"]},
                             exchange_order_id={"type": ["integer", "null"]}),
    "credit_note.issued": _data(["credit_note_id", "number", "invoice_id", "order_id", "total"],
                                credit_note_id=_ID, number=_NUMBER, invoice_id=_ID, invoice_number=_NUMBER,
                                order_id=_ID, return_id={"type": ["integer", "null"]}, total=_AMOUNT,
                                applied=_AMOUNT, to_credit=_AMOUNT),
    "order.lines_cancelled": _data(["order_id", "number", "lines", "total"], order_id=_ID, number=_NUMBER,
                                   lines={"type": "array"}, total=_AMOUNT, shipments_cancelled={"type": "array"}),
    "customer_credit.applied": _data(["invoice_id", "invoice_number", "order_id", "amount", "payments"], invoice_id=_ID,
                                     invoice_number=_NUMBER, order_id=_ID, amount=_AMOUNT, payments={
                                         "type": "array", "description": "The payments whose credit moved.",
                                         "items": {"type": "object", "properties": {
                                             "payment_id": _ID, "amount": _AMOUNT}}}),
    "customer_credit.released": _data(["invoice_id", "invoice_number", "order_id", "amount", "payments"], invoice_id=_ID,
                                     invoice_number=_NUMBER, order_id=_ID, amount=_AMOUNT, payments={
                                         "type": "array", "description": "The payments whose credit moved.",
                                         "items": {"type": "object", "properties": {
                                             "payment_id": _ID, "amount": _AMOUNT}}}),
    "order.backorder_reserved": _data(["order_id", "number"], order_id=_ID, number=_NUMBER),
    "payment.reversed": _data(["payment_id", "number", "reason"], payment_id=_ID, number=_NUMBER,
                              reason={"type": "string"}, order_id=_ID, amount=_AMOUNT),
    "dunning.notice": _data(["letter_id", "number", "customer_id", "level"], letter_id=_ID, number=_NUMBER,
                            customer_id=_ID, level={"type": "integer"}, level_name={"type": "string"},
                            as_of={"type": "string", "format": "date"}, total=_AMOUNT,
                            invoices={"type": "array"}),
    "message.sent": _data(["message_id", "kind", "customer_id", "to"], **_MESSAGE_EVENT),
    "message.failed": _data(["message_id", "kind", "customer_id", "to", "error"], **_MESSAGE_EVENT,
                            error={"type": "string", "description": "The mail server's answer."}),
    "refund.paid": _data(["refund_id", "number", "customer_id", "amount"], refund_id=_ID, number=_NUMBER,
                         customer_id=_ID, order_id={"type": ["integer", "null"]},
                         credit_note_id={"type": ["integer", "null"]}, amount=_AMOUNT),
    "bank_statement.imported": _data(
        ["statement_id", "account_iban", "statement_ref", "from_date", "to_date", "line_count", "continuity"],
        statement_id=_ID, account_iban={"type": "string"}, statement_ref={"type": "string"},
        from_date={"type": "string", "format": "date"}, to_date={"type": "string", "format": "date"},
        closing_balance={"type": ["string", "null"]}, line_count={"type": "integer"},
        continuity={"enum": ["ok", "gap", "overlap"]}),
    "quote.sent": _data(["quote_id", "number", "revision", "total"], quote_id=_ID, number=_NUMBER,
                        revision={"type": "integer"}, label={"type": "string"}, total=_AMOUNT,
                        valid_until={"type": "string", "format": "date"}),
    "quote.revised": _data(["quote_id", "number", "revision", "total"], quote_id=_ID, number=_NUMBER,
                           revision={"type": "integer"}, label={"type": "string"}, total=_AMOUNT),
    "quote.accepted": _data(
        ["quote_id", "number", "revision", "order_id", "order_status"], quote_id=_ID, number=_NUMBER,
        revision={"type": "integer"}, order_id=_ID, order_number={"type": "string"},
        order_status={"enum": ["confirmed", "draft"],
                      "description": "draft when stock or credit refused the confirmation (see refused)."},
        refused={"type": "string", "description": "Why the order stayed a draft."},
        accepted_by={"type": "string"}, optional_skus={"type": "array", "items": {"type": "string"}},
        total=_AMOUNT),
    "quote.declined": _data(["quote_id", "number", "reason"], quote_id=_ID, number=_NUMBER,
                            revision={"type": "integer"}, reason={"type": "string"},
                            comment={"type": ["string", "null"]}),
    "quote.expired": _data(["quote_id", "number"], quote_id=_ID, number=_NUMBER, revision={"type": "integer"},
                           valid_until={"type": "string", "format": "date"}),
}


#: Path segments the views check themselves (the converters' own limits are
#: registered in :func:`init_app`).
PATH_PATTERNS = {
    "period": r"^(000[1-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-9][0-9]{3})-(0[1-9]|1[0-2])$",
    "code": "^" + ACCOUNT_CODE.pattern + "$",
}
#: Rules between fields that marshmallow checks in ``validates_schema``.
SCHEMA_RULES: dict[str, dict[str, Any]] = {
    "CustomerRef": {"oneOf": [
        {"required": ["id"], "maxProperties": 1, "description": "An existing customer by id."},
        {"required": ["code"], "maxProperties": 1, "description": "An existing customer by code."},
        {"required": ["name", "country", "billing_address"], "not": {"required": ["id"]},
         "description": "A new customer (an existing code is used as it is)."},
    ]},
}


_ADDRESS = {"name": "Rossi Arredamenti", "line1": "Via Roma 1", "city": "Milano", "postal_code": "20121",
            "country": "IT"}
#: Examples of the request bodies, written to work one after the other on
#: a new database (customer 1 is C-ROSSI, invoice 1 its first invoice).
REQUEST_EXAMPLES: dict[str, Any] = {
    "CustomerIn": {"code": "C-ROSSI", "name": "Rossi Arredamenti", "email": "ordini@rossi.example", "country": "IT",
                   "language": "it", "payment_terms_days": 30, "credit_limit": "5000.00",
                   "billing_address": _ADDRESS},
    "CustomerPatch": {"email": "amministrazione@rossi.example", "payment_terms_days": 60},
    "ProductIn": {"sku": "CHAIR-OAK", "name": "Oak chair", "unit_price": "149.90", "vat_rate": "0.22"},
    "ProductPatch": {"unit_price": "159.90"},
    "StockReceiptIn": {"sku": "CHAIR-OAK", "quantity": 20, "unit_cost": "62.50"},
    "OrderIn": {"customer": {"code": "C-ROSSI"}, "external_ref": "SHOP-1001",
                "lines": [{"sku": "CHAIR-OAK", "quantity": 4}], "confirm": True},
    "CancelIn": {"lines": [{"sku": "CHAIR-OAK", "quantity": 1}]},
    "PackIn": {"lines": [{"sku": "CHAIR-OAK", "quantity": 2}]},
    "ShipIn": {"carrier": "DHL", "tracking_number": "JD0001234567"},
    "PaymentIn": {"customer_id": 1, "amount": "100.00", "currency": "EUR", "received_on": "2026-01-20",
                  "reference": "BANK-2026-0001", "allocations": [{"invoice_id": 1, "amount": "100.00"}]},
    "ReopenIn": {"reason": "Supplier invoice booked late"},
    "AccountIn": {"code": "4010", "name": "Revenue, online shop", "type": "revenue"},
    "AccountPatch": {"name": "Revenue, web shop"},
    "DunningRunIn": {"as_of": "2026-03-31", "thresholds": [7, 21, 45]},
    "WebhookIn": {"url": "https://shop.example/hooks/o2c", "event_types": ["order.*", "shipment.shipped"],
                  "description": "Order updates for the shop"},
    "WebhookPatch": {"event_types": ["shipment.*", "invoice.paid"]},
    "ReverseIn": {"reason": "The transfer was recalled by the bank"},
    "CreditApplyIn": {"invoice_id": 1, "amount": "50.00"},
    "CreditReallocateIn": {"from_invoice_id": 1, "to_invoice_id": 2, "amount": "50.00"},
    "ReturnIn": {"lines": [{"sku": "CHAIR-OAK", "quantity": 1}], "restock": True, "refund": "credit"},
    "TaxPreviewIn": {"customer": {"code": "C-ROSSI"}, "lines": [{"sku": "CHAIR-OAK", "quantity": 2}]},
    "TaxRateIn": {"country": "DE", "tax_class": "standard", "rate": "0.19", "valid_from": "2030-01-01"},
    "CompanyPatch": {"oss_registered": True},
    "RefundIn": {"customer_id": 1, "amount": "50.00", "currency": "EUR"},
    "ApplyCreditIn": {"amount": "50.00"},
    "QuoteIn": {"customer": {"code": "C-ROSSI"}, "valid_until": "2026-02-28", "payment_terms_days": 60,
                "delivery_terms": "DAP Milano, within 3 weeks",
                "lines": [{"sku": "CHAIR-OAK", "quantity": 12, "discount": "0.05"},
                          {"sku": "CUSHION", "quantity": 12, "optional": True}]},
    "QuotePatch": {"payment_terms_days": 45, "lines": [{"sku": "CHAIR-OAK", "quantity": 12, "discount": "0.08"}]},
    "QuoteAcceptIn": {"accepted_by": "Giulia Rossi", "purchase_order": "PO-2026-118", "optional_skus": ["CUSHION"]},
    "QuoteDeclineIn": {"reason": "price", "comment": "A competitor offered 10 % less."},
}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def roles_for(permission: str | None) -> list[str]:
    if permission is None:
        return list(ROLES)
    return [role for role in ROLES if permission in PERMISSIONS.get(role, frozenset())]


# -- limits of o2c's own fields, stated from the constants the fields check ---------------------

def _field_limits() -> Callable[..., dict[str, Any]]:
    def limits(_converter: Any, field: ma_fields.Field, **_: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if isinstance(field, fields.Money):
            low = "1" if field.positive or not field.allow_zero else "0"
            out = {"type": ["string", "integer"], "pattern": field.pattern_for(), "minimum": int(low),
                   "maximum": int(MAX_AMOUNT), "format": "decimal", "example": "149.90",
                   "description": field.metadata.get("description", "") + (
                       " " if field.metadata.get("description") else "")
                   + f"An amount as a string with at most two decimals, {low} to {MAX_AMOUNT}."}
        elif isinstance(field, fields.Rate):
            out = {"type": ["string", "integer"], "pattern": fields.RATE_PATTERN, "minimum": 0, "maximum": 0,
                   "format": "decimal", "example": "0.22"}
        elif isinstance(field, fields.Quantity):
            out = {"minimum": fields.Quantity.MIN, "maximum": fields.Quantity.MAX}
        elif isinstance(field, fields.Id):
            out = {"minimum": 1, "maximum": fields.MAX_ID}
        elif isinstance(field, ma_fields.Decimal) and field.as_string:
            out = {"type": ["string"], "format": "decimal",
                   "pattern": field.metadata.get("pattern", r"^-?[0-9]+(\.[0-9]+)?$"),
                   "example": field.metadata.get("example", "10")}
        elif isinstance(field, fields.BookDate):
            out = {"pattern": fields.BookDate.PATTERN}
        elif (isinstance(field, fields.Text) and "pattern" not in field.metadata
              and not any(isinstance(v, validate.Regexp) for v in field.validators)):
            blank_refused = any(getattr(v, "__name__", "") == "_not_blank" for v in field.validators)
            out = {"pattern": fields.NOT_BLANK_TEXT_PATTERN if blank_refused else fields.TEXT_PATTERN}
        if field.allow_none and isinstance(out.get("type"), list):
            out["type"] = [*out["type"], "null"]
        return out
    return limits


# -- per operation: ids, docs, roles, headers, errors, downloads ---------------------------------

def _docs(view: Callable[..., Any]) -> tuple[str, str]:
    """The summary (the docstring's first sentence) and the rest, in Markdown."""
    text = re.sub(r"``([^`]+)``", r"`\1`", (view.__doc__ or "").strip())  # reST literals
    paragraphs = [" ".join(line.strip() for line in p.splitlines()) for p in re.split(r"\n\s*\n", text) if p]
    if not paragraphs:
        return "", ""
    first, _, rest = re.sub(r"\.$", "", paragraphs[0]).partition(". ")
    if len(first) > 100 and ": " in first:  # a long first sentence: its head is the summary
        first, _, tail = first.partition(": ")
        rest = tail[:1].upper() + tail[1:] + (". " + rest if rest else "")
    return first, " ".join(part for part in (rest and rest + ".", *paragraphs[1:]) if part).strip()


def _error(status: int, codes: list[str], extra: str = "") -> dict[str, Any]:
    desc = STATUS_TEXT.get(status, "Error") + ": " + ", ".join(f"`{c}`" for c in codes) + "." + extra
    examples = {code: {"summary": code, "value": {"error": {
        "code": code, "message": ERROR_MESSAGES.get(code, code), "details": ERROR_DETAILS.get(code, {})}}}
        for code in codes}
    response: dict[str, Any] = {
        "description": desc, "x-error-codes": codes,
        "headers": {"X-Request-Id": {"$ref": "#/components/headers/X-Request-Id"}},
        "content": {JSON: {"schema": {"$ref": "#/components/schemas/Error"}, "examples": examples}}}
    if status == 429:
        response["headers"]["Retry-After"] = {"$ref": "#/components/headers/Retry-After"}
    return response


def _conflicts(endpoint: str, declared: dict[str, Any] | None) -> list[str]:
    if endpoint in CONFLICTS:
        return list(CONFLICTS[endpoint])
    text = (declared or {}).get("description", "")
    named = [code for code in CONFLICT_CODES if re.search(rf"\b{code}\b", text)]
    return named or list(CONFLICT_CODES)


def _errors(endpoint: str, method: str, path: str, op: dict[str, Any], permission: str | None) -> dict[int, list[str]]:
    has_body = "requestBody" in op
    errors: dict[int, list[str]] = {401: ["unauthorized"]}
    if len(roles_for(permission)) < len(ROLES) or "403" in op["responses"]:
        errors[403] = ["forbidden"]
    if "{" in path or method != "get":
        errors[404] = ["not_found"]
    if "409" in op["responses"] or method in ("post", "patch", "delete"):
        errors[409] = _conflicts(endpoint, op["responses"].get("409"))
    if has_body:
        errors[400] = ["bad_request"]
        errors[413] = ["payload_too_large"]
        errors[415] = ["unsupported_media_type"]
    # Every operation can be a 422: a query parameter with a control
    # character (o2c.inputs), an unknown one, an invalid Idempotency-Key.
    errors[422] = ["validation_error", "idempotency_key_reused"] if method == "post" else ["validation_error"]
    if method == "post" and path in CURRENCY_MISMATCH_PATHS:
        errors[422].append("currency_mismatch")
    errors[429] = ["rate_limited"]
    return errors


#: Where money in one currency meets a document in another.
CURRENCY_MISMATCH_PATHS = frozenset({"/api/v1/payments"})

IDEMPOTENCY_KEY = {
    "description": "Makes a POST safe to retry: at most one effect per key and API key. The same key with "
                   "the same request answers the stored first answer again; with another method, path or body "
                   "it is a 422 `idempotency_key_reused`.",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[\\x20-\\x7e]+$",
               "example": "7d1c2a9e-5f3b-4f1e-9a55-0c3f6b2d8e41"}}
HEADERS = {
    "X-Request-Id": {"description": "The request's id, as in o2c's request log: quote it in a support request. "
                                    "An `X-Request-Id` you send (1 to 64 printable ASCII characters) is used "
                                    "instead of a new one.",
                     "schema": {"type": "string"}},
    "Idempotent-Replayed": {"description": "`true` when this answer is the stored answer to an earlier request "
                                           "with the same `Idempotency-Key`.",
                            "schema": {"type": "string", "enum": ["true"]}},
    "Retry-After": {"description": "Seconds to wait before the next request.",
                    "schema": {"type": "integer", "minimum": 0}},
}


class OperationDocs(BasePlugin):
    """Completes each operation as flask-smorest registers it."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.operation_ids: set[str] = set()

    def init_spec(self, spec: APISpec) -> None:
        self.spec = spec
        spec.components.parameter("Idempotency-Key", "header", IDEMPOTENCY_KEY)
        for name, header in HEADERS.items():
            spec.components.header(name, header)

    def operation_helper(self, path: str | None = None, operations: dict[str, Any] | None = None,
                         **kwargs: Any) -> None:
        rule = kwargs.get("rule")
        if rule is None or not operations:
            return
        view = self.app.view_functions[rule.endpoint]
        permission = getattr(view, "required_permission", None)
        roles = roles_for(permission)
        name = rule.endpoint.rpartition(".")[2]
        methods = [m for m in operations if m in METHODS]
        for method in methods:
            op = operations[method]
            op["responses"] = {str(k): v for k, v in op.get("responses", {}).items()}
            op_id = camel(name) if len(methods) == 1 else camel(f"{method}_{name}")
            if op_id in self.operation_ids:  # two blueprints with a view of one name
                op_id = camel(f"{rule.endpoint.partition('.')[0]}_{op_id}")
            self.operation_ids.add(op_id)
            op["operationId"] = op_id
            summary, rest = _docs(view)
            if summary:
                op["summary"] = summary
            who = (f"Requires the permission `{permission}`: roles {', '.join(roles)}." if permission
                   else "Any valid API key.")
            parts = [rest, who]
            if method == "post":
                parts.append("Send an `Idempotency-Key` to make a retry safe: the same key with the same body "
                             "answers the first answer again (`Idempotent-Replayed: true`); with another body "
                             "it is a 422 `idempotency_key_reused`.")
            op["description"] = "\n\n".join(p for p in parts if p)
            op["x-permission"] = permission
            op["x-roles"] = roles
            if method == "post":
                op.setdefault("parameters", []).append("Idempotency-Key")
            if rule.endpoint in DOWNLOADS:
                ok = op["responses"].setdefault("200", {"description": "The document"})
                ok["content"] = {t: {"schema": {"type": "string", "format": "binary"}}
                                 for t in DOWNLOADS[rule.endpoint]}
            if rule.endpoint in ALSO_CSV:
                ok = op["responses"]["200"]
                ok.setdefault("content", {})["text/csv"] = {"schema": {"type": "string"}}
            for status, codes in _errors(rule.endpoint, method, path or "", op, permission).items():
                op["responses"][str(status)] = _error(status, codes)
            op["responses"].pop("default", None)
            for status, response in op["responses"].items():
                if isinstance(response, dict) and "$ref" not in response:
                    headers = response.setdefault("headers", {})
                    headers.setdefault("X-Request-Id", {"$ref": "#/components/headers/X-Request-Id"})
                    if method == "post" and status.startswith("2"):
                        headers["Idempotent-Replayed"] = {"$ref": "#/components/headers/Idempotent-Replayed"}


# -- the whole document: components, examples, webhooks ------------------------------------------

SAMPLES = {
    "sku": "CHAIR-OAK", "code": "C-ROSSI", "currency": "EUR", "country": "IT", "language": "it",
    "email": "ordini@rossi.example", "name": "Rossi Arredamenti", "city": "Milano", "line1": "Via Roma 1",
    "postal_code": "20121", "carrier": "DHL", "tracking_number": "JD0001234567", "reason": "Customer request",
    "url": "https://shop.example/hooks/o2c", "description": "Order updates for the shop",
    "tax_id": "IT12345678901", "external_ref": "SHOP-1001", "reference": "BANK-2026-0001",
    "status": None, "cursor": None, "next_cursor": None, "number": "SO-2026-000001",
}
FORMATS = {"date": "2026-01-15", "date-time": "2026-01-15T09:30:00+00:00", "email": "ordini@rossi.example",
           "uri": "https://shop.example/hooks/o2c", "url": "https://shop.example/hooks/o2c"}


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components.get(schema["$ref"].rsplit("/", 1)[1], {})
    return schema


def example_of(schema: dict[str, Any], components: dict[str, Any], name: str = "", depth: int = 0,
               reading: bool = True) -> Any:
    """A value valid for ``schema``: its ``example``, or one built from its parts."""
    schema = _resolve(schema, components)
    if "example" in schema:
        return schema["example"]
    if schema.get("examples"):
        return schema["examples"][0]
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return next((v for v in schema["enum"] if v is not None), schema["enum"][0])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            options = [_resolve(s, components) for s in schema[key]]
            options = [s for s in options if s.get("type") != "null"] or options
            if key == "allOf":
                merged: dict[str, Any] = {}
                for s in options:
                    value = example_of(s, components, name, depth + 1, reading)
                    if isinstance(value, dict):
                        merged.update(value)
                return merged
            return example_of(options[0], components, name, depth + 1, reading)
    types = schema.get("type", "object")
    types = [types] if isinstance(types, str) else [t for t in types if t != "null"] or ["null"]
    kind = types[0]
    if kind == "object":
        if depth > 6:
            return {}
        out = {}
        for prop, sub in schema.get("properties", {}).items():
            resolved = _resolve(sub, components)
            if resolved.get("readOnly") and not reading or resolved.get("writeOnly") and reading:
                continue
            out[prop] = example_of(sub, components, prop, depth + 1, reading)
        return out
    if kind == "array":
        item = example_of(schema.get("items", {}), components, name.rstrip("s"), depth + 1, reading)
        return [item] * max(1, schema.get("minItems", 1)) if depth <= 6 else []
    if kind in ("integer", "number"):
        low = schema.get("minimum", 1)
        high = schema.get("maximum", max(low, 1))
        return min(max(low, 1), high)
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    if schema.get("format") in FORMATS:
        value = FORMATS[schema["format"]]
    elif SAMPLES.get(name):
        value = SAMPLES[name]
    else:
        value = name or "text"
    low, high = schema.get("minLength", 0), schema.get("maxLength", 10_000)
    if not low <= len(value) <= high:
        value = (value * (low // max(len(value), 1) + 1))[:high] if len(value) < low else value[:high]
    return value


def _complete(doc: dict[str, Any]) -> dict[str, Any]:
    components = doc.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = {
        "type": "object", "required": ["error"], "description": "Every error answer (API.md, Errors).",
        "properties": {"error": {"type": "object", "required": ["code", "message", "details"], "properties": {
            "code": {"type": "string", "description": "Stable, machine-readable: branch on this."},
            "message": {"type": "string", "description": "For people; may change."},
            "details": {"type": "object", "description": "422 `validation_error`: `fields` maps each "
                                                         "invalid field to its messages."}}}},
        "example": {"error": {"code": "not_found", "message": "Not found.", "details": {}}}}
    components["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer",
                                                "description": SECURITY_DESCRIPTION}}
    for name, rule in SCHEMA_RULES.items():
        if name in schemas:
            schemas[name].update(rule)
    patterns = {"type": "string", "enum": [*EVENT_TYPES, *sorted({t.split(".")[0] + ".*" for t in EVENT_TYPES}),
                                           "*"]}
    for name in ("WebhookIn", "WebhookPatch"):
        if name in schemas:
            schemas[name]["properties"]["event_types"]["items"] = patterns
    for name in ("OrderIn", "PaymentIn", "RefundIn"):  # the services take the functional currency only
        prop = schemas.get(name, {}).get("properties", {}).get("currency")
        if prop is not None:
            nullable = "null" in (prop.get("type") if isinstance(prop.get("type"), list) else [])
            prop["enum"] = [FUNCTIONAL_CURRENCY, None] if nullable else [FUNCTIONAL_CURRENCY]
    for name, example in REQUEST_EXAMPLES.items():
        if name in schemas:
            schemas[name]["example"] = example
    for path_item in doc.get("paths", {}).values():
        for parameter in path_item.get("parameters", []):
            if parameter.get("in") == "path" and parameter["name"] in PATH_PATTERNS:
                parameter["schema"]["pattern"] = PATH_PATTERNS[parameter["name"]]
        for method, op in path_item.items():
            if method not in METHODS:
                continue
            media = op.get("requestBody", {}).get("content", {}).get(JSON)
            if method == "patch" and media:
                # The server refuses a PATCH that changes nothing (o2c.inputs).
                _resolve(media["schema"], schemas)["minProperties"] = 1
                op["requestBody"]["required"] = True
            if media and "schema" in media and "example" not in media:
                media["example"] = example_of(media["schema"], schemas, reading=False)
            for response in op.get("responses", {}).values():
                media = response.get("content", {}).get(JSON) if isinstance(response, dict) else None
                if media and "schema" in media and "example" not in media and "examples" not in media:
                    media["example"] = example_of(media["schema"], schemas)
    schemas["Event"] = {
        "type": "object", "required": ["id", "type", "channel", "order_id", "created_at", "data"],
        "description": "An event as the feed shows it and as a webhook receives it.",
        "properties": {"id": _ID, "type": {"type": "string", "description": "One of the webhooks' names."},
                       "channel": {"type": "string"}, "order_id": {"type": ["integer", "null"]},
                       "created_at": {"type": "string", "format": "date-time"}, "data": {"type": "object"}}}
    webhooks: dict[str, Any] = {}
    for event_type in EVENT_TYPES:
        name = "".join(part.capitalize() for part in re.split(r"[._]", event_type)) + "Event"
        schemas[name] = {"allOf": [{"$ref": "#/components/schemas/Event"}, {
            "type": "object", "properties": {"type": {"const": event_type}, "data": EVENT_DATA[event_type]}}]}
        data = example_of(EVENT_DATA[event_type], schemas)
        webhooks[event_type] = {"post": {
            "operationId": camel("on_" + event_type.replace(".", "_")),
            "summary": f"The `{event_type}` event",
            "description": SIGNATURE_DESCRIPTION,
            "tags": ["webhooks"],
            "security": [],
            "parameters": [{"name": "O2C-Signature", "in": "header", "required": True,
                            "description": "`t=<unix seconds>,v1=<hex HMAC-SHA256(secret, \"<t>.<body>\")>`",
                            "schema": {"type": "string", "example": "t=1768469400,v1=5257a869e7ecebeda32affa6"
                                                                    "2cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"}}],
            "requestBody": {"required": True, "content": {JSON: {
                "schema": {"$ref": f"#/components/schemas/{name}"},
                "example": {"id": 1, "type": event_type, "channel": "shop-a", "order_id": data.get("order_id"),
                            "created_at": FORMATS["date-time"], "data": data}}}},
            "responses": {"2XX": {"description": "Received. Any other answer, or none within 10 seconds, "
                                                 "is retried with backoff."}}}}
    doc["webhooks"] = webhooks
    doc.setdefault("tags", []).append({"name": "webhooks", "description": "What o2c sends to your URL."})
    doc["info"]["description"] = (
        "The o2c order-to-cash API. JSON in snake_case; amounts are strings with two decimals; lists are "
        "`{items, next_cursor}`; every error is `{\"error\": {\"code\", \"message\", \"details\"}}`. "
        "Every answer carries `X-Request-Id`. Human-readable: `/api/docs`.")
    return doc


def init_app(app: Flask, api: Any) -> None:
    """Complete ``api``'s document: call after the blueprints are registered
    (the plugin has then seen every operation)."""
    api.ma_plugin.converter.add_attribute_function(_field_limits())
    converters = app.url_map.converters
    api.register_converter(converters["id"], lambda c: {"type": "integer", "minimum": 1, "maximum": fields.MAX_ID})
    api.register_converter(converters["sku"], lambda c: {
        "type": "string", "pattern": "^" + c.pattern.pattern + "$", "example": "CHAIR-OAK"})
    spec = api.spec
    build = spec.to_dict
    cache: dict[str, Any] = {}

    def to_dict() -> dict[str, Any]:
        if "doc" not in cache:
            cache["doc"] = _complete(build())
        return copy.deepcopy(cache["doc"])

    spec.to_dict = to_dict  # type: ignore[method-assign]


# -- /api/docs: Swagger UI, from the assets the flask-swagger-ui package ships ---------------------

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>o2c API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="/api/docs/swagger-ui.css">
<link rel="stylesheet" href="/api/docs/o2c-docs.css">
<link rel="icon" type="image/png" href="/api/docs/favicon-32x32.png">
</head><body>
<noscript><p>The reference needs JavaScript; the document itself is
<a href="/api/openapi.json">/api/openapi.json</a>.</p></noscript>
<div id="swagger-ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/o2c-docs.js"></script>
</body></html>
"""
# No inline script or style: the Content-Security-Policy allows only 'self'.
DOCS_SCRIPT = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "/api/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis], layout: "BaseLayout",
    persistAuthorization: false, displayOperationId: true, tryItOutEnabled: false
  });
});
"""
DOCS_CSS = "body{margin:0}.swagger-ui .info{margin:2rem 0}\n"
#: The package's files served: nothing else of its directory.
ASSETS = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css",
          "favicon-32x32.png": "image/png"}


def init_docs(app: Flask) -> None:
    from importlib.resources import files

    from flask import Response, abort, request

    dist = files("flask_swagger_ui") / "dist"

    @app.get("/api/docs")
    def api_docs() -> Response:
        """The API reference for people (Swagger UI over /api/openapi.json)."""
        return Response(DOCS_PAGE, mimetype="text/html")

    @app.get("/api/docs/o2c-docs.js")
    def api_docs_script() -> Response:
        return Response(DOCS_SCRIPT, mimetype="text/javascript")

    @app.get("/api/docs/o2c-docs.css")
    def api_docs_css() -> Response:
        return Response(DOCS_CSS, mimetype="text/css")

    loaded: dict[str, bytes] = {}

    @app.get("/api/docs/<name>")
    def api_docs_asset(name: str) -> Response:
        if name not in ASSETS:
            abort(404)
        if name not in loaded:
            loaded[name] = (dist / name).read_bytes()
        response = Response(loaded[name], mimetype=ASSETS[name])
        response.cache_control.public = True
        response.cache_control.max_age = 86400
        response.add_etag()
        return response.make_conditional(request)
