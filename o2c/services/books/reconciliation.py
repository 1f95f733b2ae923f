"""The reconciliation: every invariant of SPEC.md §5, both sides and the
difference, computed with set-based queries (no Python-side sums over rows).

GL figures are taken as of the date asked for, per posting role: the sum of
every account that serves or served the role (``account_roles``). Where a
total could hide offsetting errors, a check also compares per SKU, per
customer, per document or per period, lists the first keys that differ — the
document that caused a difference — and its difference is the sum of the
absolute differences, so it is zero only when every key agrees."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, case, func, literal, or_, select, type_coerce, union_all

from o2c.db import models as m
from o2c.domain.fx import FUNCTIONAL_CURRENCY, settled_value
from o2c.domain.money import ZERO
from o2c.ledger.accounts import REVENUE_ROLES, VAT_ROLES
from o2c.services.books import revaluation
from o2c.services.books.revaluation import gl_by_role_and_currency
from o2c.services.platform.uow import Tx

entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
stock = m.Stock.__table__
movements = m.StockMovement.__table__
lines = m.OrderLine.__table__
invoices = m.Invoice.__table__
allocations = m.PaymentAllocation.__table__
payments = m.Payment.__table__
account_roles = m.AccountRole.__table__
customers = m.Customer.__table__
credit_notes = m.CreditNote.__table__
bank_accounts = m.BankAccount.__table__
bank_statements = m.BankStatement.__table__
bank_lines = m.BankLine.__table__
bank_line_links = m.BankLineLink.__table__

#: How many differing keys a check lists.
SHOW = 20


#: What each side of a check is, for a reader: a fixed text, or ``("gl", role)``
#: for the general ledger accounts serving a posting role ("General ledger 1200").
SIDES: dict[str, tuple[str | tuple[str, str], str | tuple[str, str]]] = {
    "journal_balanced": ("Journal debits", "Journal credits"),
    "stock_on_hand": ("Stock on hand", "Stock movements"),
    "stock_reserved": ("Reserved stock", "Open reservations"),
    "stock_not_oversold": ("Oversold SKUs", "Allowed"),
    "open_quantities": ("Open on confirmed lines", "Reserved + backordered"),
    "inventory_value": (("gl", "inventory"), "Stock valuation"),
    "inventory_movements": ("Stock valuation", "Value of stock movements"),
    "revenue": (("gl", "revenue"), "Invoices − credit notes (net)"),
    "vat": (("gl", "vat_payable"), "Invoices − credit notes (VAT)"),
    "receivables": (("gl", "receivables"), "Open invoice balances"),
    "customer_credit": (("gl", "customer_credit"), "Unapplied payments"),
    "receivables_currency": (("gl", "receivables"), "Open invoice balances in the currency, at booked values"),
    "customer_credit_currency": (("gl", "customer_credit"), "Unapplied payments in the currency, at booked values"),
    "fulfilment": ("Shipped less returned", "Invoiced"),
    "numbering": ("Numbers used", "Highest number"),
    "vat_report": ("General ledger: revenue and VAT accounts", "VAT report (net and VAT by posting role)"),
    "ec_sales_list": (("gl", "revenue_intra_eu"), "EC sales list"),
    "oss_return": ("General ledger: OSS VAT accounts", "OSS return"),
}


def _check(name: str, left: Any, right: Any, description: str, difference: Any = None,
           **extra: Any) -> dict[str, Any]:
    """One invariant. ``difference`` defaults to left − right; per-SKU checks pass
    the sum of absolute per-SKU differences, so offsetting errors still show."""
    return {"name": name, "left": left, "right": right,
            "difference": left - right if difference is None else difference,
            "description": description, **extra}


def _name_sides(tx: Tx, checks: list[dict[str, Any]]) -> None:
    """``left_label`` and ``right_label`` of each check, from ``SIDES``; a
    ledger side names the accounts that serve (or served) its role."""
    accounts: dict[str, list[str]] = {}
    for role, code in tx.conn.execute(select(account_roles.c.role, account_roles.c.account)
                                      .order_by(account_roles.c.assigned_at, account_roles.c.account)):
        accounts.setdefault(role, []).append(code)

    def text(side: str | tuple[str, str]) -> str:
        if isinstance(side, str):
            return side
        codes = accounts.get(side[1]) or [tx.chart[side[1]].code]
        return "General ledger " + " + ".join(codes)
    for ch in checks:
        left, right = SIDES[ch.get("kind", ch["name"])]
        ch["left_label"], ch["right_label"] = text(left), text(right)


def currency_checks(tx: Tx, as_of: dt.date | None,
                    gl: dict[tuple[str, str], tuple[Decimal, Decimal, Decimal]]) -> list[dict[str, Any]]:
    """Per currency other than the functional one: the receivables and the
    customer credit in it, in the currency (GL document amounts = Σ open
    balances, Σ unapplied credit) and in the functional currency (GL = Σ of
    the open parts at the values they were booked at: an invoice's or a
    payment's functional figure less the value of what is settled,
    ``o2c.domain.fx.settled_value``) plus what the revaluations in force
    moved it by (``o2c.services.books.revaluation``). The documents are taken
    as they stand now, so these checks are made for today only."""
    if as_of is not None and as_of < tx.today:
        return []
    inv_q = (select(invoices.c.currency, invoices.c.total, invoices.c.functional_total,
                    (invoices.c.amount_paid + invoices.c.credited_amount).label("settled"))
             .where(invoices.c.currency != FUNCTIONAL_CURRENCY,
                    invoices.c.total != invoices.c.amount_paid + invoices.c.credited_amount))
    pay_q = (select(payments.c.currency, payments.c.amount, payments.c.functional_amount, payments.c.unapplied)
             .where(payments.c.currency != FUNCTIONAL_CURRENCY, payments.c.unapplied != 0))
    books: dict[tuple[str, str], list[Decimal]] = {}
    for r in tx.conn.execute(inv_q):
        settled = _cents(r.settled)  # a sum of money columns comes back in cents
        side = books.setdefault(("receivables", r.currency), [ZERO, ZERO])
        side[0] += r.total - settled
        side[1] += r.functional_total - settled_value(r.functional_total, r.total, settled)
    for r in tx.conn.execute(pay_q):
        side = books.setdefault(("customer_credit", r.currency), [ZERO, ZERO])
        side[0] += r.unapplied
        side[1] += settled_value(r.functional_amount, r.amount, r.unapplied)
    for (role, cur), moved in revaluation.in_force(tx, as_of).items():
        if role in revaluation.ROLES:  # a bank account's revaluation is its own GL account's alone
            books.setdefault((role, cur), [ZERO, ZERO])[1] += moved if role == "receivables" else -moved
    currencies = sorted({cur for (role, cur) in gl if cur != FUNCTIONAL_CURRENCY
                         and role in ("receivables", "customer_credit")} | {cur for _, cur in books})
    out = []
    for cur in currencies:
        for role, sign in (("receivables", 1), ("customer_credit", -1)):
            d, cr, amount = gl.get((role, cur), (ZERO, ZERO, ZERO))
            gl_functional, gl_amount = sign * (d - cr), sign * amount
            bk_amount, bk_functional = books.get((role, cur), [ZERO, ZERO])
            out.append(_check(
                f"{role}_{cur}", gl_functional, bk_functional,
                f"{cur}: GL {role.replace('_', ' ')} = Σ open {cur} amounts, in {cur} and at their booked values "
                "(plus revaluations in force)",
                difference=abs(gl_functional - bk_functional) + abs(gl_amount - bk_amount),
                currency=cur, gl_amount=gl_amount, books_amount=bk_amount, kind=f"{role}_currency",
                role=role))
    return out


def gl_by_role(tx: Tx, as_of: dt.date | None) -> dict[str, tuple[Decimal, Decimal]]:
    """(Σ debit, Σ credit) per posting role, over every account that served it."""
    q = (select(account_roles.c.role, func.sum(jlines.c.debit), func.sum(jlines.c.credit))
         .join(account_roles, account_roles.c.account == jlines.c.account).group_by(account_roles.c.role))
    if as_of is not None:
        q = q.join(entries, entries.c.id == jlines.c.entry_id).where(entries.c.date <= as_of)
    return {r: (d or ZERO, c or ZERO) for r, d, c in tx.conn.execute(q)}


#: The roles whose accounts together are one side of the revenue and VAT
#: checks: revenue with the intra-EU and export revenue, domestic VAT with
#: the One-Stop-Shop payables of each member state.
FAMILIES = {"revenue": REVENUE_ROLES, "vat_payable": VAT_ROLES}


def _family(role: str) -> tuple[str, ...]:
    return FAMILIES.get(role, (role,))


def _cents(v: Any) -> Decimal:
    return Decimal(int(v or 0)).scaleb(-2)


def _role_lines(tx: Tx, role: str, as_of: dt.date | None, *keys: Any, sign: int = 1,
                currency: str | None = None) -> Any:
    """Select ``keys``, amount (debit − credit, times ``sign``) of the lines on
    a role's accounts (only those of documents in ``currency``, when given)."""
    q = (select(*keys, (sign * (jlines.c.debit - jlines.c.credit)).label("amount"))
         .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id)
                      .join(account_roles, account_roles.c.account == jlines.c.account))
         .where(account_roles.c.role.in_(_family(role))))
    if currency is not None:
        q = q.where(jlines.c.currency == currency)
    if as_of is not None:
        q = q.where(entries.c.date <= as_of)
    return q


def _differences(tx: Tx, key: str, gl: Any, books: Any) -> tuple[Decimal, list[dict[str, Any]]]:
    """Per key, GL − books from two ``(key, amount)`` selects in cents: the sum of
    absolute differences and the first differing keys, set-based (UNION ALL,
    GROUP BY, HAVING)."""
    both = union_all(
        select(gl.c.k, gl.c.amount.label("gl"), literal(0).label("bk")),
        select(books.c.k, literal(0).label("gl"), books.c.amount.label("bk")),
    ).subquery()
    per_key = (select(both.c.k, type_coerce(func.sum(both.c.gl), Integer).label("gl"),
                      type_coerce(func.sum(both.c.bk), Integer).label("bk"))
               .group_by(both.c.k).having(func.sum(both.c.gl) != func.sum(both.c.bk))).subquery()
    total = tx.conn.execute(select(type_coerce(func.coalesce(func.sum(func.abs(per_key.c.gl - per_key.c.bk)), 0),
                                               Integer))).scalar_one()
    # Listing the keys costs a second pass: only when there is something to show.
    rows = tx.conn.execute(select(per_key).order_by(per_key.c.k).limit(SHOW)).all() if total else []
    return _cents(total), [{key: k, "gl": _cents(g), "books": _cents(b), "difference": _cents(g) - _cents(b)}
                           for k, g, b in rows]


def _documents_agree(tx: Tx, as_of: dt.date | None) -> bool:
    """Whether every document's postings match it, in one pass: GL inventory
    against the stock moved per document, GL revenue and VAT against invoices
    less credit notes per (document, period). When every such key agrees, so
    does every document and every period, and the listings have nothing to
    show; when one does not, the caller computes each check on its own keys."""
    role = account_roles.c.role
    posted = _raw(jlines.c.debit) - _raw(jlines.c.credit)
    gl = (select(entries.c.document.label("k"),
                 case((role == "inventory", literal("")), else_=entries.c.period).label("p"),
                 case((role == "inventory", posted), else_=0).label("inventory"),
                 case((role.in_(REVENUE_ROLES), -posted), else_=0).label("revenue"),
                 case((role.in_(VAT_ROLES), -posted), else_=0).label("vat"))
          .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id)
                       .join(account_roles, account_roles.c.account == jlines.c.account))
          .where(role.in_(("inventory", *REVENUE_ROLES, *VAT_ROLES))))
    # The documents' side enters negated: each key's sums are GL − books.
    inv = select(invoices.c.number, _month(tx, invoices.c.issue_date), literal(0),
                 -_raw(invoices.c.functional_net_total), -_raw(invoices.c.functional_vat_total))
    cns = select(credit_notes.c.number, _month(tx, credit_notes.c.issue_date), literal(0),
                 _raw(credit_notes.c.functional_net_total), _raw(credit_notes.c.functional_vat_total))
    moved = select(movements.c.document, literal(""), -_raw(movements.c.value), literal(0), literal(0))
    if as_of is not None:
        gl = gl.where(entries.c.date <= as_of)
        inv = inv.where(invoices.c.issue_date <= as_of)
        cns = cns.where(credit_notes.c.issue_date <= as_of)
        moved = moved.where(movements.c.date <= as_of)
    both = union_all(gl, inv, cns, moved).subquery()
    differing = (select(literal(1)).select_from(both).group_by(both.c.k, both.c.p)
                 .having(or_(func.sum(both.c.inventory) != 0, func.sum(both.c.revenue) != 0,
                             func.sum(both.c.vat) != 0)).limit(1))
    return tx.conn.execute(differing).first() is None


def _combined(left: Decimal, right: Decimal, per_key: Decimal) -> Decimal:
    """left − right while every key agrees; otherwise a figure that cannot
    net to zero."""
    return left - right if per_key == 0 else abs(left - right) + per_key


def _month(tx: Tx, col: Any) -> Any:
    if tx.conn.dialect.name == "postgresql":
        return func.to_char(col, "YYYY-MM")
    return func.strftime("%Y-%m", col)


def _scaled(places: int, v: Any) -> Decimal:
    """A sum of stored integers back as an amount with ``places`` decimals."""
    return Decimal(int(v or 0)).scaleb(-places)


def _raw(col: Any) -> Any:
    """A money column as its stored integer (cents), for set arithmetic."""
    return type_coerce(col, Integer)


def reconcile(tx: Tx, as_of: dt.date | None = None) -> dict[str, Any]:
    c = tx.conn
    by_currency = gl_by_role_and_currency(tx, as_of)
    bal: dict[str, tuple[Decimal, Decimal]] = {}
    for (role, _), (d, cr, _) in by_currency.items():
        old_d, old_c = bal.get(role, (ZERO, ZERO))
        bal[role] = (old_d + d, old_c + cr)

    def gl(role: str) -> Decimal:
        total = ZERO
        for r in _family(role):
            d, cr = bal.get(r, (ZERO, ZERO))
            total += d - cr
        return total

    def gl_functional(role: str) -> Decimal:
        """The role's balance over its lines in the functional currency only."""
        d, cr, _ = by_currency.get((role, FUNCTIONAL_CURRENCY), (ZERO, ZERO, ZERO))
        return d - cr

    checks = []
    # 1. Debits equal credits, in total and per entry: one pass over the
    # lines grouped by entry gives both.
    per_entry = select(jlines.c.entry_id, func.sum(_raw(jlines.c.debit)).label("d"),
                       func.sum(_raw(jlines.c.credit)).label("c")).group_by(jlines.c.entry_id)
    if as_of is not None:
        per_entry = per_entry.join(entries, entries.c.id == jlines.c.entry_id).where(entries.c.date <= as_of)
    pe = per_entry.subquery()
    total_d, total_c, unbalanced = c.execute(select(
        func.coalesce(func.sum(pe.c.d), 0), func.coalesce(func.sum(pe.c.c), 0),
        func.coalesce(func.sum(case((pe.c.d != pe.c.c, 1), else_=0)), 0))).one()
    total_d, total_c, unbalanced = _cents(total_d), _cents(total_c), int(unbalanced)
    docs = list(c.execute(select(entries.c.document).where(entries.c.id.in_(
        select(pe.c.entry_id).where(pe.c.d != pe.c.c))).order_by(entries.c.id).limit(SHOW)).scalars()) \
        if unbalanced else []
    checks.append(_check("journal_balanced", total_d, total_c, "Σ debits = Σ credits, in total and per entry",
                         difference=total_d - total_c + unbalanced, unbalanced_entries=unbalanced, documents=docs))

    # 2. Stock: on hand = Σ movements; reserved = Σ open reservations; 0 ≤ reserved ≤ on hand.
    # Grouped by ``product_id + 0``: one scan and a sort of a few keys; SQLite
    # would otherwise walk the product index and fetch every row at random.
    mv_key = (movements.c.product_id + 0).label("product_id")
    mv = select(mv_key, func.sum(movements.c.quantity).label("q"),
                func.sum(movements.c.value).label("v")).group_by(mv_key).subquery()
    # Lines holding nothing add nothing: only the (few) reserving lines are grouped.
    rs_key = (lines.c.product_id + 0).label("product_id")
    rs = select(rs_key, func.sum(lines.c.reserved_quantity).label("r")) \
        .where(lines.c.reserved_quantity != 0).group_by(rs_key).subquery()
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

    # Every unit of a confirmed line is shipped, cancelled, reserved (packed
    # included) or backordered — nothing open is forgotten by a receipt.
    orders = m.Order.__table__
    still_open = lines.c.quantity - lines.c.shipped_quantity - lines.c.cancelled_quantity
    held = lines.c.reserved_quantity + lines.c.backordered_quantity
    unaccounted = (select(lines.c.order_id, lines.c.sku, still_open.label("open"), held.label("held"))
                   .join(orders, orders.c.id == lines.c.order_id)
                   .where(orders.c.status != "draft", still_open != held))
    open_sum, held_sum, off = c.execute(select(
        func.coalesce(func.sum(still_open), 0), func.coalesce(func.sum(held), 0),
        func.coalesce(func.sum(func.abs(still_open - held)), 0),
    ).join(orders, orders.c.id == lines.c.order_id).where(orders.c.status != "draft")).one()
    checks.append(_check(
        "open_quantities", int(open_sum), int(held_sum),
        "Confirmed lines: ordered − shipped − cancelled = reserved + backordered, per line",
        difference=int(off),
        lines=[{"order_id": o, "sku": sku, "open": int(op), "held": int(h)}
               for o, sku, op, h in c.execute(unaccounted.limit(SHOW))]))

    # 3. Inventory value: GL inventory = Σ stock value; per document, the
    # inventory posting of a receipt, shipment or return = its movements' value.
    stock_value = _money(value)
    if as_of is not None:
        stock_value = _money(c.execute(select(func.coalesce(func.sum(movements.c.value), 0))
                                       .where(movements.c.date <= as_of)).scalar_one())
    mv_q = select(movements.c.document.label("k"), _raw(movements.c.value).label("amount"))
    if as_of is not None:
        mv_q = mv_q.where(movements.c.date <= as_of)
    # The usual answer — every document agrees — takes one pass over the
    # journal; the per-key listings run only when it does not.
    agree = _documents_agree(tx, as_of)
    per_doc, docs = (ZERO, []) if agree else _differences(
        tx, "document", _role_lines(tx, "inventory", as_of, entries.c.document.label("k")).subquery(),
        mv_q.subquery())
    checks.append(_check("inventory_value", gl("inventory"), stock_value,
                         "GL inventory = Σ stock value; per document, inventory posted = value moved",
                         difference=_combined(gl("inventory"), stock_value, per_doc), documents=docs))
    checks.append(_check("inventory_movements", _money(value), _money(moved_value), "Σ stock value = Σ movement values"))

    # 4./5. Revenue and VAT against invoices less credit notes, per document
    # and per period.
    def _documents(inv_col: Any, cn_col: Any, key: Any, cn_key: Any) -> Any:
        """(k, amount in cents): invoices positive, credit notes negative."""
        inv_q = select(key.label("k"), _raw(inv_col).label("amount"))
        cn_q = select(cn_key.label("k"), (-_raw(cn_col)).label("amount"))
        if as_of is not None:
            inv_q = inv_q.where(invoices.c.issue_date <= as_of)
            cn_q = cn_q.where(credit_notes.c.issue_date <= as_of)
        return union_all(inv_q, cn_q).subquery()

    # In the functional currency (a document in another one by its functional
    # figures); the gross of the documents in it for the receivables below.
    in_functional = invoices.c.currency == FUNCTIONAL_CURRENCY
    cn_in_functional = credit_notes.c.currency == FUNCTIONAL_CURRENCY
    inv = select(func.coalesce(func.sum(invoices.c.functional_net_total), 0),
                 func.coalesce(func.sum(invoices.c.functional_vat_total), 0),
                 func.coalesce(func.sum(case((in_functional, invoices.c.total), else_=0)), 0))
    cns = select(func.coalesce(func.sum(credit_notes.c.functional_net_total), 0),
                 func.coalesce(func.sum(credit_notes.c.functional_vat_total), 0),
                 func.coalesce(func.sum(case((cn_in_functional, credit_notes.c.total), else_=0)), 0))
    if as_of is not None:
        inv = inv.where(invoices.c.issue_date <= as_of)
        cns = cns.where(credit_notes.c.issue_date <= as_of)
    nets, vats, gross = (Decimal(x) for x in c.execute(inv).one())
    cn_nets, cn_vats, cn_gross = (Decimal(x) for x in c.execute(cns).one())
    for name, role, column, cn_column, figure, text in (
        ("revenue", "revenue", invoices.c.functional_net_total, credit_notes.c.functional_net_total, nets - cn_nets,
         "GL revenue = Σ invoice nets − Σ credit note nets"),
        ("vat", "vat_payable", invoices.c.functional_vat_total, credit_notes.c.functional_vat_total, vats - cn_vats,
         "GL VAT payable = Σ invoice VAT − Σ credit note VAT"),
    ):
        per_doc, docs, per_period, by_period = ZERO, [], ZERO, []
        if not agree:
            per_doc, docs = _differences(
                tx, "document", _role_lines(tx, role, as_of, entries.c.document.label("k"), sign=-1).subquery(),
                _documents(column, cn_column, invoices.c.number, credit_notes.c.number))
            per_period, by_period = _differences(
                tx, "period", _role_lines(tx, role, as_of, entries.c.period.label("k"), sign=-1).subquery(),
                _documents(column, cn_column, _month(tx, invoices.c.issue_date),
                           _month(tx, credit_notes.c.issue_date)))
        # A document posted into another month than its own is a difference
        # too (postings are never re-dated: a closed month refuses them).
        checks.append(_check(name, -gl(role), figure, text + ", per document and per period",
                             difference=_combined(-gl(role), figure, per_doc + per_period), documents=docs,
                             periods=by_period))

    # 6. Receivables and customer credit, per customer. An invoice's open
    # balance is its total less its credit notes and its (net) allocations.
    alloc = (select(func.coalesce(func.sum(allocations.c.amount), 0))
             .join(invoices, invoices.c.id == allocations.c.invoice_id).where(in_functional))
    if as_of is not None:
        alloc = alloc.where(allocations.c.date <= as_of)
    allocated = Decimal(c.execute(alloc).scalar_one())
    open_balances = _money(gross) - _money(cn_gross) - _money(allocated)
    owed_inv = select(invoices.c.customer_id.label("k"), _raw(invoices.c.total).label("amount")).where(in_functional)
    owed_cn = select(credit_notes.c.customer_id.label("k"),
                     (-_raw(credit_notes.c.total)).label("amount")).where(cn_in_functional)
    owed_paid = (select(invoices.c.customer_id.label("k"), (-_raw(allocations.c.amount)).label("amount"))
                 .join(invoices, invoices.c.id == allocations.c.invoice_id).where(in_functional))
    if as_of is not None:
        owed_inv = owed_inv.where(invoices.c.issue_date <= as_of)
        owed_cn = owed_cn.where(credit_notes.c.issue_date <= as_of)
        owed_paid = owed_paid.where(allocations.c.date <= as_of)
    per_customer, who = _differences(
        tx, "customer_id", _role_lines(tx, "receivables", as_of, entries.c.customer_id.label("k"),
                                       currency=FUNCTIONAL_CURRENCY).subquery(),
        union_all(owed_inv, owed_cn, owed_paid).subquery())
    checks.append(_check("receivables", gl_functional("receivables"), open_balances,
                         "GL receivables = Σ open invoice balances, per customer",
                         difference=_combined(gl_functional("receivables"), open_balances, per_customer),
                         customers=who))
    pay_in_functional = payments.c.currency == FUNCTIONAL_CURRENCY
    credit = select(func.coalesce(func.sum(payments.c.unapplied), 0)).where(pay_in_functional)
    unapplied_q = select(payments.c.customer_id.label("k"),
                         _raw(payments.c.unapplied).label("amount")).where(pay_in_functional)
    if as_of is not None:
        credit = credit.where(payments.c.received_on <= as_of)
        unapplied_q = unapplied_q.where(payments.c.received_on <= as_of)
    unapplied = _money(Decimal(c.execute(credit).scalar_one()))
    per_customer, who = _differences(
        tx, "customer_id",
        _role_lines(tx, "customer_credit", as_of, entries.c.customer_id.label("k"), sign=-1,
                    currency=FUNCTIONAL_CURRENCY).subquery(),
        unapplied_q.subquery())
    checks.append(_check("customer_credit", -gl_functional("customer_credit"), unapplied,
                         "GL customer credit = Σ unapplied credit, per customer",
                         difference=_combined(-gl_functional("customer_credit"), unapplied, per_customer),
                         customers=who))
    # 11. Per foreign currency, receivables and customer credit in it.
    checks.extend(currency_checks(tx, as_of, by_currency))

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

    # 8. Numbering: gapless and unique per series and year, invoices and
    # credit notes alike.
    for document, series, year, n, lo, hi, distinct in [*(
        (document, *row) for document, t in (("invoice", invoices), ("credit_note", credit_notes))
        for row in c.execute(
            select(t.c.series, t.c.year, func.count(), func.min(t.c.seq), func.max(t.c.seq),
                   func.count(t.c.seq.distinct())).group_by(t.c.series, t.c.year)
            .order_by(t.c.series, t.c.year)))]:
        # left: numbers used; right: the highest number. Equal, starting at 1
        # with no repeats, means 1..N exactly.
        checks.append(_check(
            f"numbering_{series}_{year}", int(n), int(hi),
            f"{series} {year}: numbers 1..N, none skipped or repeated",
            difference=(int(hi) - int(distinct)) + int(n - distinct) + (int(lo) - 1),
            first=int(lo), repeated=int(n - distinct), kind="numbering", document=document))

    checks.extend(tax_report_checks(tx, as_of))
    _name_sides(tx, checks)
    checks.extend(bank_checks(tx, as_of))
    ok = all(ch["difference"] == 0 for ch in checks)
    return {"as_of": as_of or tx.today, "ok": ok, "checks": checks}


def _money(v: Decimal | int) -> Decimal:
    return Decimal(v).quantize(Decimal("0.01"))


# -- the VAT return's reports against the ledger ---------------------------------------------

def _gl_by_role_and_period(tx: Tx, roles: tuple[str, ...], as_of: dt.date | None, key: Any) -> Any:
    """(k, credit − debit in cents) of the journal lines on these roles' accounts."""
    q = (select(key.label("k"), (_raw(jlines.c.credit) - _raw(jlines.c.debit)).label("amount"))
         .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id)
                      .join(account_roles, account_roles.c.account == jlines.c.account))
         .where(account_roles.c.role.in_(roles)))
    if as_of is not None:
        q = q.where(entries.c.date <= as_of)
    return q


def tax_report_checks(tx: Tx, as_of: dt.date | None) -> list[dict[str, Any]]:
    """Each report of the VAT return equals the ledger, per posting role (or
    member state) and month: the VAT report's net on the revenue account of its
    treatment and its VAT on the payable (domestic, or the member state's OSS
    account); the EC sales list on intra-EU revenue; the OSS return on the OSS
    VAT accounts. The reports' own row selections are what is compared."""
    from o2c.ledger.accounts import OSS_ROLES, REVENUE_ROLES, VAT_ROLES
    from o2c.services.books import tax_reports as tr

    out = []
    sep = literal("|")
    role, period = account_roles.c.role, entries.c.period

    # VAT report: net → revenue_intra_eu | revenue_export | revenue; VAT → vat_oss_<CC> | vat_payable.
    r = tr.vat_rows(date_to=as_of)
    net_role = case((r.c.treatment == "intra_eu_b2b", literal("revenue_intra_eu")),
                    (r.c.treatment == "export", literal("revenue_export")), else_=literal("revenue"))
    vat_role = case((r.c.treatment == "eu_distance_sale", literal("vat_oss_") + r.c.country),
                    else_=literal("vat_payable"))
    month = _month(tx, r.c.day)
    books = union_all(select((net_role + sep + month).label("k"), r.c.net.label("amount")),
                      select((vat_role + sep + month).label("k"), r.c.vat.label("amount"))).subquery()
    gl = _gl_by_role_and_period(tx, (*REVENUE_ROLES, *VAT_ROLES), as_of, role + sep + period).subquery()
    out.append(_report_check(tx, "vat_report", gl, books, "role_period",
                             "VAT report = GL: net per treatment on its revenue account, VAT on its payable "
                             "(domestic or the member state's OSS account), per posting role and month"))

    # EC sales list: intra-EU revenue per month.
    e = tr.intra_eu_rows(date_to=as_of)
    books = select(_month(tx, e.c.day).label("k"), e.c.net.label("amount")).subquery()
    gl = _gl_by_role_and_period(tx, ("revenue_intra_eu",), as_of, period).subquery()
    out.append(_report_check(tx, "ec_sales_list", gl, books, "period",
                             "EC sales list = GL intra-EU revenue, per month"))

    # OSS return: each member state's OSS VAT per month.
    o = tr.vat_rows(date_to=as_of, treatments=("eu_distance_sale",))
    books = select((literal("vat_oss_") + o.c.country + sep + _month(tx, o.c.day)).label("k"),
                   o.c.vat.label("amount")).subquery()
    gl = _gl_by_role_and_period(tx, OSS_ROLES, as_of, role + sep + period).subquery()
    out.append(_report_check(tx, "oss_return", gl, books, "role_period",
                             "OSS return = GL OSS VAT payable, per member state and month"))
    return out


def _report_check(tx: Tx, name: str, gl: Any, books: Any, key: str, description: str) -> dict[str, Any]:
    left, right = (_cents(x) for x in tx.conn.execute(select(
        select(func.coalesce(func.sum(gl.c.amount), 0)).scalar_subquery(),
        select(func.coalesce(func.sum(books.c.amount), 0)).scalar_subquery())).one())
    per_key, keys = _differences(tx, key, gl, books)
    return _check(name, left, right, description, difference=_combined(left, right, per_key), keys=keys)
#: Statement lines the bank reported that o2c has not booked yet.
NOT_APPLIED = ("unmatched", "suggested")
#: Statement lines that are in the ledger: a payment or refund (matched) or an entry (booked).
APPLIED = ("matched", "booked")


def _reported_entries(acct_id: int, cutoff: dt.date) -> Any:
    """The ids of the journal entries a statement line of the account (up to
    ``cutoff``) reported: the payments and refunds a matched line became (its
    links, or ``payment_id`` for a line matched to a payment recorded before),
    the entry of a booked line, and the entries posted in the line's own name
    (a booked line, the bank fee written off on a match)."""
    applied = select(bank_lines.c.id).where(
        bank_lines.c.bank_account_id == acct_id, bank_lines.c.status.in_(APPLIED),
        bank_lines.c.booking_date <= cutoff)
    linked = select(bank_line_links.c.payment_id, bank_line_links.c.refund_id).where(
        bank_line_links.c.bank_line_id.in_(applied))
    pays = union_all(
        select(linked.subquery().c.payment_id),
        select(bank_lines.c.payment_id).where(bank_lines.c.id.in_(applied), bank_lines.c.payment_id.is_not(None)))
    refunds = select(bank_line_links.c.refund_id).where(
        bank_line_links.c.bank_line_id.in_(applied), bank_line_links.c.refund_id.is_not(None))
    return union_all(
        select(bank_lines.c.journal_entry_id).where(bank_lines.c.id.in_(applied),
                                                    bank_lines.c.journal_entry_id.is_not(None)),
        select(entries.c.id).where(entries.c.source_type == "bank_line", entries.c.source_id.in_(applied)),
        select(entries.c.id).where(entries.c.source_type == "payment",
                                   entries.c.source_id.in_(select(pays.subquery().c.payment_id))),
        select(entries.c.id).where(entries.c.source_type == "refund", entries.c.source_id.in_(refunds)))


def bank_checks(tx: Tx, as_of: dt.date | None, account_id: int | None = None) -> list[dict[str, Any]]:
    """One check named ``bank`` per bank account, the bank reconciliation:
    its GL account's balance = the bank's last closing balance
    + what o2c booked on the account that no statement line reported yet
      (a payment typed in, a refund paid today, a payment reversed: listed)
    − lines the bank reported that o2c has not applied (unmatched, suggested)
    − lines the bank reported that o2c will not book (ignored, with the reason).

    A booking is reported when a matched or booked line of the account, up to
    the last statement's day, became it. The first statement's opening
    balance stands for everything booked before its first day: the ledger's
    balance then is what the bank's history starts from, and a difference
    there shows as the check's difference. Without a statement, everything
    booked is not reported yet. Every side is a set-based sum; the lists
    show the first items.

    An account in another currency is reconciled in that currency: its GL
    side is the document amounts of the GL lines in it (what the bank
    counts), not their functional values, which move with the rates."""
    c = tx.conn
    day = as_of or tx.today
    out = []
    q = select(bank_accounts).order_by(bank_accounts.c.id)
    if account_id is not None:
        q = q.where(bank_accounts.c.id == account_id)
    for acct in c.execute(q).all():
        foreign = acct.currency != FUNCTIONAL_CURRENCY
        # Σ of the GL lines in the account's unit: cents of debit − credit, or the document amounts (1/10000).
        raw, places = ((_raw(jlines.c.amount), 4) if foreign
                       else (_raw(jlines.c.debit) - _raw(jlines.c.credit), 2))
        in_currency = (jlines.c.currency == acct.currency,) if foreign else ()
        mine = (bank_statements.c.bank_account_id == acct.id, bank_statements.c.closing_balance.is_not(None),
                bank_statements.c.to_date <= day)
        last = c.execute(
            select(bank_statements.c.to_date, bank_statements.c.closing_balance, bank_statements.c.statement_ref)
            .where(*mine).order_by(bank_statements.c.to_date.desc(), bank_statements.c.id.desc()).limit(1)).first()
        first = c.execute(select(bank_statements.c.from_date, bank_statements.c.opening_balance).where(*mine)
                          .order_by(bank_statements.c.from_date, bank_statements.c.id).limit(1)).first()
        closing = last.closing_balance if last is not None else ZERO
        cutoff = last.to_date if last is not None else None
        on_account = (select(entries.c.id, entries.c.date, entries.c.document, entries.c.source_type,
                             raw.label("amount"))
                      .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id))
                      .where(jlines.c.account == acct.gl_account, entries.c.date <= day, *in_currency))
        gl_total = _scaled(places, c.execute(
            select(func.coalesce(func.sum(raw), 0)).select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id))
            .where(jlines.c.account == acct.gl_account, entries.c.date <= day, *in_currency)).scalar_one())
        unreported_q = on_account
        carried_in = ZERO
        if cutoff is not None:
            unreported_q = on_account.where(entries.c.date >= first.from_date,
                                            entries.c.id.not_in(_reported_entries(acct.id, cutoff)))
            carried_in = _scaled(places, c.execute(
                select(func.coalesce(func.sum(raw), 0))
                .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id))
                .where(jlines.c.account == acct.gl_account, entries.c.date < first.from_date, *in_currency))
                .scalar_one())
        urq = unreported_q.subquery()
        unreported = _scaled(places, c.execute(select(func.coalesce(func.sum(urq.c.amount), 0))).scalar_one())
        listed = c.execute(select(urq).order_by(urq.c.date, urq.c.id).limit(SHOW)).all()
        per_status: dict[str, tuple[Decimal, list[Any]]] = {}
        for key, statuses in (("not_applied", NOT_APPLIED), ("ignored", ("ignored",))):
            total, rows = ZERO, []
            if cutoff is not None:
                where = (bank_lines.c.bank_account_id == acct.id, bank_lines.c.status.in_(statuses),
                         bank_lines.c.booking_date <= cutoff)
                total = _cents(c.execute(select(func.coalesce(func.sum(_raw(bank_lines.c.amount)), 0))
                                         .where(*where)).scalar_one())
                rows = c.execute(select(bank_lines.c.id, bank_lines.c.booking_date, bank_lines.c.amount,
                                        bank_lines.c.status, bank_lines.c.ignore_reason).where(*where)
                                 .order_by(bank_lines.c.booking_date, bank_lines.c.id).limit(SHOW)).all()
            per_status[key] = (total, rows)
        not_applied, pending = per_status["not_applied"]
        ignored, dropped = per_status["ignored"]
        right = closing + unreported - not_applied - ignored
        out.append(_check(
            "bank", gl_total, right,
            f"Bank account {acct.iban}: GL {acct.gl_account} = the bank's closing balance + bookings no statement "
            "line reported yet − statement lines not applied − statement lines ignored",
            kind="bank", iban=acct.iban, bank_account_id=acct.id, gl_account=acct.gl_account,
            currency=acct.currency,
            closing_balance=closing, closing_date=cutoff.isoformat() if cutoff else None,
            statement_ref=last.statement_ref if last else None,
            opening_date=first.from_date.isoformat() if first else None,
            opening_balance=first.opening_balance if first else None,
            ledger_before_opening=carried_in,
            not_applied_total=not_applied,
            not_applied=[{"line_id": r.id, "booking_date": r.booking_date.isoformat(), "amount": r.amount,
                          "status": r.status} for r in pending],
            ignored_total=ignored,
            ignored=[{"line_id": r.id, "booking_date": r.booking_date.isoformat(), "amount": r.amount,
                      "reason": r.ignore_reason} for r in dropped],
            not_reported_total=unreported,
            not_reported=[{"entry_id": r.id, "date": r.date.isoformat(), "document": r.document,
                           "source_type": r.source_type, "amount": _scaled(places, r.amount)} for r in listed],
            left_label=f"General ledger {acct.gl_account}",
            right_label="Bank closing balance + bookings not reported − lines not applied − lines ignored"))
    return out
