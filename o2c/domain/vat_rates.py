"""The VAT rates of the EU member states per tax class, as shipped.

Dated: the rates in force on 1 August 2025 (European Commission, "VAT rates
applied in the Member States of the European Union"), seeded as valid from
``SEEDED_FROM``. Administrators add later changes as new dated rows
(``POST /api/v1/tax/rates``); orders keep the rate they froze.

A tax class names one rate per country: ``reduced`` is the reduced rate for
foodstuffs where a country has several, ``super_reduced`` the super-reduced
rate (or the lowest reduced rate where there is none), and a country without
a reduced rate applies its standard rate. ``zero`` is 0 % everywhere;
``exempt`` has no rate (category E).
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

RATES_AS_OF = dt.date(2025, 8, 1)
SEEDED_FROM = dt.date(2025, 1, 1)

#: ISO 3166 alpha-2 → (standard, reduced, super_reduced), in per cent.
EU_RATES: dict[str, tuple[str, str, str]] = {
    "AT": ("20", "10", "10"),
    "BE": ("21", "6", "6"),
    "BG": ("20", "9", "9"),
    "CY": ("19", "9", "5"),
    "CZ": ("21", "12", "12"),
    "DE": ("19", "7", "7"),
    "DK": ("25", "25", "25"),
    "EE": ("24", "9", "9"),
    "ES": ("21", "10", "4"),
    "FI": ("25.5", "14", "10"),
    "FR": ("20", "5.5", "2.1"),
    "GR": ("24", "13", "6"),
    "HR": ("25", "13", "5"),
    "HU": ("27", "18", "5"),
    "IE": ("23", "13.5", "4.8"),
    "IT": ("22", "10", "4"),
    "LT": ("21", "9", "5"),
    "LU": ("17", "8", "3"),
    "LV": ("21", "12", "5"),
    "MT": ("18", "7", "5"),
    "NL": ("21", "9", "9"),
    "PL": ("23", "8", "5"),
    "PT": ("23", "13", "6"),
    "RO": ("21", "11", "11"),
    "SE": ("25", "12", "6"),
    "SI": ("22", "9.5", "5"),
    "SK": ("23", "19", "5"),
}


def seed_rows() -> list[dict[str, object]]:
    """``tax_rates`` rows (country, tax_class, rate as a fraction, valid_from, valid_to)."""
    rows: list[dict[str, object]] = []
    for country, (standard, reduced, super_reduced) in sorted(EU_RATES.items()):
        for tax_class, pct in (("standard", standard), ("reduced", reduced),
                               ("super_reduced", super_reduced), ("zero", "0")):
            rows.append({"country": country, "tax_class": tax_class, "rate": Decimal(pct) / 100,
                         "valid_from": SEEDED_FROM, "valid_to": None})
    return rows

#: The member states of the European Union (ISO 3166 alpha-2; Greece is GR
#: here and EL in VAT ids).
EU_MEMBER_STATES: tuple[str, ...] = tuple(sorted(EU_RATES))
