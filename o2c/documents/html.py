"""Documents as HTML: the one template in ``templates/invoices/``, in the
document's language."""
from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from o2c.documents.i18n import TEMPLATES, formats, translations
from o2c.documents.payment import epc_qr_payload, grouped, qr_png_data_uri

TEMPLATE = "document.html"
STYLESHEET = TEMPLATES / "document.css"


@functools.cache
def environment(lang: str) -> Environment:
    """The template environment of one language: its catalog and its locale's
    formats. One per language, so rendering never switches a shared one."""
    env = Environment(loader=FileSystemLoader(str(TEMPLATES)), autoescape=True, undefined=StrictUndefined,
                      extensions=["jinja2.ext.i18n"], auto_reload=False)
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    f = formats(lang)
    env.filters.update(money=f.money, amount=f.amount, rate=f.rate, quantity=f.quantity, percent=f.percent,
                       date=f.date, country=f.country, grouped=grouped)
    return env


def payment_qr(doc: Mapping[str, Any]) -> str | None:
    """The EPC QR code of a document to be paid in euro by SEPA transfer."""
    pay, seller = doc["payment"], doc["seller"]
    if pay is None or doc["currency"] != "EUR" or not seller["iban"]:
        return None
    payload = epc_qr_payload(seller["name"], seller["iban"], seller["bic"], doc["total"], pay["reference"])
    return qr_png_data_uri(payload) if payload else None


def document_html(doc: Mapping[str, Any]) -> str:
    lang = doc["language"]
    return environment(lang).get_template(TEMPLATE).render(doc=doc, lang=lang, qr=payment_qr(doc))


PROPOSAL = "proposal.html"


def proposal_html(doc: Mapping[str, Any]) -> str:
    """A quotation's proposal, in the invoices' layout and the customer's language."""
    lang = doc["language"]
    return environment(lang).get_template(PROPOSAL).render(doc=doc, lang=lang)
