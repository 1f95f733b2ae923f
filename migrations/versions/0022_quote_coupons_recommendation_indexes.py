"""Quotations carry a coupon: each revision names the coupon its lines'
discounts include, so the order its acceptance makes redeems it when it is
confirmed; each line keeps its discount before the coupon, so a revision
prices it again.

Two indexes let a customer's recommendations read what they buy from the
indexes alone: orders by (customer_id, status, id), and order lines by
(order_id, product_id), which replaces the index on order_id.

Revision ID: 0022
Revises: 0021
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("quote_revisions") as batch:
        batch.add_column(sa.Column("coupon_id", BigId, nullable=True))
        batch.create_foreign_key(op.f("fk_quote_revisions_coupon_id_coupons"), "coupons", ["coupon_id"], ["id"])
    with op.batch_alter_table("quote_lines") as batch:
        batch.add_column(sa.Column("discount_before_coupon", o2c.db.types.Rate(), nullable=True))
    op.create_index("ix_orders_customer_id_status_id", "orders", ["customer_id", "status", "id"])
    op.create_index("ix_order_lines_order_id_product_id", "order_lines", ["order_id", "product_id"])
    op.drop_index("ix_order_lines_order_id", table_name="order_lines")


def downgrade() -> None:
    op.create_index("ix_order_lines_order_id", "order_lines", ["order_id"])
    op.drop_index("ix_order_lines_order_id_product_id", table_name="order_lines")
    op.drop_index("ix_orders_customer_id_status_id", table_name="orders")
    with op.batch_alter_table("quote_lines") as batch:
        batch.drop_column("discount_before_coupon")
    with op.batch_alter_table("quote_revisions") as batch:
        batch.drop_constraint(op.f("fk_quote_revisions_coupon_id_coupons"), type_="foreignkey")
        batch.drop_column("coupon_id")
