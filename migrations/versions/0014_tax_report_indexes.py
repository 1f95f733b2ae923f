"""Tax reports: invoices and credit notes by issue date with their treatment.

The VAT report, the EC sales list and the OSS return read the documents of a
period (a month, a quarter) by ``issue_date`` and group them by treatment and
country; ``(issue_date, tax_treatment, tax_country, id)`` serves that range
from the index alone, ``id`` being the key their VAT rows are joined on.

Revision ID: 0014
Revises: 0013
"""
from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

COLUMNS = ["issue_date", "tax_treatment", "tax_country", "id"]


def upgrade() -> None:
    op.create_index("ix_invoices_issue_date_tax", "invoices", COLUMNS)
    op.create_index("ix_credit_notes_issue_date_tax", "credit_notes", COLUMNS)


def downgrade() -> None:
    op.drop_index("ix_credit_notes_issue_date_tax", table_name="credit_notes")
    op.drop_index("ix_invoices_issue_date_tax", table_name="invoices")
