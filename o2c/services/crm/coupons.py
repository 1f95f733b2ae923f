"""Coupons: a discount code for the next purchase, percent or amount off.

The discount is carried by the document's lines (EN 16931 line allowances:
each line's ``discount`` fraction grows by the coupon), so VAT is computed on
the discounted base and revenue is posted net of it, by the same rules as any
line discount. A percent coupon of ``p`` turns a line discount ``d`` into
``1 − (1 − d)(1 − p)``; an amount coupon is the same percentage of the
order's net before the coupon (rounded down to the rate's four places, so it
never gives more than its amount). Combined rates are rounded half-up to
four places.

A coupon is redeemed by the confirmation of the order carrying it, in that
transaction, with one conditional ``UPDATE … WHERE redemptions <
max_redemptions``: concurrent confirmations can never redeem it more often
than allowed. Cancelling the order before anything ships gives the
redemption back. Quotations price their lines with :func:`apply_coupon` too;
the order an accepted quotation becomes carries its coupon and lines as
quoted and redeems the coupon when it is confirmed.
"""
from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import bindparam, or_, select, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, CouponUnavailable, NotFound, ValidationFailed
from o2c.domain.money import RATE_PLACES, ZERO, line_net
from o2c.services.customers import records
from o2c.services.platform.uow import Tx, insert_ignoring_conflicts

coupons = m.Coupon.__table__
HUNDRED = Decimal(100)
ONE = Decimal(1)
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

COUPON_COLS = [coupons.c.id, coupons.c.code, coupons.c.percent_off, coupons.c.amount_off, coupons.c.min_order_net,
               coupons.c.valid_until, coupons.c.customer_id, coupons.c.max_redemptions, coupons.c.redemptions,
               coupons.c.created_at]
_by_code = select(*COUPON_COLS).where(coupons.c.code == bindparam("code"))
_redeem = (
    update(coupons)
    .where(coupons.c.id == bindparam("cid"), coupons.c.redemptions < coupons.c.max_redemptions,
           or_(coupons.c.valid_until.is_(None), coupons.c.valid_until >= bindparam("today")))
    .values(redemptions=coupons.c.redemptions + 1)
)
_give_back = (
    update(coupons).where(coupons.c.id == bindparam("cid"), coupons.c.redemptions > 0)
    .values(redemptions=coupons.c.redemptions - 1)
)


def normalise_code(code: str) -> str:
    return code.strip().upper()


def coupon_view(row: Any) -> dict[str, Any]:
    d = dict(row._asdict() if hasattr(row, "_asdict") else row)
    if d.get("percent_off") is not None:
        d["percent_off"] = (d["percent_off"] * HUNDRED).quantize(Decimal("0.01"))
    d["remaining"] = d["max_redemptions"] - d["redemptions"]
    return d


def new_code() -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(10))


def create_coupon(tx: Tx, principal: Principal, data: dict[str, Any]) -> dict[str, Any]:
    """A new coupon; without ``code`` one is made up (ten letters and digits)."""
    percent, amount = data.get("percent_off"), data.get("amount_off")
    if (percent is None) == (amount is None):
        raise ValidationFailed("Give either percent_off or amount_off.",
                               {"percent_off": ["Give exactly one of percent_off and amount_off."]})
    if percent is not None and not (ZERO < percent <= HUNDRED):
        raise ValidationFailed("percent_off is a percentage above 0 and at most 100.",
                               {"percent_off": ["Above 0 and at most 100."]})
    if amount is not None and amount <= ZERO:
        raise ValidationFailed("amount_off must be above zero.", {"amount_off": ["Above zero."]})
    customer_id = data.get("customer_id")
    if customer_id is not None and not records.may_use_customer(tx, principal, customer_id):
        raise ValidationFailed(f"No customer with id {customer_id}.",
                               {"customer_id": [f"No customer with id {customer_id}."]})
    row = {
        "code": normalise_code(data.get("code") or new_code()),
        "percent_off": None if percent is None else (percent / HUNDRED).quantize(RATE_PLACES, ROUND_HALF_UP),
        "amount_off": amount, "min_order_net": data.get("min_order_net"),
        "valid_until": data.get("valid_until"), "customer_id": customer_id,
        "max_redemptions": data.get("max_redemptions") or 1, "redemptions": 0, "created_at": tx.now,
    }
    cid = tx.conn.execute(insert_ignoring_conflicts(tx.conn, coupons, ("id",)), row).scalar()
    if cid is None:
        raise Conflict(f"A coupon with code “{row['code']}” exists already.", {"code": row["code"]})
    row["id"] = cid
    tx.audit("coupon.created", "coupon", cid, None, {k: str(v) for k, v in row.items() if v is not None and k != "id"})
    return coupon_view(row)


def get_coupon(tx: Tx, principal: Principal, code: str) -> dict[str, Any]:
    """The coupon; another customer's coupon is not found for a webshop that may not use that customer."""
    row = tx.conn.execute(_by_code, {"code": normalise_code(code)}).first()
    if row is None or (row.customer_id is not None and not records.may_use_customer(tx, principal, row.customer_id)):
        raise NotFound(f"No coupon “{code}”.")
    return coupon_view(row)


def _unavailable(code: str, why: str) -> CouponUnavailable:
    return CouponUnavailable(f"Coupon “{code}” cannot be used: {why}.", {"coupon": code})


def coupon_fraction(coupon: Any, net_before: Decimal) -> Decimal:
    """The share of the net the coupon takes off, as a rate of four places."""
    if coupon.percent_off is not None:
        return Decimal(coupon.percent_off)
    if net_before <= ZERO:
        return ZERO
    return min(ONE, (coupon.amount_off / net_before).quantize(RATE_PLACES, ROUND_DOWN))


def combined_discount(discount: Decimal, fraction: Decimal) -> Decimal:
    """A line discount ``d`` with a coupon's ``p`` on top: 1 − (1 − d)(1 − p), four places half-up."""
    return min(ONE, (ONE - (ONE - discount) * (ONE - fraction)).quantize(RATE_PLACES, ROUND_HALF_UP))


def apply_coupon(tx: Tx, code: str, customer_id: int, line_rows: list[dict[str, Any]],
                 today: dt.date | None = None, also: Sequence[dict[str, Any]] = (),
                 currency: str = "EUR", places: int = 2) -> int:
    """Check the coupon for this customer and these lines and carry its discount
    into each line's ``discount`` and ``net`` (the dicts need ``quantity``,
    ``unit_price``, ``discount``). Returns the coupon's id. Unknown, used up,
    expired, another customer's, or over an order too small → ``coupon_unavailable``.
    ``also``: lines offered beside the order (a quotation's optional lines),
    outside the minimum and the base of an amount; a percent coupon takes its
    percentage off them too, an amount coupon nothing (its amount is spent on
    ``line_rows``)."""
    today = today or tx.today
    c = tx.conn.execute(_by_code, {"code": normalise_code(code)}).first()
    if c is None or (c.customer_id is not None and c.customer_id != customer_id):
        raise _unavailable(code, "there is no such coupon for this customer")
    if c.valid_until is not None and c.valid_until < today:
        raise _unavailable(code, f"it expired on {c.valid_until.isoformat()}")
    if c.redemptions >= c.max_redemptions:
        raise _unavailable(code, "it has been used up")
    if currency != "EUR" and (c.amount_off is not None or c.min_order_net is not None):
        raise _unavailable(code, f"its amounts are in EUR and this order is in {currency}")
    net_before = sum((line_net(r["quantity"], r["unit_price"], r["discount"] or ZERO, places)
                      for r in line_rows), ZERO)
    if c.min_order_net is not None and net_before < c.min_order_net:
        raise CouponUnavailable(
            f"Coupon “{code}” needs an order of at least {c.min_order_net} net; this one is {net_before}.",
            {"coupon": code, "min_order_net": str(c.min_order_net), "net": str(net_before)})
    fraction = coupon_fraction(c, net_before)
    for r in [*line_rows, *(also if c.percent_off is not None else ())]:
        r["discount"] = combined_discount(r["discount"] or ZERO, fraction)
        r["net"] = line_net(r["quantity"], r["unit_price"], r["discount"], places)
    return int(c.id)


def redeem(tx: Tx, coupon_id: int) -> None:
    """Count one redemption, in the confirming transaction; refused (409) when
    none is left or the coupon expired since the order was made."""
    if tx.conn.execute(_redeem, {"cid": coupon_id, "today": tx.today}).rowcount != 1:
        code = tx.conn.execute(select(coupons.c.code).where(coupons.c.id == coupon_id)).scalar_one()
        raise _unavailable(code, "it has been used up or has expired")


def give_back(tx: Tx, coupon_id: int) -> None:
    """The redemption of an order cancelled before it shipped is available again."""
    tx.conn.execute(_give_back, {"cid": coupon_id})
