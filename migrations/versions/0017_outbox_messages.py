"""The outbox: e-mails to customers, queued with the event that causes them.

``messages`` holds each e-mail as it will be sent (subject, text and HTML
parts in the customer's language, its fixed ``Message-ID``) and its delivery
state; ``message_attachments`` the files, by their bytes or as the stored
document file they are. Customers gain ``invoice_email`` (where documents go;
empty: ``email``) and ``send_invoices`` (``auto`` | ``manual``; existing
customers stay ``manual``: nothing is sent that was not sent before).

Revision ID: 0017
Revises: 0012
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import o2c.db.types

revision = "0017"
down_revision = "0013"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.add_column(sa.Column("invoice_email", sa.String(length=1000), server_default="", nullable=False))
        batch_op.add_column(sa.Column("send_invoices", sa.String(length=8), server_default="manual", nullable=False))

    op.create_table(
        "messages",
        sa.Column("id", BigId, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("customer_id", BigId, nullable=False),
        sa.Column("to", sa.String(length=1000), nullable=False),
        sa.Column("subject", sa.String(length=998), nullable=False),
        sa.Column("language", sa.String(length=5), nullable=False),
        sa.Column("template", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("document_type", sa.String(length=16), nullable=True),
        sa.Column("document_id", sa.BigInteger(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.Column("resent_from", sa.BigInteger(), nullable=True),
        sa.Column("next_attempt_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.Column("created_at", o2c.db.types.UtcDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("sent_at", o2c.db.types.UtcDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"], name=op.f("fk_messages_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("message_id", name=op.f("uq_messages_message_id")),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_customer_id_id", ["customer_id", "id"], unique=False)
        batch_op.create_index("ix_messages_document_type_document_id", ["document_type", "document_id"], unique=False)
        batch_op.create_index("ix_messages_status_id", ["status", "id"], unique=False)

    op.create_table(
        "message_attachments",
        sa.Column("id", BigId, nullable=False),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=True),
        sa.Column("file_kind", sa.String(length=16), nullable=True),
        sa.Column("file_document_id", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"],
                                name=op.f("fk_message_attachments_message_id_messages")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_message_attachments")),
    )
    with op.batch_alter_table("message_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_message_attachments_message_id"), ["message_id"], unique=False)


def downgrade() -> None:
    op.drop_table("message_attachments")
    op.drop_table("messages")
    with op.batch_alter_table("customers", schema=None) as batch_op:
        batch_op.drop_column("send_invoices")
        batch_op.drop_column("invoice_email")
