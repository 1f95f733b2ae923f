"""Customers after the sale: coupons, recommendations, insights, KPIs,
win-back, feedback and follow-up tasks (API.md, Customers after the sale)."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import mutate, principal, read, requires
from o2c.schemas import api as s
from o2c.schemas import crm as cs
from o2c.services.crm import coupons

blp = Blueprint("crm", __name__, url_prefix="/api/v1",
                description="Customers after the sale: coupons, recommendations, insights, KPIs, win-back, feedback")

COUPON = cs.CouponOut()


@blp.route("/coupons", methods=["POST"])
@requires("coupons:write")
@blp.arguments(cs.CouponIn)
@blp.response(201, cs.CouponOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="conflict: the code exists")
def create_coupon(data: dict[str, Any]) -> Any:
    """Create a coupon: percent or amount off, for one customer or anyone, used at most ``max_redemptions`` times."""
    return mutate(lambda tx: coupons.create_coupon(tx, principal(), data), COUPON, 201)


@blp.route("/coupons/<string:code>", methods=["GET"])
@requires("coupons:read")
@blp.response(200, cs.CouponOut)
def get_coupon(code: str) -> Any:
    """One coupon by its code, with the redemptions counted so far."""
    return read(lambda tx: coupons.get_coupon(tx, principal(), code), COUPON)
