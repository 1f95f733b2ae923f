"""API key lifecycle: a channel apart from the name, expiry, last use.

- ``api_keys.channel``: the channel a webshop key orders for (until now the
  key's name was its channel). Existing keys keep their channel: it is
  backfilled with their name. Several keys may serve one channel, and a
  rotated key keeps its name, so the name is no longer unique.
- ``api_keys.expires_at``: optional; from then on the key is refused.
- ``api_keys.last_used_at``: when the key was last seen (written at most once
  a minute per key).
- ``revoked_at`` exists already; it may now lie in the future (a rotation's
  grace period).

Revision ID: 0011
Revises: 0010
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import o2c.db.types


revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("last_used_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("expires_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True))
    op.execute("UPDATE api_keys SET channel = name")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.alter_column("channel", existing_type=sa.String(length=64), nullable=False)
        batch_op.drop_constraint(op.f("uq_api_keys_name"), type_="unique")
        batch_op.create_index("ix_api_keys_name", ["name"], unique=False)


def downgrade() -> None:
    # A name used by several keys (rotations) cannot be unique again: the
    # newest key keeps it, older ones get their id appended.
    op.execute("UPDATE api_keys SET name = substr(name, 1, 40) || '-' || CAST(id AS VARCHAR(20)) "
               "WHERE id NOT IN (SELECT max(id) FROM api_keys GROUP BY name)")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_api_keys_name")
        batch_op.create_unique_constraint(op.f("uq_api_keys_name"), ["name"])
        batch_op.drop_column("expires_at")
        batch_op.drop_column("last_used_at")
        batch_op.drop_column("channel")
