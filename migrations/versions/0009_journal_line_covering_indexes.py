"""Journal line indexes that carry the amounts.

The reconciliation, the trial balance and the balances per posting role read
journal lines by account (and by entry) only to sum their debits and credits.
With the amounts in the index those reads never touch the table: the two
indexes on ``journal_lines`` are replaced by the same keys plus
``debit, credit``. They serve every lookup the old ones served (same leading
columns), so writes keep two indexes as before.

Revision ID: 0009
Revises: 0008
"""
from __future__ import annotations

from alembic import op


revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_journal_lines_account_amounts", "journal_lines", ["account", "entry_id", "debit", "credit"])
    op.drop_index("ix_journal_lines_account_entry", table_name="journal_lines")
    op.create_index("ix_journal_lines_entry_amounts", "journal_lines", ["entry_id", "debit", "credit"])
    op.drop_index("ix_journal_lines_entry_id", table_name="journal_lines")


def downgrade() -> None:
    op.create_index("ix_journal_lines_entry_id", "journal_lines", ["entry_id"])
    op.drop_index("ix_journal_lines_entry_amounts", table_name="journal_lines")
    op.create_index("ix_journal_lines_account_entry", "journal_lines", ["account", "entry_id"])
    op.drop_index("ix_journal_lines_account_amounts", table_name="journal_lines")
