"""A live source of exchange rates: a URL serving the ECB's daily reference
rates XML (``O2C_FX_PROVIDER_URL``, e.g. the ECB's own
``eurofxref-daily.xml``), fetched by ``o2c fx fetch`` (from cron or a
scheduler). Off by default: without a URL nothing is ever fetched."""
from __future__ import annotations

from collections.abc import Callable

from o2c.services.books.fx import RateRow
from o2c.services.books.fx_files import MAX_BYTES, BadRateFile, parse_ecb_xml


class NotConfigured(RuntimeError):
    """No live rate source is configured."""


def fetch_rates(url: str, get: Callable[[str], bytes] | None = None) -> list[RateRow]:
    """The rates the configured source serves now. ``get`` fetches a URL's
    body (:func:`o2c.outbound.fetch_document` unless given)."""
    if not url:
        raise NotConfigured("No live exchange-rate source is configured (O2C_FX_PROVIDER_URL); nothing was fetched.")
    if get is None:
        from o2c.outbound import fetch_document
        get = fetch_document
    try:
        data = get(url)
    except (OSError, ValueError) as exc:
        raise BadRateFile(f"Could not fetch the rates from {url}: {exc}") from None
    if len(data) > MAX_BYTES:
        raise BadRateFile(f"The answer of {url} is larger than {MAX_BYTES:,} bytes.")
    return parse_ecb_xml(data, url)
