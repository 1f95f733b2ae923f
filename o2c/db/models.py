"""SQLAlchemy 2 typed models: the schema of the three books.

Models carry no behaviour and no serialisation; services read and write them
(mostly through their tables, with Core statements on the hot path).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from o2c.db.types import CurrencyAmount, ExchangeRate, Money, Rate, UtcDateTime

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# 64-bit integers everywhere; on SQLite a primary key must be spelled INTEGER
# to be the rowid (and autoincrement), which is 64-bit there anyway.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {
        int: BigId,
        Decimal: Money(),
        dt.datetime: UtcDateTime(),
        dict[str, Any]: JSON(),
        str: String(255),
    }


class Company(Base):
    __tablename__ = "company"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    address: Mapped[str] = mapped_column(Text, default="")
    tax_id: Mapped[str] = mapped_column(default="")
    bank_name: Mapped[str] = mapped_column(default="")
    iban: Mapped[str] = mapped_column(String(34), default="")
    bic: Mapped[str] = mapped_column(String(11), default="")
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    invoice_prefix: Mapped[str] = mapped_column(String(16), default="INV")
    credit_note_prefix: Mapped[str] = mapped_column(String(16), default="CN")
    invoicing_policy: Mapped[str] = mapped_column(String(16), default="on_shipment")
    #: Where the company is established (ISO 3166 alpha-2): its VAT is the domestic one.
    country: Mapped[str] = mapped_column(String(2), default="IT", server_default="IT")
    #: Registered for the One-Stop Shop: destination VAT on EU consumer sales from the first euro.
    oss_registered: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    #: The EU-wide yearly total of distance sales above which destination VAT applies.
    distance_sales_threshold: Mapped[Decimal] = mapped_column(default=Decimal("10000.00"),
                                                              server_default="1000000")


class Account(Base):
    __tablename__ = "accounts"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    role: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str]
    type: Mapped[str] = mapped_column(String(16))


class AccountRole(Base):
    """Every account that has served a posting role, the current one included
    (``accounts.role``). When a role moves to another account, the books of the
    role are the sum of all its accounts, so the reconciliation still holds."""

    __tablename__ = "account_roles"
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    account: Mapped[str] = mapped_column(ForeignKey("accounts.code"), primary_key=True, unique=True)
    assigned_at: Mapped[dt.datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    # A rotated key keeps its name: several keys (one current) may share it.
    name: Mapped[str] = mapped_column(String(64), index=True)
    # The channel a webshop key orders for; several keys may serve one channel.
    channel: Mapped[str] = mapped_column(String(64))
    role: Mapped[str] = mapped_column(String(16))
    prefix: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime]
    last_used_at: Mapped[dt.datetime | None]  # written at most once a minute
    expires_at: Mapped[dt.datetime | None]
    # Refused from this moment on (in the future during a rotation's grace period).
    revoked_at: Mapped[dt.datetime | None]


class User(Base):
    """A back-office user who signs in to the web forms. The password is kept
    only as a salted scrypt hash; repeated failures lock the account a while."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None]
    last_login_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class Customer(Base):
    __tablename__ = "customers"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str]
    email: Mapped[str] = mapped_column(default="")
    country: Mapped[str] = mapped_column(String(2))
    language: Mapped[str] = mapped_column(String(5), default="en")
    tax_id: Mapped[str] = mapped_column(String(64), default="")
    #: ``business`` or ``consumer``: who buys decides the tax treatment.
    customer_type: Mapped[str] = mapped_column(String(16), default="consumer", server_default="consumer")
    #: The last VIES result recorded for ``tax_id``: valid, invalid or unchecked.
    vat_id_check_status: Mapped[str] = mapped_column(String(16), default="unchecked", server_default="unchecked")
    vat_id_checked_on: Mapped[dt.date | None] = mapped_column(Date)
    vat_id_check_reference: Mapped[str | None] = mapped_column(String(64))
    payment_terms_days: Mapped[int] = mapped_column(default=30)
    credit_limit: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3), default="EUR")
    billing_address: Mapped[dict[str, Any]]
    shipping_address: Mapped[dict[str, Any] | None]
    created_at: Mapped[dt.datetime]
    # Where documents are sent (comma-separated addresses; empty: ``email``)
    # and whether invoices and credit notes go out by themselves when issued.
    invoice_email: Mapped[str] = mapped_column(String(1000), default="", server_default="")
    send_invoices: Mapped[str] = mapped_column(String(8), default="manual", server_default="manual")
    #: The customer asked not to get satisfaction messages after deliveries.
    followup_opt_out: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))


class CustomerChannel(Base):
    """A webshop channel that may reference the customer (API.md, Whose
    customers a webshop may use). The key answers "may this channel use this
    customer?"; the index lists a channel's customers."""

    __tablename__ = "customer_channels"
    __table_args__ = (Index("ix_customer_channels_channel_customer", "channel", "customer_id"),)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(64), primary_key=True)


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str]
    unit_price: Mapped[Decimal]
    vat_rate: Mapped[Decimal] = mapped_column(Rate())
    #: standard, reduced, super_reduced, zero or exempt: picks the rate abroad.
    tax_class: Mapped[str] = mapped_column(String(16), default="standard", server_default="standard")
    unit: Mapped[str] = mapped_column(String(16), default="pcs")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[dt.datetime]


class Stock(Base):
    """One row per product (a single warehouse). ``value`` is the inventory
    value at moving-average cost; unit cost = value / on_hand."""

    __tablename__ = "stock"
    __table_args__ = (
        CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
        CheckConstraint("on_hand >= 0", name="on_hand_non_negative"),
    )
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    on_hand: Mapped[int] = mapped_column(BigInteger, default=0)
    reserved: Mapped[int] = mapped_column(BigInteger, default=0)
    value: Mapped[Decimal] = mapped_column(default=Decimal(0))


class StockMovement(Base):
    """Every change of on-hand quantity, with its value at cost: a shipment's
    movements carry the cost the goods left with."""

    __tablename__ = "stock_movements"
    __table_args__ = (Index("ix_stock_movements_source", "kind", "source_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    date: Mapped[dt.date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(16))  # receipt, shipment, return
    quantity: Mapped[int] = mapped_column(BigInteger)  # signed
    value: Mapped[Decimal]  # signed
    document: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[int | None] = mapped_column(BigInteger)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("channel", "external_ref"),
        Index("ix_orders_customer_id_id", "customer_id", "id"),
        # A customer's confirmed and completed orders without reading the
        # rows (what they buy, for recommendations; first and last order,
        # for insights).
        Index("ix_orders_customer_id_status_id", "customer_id", "status", "id", "created_at"),
        Index("ix_orders_status_id", "status", "id"),
        Index("ix_orders_channel_id", "channel", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(64))
    external_ref: Mapped[str | None] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    fulfillment_status: Mapped[str] = mapped_column(String(20))
    payment_status: Mapped[str] = mapped_column(String(16))
    shipping_address: Mapped[dict[str, Any] | None]
    net_total: Mapped[Decimal]
    vat_total: Mapped[Decimal]
    total: Mapped[Decimal]
    invoiced_total: Mapped[Decimal] = mapped_column(default=Decimal(0))
    amount_paid: Mapped[Decimal] = mapped_column(default=Decimal(0))
    created_at: Mapped[dt.datetime]
    confirmed_at: Mapped[dt.datetime | None]
    #: Confirm with what is available and keep the rest of a line open until
    #: goods arrive, instead of refusing the order ``out_of_stock``.
    allow_backorder: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Frozen when the prices are: domestic, intra_eu_b2b, eu_distance_sale, export or exempt.
    tax_treatment: Mapped[str] = mapped_column(String(20), default="domestic", server_default="domestic")
    #: Whose VAT applies (ISO 3166 alpha-2).
    tax_country: Mapped[str] = mapped_column(String(2), default="IT", server_default="IT")
    #: The buyer's VAT id as it stood when the treatment was decided.
    buyer_vat_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    #: Where the goods go: counts the distance sales towards the EU threshold.
    ship_to_country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    #: Payment terms agreed for this order (a quotation's), instead of the
    #: customer's: its invoices fall due this many days after issue.
    payment_terms_days: Mapped[int | None] = mapped_column(Integer)
    #: The coupon whose discount the lines carry (redeemed on confirmation).
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    #: The date the customer was promised delivery by (on-time and perfect-order KPIs).
    promised_date: Mapped[dt.date | None] = mapped_column(Date)


class OrderLine(Base):
    __tablename__ = "order_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(
            "shipped_quantity + packed_quantity + cancelled_quantity <= quantity",
            name="not_more_than_ordered",
        ),
        CheckConstraint("returned_quantity <= shipped_quantity", name="returned_within_shipped"),
        CheckConstraint("reserved_quantity >= 0", name="reserved_non_negative"),
        CheckConstraint("backordered_quantity >= 0", name="backordered_non_negative"),
        # The lines waiting for a SKU, found by a goods receipt.
        Index("ix_order_lines_backordered", "product_id", "order_id",
              sqlite_where=text("backordered_quantity > 0"), postgresql_where=text("backordered_quantity > 0")),
        # An order's lines, and the products of a customer's orders and the
        # units shipped and returned read from the index alone
        # (recommendations, insights).
        Index("ix_order_lines_order_id_product_id", "order_id", "product_id", "shipped_quantity",
              "returned_quantity"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    line_no: Mapped[int]
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    sku: Mapped[str] = mapped_column(String(64))
    description: Mapped[str]
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal]
    discount: Mapped[Decimal] = mapped_column(Rate())
    vat_rate: Mapped[Decimal] = mapped_column(Rate())
    #: UNCL 5305 VAT category: S, Z, E, K, G, AE, O.
    vat_category: Mapped[str] = mapped_column(String(2), default="S", server_default="S")
    net: Mapped[Decimal]
    reserved_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    packed_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    shipped_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    invoiced_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    returned_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    cancelled_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Confirmed but not reserved: waiting for stock (orders that allow backorders).
    backordered_quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    # The cost the shipped units left the stock with, and the part of it that
    # came back with returns: a return takes its share of what is left.
    shipped_cost: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")
    returned_cost: Mapped[Decimal] = mapped_column(default=Decimal(0), server_default="0")


class Shipment(Base):
    __tablename__ = "shipments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    carrier: Mapped[str | None] = mapped_column(String(64))
    tracking_number: Mapped[str | None] = mapped_column(String(128))
    shipped_at: Mapped[dt.datetime | None]
    invoice_id: Mapped[int | None] = mapped_column(BigInteger)
    cost: Mapped[Decimal] = mapped_column(default=Decimal(0))
    created_at: Mapped[dt.datetime]


class ShipmentLine(Base):
    __tablename__ = "shipment_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(BigInteger)


class NumberSeries(Base):
    """Gapless counters: the row is locked by the UPDATE that takes a number
    and released by the commit that posts the document."""

    __tablename__ = "number_series"
    series: Mapped[str] = mapped_column(String(16), primary_key=True)
    year: Mapped[int] = mapped_column(primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, default=0)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        UniqueConstraint("series", "year", "seq"),
        Index("ix_invoices_customer_id_status", "customer_id", "status", "id", "issue_date"),
        Index("ix_invoices_status_due_date", "status", "due_date"),
        # The tax reports: a period's documents by treatment (migration 0014).
        Index("ix_invoices_issue_date_tax", "issue_date", "tax_treatment", "tax_country", "id"),
        CheckConstraint("amount_paid + credited_amount <= total", name="not_overpaid"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    series: Mapped[str] = mapped_column(String(16))
    year: Mapped[int]
    seq: Mapped[int] = mapped_column(BigInteger)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    shipment_id: Mapped[int | None] = mapped_column(ForeignKey("shipments.id"))
    status: Mapped[str] = mapped_column(String(16))
    issue_date: Mapped[dt.date] = mapped_column(Date)
    due_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    net_total: Mapped[Decimal]
    vat_total: Mapped[Decimal]
    total: Mapped[Decimal]
    #: Units of the currency per unit of the functional currency, frozen at issue (1 in the functional currency).
    exchange_rate: Mapped[Decimal] = mapped_column(ExchangeRate(), server_default="10000000000")
    #: The figures in the functional currency: Σ of the VAT rows converted one by one (what the ledger posts).
    functional_net_total: Mapped[Decimal] = mapped_column(server_default="0")
    functional_vat_total: Mapped[Decimal] = mapped_column(server_default="0")
    functional_total: Mapped[Decimal] = mapped_column(server_default="0")
    amount_paid: Mapped[Decimal] = mapped_column(default=Decimal(0))
    credited_amount: Mapped[Decimal] = mapped_column(default=Decimal(0))
    created_at: Mapped[dt.datetime]
    #: Frozen when the prices are: domestic, intra_eu_b2b, eu_distance_sale, export or exempt.
    tax_treatment: Mapped[str] = mapped_column(String(20), default="domestic", server_default="domestic")
    #: Whose VAT applies (ISO 3166 alpha-2).
    tax_country: Mapped[str] = mapped_column(String(2), default="IT", server_default="IT")
    #: The buyer's VAT id as it stood when the treatment was decided.
    buyer_vat_id: Mapped[str] = mapped_column(String(64), default="", server_default="")


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    sku: Mapped[str] = mapped_column(String(64))
    description: Mapped[str]
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal]
    discount: Mapped[Decimal] = mapped_column(Rate())
    vat_rate: Mapped[Decimal] = mapped_column(Rate())
    #: UNCL 5305 VAT category: S, Z, E, K, G, AE, O.
    vat_category: Mapped[str] = mapped_column(String(2), default="S", server_default="S")
    net: Mapped[Decimal]
    #: The line's share of the functional net (largest remainder: the lines add up to it).
    functional_net: Mapped[Decimal] = mapped_column(server_default="0")


class InvoiceVat(Base):
    __tablename__ = "invoice_vat"
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(2), primary_key=True, server_default="S")
    rate: Mapped[Decimal] = mapped_column(Rate(), primary_key=True)
    net: Mapped[Decimal]
    vat: Mapped[Decimal]
    #: Net and VAT in the functional currency, each converted and rounded on its own.
    functional_net: Mapped[Decimal] = mapped_column(server_default="0")
    functional_vat: Mapped[Decimal] = mapped_column(server_default="0")
    #: The VATEX code of an exempt or zero-rated category (the text is rendered per language).
    exemption_reason_code: Mapped[str | None] = mapped_column(String(32))
    exemption_reason: Mapped[str | None] = mapped_column(String(255))


class DocumentFile(Base):
    """The rendered file of an issued document (an invoice's Factur-X PDF, a
    credit note's), stored the first time it is asked for and returned byte
    for byte ever after. One row per document; ``kind`` names its table."""

    __tablename__ = "document_files"
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # invoice, credit_note
    document_id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    number: Mapped[str] = mapped_column(String(32))
    media_type: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime]


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("unapplied >= 0 AND unapplied <= amount", name="unapplied_within_amount"),
        Index("ix_payments_customer_id_unapplied", "customer_id", "unapplied"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    received_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(32))
    reference: Mapped[str] = mapped_column(String(128), unique=True)
    unapplied: Mapped[Decimal]
    #: The rate of the day it was received (1 in the functional currency) and its value in the functional currency.
    exchange_rate: Mapped[Decimal] = mapped_column(ExchangeRate(), server_default="10000000000")
    functional_amount: Mapped[Decimal] = mapped_column(server_default="0")
    created_at: Mapped[dt.datetime]
    status: Mapped[str] = mapped_column(String(16), default="received")  # received, reversed
    reversed_at: Mapped[dt.datetime | None]
    reversal_reason: Mapped[str | None] = mapped_column(String(500))


class PaymentAllocation(Base):
    """Money of a payment applied to an invoice. Append-only: taking an
    application back (a reversal, credit moved to another invoice, what a
    credit note displaced from a paid invoice) is a negative row dated the day
    it happened; the amount returns to the payment's unapplied credit."""

    __tablename__ = "payment_allocations"
    __table_args__ = (
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        # With the day: when an invoice was paid, from the index alone.
        Index("ix_payment_allocations_invoice_id_date", "invoice_id", "date"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    amount: Mapped[Decimal]
    date: Mapped[dt.date] = mapped_column(Date)


class Return(Base):
    """Goods that came back from a customer (``RMA-…``): restocked or written
    off, credited by one credit note, optionally exchanged for a new order."""

    __tablename__ = "returns"
    __table_args__ = (Index("ix_returns_order_id_id", "order_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))  # received
    restock: Mapped[bool] = mapped_column(Boolean)
    refund: Mapped[str] = mapped_column(String(16))  # credit, bank
    cost: Mapped[Decimal]  # the value at cost of the returned units
    exchange_order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]


class ReturnLine(Base):
    __tablename__ = "return_lines"
    __table_args__ = (CheckConstraint("quantity > 0", name="quantity_positive"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    return_id: Mapped[int] = mapped_column(ForeignKey("returns.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    quantity: Mapped[int] = mapped_column(BigInteger)
    cost: Mapped[Decimal]


class CreditNote(Base):
    """A credit note (``CN-2026-…``) from its own gapless series: reverses the
    revenue and VAT of returned lines at the prices they were invoiced at.
    ``applied`` reduced the invoice's open balance; ``to_credit`` became the
    customer's credit and ``refunded`` of it was paid back to the bank."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        UniqueConstraint("series", "year", "seq"),
        Index("ix_credit_notes_customer_id_id", "customer_id", "id"),
        Index("ix_credit_notes_issue_date_tax", "issue_date", "tax_treatment", "tax_country", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    series: Mapped[str] = mapped_column(String(16))
    year: Mapped[int]
    seq: Mapped[int] = mapped_column(BigInteger)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"), index=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    return_id: Mapped[int | None] = mapped_column(ForeignKey("returns.id"), index=True)
    issue_date: Mapped[dt.date] = mapped_column(Date)
    currency: Mapped[str] = mapped_column(String(3))
    net_total: Mapped[Decimal]
    vat_total: Mapped[Decimal]
    total: Mapped[Decimal]
    #: Units of the currency per unit of the functional currency, frozen at issue (1 in the functional currency).
    exchange_rate: Mapped[Decimal] = mapped_column(ExchangeRate(), server_default="10000000000")
    #: The figures in the functional currency: Σ of the VAT rows converted one by one (what the ledger posts).
    functional_net_total: Mapped[Decimal] = mapped_column(server_default="0")
    functional_vat_total: Mapped[Decimal] = mapped_column(server_default="0")
    functional_total: Mapped[Decimal] = mapped_column(server_default="0")
    applied: Mapped[Decimal]
    to_credit: Mapped[Decimal]
    refunded: Mapped[Decimal]
    created_at: Mapped[dt.datetime]
    #: Frozen when the prices are: domestic, intra_eu_b2b, eu_distance_sale, export or exempt.
    tax_treatment: Mapped[str] = mapped_column(String(20), default="domestic", server_default="domestic")
    #: Whose VAT applies (ISO 3166 alpha-2).
    tax_country: Mapped[str] = mapped_column(String(2), default="IT", server_default="IT")
    #: The buyer's VAT id as it stood when the treatment was decided.
    buyer_vat_id: Mapped[str] = mapped_column(String(64), default="", server_default="")


class CreditNoteLine(Base):
    __tablename__ = "credit_note_lines"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(ForeignKey("order_lines.id"))
    sku: Mapped[str] = mapped_column(String(64))
    description: Mapped[str]
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit_price: Mapped[Decimal]
    discount: Mapped[Decimal] = mapped_column(Rate())
    vat_rate: Mapped[Decimal] = mapped_column(Rate())
    #: UNCL 5305 VAT category: S, Z, E, K, G, AE, O.
    vat_category: Mapped[str] = mapped_column(String(2), default="S", server_default="S")
    net: Mapped[Decimal]
    #: The line's share of the functional net (largest remainder: the lines add up to it).
    functional_net: Mapped[Decimal] = mapped_column(server_default="0")


class CreditNoteVat(Base):
    __tablename__ = "credit_note_vat"
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"), primary_key=True)
    category: Mapped[str] = mapped_column(String(2), primary_key=True, server_default="S")
    rate: Mapped[Decimal] = mapped_column(Rate(), primary_key=True)
    net: Mapped[Decimal]
    vat: Mapped[Decimal]
    #: Net and VAT in the functional currency, each converted and rounded on its own.
    functional_net: Mapped[Decimal] = mapped_column(server_default="0")
    functional_vat: Mapped[Decimal] = mapped_column(server_default="0")
    exemption_reason_code: Mapped[str | None] = mapped_column(String(32))
    exemption_reason: Mapped[str | None] = mapped_column(String(255))


class Refund(Base):
    """Customer credit paid back to the customer's bank (``RF-…``)."""

    __tablename__ = "refunds"
    __table_args__ = (CheckConstraint("amount > 0", name="amount_positive"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"), index=True)
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"))
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    method: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]


class RefundSource(Base):
    """Which payments' unapplied credit a refund paid back, and how much."""

    __tablename__ = "refund_sources"
    refund_id: Mapped[int] = mapped_column(ForeignKey("refunds.id"), primary_key=True)
    payment_id: Mapped[int] = mapped_column(ForeignKey("payments.id"), primary_key=True)
    amount: Mapped[Decimal]


class Period(Base):
    """A month of the books. Closing records where the hash chain stood (its
    sequence number and hash): an anchor that ``verify`` checks again later."""

    __tablename__ = "periods"
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM
    closed_at: Mapped[dt.datetime | None]
    closed_by: Mapped[str | None] = mapped_column(String(128))
    chain_seq: Mapped[int | None] = mapped_column(BigInteger)
    chain_hash: Mapped[str | None] = mapped_column(String(64))
    reopened_at: Mapped[dt.datetime | None]
    reopened_by: Mapped[str | None] = mapped_column(String(128))


class JournalEntry(Base):
    """A posted entry. ``seq`` and ``hash`` are set once, by the sealer, after
    the entry committed (o2c.services.books.chain); nothing else ever updates it."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        Index("ix_journal_entries_date_id", "date", "id"),
        Index("ix_journal_entries_source", "source_type", "source_id"),
        Index("ix_journal_entries_seq", "seq", unique=True),
        Index("ix_journal_entries_customer_id_date", "customer_id", "date", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    date: Mapped[dt.date] = mapped_column(Date)
    period: Mapped[str] = mapped_column(String(7))
    source_type: Mapped[str] = mapped_column(String(32))
    source_id: Mapped[int] = mapped_column(BigInteger)
    document: Mapped[str] = mapped_column(String(32))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"))
    description: Mapped[str]
    created_at: Mapped[dt.datetime]
    seq: Mapped[int | None] = mapped_column(BigInteger)
    hash: Mapped[str | None] = mapped_column(String(64))


class JournalChain(Base):
    """The head of the hash chain: the last sealed sequence number and hash.
    The sealer locks this row, so one sealer runs at a time."""

    __tablename__ = "journal_chain"
    id: Mapped[int] = mapped_column(primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[dt.datetime | None]


class JournalLine(Base):
    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint("debit >= 0 AND credit >= 0 AND (debit = 0 OR credit = 0)", name="one_side"),
        # The amounts ride along so that sums by account or by entry read
        # the index alone (reconciliation, trial balance, a customer's
        # revenue and cost of sales by their entries).
        Index("ix_journal_lines_account_amounts", "account", "entry_id", "debit", "credit"),
        Index("ix_journal_lines_entry_amounts", "entry_id", "account", "debit", "credit"),
        Index("ix_journal_lines_currency_account", "currency", "account"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.id"))
    account: Mapped[str] = mapped_column(ForeignKey("accounts.code"))
    debit: Mapped[Decimal]
    credit: Mapped[Decimal]
    #: The document's currency and its signed amount in it (debit positive); in the
    #: functional currency the amount is debit − credit.
    currency: Mapped[str] = mapped_column(String(3), server_default="EUR")
    amount: Mapped[Decimal] = mapped_column(CurrencyAmount(), server_default="0")


class AuditLog(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_object", "object_type", "object_id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[dt.datetime]
    actor: Mapped[str] = mapped_column(String(128))
    action: Mapped[str] = mapped_column(String(64))
    object_type: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(BigInteger)
    before: Mapped[dict[str, Any] | None]
    after: Mapped[dict[str, Any] | None]


class Event(Base):
    __tablename__ = "events"
    __table_args__ = (Index("ix_events_channel_id", "channel", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(BigInteger, index=True)
    data: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]


class DunningLetter(Base):
    """One reminder letter to a customer, listing the invoices it chases."""

    __tablename__ = "dunning_letters"
    __table_args__ = (Index("ix_dunning_letters_customer_id_id", "customer_id", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    as_of: Mapped[dt.date] = mapped_column(Date)
    level: Mapped[int]  # the highest level of its notices
    language: Mapped[str] = mapped_column(String(5))
    total: Mapped[Decimal]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class DunningNotice(Base):
    """An invoice chased at a level. Unique per invoice and level: a level is
    never sent twice for the same invoice."""

    __tablename__ = "dunning_notices"
    __table_args__ = (UniqueConstraint("invoice_id", "level"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    letter_id: Mapped[int] = mapped_column(ForeignKey("dunning_letters.id"), index=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    level: Mapped[int]
    days_overdue: Mapped[int]
    balance_due: Mapped[Decimal]


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"
    principal: Mapped[str] = mapped_column(String(80), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    response: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime]


# -- events out: webhook subscriptions, their deliveries, background jobs --------

class Webhook(Base):
    """A subscription: events of one channel (or of every channel when
    ``channel`` is null) posted to ``url``. The signing secret is derived from
    the server's webhook key and ``secret_salt``; it is never stored.
    ``cursor`` is the last event id fanned out into deliveries."""

    __tablename__ = "webhooks"
    __table_args__ = (Index("ix_webhooks_channel_id", "channel", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str | None] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(default="")
    event_types: Mapped[list[str]] = mapped_column(JSON)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    secret_salt: Mapped[str] = mapped_column(String(64))
    previous_secret_salt: Mapped[str | None] = mapped_column(String(64))
    previous_secret_expires_at: Mapped[dt.datetime | None]
    cursor: Mapped[int] = mapped_column(BigInteger, default=0)
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class WebhookDelivery(Base):
    """One event for one webhook. Deliveries of the same order (the lane) are
    sent one at a time in event order; ``status`` is pending, delivered or
    failed (retries exhausted)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id"),
        Index("ix_webhook_deliveries_lane", "webhook_id", "order_id", "event_id"),
        Index("ix_webhook_deliveries_webhook_status", "webhook_id", "status", "id"),
        Index("ix_webhook_deliveries_status_delivered_at", "status", "delivered_at"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    event_type: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[int | None] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    first_attempt_at: Mapped[dt.datetime | None]
    last_attempt_at: Mapped[dt.datetime | None]
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt, with the answer."""

    __tablename__ = "webhook_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    attempted_at: Mapped[dt.datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    response_excerpt: Mapped[str | None] = mapped_column(String(1000))


class Job(Base):
    """Background work, claimed by workers (``o2c worker``).

    ``status``: queued (due at ``run_at``), running (leased to ``locked_by``
    until ``locked_until``; an expired lease makes it claimable again) or
    failed (attempts exhausted; kept for inspection). Finished jobs are
    deleted. At most one queued or running job per ``key``; ``rerun`` asks a
    running job to run once more because its input changed meanwhile.
    Workers claim per lane, i.e. per set of kinds (``o2c.services.platform.jobs``):
    ``ix_jobs_due_by_kind`` reads a kind's unfinished jobs oldest first
    without touching other kinds' rows."""

    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_due_by_kind", "kind", "run_at", "id",
              postgresql_where=text("status IN ('queued', 'running')"),
              sqlite_where=text("status IN ('queued', 'running')")),
        Index("uq_jobs_key_unfinished", "key", unique=True,
              postgresql_where=text("status IN ('queued', 'running')"),
              sqlite_where=text("status IN ('queued', 'running')")),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    key: Mapped[str | None] = mapped_column(String(255))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))
    run_at: Mapped[dt.datetime]
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=10)
    rerun: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_by: Mapped[str | None] = mapped_column(String(128))
    locked_until: Mapped[dt.datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


# --- tax ---

class TaxRate(Base):
    """A VAT rate of a country for a tax class, valid from a date (and until
    ``valid_to``, its last day, when set). Orders freeze the rate they found."""

    __tablename__ = "tax_rates"
    __table_args__ = (UniqueConstraint("country", "tax_class", "valid_from"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    country: Mapped[str] = mapped_column(String(2))
    tax_class: Mapped[str] = mapped_column(String(16))
    rate: Mapped[Decimal] = mapped_column(Rate())
    valid_from: Mapped[dt.date] = mapped_column(Date)
    valid_to: Mapped[dt.date | None] = mapped_column(Date)
# --- outbox ---

class Message(Base):
    """One e-mail to a customer (an invoice, a credit note, a statement, a
    dunning letter, a quotation…), queued in the transaction of the business
    event that causes it and sent by the worker. ``message_id`` (RFC 5322) is
    fixed when it is queued, so a send repeated after a crash carries the same
    one. ``status``: queued, sending (handed to the server, not yet known to
    be accepted), sent, failed (a permanent answer, kept in ``last_error``)."""

    __tablename__ = "messages"
    __table_args__ = (
        Index("ix_messages_customer_id_id", "customer_id", "id"),
        Index("ix_messages_document_type_document_id", "document_type", "document_id"),
        Index("ix_messages_status_id", "status", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    to: Mapped[str] = mapped_column(String(1000))
    subject: Mapped[str] = mapped_column(String(998))
    language: Mapped[str] = mapped_column(String(5))
    template: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    document_type: Mapped[str | None] = mapped_column(String(16))
    document_id: Mapped[int | None] = mapped_column(BigInteger)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str] = mapped_column(Text)
    resent_from: Mapped[int | None] = mapped_column(BigInteger)
    next_attempt_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(128))
    sent_at: Mapped[dt.datetime | None]


class MessageAttachment(Base):
    """A file attached to a message: its bytes, or the stored document file
    it is (``file_kind``, ``file_document_id`` in ``document_files``), so a
    document goes out exactly as it was stored; ``sha256`` of those bytes."""

    __tablename__ = "message_attachments"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[bytes | None] = mapped_column(LargeBinary)
    file_kind: Mapped[str | None] = mapped_column(String(16))
    file_document_id: Mapped[int | None] = mapped_column(BigInteger)
# --- currencies ---


class Currency(Base):
    """An ISO 4217 currency (all of them, seeded), ``enabled`` when documents
    may be written in it; ``rate_source`` says where its rates come from
    (``ecb``: the ECB's reference rates; ``manual``: entered or imported by hand)."""

    __tablename__ = "currencies"
    code: Mapped[str] = mapped_column(String(3), primary_key=True)
    minor_units: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    rate_source: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[dt.datetime | None]


class FxRate(Base):
    """A currency's rate on a day: units of the currency per unit of the
    functional currency. ``used_at`` is set the first time a document takes
    it; once used, it no longer changes for a day in a closed period."""

    __tablename__ = "fx_rates"
    __table_args__ = (
        UniqueConstraint("currency", "date"),
        CheckConstraint("rate > 0", name="rate_positive"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    currency: Mapped[str] = mapped_column(ForeignKey("currencies.code"))
    date: Mapped[dt.date] = mapped_column(Date)
    rate: Mapped[Decimal] = mapped_column(ExchangeRate())
    source: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]


class PriceListEntry(Base):
    """A fixed price of a product in a currency other than the functional
    one; a product without one is sold at its EUR price converted at the
    day's rate."""

    __tablename__ = "price_lists"
    __table_args__ = (UniqueConstraint("product_id", "currency"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    currency: Mapped[str] = mapped_column(ForeignKey("currencies.code"))
    unit_price: Mapped[Decimal] = mapped_column(CurrencyAmount())
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class FxRevaluation(Base):
    """A period-end revaluation of the open foreign-currency receivables and
    customer credit at one day's rates (o2c.services.books.revaluation): the
    entry dated ``as_of`` and its reversal dated ``reversal_on``, the first day
    of the next month, both with source ``fx_revaluation`` and this id. One
    per day."""

    __tablename__ = "fx_revaluations"
    __table_args__ = (UniqueConstraint("as_of"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    as_of: Mapped[dt.date] = mapped_column(Date)
    reversal_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(128))


class FxRevaluationLine(Base):
    """One balance revalued: a posting role's balance in one currency
    (``amount``), its functional value as booked, at the day's ``rate``, and
    the ``difference`` posted (debit positive on the role's account)."""

    __tablename__ = "fx_revaluation_lines"
    __table_args__ = (UniqueConstraint("revaluation_id", "currency", "role"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    revaluation_id: Mapped[int] = mapped_column(ForeignKey("fx_revaluations.id"))
    currency: Mapped[str] = mapped_column(ForeignKey("currencies.code"))
    role: Mapped[str] = mapped_column(String(32))
    amount: Mapped[Decimal] = mapped_column(CurrencyAmount())
    rate: Mapped[Decimal] = mapped_column(ExchangeRate())
    rate_date: Mapped[dt.date] = mapped_column(Date)
    booked: Mapped[Decimal] = mapped_column(Money())
    revalued: Mapped[Decimal] = mapped_column(Money())
    difference: Mapped[Decimal] = mapped_column(Money())


# --- bank ---


class BankAccount(Base):
    """An account o2c holds at a bank, tied to the GL account its money is
    booked on (1000 Bank by default). ``csv_mappings`` keeps the named column
    mappings its CSV exports are read with (``o2c.domain.bankfiles.csvfile``)."""

    __tablename__ = "bank_accounts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    iban: Mapped[str] = mapped_column(String(34), unique=True)
    name: Mapped[str]
    currency: Mapped[str] = mapped_column(String(3))
    gl_account: Mapped[str] = mapped_column(ForeignKey("accounts.code"))
    csv_mappings: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime]


class BankStatement(Base):
    """One statement of one bank account as the bank sent it. ``identity`` is
    unique per account (the statement reference with its dates and balances),
    so the same statement imported again is found, not added. ``continuity``
    says whether the opening balance continues the previous statement's
    closing balance (ok), days are missing in between (gap, ``gap_from`` …
    ``gap_to``) or the two overlap."""

    __tablename__ = "bank_statements"
    __table_args__ = (
        UniqueConstraint("bank_account_id", "identity"),
        Index("ix_bank_statements_account_to_date", "bank_account_id", "to_date", "id"),
        CheckConstraint("continuity IN ('ok', 'gap', 'overlap')", name="continuity_known"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_account_id: Mapped[int] = mapped_column(ForeignKey("bank_accounts.id"))
    identity: Mapped[str] = mapped_column(String(64))
    statement_ref: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))  # camt.053, mt940, csv
    from_date: Mapped[dt.date] = mapped_column(Date)
    to_date: Mapped[dt.date] = mapped_column(Date)
    opening_balance: Mapped[Decimal | None]
    closing_balance: Mapped[Decimal | None]
    currency: Mapped[str] = mapped_column(String(3))
    continuity: Mapped[str] = mapped_column(String(16))
    gap_from: Mapped[dt.date | None] = mapped_column(Date)
    gap_to: Mapped[dt.date | None] = mapped_column(Date)
    file_sha256: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[dt.datetime]


class BankLine(Base):
    """One booked line of a statement; ``amount`` is signed (credits, money in,
    positive). ``identity`` is unique per bank account: the bank's own entry
    reference, else a stable hash of date, amount, counterparty, remittance and
    position among equal lines, so no line is imported twice. ``status``:
    unmatched (as imported), suggested, matched (a payment), booked (a journal
    entry) or ignored (with the reason); ``rule`` names what decided it."""

    __tablename__ = "bank_lines"
    __table_args__ = (
        UniqueConstraint("bank_account_id", "identity"),
        Index("ix_bank_lines_statement_id_position", "statement_id", "position"),
        Index("ix_bank_lines_status_id", "status", "id"),
        Index("ix_bank_lines_account_booking_date", "bank_account_id", "booking_date"),
        CheckConstraint("amount <> 0", name="amount_not_zero"),
        CheckConstraint("status IN ('unmatched', 'suggested', 'matched', 'booked', 'ignored')",
                        name="status_known"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    statement_id: Mapped[int] = mapped_column(ForeignKey("bank_statements.id"))
    bank_account_id: Mapped[int] = mapped_column(ForeignKey("bank_accounts.id"))
    identity: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    booking_date: Mapped[dt.date] = mapped_column(Date)
    value_date: Mapped[dt.date | None] = mapped_column(Date)
    amount: Mapped[Decimal]
    currency: Mapped[str] = mapped_column(String(3))
    counterparty_name: Mapped[str] = mapped_column(String(255), default="")
    counterparty_iban: Mapped[str | None] = mapped_column(String(34), index=True)
    counterparty_bic: Mapped[str | None] = mapped_column(String(11))
    remittance: Mapped[str] = mapped_column(Text, default="")
    creditor_ref: Mapped[str | None] = mapped_column(String(64))
    end_to_end_id: Mapped[str | None] = mapped_column(String(64))
    bank_ref: Mapped[str | None] = mapped_column(String(64))
    transaction_code: Mapped[str | None] = mapped_column(String(64))
    reversal: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="unmatched")
    rule: Mapped[str | None] = mapped_column(String(32))
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    journal_entry_id: Mapped[int | None] = mapped_column(ForeignKey("journal_entries.id"))
    suggestion: Mapped[dict[str, Any] | None]
    unmatched_reason: Mapped[str | None] = mapped_column(String(500))
    ignore_reason: Mapped[str | None] = mapped_column(String(500))
    decided_by: Mapped[str | None] = mapped_column(String(128))
    decided_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]


# --- bank cash application ---


class BankRule(Base):
    """A cash application rule (``o2c.domain.cashmatch``): the administrator
    orders them by ``position`` and switches them off; ``params`` tune them
    (tolerance, write-off account…)."""

    __tablename__ = "bank_rules"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    params: Mapped[dict[str, Any]]
    updated_at: Mapped[dt.datetime | None]
    updated_by: Mapped[str | None] = mapped_column(String(128))


class CustomerIban(Base):
    """An IBAN a customer paid from, learned when a clerk matched a statement
    line by hand: later lines from it find the customer."""

    __tablename__ = "customer_ibans"
    iban: Mapped[str] = mapped_column(String(34), primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    learned_from_line_id: Mapped[int | None] = mapped_column(ForeignKey("bank_lines.id"))
    created_at: Mapped[dt.datetime]


class BankLineLink(Base):
    """What a statement line settled: the payment(s) it became (one per
    customer when a line is split across customers) or the refund it paid
    out. ``bank_lines.payment_id`` keeps the first payment."""

    __tablename__ = "bank_line_links"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    bank_line_id: Mapped[int] = mapped_column(ForeignKey("bank_lines.id"), index=True)
    payment_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True)
    refund_id: Mapped[int | None] = mapped_column(ForeignKey("refunds.id"), unique=True)
    amount: Mapped[Decimal]


# --- customers after the sale ---

class Coupon(Base):
    """A discount code: percent or amount off, for one customer or anyone.
    ``redemptions`` counts the confirmed orders carrying it; the check keeps
    it within ``max_redemptions`` whatever the concurrency."""

    __tablename__ = "coupons"
    __table_args__ = (
        CheckConstraint("redemptions >= 0 AND redemptions <= max_redemptions", name="redemptions_within_max"),
        CheckConstraint("(percent_off IS NULL) <> (amount_off IS NULL)", name="one_kind_of_discount"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    percent_off: Mapped[Decimal | None] = mapped_column(Rate())
    amount_off: Mapped[Decimal | None]
    min_order_net: Mapped[Decimal | None]
    valid_until: Mapped[dt.date | None] = mapped_column(Date)
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id"), index=True)
    max_redemptions: Mapped[int] = mapped_column(Integer, default=1)
    redemptions: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime]


class AssociationRun(Base):
    """One computation of the product associations: when, and up to which day of orders."""

    __tablename__ = "association_runs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    computed_at: Mapped[dt.datetime]
    data_as_of: Mapped[dt.date] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(BigInteger)
    rules: Mapped[int] = mapped_column(BigInteger)


class ProductAssociation(Base):
    """"Customers who bought X also bought Y", as exact counts over orders:
    support = pair / orders, confidence = pair / x, lift = confidence / (y / orders)."""

    __tablename__ = "product_associations"
    __table_args__ = (Index("ix_product_associations_x_pair", "x_product_id", "pair_orders"),)
    x_product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    y_product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), primary_key=True)
    pair_orders: Mapped[int] = mapped_column(BigInteger)
    x_orders: Mapped[int] = mapped_column(BigInteger)
    y_orders: Mapped[int] = mapped_column(BigInteger)
    all_orders: Mapped[int] = mapped_column(BigInteger)
    computed_at: Mapped[dt.datetime]
    data_as_of: Mapped[dt.date] = mapped_column(Date)


class Feedback(Base):
    """A satisfaction request after a shipment and its answer (one per
    shipment; answering again replaces the answer). Only the token's hash is kept."""

    __tablename__ = "feedback"
    __table_args__ = (CheckConstraint("score IS NULL OR (score BETWEEN 1 AND 5)", name="score_1_to_5"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    shipment_id: Mapped[int] = mapped_column(ForeignKey("shipments.id"), unique=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    score: Mapped[int | None] = mapped_column(Integer)
    comment: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    answered_at: Mapped[dt.datetime | None]


class FollowUpTask(Base):
    """Something a clerk should do about a customer: ask the reasons for a low score or a comment."""

    __tablename__ = "follow_up_tasks"
    __table_args__ = (Index("ix_follow_up_tasks_status_id", "status", "id"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), index=True)
    feedback_id: Mapped[int | None] = mapped_column(ForeignKey("feedback.id"), unique=True)
    title: Mapped[str]
    status: Mapped[str] = mapped_column(String(16), default="open")
    owner: Mapped[str | None] = mapped_column(String(128))
    due_date: Mapped[dt.date] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime]
    done_at: Mapped[dt.datetime | None]


class CustomerRfm(Base):
    """Each customer's recency, frequency and monetary figures as last computed
    (with the associations): the population a customer's RFM is scored against."""

    __tablename__ = "customer_rfm"
    __table_args__ = (
        Index("ix_customer_rfm_last_order_on", "last_order_on"),
        Index("ix_customer_rfm_orders", "orders"),
        Index("ix_customer_rfm_monetary", "monetary"),
    )
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"), primary_key=True)
    last_order_on: Mapped[dt.date] = mapped_column(Date)
    orders: Mapped[int] = mapped_column(BigInteger)
    monetary: Mapped[Decimal]
    computed_at: Mapped[dt.datetime]


# --- quotations ---


class Quote(Base):
    """A quotation: the offer before an order. Its terms and lines live in
    revisions; ``revision`` is the current one (the only one that can be
    accepted). ``valid_until`` mirrors the current revision's, for the expiry
    job. An accepted quotation names the order it became; ``conversion_note``
    says why that order stayed a draft (stock, credit), if it did."""

    __tablename__ = "quotes"
    __table_args__ = (
        Index("ix_quotes_status_valid_until", "status", "valid_until"),
        Index("ix_quotes_customer_id_id", "customer_id", "id"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    number: Mapped[str] = mapped_column(String(32), unique=True)
    channel: Mapped[str] = mapped_column(String(64))
    created_by: Mapped[str] = mapped_column(String(255))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))
    revision: Mapped[int] = mapped_column(Integer, default=1)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    order_id: Mapped[int | None] = mapped_column(ForeignKey("orders.id"))
    conversion_note: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[dt.datetime | None]
    accepted_at: Mapped[dt.datetime | None]
    accepted_by: Mapped[str | None] = mapped_column(String(255))
    accepted_revision: Mapped[int | None] = mapped_column(Integer)
    purchase_order: Mapped[str | None] = mapped_column(String(128))
    accepted_ip: Mapped[str | None] = mapped_column(String(64))
    declined_at: Mapped[dt.datetime | None]
    declined_reason: Mapped[str | None] = mapped_column(String(64))
    declined_comment: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[dt.datetime | None]
    expired_at: Mapped[dt.datetime | None]
    reminded_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime]
    updated_at: Mapped[dt.datetime]


class QuoteRevision(Base):
    """One revision of a quotation's terms and lines; read-only once a later
    revision supersedes it. ``token_hash``: the SHA-256 of the acceptance
    link's token sent with this revision (the token itself is never stored)."""

    __tablename__ = "quote_revisions"
    __table_args__ = (UniqueConstraint("quote_id", "revision"),)
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    quote_id: Mapped[int] = mapped_column(ForeignKey("quotes.id"))
    revision: Mapped[int] = mapped_column(Integer)
    valid_until: Mapped[dt.date] = mapped_column(Date)
    payment_terms_days: Mapped[int] = mapped_column(Integer)
    delivery_terms: Mapped[str | None] = mapped_column(String(500))
    requested_delivery_date: Mapped[dt.date | None] = mapped_column(Date)
    note: Mapped[str | None] = mapped_column(Text)
    net_total: Mapped[Decimal]
    vat_total: Mapped[Decimal]
    total: Mapped[Decimal]
    created_at: Mapped[dt.datetime]
    created_by: Mapped[str] = mapped_column(String(255))
    sent_at: Mapped[dt.datetime | None]
    superseded_at: Mapped[dt.datetime | None]
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    #: The treatment decided when the revision was priced, as an order freezes
    #: it (``tax.tax_columns``): its order and invoice will have the same.
    tax_treatment: Mapped[str] = mapped_column(String(20), default="domestic", server_default="domestic")
    tax_country: Mapped[str] = mapped_column(String(2), default="IT", server_default="IT")
    buyer_vat_id: Mapped[str] = mapped_column(String(64), default="", server_default="")
    ship_to_country: Mapped[str] = mapped_column(String(2), default="", server_default="")
    #: The coupon the lines' discounts include; the order made at acceptance
    #: carries it and redeems it when confirmed.
    coupon_id: Mapped[int | None] = mapped_column(ForeignKey("coupons.id"))
    #: The day's rate when the revision was priced (1 in the functional
    #: currency) and its total at that rate: what the pipeline adds up, so
    #: offers in several currencies are never summed as they are. The order
    #: made at acceptance freezes its own rate when invoiced.
    exchange_rate: Mapped[Decimal] = mapped_column(ExchangeRate(), server_default="10000000000")
    functional_total: Mapped[Decimal] = mapped_column(server_default="0")


class QuoteLine(Base):
    """A line of one revision: price, discount and VAT rate frozen as on an
    order. ``optional`` lines are offered; the customer may add them when
    accepting; they are not in the revision's totals."""

    __tablename__ = "quote_lines"
    __table_args__ = (
        CheckConstraint("quantity > 0", name="quantity_positive"),
        UniqueConstraint("revision_id", "line_no"),
    )
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    revision_id: Mapped[int] = mapped_column(ForeignKey("quote_revisions.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    sku: Mapped[str] = mapped_column(String(64))
    description: Mapped[str]
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal]
    discount: Mapped[Decimal] = mapped_column(Rate())
    vat_rate: Mapped[Decimal] = mapped_column(Rate())
    #: UNCL 5305 VAT category, as on an order line.
    vat_category: Mapped[str] = mapped_column(String(2), default="S", server_default="S")
    net: Mapped[Decimal]
    optional: Mapped[bool] = mapped_column(Boolean, default=False)
    #: The discount as quoted before the revision's coupon was added to it
    #: (null without a coupon): what a revision prices again.
    discount_before_coupon: Mapped[Decimal | None] = mapped_column(Rate())
