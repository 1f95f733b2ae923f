"""Quotations in foreign currencies: each revision keeps the rate of the day
it was priced at and its total in the functional currency, which the
pipeline report adds up.

Existing quotations are in the functional currency: their rate is 1 and
their functional total their own.

Revision ID: 0025
Revises: 0024
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None

#: 1 in units of 10⁻¹⁰ (the exchange rate column's scale).
ONE = "10000000000"


def upgrade() -> None:
    op.add_column("quote_revisions", sa.Column("exchange_rate", o2c.db.types.ExchangeRate(), nullable=False,
                                               server_default=ONE))
    op.add_column("quote_revisions", sa.Column("functional_total", o2c.db.types.Money(), nullable=False,
                                               server_default="0"))
    op.execute("UPDATE quote_revisions SET functional_total = total")


def downgrade() -> None:
    with op.batch_alter_table("quote_revisions") as b:
        b.drop_column("functional_total")
        b.drop_column("exchange_rate")
