"""The back office's navigation: sections of pages, each page shown only to
roles with its permission. Pages of later features add themselves with
``add``; a section with several pages shows them as a second row."""
from __future__ import annotations

from dataclasses import dataclass, field

from flask import request, url_for

from o2c.web.core import can


@dataclass
class Item:
    label: str
    endpoint: str
    permission: str
    also: tuple[str, ...] = ()  # endpoints of pages under this one (highlighted with it)


@dataclass
class Section:
    label: str
    items: list[Item] = field(default_factory=list)


SECTIONS: list[Section] = [
    Section("Orders", [Item("Orders", "web.orders", "orders:read", ("web.order", "web.new_order", "web.shipment"))]),
    Section("Invoices", [Item("Invoices", "web.invoices", "invoices:read", ("web.invoice",))]),
    Section("Payments", [Item("Payments", "web.payments", "payments:read", ("web.payment", "web.new_payment"))]),
    Section("Customers", [Item("Customers", "web.customers", "customers:read",
                               ("web.customer", "web.new_customer", "web.edit_customer"))]),
    Section("Products", [Item("Products", "web.products", "catalog:read", ("web.new_product", "web.edit_product"))]),
    Section("Stock", [Item("Stock", "web.stock", "catalog:read", ("web.stock_sku", "web.new_receipt"))]),
    Section("Books", [
        Item("Trial balance", "web.trial_balance", "ledger:read"),
        Item("Journal", "web.journal", "ledger:read"),
        Item("Reconciliation", "web.reconciliation", "ledger:read"),
        Item("Periods", "web.periods", "ledger:read", ("web.reopen_period",)),
    ]),
]


def add(section: str, item: Item, after: str | None = None) -> None:
    """Add a page to a section (created at the end if new), after the item
    labelled ``after`` or last."""
    sec = next((s for s in SECTIONS if s.label == section), None)
    if sec is None:
        sec = Section(section)
        SECTIONS.append(sec)
    at = next((i + 1 for i, it in enumerate(sec.items) if it.label == after), len(sec.items))
    sec.items.insert(at, item)


@dataclass
class Link:
    label: str
    url: str
    active: bool


@dataclass
class Menu:
    label: str
    url: str
    active: bool
    links: list[Link]


def navigation() -> list[Menu]:
    """The sections the signed-in user may see, with the current one marked."""
    endpoint = request.endpoint or ""
    menus = []
    for sec in SECTIONS:
        links = [Link(it.label, url_for(it.endpoint), endpoint == it.endpoint or endpoint in it.also)
                 for it in sec.items if can(it.permission)]
        if links:
            menus.append(Menu(sec.label, links[0].url, any(l.active for l in links), links))
    return menus
