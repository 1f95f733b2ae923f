"""The reconciliation: every invariant of SPEC.md §5, both sides and the
difference, computed with set-based queries (no Python-side sums over rows)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import case, func, select

from o2c.db import models as m
from o2c.domain.money import ZERO
from o2c.services.ledger import account_balances
from o2c.services.uow import Tx

entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
stock = m.Stock.__table__
movements = m.StockMovement.__table__
lines = m.OrderLine.__table__
invoices = m.Invoice.__table__
allocations = m.PaymentAllocation.__table__
payments = m.Payment.__table__


def _check(name: str, left: Any, right: Any, description: str, difference: Any = None,
           **extra: Any) -> dict[str, Any]:
    """One invariant. ``difference`` defaults to left − right; per-SKU checks pass
    the sum of absolute per-SKU differences, so offsetting errors still show."""
    return {"name": name, "left": left, "right": right,
            "difference": left - right if difference is None else difference,
            "description": description, **extra}


def reconcile(tx: Tx, as_of: dt.date | None = None) -> dict[str, Any]:
    c = tx.conn
    acct = {role: a.code for role, a in tx.chart.items()}
    bal = account_balances(tx, as_of)

    def gl(role: str) -> Decimal:
        d, cr = bal.get(acct[role], (ZERO, ZERO))
        return d - cr

    checks = []
    # 1. Debits equal credits, in total and per entry.
    total_d = sum((d for d, _ in bal.values()), ZERO)
    total_c = sum((cr for _, cr in bal.values()), ZERO)
    per_entry = select(jlines.c.entry_id).group_by(jlines.c.entry_id).having(
        func.sum(jlines.c.debit) != func.sum(jlines.c.credit))
    unbalanced = c.execute(select(func.count()).select_from(per_entry.subquery())).scalar_one()
    checks.append(_check("journal_balanced", total_d, total_c, "Σ debits = Σ credits, in total and per entry",
                         difference=total_d - total_c + unbalanced, unbalanced_entries=unbalanced))

    # 2. Stock: on hand = Σ movements; reserved = Σ open reservations; 0 ≤ reserved ≤ on hand.
    mv = select(movements.c.product_id, func.sum(movements.c.quantity).label("q"),
                func.sum(movements.c.value).label("v")).group_by(movements.c.product_id).subquery()
    rs = select(lines.c.product_id, func.sum(lines.c.reserved_quantity).label("r")) \
        .group_by(lines.c.product_id).subquery()
    row = c.execute(select(
        func.coalesce(func.sum(stock.c.on_hand), 0),
        func.coalesce(func.sum(mv.c.q), 0),
        func.coalesce(func.sum(func.abs(stock.c.on_hand - func.coalesce(mv.c.q, 0))), 0),
        func.coalesce(func.sum(stock.c.reserved), 0),
        func.coalesce(func.sum(rs.c.r), 0),
        func.coalesce(func.sum(func.abs(stock.c.reserved - func.coalesce(rs.c.r, 0))), 0),
        func.coalesce(func.sum(case((stock.c.reserved < 0, 1), (stock.c.reserved > stock.c.on_hand, 1), else_=0)), 0),
        func.coalesce(func.sum(stock.c.value), 0),
        func.coalesce(func.sum(mv.c.v), 0),
    ).select_from(stock).outerjoin(mv, mv.c.product_id == stock.c.product_id)
        .outerjoin(rs, rs.c.product_id == stock.c.product_id)).one()
    on_hand, moved, on_hand_diff, reserved, reservations, reserved_diff, oversold, value, moved_value = row
    checks.append(_check("stock_on_hand", int(on_hand), int(moved), "Σ on hand = Σ stock movements, per SKU",
                         difference=int(on_hand_diff)))
    checks.append(_check("stock_reserved", int(reserved), int(reservations), "Σ reserved = Σ open reservations, per SKU",
                         difference=int(reserved_diff)))
    checks.append(_check("stock_not_oversold", int(oversold), 0, "SKUs with reserved < 0 or reserved > on hand"))

    # 3. Inventory value: GL 1200 = Σ on hand × unit cost (the stock's value).
    checks.append(_check("inventory_value", gl("inventory"), _money(value), "GL inventory = Σ stock value"))
    checks.append(_check("inventory_movements", _money(value), _money(moved_value), "Σ stock value = Σ movement values"))

    # 4./5. Revenue and VAT against invoices (credit notes reduce both once they exist).
    inv = select(func.coalesce(func.sum(invoices.c.net_total), 0), func.coalesce(func.sum(invoices.c.vat_total), 0),
                 func.coalesce(func.sum(invoices.c.total), 0))
    if as_of is not None:
        inv = inv.where(invoices.c.issue_date <= as_of)
    nets, vats, gross = (Decimal(x) for x in c.execute(inv).one())
    checks.append(_check("revenue", -gl("revenue"), nets, "GL revenue = Σ invoice nets − Σ credit note nets"))
    checks.append(_check("vat", -gl("vat_payable"), vats, "GL VAT payable = Σ invoice VAT − Σ credit note VAT"))

    # 6. Receivables and customer credit.
    alloc = select(func.coalesce(func.sum(allocations.c.amount), 0))
    if as_of is not None:
        alloc = alloc.where(allocations.c.date <= as_of)
    allocated = Decimal(c.execute(alloc).scalar_one())
    open_balances = _money(gross) - _money(allocated)
    checks.append(_check("receivables", gl("receivables"), open_balances, "GL receivables = Σ open invoice balances"))
    credit = select(func.coalesce(func.sum(payments.c.unapplied), 0))
    if as_of is not None:
        credit = credit.where(payments.c.received_on <= as_of)
    unapplied = _money(Decimal(c.execute(credit).scalar_one()))
    checks.append(_check("customer_credit", -gl("customer_credit"), unapplied, "GL customer credit = Σ unapplied credit"))

    # 7. Fulfilment: shipped not invoiced, invoiced not shipped.
    shipped, invoiced = c.execute(select(
        func.coalesce(func.sum(lines.c.shipped_quantity - lines.c.returned_quantity), 0),
        func.coalesce(func.sum(lines.c.invoiced_quantity), 0))).one()
    lagging = c.execute(
        select(lines.c.order_id, lines.c.sku, lines.c.shipped_quantity - lines.c.returned_quantity,
               lines.c.invoiced_quantity)
        .where(lines.c.shipped_quantity - lines.c.returned_quantity != lines.c.invoiced_quantity).limit(100)
    ).all()
    checks.append(_check(
        "fulfilment", int(shipped), int(invoiced), "Σ shipped quantity = Σ invoiced quantity",
        lines=[{"order_id": o, "sku": s, "shipped": int(sq), "invoiced": int(iq)} for o, s, sq, iq in lagging],
    ))

    # 8. Numbering: gapless and unique per series and year.
    for series, year, n, lo, hi, distinct in c.execute(
        select(invoices.c.series, invoices.c.year, func.count(), func.min(invoices.c.seq), func.max(invoices.c.seq),
               func.count(invoices.c.seq.distinct())).group_by(invoices.c.series, invoices.c.year)
        .order_by(invoices.c.series, invoices.c.year)
    ):
        # left: numbers used; right: the highest number. Equal, starting at 1
        # with no repeats, means 1..N exactly.
        checks.append(_check(
            f"numbering_{series}_{year}", int(n), int(hi),
            f"{series} {year}: numbers 1..N, none skipped or repeated",
            difference=(int(hi) - int(distinct)) + int(n - distinct) + (int(lo) - 1),
            first=int(lo), repeated=int(n - distinct)))

    ok = all(ch["difference"] == 0 for ch in checks)
    return {"as_of": as_of or tx.today, "ok": ok, "checks": checks}


def _money(v: Decimal | int) -> Decimal:
    return Decimal(v).quantize(Decimal("0.01"))
