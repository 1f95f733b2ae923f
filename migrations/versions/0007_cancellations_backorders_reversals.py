"""Cancellations, backorders and payment corrections.

- ``orders.allow_backorder``: confirmation reserves what is available and keeps
  the rest of a line open (``order_lines.backordered_quantity``) instead of
  refusing the order; a goods receipt reserves for open backorders, oldest
  first. A partial index finds the lines waiting for a SKU.
- ``payments.status`` (``received`` or ``reversed``), with when and why a
  payment was reversed.
- ``payment_allocations`` become an append-only history: undoing an
  allocation (a reversal, credit taken back from an invoice) is a negative row
  dated the day it happened, so balances as of any date stay reproducible.

Revision ID: 0007
Revises: 0004
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import o2c.db.types


revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

_WAITING = sa.text("backordered_quantity > 0")


def upgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("allow_backorder", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.add_column(sa.Column("backordered_quantity", sa.BigInteger(), nullable=False, server_default="0"))
        batch_op.create_check_constraint(op.f("ck_order_lines_backordered_non_negative"), "backordered_quantity >= 0")
    op.create_index("ix_order_lines_backordered", "order_lines", ["product_id", "order_id"], unique=False,
                    sqlite_where=_WAITING, postgresql_where=_WAITING)
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("status", sa.String(length=16), nullable=False, server_default="received"))
        batch_op.add_column(sa.Column("reversed_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("reversal_reason", sa.String(length=500), nullable=True))
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payment_allocations_amount_positive"), type_="check")
        batch_op.create_check_constraint(op.f("ck_payment_allocations_amount_not_zero"), "amount <> 0")


def downgrade() -> None:
    with op.batch_alter_table("payment_allocations", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_payment_allocations_amount_not_zero"), type_="check")
        batch_op.create_check_constraint(op.f("ck_payment_allocations_amount_positive"), "amount > 0")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_column("reversal_reason")
        batch_op.drop_column("reversed_at")
        batch_op.drop_column("status")
    op.drop_index("ix_order_lines_backordered", table_name="order_lines")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_order_lines_backordered_non_negative"), type_="check")
        batch_op.drop_column("backordered_quantity")
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("allow_backorder")
