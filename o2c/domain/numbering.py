"""Document numbers that follow from a document's id and year (orders, shipments,
payments…); the gapless series of invoices and credit notes are kept in the database."""
from __future__ import annotations

from typing import Any


def document_number(prefix: str, year: int, id_: int) -> str:
    """Numbers of orders, shipments and payments follow from their id and year
    (``SO-2026-000123``); only invoices and credit notes need gapless series."""
    return f"{prefix}-{year}-{id_:06d}"


def order_number(order_id: int, created_at: Any) -> str:
    return document_number("SO", created_at.year, order_id)
