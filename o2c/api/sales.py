"""Orders, shipments, invoices and payments: the cycle."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import int_cursor, mutate, page, principal, read, requires
from o2c.schemas import api as s
from o2c.services.billing import invoicing
from o2c.services.cash import payments
from o2c.services.fulfilment import shipping
from o2c.services.sales import orders

blp = Blueprint("sales", __name__, url_prefix="/api/v1", description="Orders, shipments, invoices, payments")

OrderPage = s.page_of(s.OrderOut)
InvoicePage = s.page_of(s.InvoiceOut)
ORDER = s.OrderOut()
SHIPMENT = s.ShipmentOut()
INVOICE = s.InvoiceOut()
PAYMENT = s.PaymentOut()


def _order(tx: Any, order_id: int) -> dict[str, Any]:
    return orders.get_order(tx, order_id, principal())


@blp.route("/orders", methods=["POST"])
@requires("orders:write")
@blp.arguments(s.OrderIn)
@blp.response(201, s.OrderOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="conflict (external_ref), out_of_stock, credit_limit_exceeded")
def create_order(data: dict[str, Any]) -> Any:
    """Create an order; with ``"confirm": true`` create and confirm it, all or nothing."""
    return mutate(lambda tx: orders.create_order(tx, principal(), data), ORDER, 201)


@blp.route("/orders", methods=["GET"])
@requires("orders:read")
@blp.arguments(s.OrderListArgs, location="query")
@blp.response(200, OrderPage)
def list_orders(args: dict[str, Any]) -> Any:
    """Orders, newest first."""
    return page(lambda tx: orders.list_orders(
        tx, principal(), status=args.get("status"), customer_id=args.get("customer_id"),
        external_ref=args.get("external_ref"), cursor=int_cursor(args), limit=args["limit"]), OrderPage())


@blp.route("/orders/<id:order_id>", methods=["GET"])
@requires("orders:read")
@blp.response(200, s.OrderOut)
def get_order(order_id: int) -> Any:
    """One order with its lines, totals and statuses."""
    return read(lambda tx: _order(tx, order_id), ORDER)


@blp.route("/orders/<id:order_id>/confirm", methods=["POST"])
@requires("orders:write")
@blp.response(200, s.OrderOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition, out_of_stock, credit_limit_exceeded")
def confirm_order(order_id: int) -> Any:
    """Confirm a draft order: reserves stock (or backorders) and checks the credit limit."""
    return mutate(lambda tx: orders.confirm_order(tx, order_id, principal()), ORDER)


@blp.route("/orders/<id:order_id>/cancel", methods=["POST"])
@requires("orders:write")
@blp.arguments(s.CancelIn, required=False)
@blp.response(200, s.OrderOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition (also: more than is open)")
def cancel_order(data: dict[str, Any], order_id: int) -> Any:
    """Cancel the whole order (no body), or with ``lines`` only that much of what is still open. Reservations are
    released; packed shipments in the way are cancelled first (their goods stay on hand)."""
    return mutate(lambda tx: orders.cancel_order(tx, order_id, principal(), data.get("lines")), ORDER)


@blp.route("/orders/<id:order_id>/shipments", methods=["POST"])
@requires("fulfilment:write")
@blp.arguments(s.PackIn)
@blp.response(201, s.ShipmentOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition, or more than is open")
def pack_order(data: dict[str, Any], order_id: int) -> Any:
    """Pack: a shipment in ``packed`` for the given lines, or everything open."""
    return mutate(lambda tx: shipping.pack(tx, order_id, principal(), data.get("lines")), SHIPMENT, 201)


@blp.route("/shipments/<id:shipment_id>", methods=["GET"])
@requires("orders:read")
@blp.response(200, s.ShipmentOut)
def get_shipment(shipment_id: int) -> Any:
    """One shipment."""
    return read(lambda tx: shipping.get_shipment(tx, shipment_id, principal()), SHIPMENT)


@blp.route("/shipments/<id:shipment_id>/ship", methods=["POST"])
@requires("fulfilment:write")
@blp.arguments(s.ShipIn)
@blp.response(200, s.ShipmentOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="invalid_transition, period_closed")
def ship_shipment(data: dict[str, Any], shipment_id: int) -> Any:
    """Ship: stock out, cost of goods sold posted, invoice issued (``on_shipment``)."""
    return mutate(lambda tx: shipping.ship(tx, shipment_id, principal(), data["carrier"], data["tracking_number"]),
                  SHIPMENT)


@blp.route("/shipments/<id:shipment_id>/cancel", methods=["POST"])
@requires("fulfilment:write")
@blp.response(200, s.ShipmentOut)
def cancel_shipment(shipment_id: int) -> Any:
    """Unpack a packed shipment: its goods stay on hand and stay reserved for the order."""
    return mutate(lambda tx: shipping.cancel_shipment(tx, shipment_id, principal()), SHIPMENT)


@blp.route("/orders/<id:order_id>/invoices", methods=["POST"])
@requires("fulfilment:write")
@blp.response(201, s.InvoiceOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="nothing shipped and not yet invoiced")
def invoice_order(order_id: int) -> Any:
    """Invoice what has shipped and is not yet invoiced (the ``manual`` invoicing policy)."""
    return mutate(lambda tx: invoicing.get_invoice(tx, invoicing.invoice_order(tx, order_id, principal()),
                                                   principal()), INVOICE, 201)


@blp.route("/invoices", methods=["GET"])
@requires("invoices:read")
@blp.arguments(s.InvoiceListArgs, location="query")
@blp.response(200, InvoicePage)
def list_invoices(args: dict[str, Any]) -> Any:
    """Invoices, newest first; filter by customer, status or ``overdue``."""
    return page(lambda tx: invoicing.list_invoices(
        tx, principal(), customer_id=args.get("customer_id"), status=args.get("status"),
        overdue=args["overdue"], cursor=int_cursor(args), limit=args["limit"]), InvoicePage())


@blp.route("/invoices/<id:invoice_id>", methods=["GET"])
@requires("invoices:read")
@blp.response(200, s.InvoiceOut)
def get_invoice(invoice_id: int) -> Any:
    """One invoice with its lines, VAT summary and balance."""
    return read(lambda tx: invoicing.get_invoice(tx, invoice_id, principal()), INVOICE)


@blp.route("/payments", methods=["POST"])
@requires("payments:write")
@blp.arguments(s.PaymentIn)
@blp.response(201, s.PaymentOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="reference already recorded, allocation over balance")
def record_payment(data: dict[str, Any]) -> Any:
    """Record a payment; without allocations, oldest open invoices first; the excess is customer credit."""
    return mutate(lambda tx: payments.record_payment(tx, data), PAYMENT, 201)


@blp.route("/payments/<id:payment_id>", methods=["GET"])
@requires("payments:read")
@blp.response(200, s.PaymentOut)
def get_payment(payment_id: int) -> Any:
    """One payment with its allocations."""
    return read(lambda tx: payments.get_payment(tx, payment_id), PAYMENT)
