"""Currencies: the ISO 4217 table (EUR enabled), daily exchange rates with
their source, and fixed prices per product and currency.

Every ISO 4217 code is seeded with the decimals of its minor unit and where
its rates come from (the ECB's reference rates, or by hand); only EUR, the
functional currency, is enabled. A rate is stored exactly as an integer
number of 10⁻¹⁰ units, a price list's price as ten-thousandths, on both
databases.

Revision ID: 0020
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types
from o2c.domain.currencies import ISO_4217, rate_source

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    currencies = op.create_table(
        "currencies",
        sa.Column("code", sa.String(length=3), nullable=False),
        sa.Column("minor_units", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("rate_source", sa.String(length=16), nullable=False),
        sa.Column("updated_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_currencies")),
    )
    op.create_table(
        "fx_rates",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("rate", o2c.db.types.ExchangeRate(), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("created_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("used_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("rate > 0", name=op.f("ck_fx_rates_rate_positive")),
        sa.ForeignKeyConstraint(["currency"], ["currencies.code"], name=op.f("fk_fx_rates_currency_currencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
        sa.UniqueConstraint("currency", "date", name=op.f("uq_fx_rates_currency_date")),
    )
    op.create_table(
        "price_lists",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("product_id", BIG_ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("unit_price", o2c.db.types.CurrencyAmount(), nullable=False),
        sa.Column("created_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["currency"], ["currencies.code"], name=op.f("fk_price_lists_currency_currencies")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_price_lists_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_price_lists")),
        sa.UniqueConstraint("product_id", "currency", name=op.f("uq_price_lists_product_id_currency")),
    )
    op.bulk_insert(currencies, [
        {"code": code, "minor_units": places, "enabled": code == "EUR", "rate_source": rate_source(code),
         "updated_at": None}
        for code, places in ISO_4217.items()])


def downgrade() -> None:
    op.drop_table("price_lists")
    op.drop_table("fx_rates")
    op.drop_table("currencies")
