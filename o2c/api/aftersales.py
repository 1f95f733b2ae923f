"""After-sales corrections: backorders waiting for stock, payment reversals
and moving a customer's credit between invoices. (Cancelling an order, whole
or some of its lines, is ``POST /orders/{id}/cancel`` in the sales API.)"""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import int_cursor, mutate, page, principal, read, requires
from o2c.schemas import api as s
from o2c.services.cash import corrections
from o2c.services.sales import backorders

blp = Blueprint("aftersales", __name__, url_prefix="/api/v1",
                description="Backorders, payment reversals and customer credit")

BackorderPage = s.page_of(s.BackorderOut)
CREDIT = s.CustomerCreditOut()


@blp.route("/backorders", methods=["GET"])
@requires("orders:read")
@blp.arguments(s.BackorderListArgs, location="query")
@blp.response(200, BackorderPage)
def list_backorders(args: dict[str, Any]) -> Any:
    """Order lines waiting for stock, oldest first: which order, line and SKU waits for how many, since when."""
    return page(lambda tx: backorders.list_backorders(
        tx, principal(), sku=args.get("sku"), customer_id=args.get("customer_id"), order_id=args.get("order_id"),
        cursor=int_cursor(args), limit=args["limit"]), BackorderPage())


@blp.route("/payments/<id:payment_id>/reverse", methods=["POST"])
@requires("payments:write")
@blp.arguments(s.ReverseIn)
@blp.response(200, s.PaymentOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition (already reversed), conflict, "
                                                           "period_closed")
def reverse_payment(data: dict[str, Any], payment_id: int) -> Any:
    """Reverse a payment that did not arrive after all: every application of its money is undone (including
    its credit applied to other invoices since), its unapplied credit removed, and a reversal entry posted
    (Dr receivables and customer credit / Cr the bank account it was booked on). The original entry stays as
    it is. A payment a bank statement line became sends that line back to the worklist, unmatched, saying
    why."""
    return mutate(lambda tx: corrections.reverse_payment(tx, payment_id, data["reason"]), s.PaymentOut())


@blp.route("/customers/<id:customer_id>/credit", methods=["GET"])
@requires("payments:read")
@blp.response(200, s.CustomerCreditOut)
def get_credit(customer_id: int) -> Any:
    """The customer's unapplied credit and the payments it comes from."""
    return read(lambda tx: corrections.credit_view(tx, customer_id), CREDIT)


@blp.route("/customers/<id:customer_id>/credit/apply", methods=["POST"])
@requires("payments:write")
@blp.arguments(s.CreditApplyIn)
@blp.response(200, s.CustomerCreditOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="conflict: not enough credit, or more than the balance")
def apply_credit(data: dict[str, Any], customer_id: int) -> Any:
    """Apply the customer's credit to one of their invoices, oldest payments first (Dr 2300 / Cr 1100)."""
    return mutate(lambda tx: corrections.apply_credit(tx, customer_id, data["invoice_id"], data["amount"]), CREDIT)


@blp.route("/customers/<id:customer_id>/credit/release", methods=["POST"])
@requires("payments:write")
@blp.arguments(s.CreditApplyIn)
@blp.response(200, s.CustomerCreditOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="conflict: more than is applied to the invoice")
def release_credit(data: dict[str, Any], customer_id: int) -> Any:
    """Take money applied to an invoice back as the customer's credit, latest payments first (Dr 1100 / Cr 2300)."""
    return mutate(lambda tx: corrections.release_credit(tx, customer_id, data["invoice_id"], data["amount"]),
                  CREDIT)


@blp.route("/customers/<id:customer_id>/credit/reallocate", methods=["POST"])
@requires("payments:write")
@blp.arguments(s.CreditReallocateIn)
@blp.response(200, s.CustomerCreditOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="conflict: more than is applied, or over the balance")
def reallocate_credit(data: dict[str, Any], customer_id: int) -> Any:
    """Move an amount paid on one invoice to another invoice of the same customer, in one transaction."""
    return mutate(lambda tx: corrections.reallocate_credit(
        tx, customer_id, data["from_invoice_id"], data["to_invoice_id"], data["amount"]), CREDIT)
