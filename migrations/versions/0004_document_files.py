"""Document files: the rendered PDF of each issued invoice (and credit note),
stored once with its SHA-256 so every later download returns the same bytes.

Revision ID: 0004
Revises: 0006
Create Date: 2026-11-24 16:24:56.877334
"""
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
import o2c.db.types


revision = '0004'
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('document_files',
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('document_id', sa.BigInteger(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('media_type', sa.String(length=64), nullable=False),
    sa.Column('content', sa.LargeBinary(), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', o2c.db.types.UtcDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('kind', 'document_id', name=op.f('pk_document_files'))
    )


def downgrade() -> None:
    op.drop_table('document_files')
