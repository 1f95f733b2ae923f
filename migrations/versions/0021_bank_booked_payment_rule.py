"""Cash application: a statement line reporting a payment a clerk typed in
before the statement came is linked to that payment, not posted again. The
rule ``booked_payment`` goes first (the others move down one), with the
window in days between the payment's date and the line's booking date.

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 19:40:00.000000
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa

revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None

rules = sa.table('bank_rules', sa.column('name', sa.String()), sa.column('position', sa.Integer()),
                 sa.column('enabled', sa.Boolean()), sa.column('params', sa.JSON()))


def upgrade() -> None:
    op.execute(rules.update().values(position=rules.c.position + 1))
    op.bulk_insert(rules, [{"name": "booked_payment", "position": 1, "enabled": True, "params": {"days": 5}}])


def downgrade() -> None:
    op.execute("UPDATE bank_rules SET position = position - 1 WHERE position > "
               "(SELECT position FROM bank_rules WHERE name = 'booked_payment')")
    op.execute(rules.delete().where(rules.c.name == 'booked_payment'))
