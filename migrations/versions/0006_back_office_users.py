"""Back-office users: who signs in to the web forms, with a role, a password
hash (scrypt) and a failed-login counter that locks the account for a while.

Revision ID: 0006
Revises: 0002
Create Date: 2026-11-24 16:25:05.648505
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import o2c.db.types


revision = "0006"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("last_login_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("username", name=op.f("uq_users_username")),
    )


def downgrade() -> None:
    op.drop_table("users")
