"""Currencies, exchange rates and price lists (API.md, Currencies)."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from o2c.api.common import decode_cursor, int_cursor, mutate, page, read, requires, str_cursor
from o2c.domain.errors import ValidationFailed
from o2c.schemas import api as s
from o2c.schemas import fx as f
from o2c.services.books import fx, revaluation

blp = Blueprint("fx", __name__, url_prefix="/api/v1", description="Currencies, exchange rates and price lists")

CurrencyPage = s.page_of(f.CurrencyOut)
RatePage = s.page_of(f.RateOut)
PricePage = s.page_of(f.PriceOut)


def _fallback_days() -> int:
    return current_app.config["O2C"].FX_RATE_FALLBACK_DAYS


@blp.route("/currencies", methods=["GET"])
@requires("catalog:read")
@blp.arguments(f.CurrencyListArgs, location="query")
@blp.response(200, CurrencyPage)
def list_currencies(args: dict[str, Any]) -> Any:
    """The ISO 4217 currencies with their minor units, whether enabled, and where their rates come from."""
    return page(lambda tx: fx.list_currencies(tx, args.get("enabled"), str_cursor(args), args["limit"]),
                CurrencyPage())


@blp.route("/currencies", methods=["POST"])
@requires("fx:admin")
@blp.arguments(f.CurrencyIn)
@blp.response(200, f.CurrencyOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="conflict: EUR, the functional currency, stays enabled")
def set_currency(data: dict[str, Any]) -> Any:
    """Enable or disable a currency (administrators)."""
    return mutate(lambda tx: fx.set_currency(tx, data["code"], data["enabled"]), f.CurrencyOut())


@blp.route("/fx/rates", methods=["POST"])
@requires("fx:admin")
@blp.arguments(f.RateIn)
@blp.response(201, f.RateOut)
@blp.alt_response(409, schema=s.ErrorResponse,
                  description="period_closed: the day's rate was used and its period is closed")
def record_rate(data: dict[str, Any]) -> Any:
    """Record a currency's rate for a day: units of the currency per 1 EUR.

    The same rate again changes nothing; another rate for the day replaces
    it, unless a document used it and the day's period is closed."""
    return mutate(lambda tx: fx.record_rate(tx, data["currency"], data["date"], data["rate"], data["source"]),
                  f.RateOut(), 201)


@blp.route("/fx/rates", methods=["GET"])
@requires("fx:read")
@blp.arguments(f.RateListArgs, location="query")
@blp.response(200, RatePage)
def list_rates(args: dict[str, Any]) -> Any:
    """Exchange rates, newest day first; filter by currency and dates."""
    position = decode_cursor(args.get("cursor"), list)
    return page(lambda tx: fx.list_rates(tx, args.get("currency"), args.get("from_"), args.get("to"),
                                         _position(position), args["limit"]), RatePage())


def _position(position: Any) -> list[str] | None:
    if position is None:
        return None
    if len(position) != 2 or not all(isinstance(p, str) for p in position):
        raise ValidationFailed("Invalid cursor.", {"cursor": ["Not a cursor of this list."]})
    return position


@blp.route("/fx/prices", methods=["POST"])
@requires("fx:admin")
@blp.arguments(f.PriceIn)
@blp.response(201, f.PriceOut)
def set_price(data: dict[str, Any]) -> Any:
    """Fix a product's price in a currency (a price list entry); posting it again replaces the price."""
    return mutate(lambda tx: fx.set_price(tx, data["sku"], data["currency"], data["unit_price"]), f.PriceOut(),
                  201)


@blp.route("/fx/prices", methods=["GET"])
@requires("fx:read")
@blp.arguments(f.PriceListArgs, location="query")
@blp.response(200, PricePage)
def list_prices(args: dict[str, Any]) -> Any:
    """Price list entries: fixed prices per product and currency."""
    position = decode_cursor(args.get("cursor"), list)
    return page(lambda tx: fx.list_prices(tx, args.get("sku"), args.get("currency"), _position(position),
                                          args["limit"]), PricePage())


@blp.route("/fx/prices/<sku:sku>", methods=["GET"])
@requires("fx:read")
@blp.arguments(f.PriceQuoteArgs, location="query")
@blp.response(200, f.PriceQuoteOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="rate_missing: no rate for the day")
def price_for(args: dict[str, Any], sku: str) -> Any:
    """A product's unit price in a currency on a day: its price list entry, else its EUR price at the day's rate."""
    def run(tx: Any) -> dict[str, Any]:
        return fx.price_for(tx, sku, args["currency"], args.get("on") or tx.today, fallback_days=_fallback_days())
    return read(run, f.PriceQuoteOut())


RevaluationPage = s.page_of(f.RevaluationOut)


@blp.route("/fx/revaluation", methods=["POST"])
@requires("ledger:write")
@blp.arguments(f.RevaluationIn)
@blp.response(201, f.RevaluationOut)
@blp.alt_response(409, schema=s.ErrorResponse,
                  description="rate_missing: no rate for the day; conflict: the day was revalued already; "
                              "period_closed: its month (or the next, where the reversal goes) is closed")
def revalue(data: dict[str, Any]) -> Any:
    """Revalue the open foreign-currency receivables and customer credit at a day's rates.

    Posts the unrealised exchange gain or loss dated `as_of` and its reversal
    dated the first day of the next month, in one transaction; answers with
    both entries and the balances revalued. Once per day."""
    return mutate(lambda tx: revaluation.revalue(tx, data["as_of"]), f.RevaluationOut(), 201)


@blp.route("/fx/revaluations", methods=["GET"])
@requires("ledger:read")
@blp.arguments(s.PageArgs, location="query")
@blp.response(200, RevaluationPage)
def list_revaluations(args: dict[str, Any]) -> Any:
    """Revaluations, the latest day first, with their entries."""
    return page(lambda tx: revaluation.list_revaluations(tx, int_cursor(args), args["limit"]), RevaluationPage())


@blp.route("/fx/revaluations/<id:revaluation_id>", methods=["GET"])
@requires("ledger:read")
@blp.response(200, f.RevaluationOut)
def get_revaluation(revaluation_id: int) -> Any:
    """One revaluation with its entries."""
    return read(lambda tx: revaluation.get_revaluation(tx, revaluation_id), f.RevaluationOut())
