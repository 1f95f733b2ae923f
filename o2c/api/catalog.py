"""Customers, products and stock."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import int_cursor, mutate, page, read, requires, str_cursor
from o2c.schemas import api as s
from o2c.services.customers import records
from o2c.services.fulfilment import stock
from o2c.services.sales import catalog

blp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="Customers, products and stock")

CustomerPage = s.page_of(s.CustomerOut)
ProductPage = s.page_of(s.ProductOut)
StockPage = s.page_of(s.StockOut)


@blp.route("/customers", methods=["POST"])
@requires("customers:write")
@blp.arguments(s.CustomerIn)
@blp.response(201, s.CustomerOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="A customer with this code exists")
def create_customer(data: dict[str, Any]) -> Any:
    """Create a customer.

    The code is unique; addresses are validated (ISO 3166 country codes).
    """
    return mutate(lambda tx: records.create_customer(tx, data), s.CustomerOut(), 201)


@blp.route("/customers", methods=["GET"])
@requires("customers:read")
@blp.arguments(s.PageArgs, location="query")
@blp.response(200, CustomerPage)
def list_customers(args: dict[str, Any]) -> Any:
    """Customers, in the order they were created."""
    return page(lambda tx: records.list_customers(tx, int_cursor(args), args["limit"]), CustomerPage())


@blp.route("/customers/<id:customer_id>", methods=["GET"])
@requires("customers:read")
@blp.response(200, s.CustomerOut)
def get_customer(customer_id: int) -> Any:
    """One customer."""
    return read(lambda tx: records.get_customer(tx, customer_id), s.CustomerOut())


@blp.route("/customers/<id:customer_id>", methods=["PATCH"])
@requires("customers:write")
@blp.arguments(s.CustomerPatch)
@blp.response(200, s.CustomerOut)
def update_customer(data: dict[str, Any], customer_id: int) -> Any:
    """Change a customer: only the fields sent change."""
    return mutate(lambda tx: records.update_customer(tx, customer_id, data), s.CustomerOut())


@blp.route("/products", methods=["POST"])
@requires("catalog:write")
@blp.arguments(s.ProductIn)
@blp.response(201, s.ProductOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="A product with this SKU exists")
def create_product(data: dict[str, Any]) -> Any:
    """Create a product.

    The SKU is unique; price and VAT rate are exact decimals sent as strings.
    """
    return mutate(lambda tx: catalog.create_product(tx, data), s.ProductOut(), 201)


@blp.route("/products", methods=["GET"])
@requires("catalog:read")
@blp.arguments(s.PageArgs, location="query")
@blp.response(200, ProductPage)
def list_products(args: dict[str, Any]) -> Any:
    """Products, by SKU."""
    return page(lambda tx: catalog.list_products(tx, str_cursor(args), args["limit"]), ProductPage())


@blp.route("/products/<sku:sku>", methods=["GET"])
@requires("catalog:read")
@blp.response(200, s.ProductOut)
def get_product(sku: str) -> Any:
    """One product by SKU."""
    return read(lambda tx: catalog.get_product(tx, sku), s.ProductOut())


@blp.route("/products/<sku:sku>", methods=["PATCH"])
@requires("catalog:write")
@blp.arguments(s.ProductPatch)
@blp.response(200, s.ProductOut)
def update_product(data: dict[str, Any], sku: str) -> Any:
    """Change a product: only the fields sent change."""
    return mutate(lambda tx: catalog.update_product(tx, sku, data), s.ProductOut())


@blp.route("/stock/receipts", methods=["POST"])
@requires("stock:write")
@blp.arguments(s.StockReceiptIn)
@blp.response(201, s.StockReceiptOut)
def receive_stock(data: dict[str, Any]) -> Any:
    """Receive stock: adds to on-hand at the given unit cost and posts it to inventory.

    Orders waiting for this SKU are served first.
    """
    return mutate(lambda tx: stock.receive(tx, data["sku"], data["quantity"], data["unit_cost"]), s.StockReceiptOut(), 201)


@blp.route("/stock", methods=["GET"])
@requires("catalog:read")
@blp.arguments(s.PageArgs, location="query")
@blp.response(200, StockPage)
def list_stock(args: dict[str, Any]) -> Any:
    """Stock per SKU: on hand, reserved and available."""
    return page(lambda tx: stock.list_stock(tx, str_cursor(args), args["limit"]), StockPage())


@blp.route("/stock/<sku:sku>", methods=["GET"])
@requires("catalog:read")
@blp.response(200, s.StockOut)
def get_stock(sku: str) -> Any:
    """Stock of one SKU: on hand, reserved and available."""
    return read(lambda tx: stock.get_stock(tx, sku), s.StockOut())
