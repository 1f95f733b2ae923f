"""Tax: the company's settings, the VAT rates table and the checkout preview
(API.md, Tax)."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import mutate, principal, read, requires
from o2c.schemas import api as s
from o2c.services.platform import company
from o2c.services.sales import tax

blp = Blueprint("tax", __name__, url_prefix="/api/v1", description="Company, VAT rates, tax preview")


@blp.route("/company", methods=["GET"])
@requires("company:read")
@blp.response(200, s.CompanyOut)
def get_company() -> Any:
    """The company: name, address, country, VAT id, bank, OSS registration and threshold."""
    return read(company.get_company, s.CompanyOut())


@blp.route("/company", methods=["PATCH"])
@requires("company:admin")
@blp.arguments(s.CompanyPatch)
@blp.response(200, s.CompanyOut)
def update_company(data: dict[str, Any]) -> Any:
    """Change the company's settings (administrators); a VAT id must be valid for its country."""
    return mutate(lambda tx: company.update_company(tx, data), s.CompanyOut())


@blp.route("/tax/rates", methods=["GET"])
@requires("catalog:read")
@blp.arguments(s.TaxRateArgs, location="query")
@blp.response(200, s.TaxRateList)
def list_rates(args: dict[str, Any]) -> Any:
    """VAT rates per country and tax class with their validity (``on``: those valid that day)."""
    return read(lambda tx: {"items": tax.list_rates(tx, args.get("country"), args.get("on"))}, s.TaxRateList())


@blp.route("/tax/rates", methods=["POST"])
@requires("company:admin")
@blp.arguments(s.TaxRateIn)
@blp.response(201, s.TaxRateOut)
def create_rate(data: dict[str, Any]) -> Any:
    """Add a dated rate (administrators); an overlapping validity is refused with 422."""
    return mutate(lambda tx: tax.create_rate(tx, data), s.TaxRateOut(), 201)


@blp.route("/tax/preview", methods=["POST"])
@requires("tax:preview")
@blp.arguments(s.TaxPreviewIn)
@blp.response(200, s.TaxPreviewOut)
def preview(data: dict[str, Any]) -> Any:
    """What the invoice of these lines will show: treatment, categories, rates, totals. Writes nothing."""
    return read(lambda tx: tax.preview(tx, principal(), company.company_settings(tx), data), s.TaxPreviewOut())
