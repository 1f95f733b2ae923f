"""Languages of documents: gettext catalogs for the labels, Babel for numbers,
money, dates and country names.

The catalogs are the ``.po`` files under ``templates/invoices/locales``; they
are compiled in memory the first time a language is used, so a fresh clone
needs no build step. A customer language without a catalog gets the whole
document in English (labels and formatting alike), never a mixture.
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from decimal import Decimal
from io import BytesIO
from pathlib import Path

from babel import Locale
from babel.dates import format_date
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent
from babel.support import NullTranslations, Translations

from o2c.domain.currencies import ISO_4217

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "templates" / "invoices"
LOCALES = TEMPLATES / "locales"
DOMAIN = "messages"

#: Document languages and the Babel locale each one formats with. English
#: documents follow Irish conventions: the euro, day-month-year dates.
LOCALE_OF = {"en": "en_IE", "it": "it_IT", "pl": "pl_PL", "ru": "ru_RU"}
DEFAULT_LANGUAGE = "en"


def document_language(customer_language: str | None) -> str:
    """The language a customer's documents are written in."""
    lang = (customer_language or "").split("-")[0].split("_")[0].lower()
    return lang if lang in LOCALE_OF else DEFAULT_LANGUAGE


def catalog_path(lang: str) -> Path:
    return LOCALES / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalog of ``lang`` (English needs none: the msgids are English)."""
    if lang == DEFAULT_LANGUAGE:
        return NullTranslations()
    with catalog_path(lang).open("rb") as f:
        catalog = read_po(f, locale=lang, domain=DOMAIN)
    mo = BytesIO()
    write_mo(mo, catalog)  # fuzzy entries are left out, as gettext does
    mo.seek(0)
    return Translations(mo, domain=DOMAIN)


@dataclass(frozen=True)
class Formats:
    """Numbers, money, dates and names as readers of one locale expect them."""

    locale: str

    def money(self, amount: Decimal, currency: str) -> str:
        """``1.234,50 €`` (it), ``1 234,50 €`` (pl, ru), ``€1,234.50`` (en)."""
        return format_currency(amount, currency, locale=self.locale)

    def amount(self, amount: Decimal, currency: str = "EUR") -> str:
        """An amount in a column whose currency is stated once, with that
        currency's decimals: ``1.234,50`` (EUR), ``12.210`` (JPY)."""
        places = ISO_4217.get(currency, 2)
        return format_decimal(amount, "#,##0" + ("." + "0" * places if places else ""), locale=self.locale)

    def rate(self, rate: Decimal) -> str:
        """An exchange rate with at least four decimals, as the ECB writes them: ``4,2750``."""
        return format_decimal(rate.normalize(), "#,##0.0000######", locale=self.locale)

    def quantity(self, quantity: int | Decimal) -> str:
        return format_decimal(quantity, locale=self.locale)

    def percent(self, rate: Decimal) -> str:
        """A fraction as a percentage with the decimals it has: ``22 %``, ``5,5 %``."""
        return format_percent(rate, locale=self.locale, decimal_quantization=False)

    def date(self, day: dt.date) -> str:
        """``15 marzo 2026``, ``15 marca 2026``, ``15 марта 2026 г.``."""
        return format_date(day, "long", locale=self.locale)

    def country(self, code: str) -> str:
        return Locale.parse(self.locale).territories.get(code.upper(), code)


def formats(lang: str) -> Formats:
    return Formats(LOCALE_OF[lang])
