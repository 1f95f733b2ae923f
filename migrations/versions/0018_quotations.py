"""Quotations: the offer before the order, negotiated by revision, accepted
through a signed link.

``quotes`` holds a quotation's state (and what its acceptance, decline,
cancellation or expiry recorded); ``quote_revisions`` the terms of each
revision with its totals and the hash of the acceptance link sent with it;
``quote_lines`` each revision's lines, prices frozen. A revision freezes the tax
treatment as an order does (``tax_treatment``, ``tax_country``, ``buyer_vat_id``,
``ship_to_country``), its lines their ``vat_category``. Orders gain
``payment_terms_days``: terms agreed on a quotation, which the order's
invoices follow instead of the customer's default (null: the customer's).

Revision ID: 0018
Revises: 0017
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("payment_terms_days", sa.Integer(), nullable=True))
    op.create_table(
        "quotes",
        sa.Column("id", ID, nullable=False),
        sa.Column("number", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("customer_id", ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("order_id", ID, nullable=True),
        sa.Column("conversion_note", sa.String(length=500), nullable=True),
        sa.Column("sent_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("accepted_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.String(length=255), nullable=True),
        sa.Column("accepted_revision", sa.Integer(), nullable=True),
        sa.Column("purchase_order", sa.String(length=128), nullable=True),
        sa.Column("accepted_ip", sa.String(length=64), nullable=True),
        sa.Column("declined_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("declined_reason", sa.String(length=64), nullable=True),
        sa.Column("declined_comment", sa.Text(), nullable=True),
        sa.Column("cancelled_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("expired_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("reminded_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_quotes_customer_id_customers")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name=op.f("fk_quotes_order_id_orders")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
        sa.UniqueConstraint("number", name=op.f("uq_quotes_number")),
    )
    op.create_index("ix_quotes_status_valid_until", "quotes", ["status", "valid_until"])
    op.create_index("ix_quotes_customer_id_id", "quotes", ["customer_id", "id"])
    op.create_table(
        "quote_revisions",
        sa.Column("id", ID, nullable=False),
        sa.Column("quote_id", ID, nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False),
        sa.Column("delivery_terms", sa.String(length=500), nullable=True),
        sa.Column("requested_delivery_date", sa.Date(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("net_total", o2c.db.types.Money(), nullable=False),
        sa.Column("vat_total", o2c.db.types.Money(), nullable=False),
        sa.Column("total", o2c.db.types.Money(), nullable=False),
        sa.Column("created_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=False),
        sa.Column("sent_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("token_hash", sa.String(length=64), nullable=True),
        sa.Column("tax_treatment", sa.String(length=20), server_default="domestic", nullable=False),
        sa.Column("tax_country", sa.String(length=2), server_default="IT", nullable=False),
        sa.Column("buyer_vat_id", sa.String(length=64), server_default="", nullable=False),
        sa.Column("ship_to_country", sa.String(length=2), server_default="", nullable=False),
        sa.ForeignKeyConstraint(["quote_id"], ["quotes.id"], name=op.f("fk_quote_revisions_quote_id_quotes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_revisions")),
        sa.UniqueConstraint("quote_id", "revision", name=op.f("uq_quote_revisions_quote_id_revision")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_quote_revisions_token_hash")),
    )
    op.create_table(
        "quote_lines",
        sa.Column("id", ID, nullable=False),
        sa.Column("revision_id", ID, nullable=False),
        sa.Column("line_no", sa.Integer(), nullable=False),
        sa.Column("product_id", ID, nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("unit_price", o2c.db.types.Money(), nullable=False),
        sa.Column("discount", o2c.db.types.Rate(), nullable=False),
        sa.Column("vat_rate", o2c.db.types.Rate(), nullable=False),
        sa.Column("vat_category", sa.String(length=2), server_default="S", nullable=False),
        sa.Column("net", o2c.db.types.Money(), nullable=False),
        sa.Column("optional", sa.Boolean(), nullable=False),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_quote_lines_quantity_positive")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_quote_lines_product_id_products")),
        sa.ForeignKeyConstraint(["revision_id"], ["quote_revisions.id"],
                                name=op.f("fk_quote_lines_revision_id_quote_revisions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quote_lines")),
        sa.UniqueConstraint("revision_id", "line_no", name=op.f("uq_quote_lines_revision_id_line_no")),
    )


def downgrade() -> None:
    op.drop_table("quote_lines")
    op.drop_table("quote_revisions")
    op.drop_index("ix_quotes_customer_id_id", table_name="quotes")
    op.drop_index("ix_quotes_status_valid_until", table_name="quotes")
    op.drop_table("quotes")
    with op.batch_alter_table("orders") as batch:
        batch.drop_column("payment_terms_days")
