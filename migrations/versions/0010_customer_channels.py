"""Whose customers a webshop may use: the webshop channels that may reference
each customer.

A customer is shared with a channel by a row in ``customer_channels``; the
primary key (customer, channel) answers the check every order makes, the
index (channel, customer) lists a channel's customers. Existing customers are
shared with every webshop channel that has already ordered for them (a
channel is a webshop's when an API key of the ``webshop`` role bears its
name), so the shops' existing integrations keep working; nothing else is
shared.

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_channels",
        sa.Column("customer_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_customer_channels_customer_id_customers")),
        sa.PrimaryKeyConstraint("customer_id", "channel", name=op.f("pk_customer_channels")),
    )
    op.create_index("ix_customer_channels_channel_customer", "customer_channels", ["channel", "customer_id"])
    op.execute(
        "INSERT INTO customer_channels (customer_id, channel) "
        "SELECT DISTINCT o.customer_id, o.channel FROM orders o "
        "WHERE o.channel IN (SELECT k.name FROM api_keys k WHERE k.role = 'webshop')"
    )


def downgrade() -> None:
    op.drop_index("ix_customer_channels_channel_customer", table_name="customer_channels")
    op.drop_table("customer_channels")
