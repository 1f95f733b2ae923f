"""One customer's insights read from indexes alone: six indexes gain the
columns those reads need, so that a customer with hundreds of orders costs
index pages in key order instead of a random table read per row.

- journal entries by (customer_id, date) gain ``id``, journal lines by
  (entry_id, debit, credit) gain ``account``: revenue and cost of sales
  posted for the customer;
- orders by (customer_id, status, id) gain ``created_at``: first and last order;
- order lines by (order_id, product_id) gain the shipped and returned
  quantities: the returns rate;
- invoices by (customer_id, status) gain ``id`` and ``issue_date``, and
  payment allocations by invoice gain ``date``: days to pay.

Each index keeps its name and serves its earlier reads (the new columns come
last); no index is added, so a posting maintains as many as before.

Revision ID: 0026
Revises: 0025
"""
from __future__ import annotations

from alembic import op

revision = "0026"
down_revision = "0025"
branch_labels = None
depends_on = None

#: (index, table, columns before, columns after)
WIDENED = (
    ("ix_journal_entries_customer_id_date", "journal_entries", ["customer_id", "date"],
     ["customer_id", "date", "id"]),
    ("ix_journal_lines_entry_amounts", "journal_lines", ["entry_id", "debit", "credit"],
     ["entry_id", "account", "debit", "credit"]),
    ("ix_orders_customer_id_status_id", "orders", ["customer_id", "status", "id"],
     ["customer_id", "status", "id", "created_at"]),
    ("ix_invoices_customer_id_status", "invoices", ["customer_id", "status"],
     ["customer_id", "status", "id", "issue_date"]),
    ("ix_order_lines_order_id_product_id", "order_lines", ["order_id", "product_id"],
     ["order_id", "product_id", "shipped_quantity", "returned_quantity"]),
)


def upgrade() -> None:
    for name, table, _, after in WIDENED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, after)
    op.create_index("ix_payment_allocations_invoice_id_date", "payment_allocations", ["invoice_id", "date"])
    op.drop_index("ix_payment_allocations_invoice_id", table_name="payment_allocations")


def downgrade() -> None:
    op.create_index("ix_payment_allocations_invoice_id", "payment_allocations", ["invoice_id"])
    op.drop_index("ix_payment_allocations_invoice_id_date", table_name="payment_allocations")
    for name, table, before, _ in WIDENED:
        op.drop_index(name, table_name=table)
        op.create_index(name, table, before)
