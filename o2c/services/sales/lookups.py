"""Small read-only look-ups for the back office's forms: customers found by
code, name, e-mail or VAT id (accent- and case-insensitive), what an order
line would be before it is saved, and order numbers for lists of ids."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from o2c.db import models as m
from o2c.domain.numbering import order_number
from o2c.domain.text import FOLD_FROM, FOLD_MULTI, FOLD_TO, fold
from o2c.services.platform.uow import Tx

customers = m.Customer.__table__
orders = m.Order.__table__

#: The most customers a search returns (the form's pick list shows these).
MATCHES = 8


def folded(tx: Tx, column: Any) -> Any:
    """``column`` folded as ``o2c.domain.text.fold`` folds text, in SQL: a
    function registered on each SQLite connection; on PostgreSQL ``lower``,
    ``translate`` and ``replace`` with the same table (no extension needed)."""
    if tx.conn.dialect.name == "sqlite":
        return func.o2c_fold(column)
    expr = func.translate(func.lower(column), FOLD_FROM, FOLD_TO)
    for char, text in FOLD_MULTI:
        expr = func.replace(expr, char, text)
    return expr


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_customers(tx: Tx, text: str, limit: int = MATCHES) -> tuple[list[dict[str, Any]], bool]:
    """Customers whose code, name, e-mail or VAT id contains ``text``, ignoring
    case and accents (``caffe aurora`` finds ``Caffè Aurora``), best first: the
    exact code, then names starting with it, then by name. At most ``limit``,
    and whether there are more. An exact code is found through its index
    before anything is scanned."""
    text = text.strip()[:128]
    if not text:
        return [], False
    cols = (customers.c.id, customers.c.code, customers.c.name, customers.c.email, customers.c.tax_id,
            customers.c.country)
    exact = tx.conn.execute(select(*cols).where(customers.c.code == text)).first()
    key = " ".join(fold(text).split())
    if not key:
        return ([exact._asdict()] if exact else []), False
    compact = key.replace(" ", "")
    pattern = _like(key)
    code, name = folded(tx, customers.c.code), folded(tx, customers.c.name)
    q = (select(*cols)
         .where(code.like(pattern, escape="\\") | name.like(pattern, escape="\\")
                | folded(tx, customers.c.email).like(pattern, escape="\\")
                | func.replace(folded(tx, customers.c.tax_id), " ", "").like(_like(compact), escape="\\"))
         .order_by(case((code == key, 0), (name.like(_like(key)[1:], escape="\\"), 1), else_=2),
                   customers.c.name, customers.c.code)
         .limit(limit + 1))
    rows = [r._asdict() for r in tx.conn.execute(q)]
    if exact is not None:
        rows = [exact._asdict()] + [r for r in rows if r["id"] != exact.id]
    return rows[:limit], len(rows) > limit


def order_numbers(tx: Tx, order_ids: Iterable[int | None]) -> dict[int, str]:
    """``{order id: SO-…}`` for the ids given (``None`` ignored)."""
    ids = sorted({i for i in order_ids if i is not None})
    if not ids:
        return {}
    return {r.id: order_number(r.id, r.created_at)
            for r in tx.conn.execute(select(orders.c.id, orders.c.created_at).where(orders.c.id.in_(ids)))}


def quote_lines(tx: Tx, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """What each entered order line would be, before anything is saved: the
    product's name, unit, what is available, the unit price that applies
    (the list price unless one is given), VAT rate and the line's net, with
    the order's totals — by the same rules saving uses. ``lines`` are
    validated ``OrderLineIn`` values; a line without a quantity gets no net.
    A line whose SKU is unknown or inactive says so in ``error``."""
    from o2c.domain.money import ZERO, document_totals, line_net
    products, stock = m.Product.__table__, m.Stock.__table__
    skus = sorted({l["sku"] for l in lines if l.get("sku")})
    found = {r.sku: r for r in tx.conn.execute(
        select(products.c.sku, products.c.name, products.c.unit_price, products.c.vat_rate, products.c.unit,
               products.c.active, (stock.c.on_hand - stock.c.reserved).label("available"))
        .join(stock, stock.c.product_id == products.c.id).where(products.c.sku.in_(skus)))} if skus else {}
    out: list[dict[str, Any]] = []
    priced: list[tuple[Decimal, Decimal]] = []
    for l in lines:
        p = found.get(l.get("sku") or "")
        if p is None or not p.active:
            out.append({"sku": l.get("sku") or "", "known": False,
                        "error": f"Unknown SKU “{l.get('sku')}”." if p is None else
                        f"Product {p.sku} is not sold any more."})
            continue
        price = p.unit_price if l.get("unit_price") is None else l["unit_price"]
        discount = l.get("discount") or ZERO
        net = line_net(l["quantity"], price, discount) if l.get("quantity") else None
        if net is not None:
            priced.append((net, p.vat_rate))
        short = l["quantity"] - p.available if l.get("quantity") and l["quantity"] > p.available else 0
        out.append({"sku": p.sku, "known": True, "name": p.name, "unit": p.unit, "available": int(p.available),
                    "short": int(max(short, 0)), "unit_price": price, "list_price": p.unit_price,
                    "discount": discount, "vat_rate": p.vat_rate, "quantity": l.get("quantity"), "net": net,
                    "error": None})
    totals = document_totals(priced)
    return {"lines": out, "net_total": totals.net, "vat_total": totals.vat, "total": totals.gross}
