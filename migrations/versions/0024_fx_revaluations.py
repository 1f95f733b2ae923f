"""Period-end revaluation of foreign-currency balances: each revaluation (one
per day) with the balances it revalued, and the accounts of the unrealised
exchange gains and losses it posts (4910, 6910).

Revision ID: 0024
Revises: 0023
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
NEW_ACCOUNTS = (("4910", "fx_unrealised_gain", "Unrealised exchange gains", "revenue"),
                ("6910", "fx_unrealised_loss", "Unrealised exchange losses", "expense"))


def upgrade() -> None:
    op.create_table(
        "fx_revaluations",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("reversal_on", sa.Date(), nullable=False),
        sa.Column("created_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_revaluations")),
        sa.UniqueConstraint("as_of", name=op.f("uq_fx_revaluations_as_of")),
    )
    op.create_table(
        "fx_revaluation_lines",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("revaluation_id", BIG_ID, nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("amount", o2c.db.types.CurrencyAmount(), nullable=False),
        sa.Column("rate", o2c.db.types.ExchangeRate(), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("booked", o2c.db.types.Money(), nullable=False),
        sa.Column("revalued", o2c.db.types.Money(), nullable=False),
        sa.Column("difference", o2c.db.types.Money(), nullable=False),
        sa.ForeignKeyConstraint(["currency"], ["currencies.code"],
                                name=op.f("fk_fx_revaluation_lines_currency_currencies")),
        sa.ForeignKeyConstraint(["revaluation_id"], ["fx_revaluations.id"],
                                name=op.f("fk_fx_revaluation_lines_revaluation_id_fx_revaluations")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_revaluation_lines")),
        sa.UniqueConstraint("revaluation_id", "currency", "role",
                            name=op.f("uq_fx_revaluation_lines_revaluation_id_currency_role")),
    )
    # Accounts that kept their postings through a downgrade are there already.
    for code, role, name, type_ in NEW_ACCOUNTS:
        op.execute(f"INSERT INTO accounts (code, role, name, type) SELECT '{code}', '{role}', '{name}', '{type_}' "
                   f"WHERE NOT EXISTS (SELECT 1 FROM accounts WHERE code = '{code}')")
        op.execute(f"INSERT INTO account_roles (role, account, assigned_at) SELECT '{role}', '{code}', "
                   f"CURRENT_TIMESTAMP WHERE NOT EXISTS (SELECT 1 FROM account_roles WHERE account = '{code}')")


def downgrade() -> None:
    # Accounts with postings stay (the journal is never rewritten); the others go.
    roles = ", ".join(f"'{r}'" for _, r, _, _ in NEW_ACCOUNTS)
    unused = "SELECT code FROM accounts WHERE code NOT IN (SELECT DISTINCT account FROM journal_lines)"
    op.execute(f"DELETE FROM account_roles WHERE role IN ({roles}) AND account IN ({unused})")
    op.execute(f"DELETE FROM accounts WHERE role IN ({roles}) AND code IN ({unused})")
    op.drop_table("fx_revaluation_lines")
    op.drop_table("fx_revaluations")
