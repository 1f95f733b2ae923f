"""The company: its settings as the services read them (cached), and as
administrators see and change them (API.md, Tax)."""
from __future__ import annotations

import time
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import select, update

from o2c.db import models as m
from o2c.domain.errors import Conflict, ValidationFailed
from o2c.domain.tax import Seller, vat_id_error
from o2c.domain.text import audit_snapshot
from o2c.services.platform.uow import Tx

company = m.Company.__table__


class Settings(NamedTuple):
    invoice_prefix: str
    invoicing_policy: str
    currency: str
    country: str
    tax_id: str
    oss_registered: bool
    distance_sales_threshold: Decimal

    @property
    def seller(self) -> Seller:
        return Seller(self.country, self.tax_id, self.oss_registered, self.distance_sales_threshold)


_settings: tuple[float, Settings] | None = None
SETTINGS_TTL = 30.0
_select_settings = select(company.c.invoice_prefix, company.c.invoicing_policy, company.c.currency,
                          company.c.country, company.c.tax_id, company.c.oss_registered,
                          company.c.distance_sales_threshold).limit(1)


def company_settings(tx: Tx) -> Settings:
    """Company settings, read at most every 30 s per process (they change rarely)."""
    global _settings
    if _settings is not None and _settings[0] > time.monotonic():
        return _settings[1]
    row = tx.conn.execute(_select_settings).first()
    if row is None:
        raise Conflict("The company is not set up; run `o2c db upgrade`.")
    _settings = (time.monotonic() + SETTINGS_TTL, Settings(*row))
    return _settings[1]


def forget_settings() -> None:
    global _settings
    _settings = None


FIELDS = ("name", "address", "country", "vat_id", "iban", "bic", "currency", "oss_registered",
          "distance_sales_threshold")


def get_company(tx: Tx) -> dict[str, Any]:
    row = tx.conn.execute(select(company).limit(1)).first()
    if row is None:
        raise Conflict("The company is not set up; run `o2c db upgrade`.")
    return {"name": row.name, "address": row.address, "country": row.country, "vat_id": row.tax_id,
            "iban": row.iban, "bic": row.bic, "currency": row.currency, "oss_registered": row.oss_registered,
            "distance_sales_threshold": row.distance_sales_threshold}


def update_company(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    """Change what ``data`` names (administrators). A new VAT id must be one
    of the company's country."""
    before = get_company(tx)
    values = {("tax_id" if k == "vat_id" else k): v for k, v in data.items() if k in FIELDS}
    country = values.get("country", before["country"])
    if "vat_id" in data or "country" in data:
        why = vat_id_error(data.get("vat_id", before["vat_id"]), country)
        if why:
            raise ValidationFailed(why, {"vat_id": [why]})
    if values:
        tx.conn.execute(update(company).values(**values))
    forget_settings()
    after = get_company(tx)
    tx.audit("company.updated", "company", 1, audit_snapshot(before), audit_snapshot(after))
    return after
