"""Who may do what: roles, permissions and the principal behind a request."""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("webshop", "clerk", "accountant", "admin")

# ``costs:read``: unit costs, stock value and the cost of returned goods in
# answers (a webshop needs availability, not margins; ``o2c.schemas.api.for_reader``).
PERMISSIONS: dict[str, frozenset[str]] = {
    "webshop": frozenset({
        "catalog:read", "orders:read", "orders:write", "invoices:read", "events:read",
        "webhooks:read", "webhooks:write", "tax:preview", "coupons:read", "quotes:read", "quotes:write",
    }),
    "clerk": frozenset({
        "catalog:read", "catalog:write", "costs:read", "customers:read", "customers:write", "stock:write",
        "orders:read", "orders:write", "fulfilment:write", "returns:write", "invoices:read",
        "payments:read", "payments:write", "events:read", "company:read", "tax:preview",
        "messages:read", "messages:write", "fx:read", "bank:read", "bank:write",
        "coupons:read", "coupons:write", "insights:read", "kpis:read", "tasks:write",
        "quotes:read", "quotes:write", "quotes:report",
    }),
    "accountant": frozenset({
        "catalog:read", "costs:read", "customers:read", "orders:read", "invoices:read",
        "payments:read", "payments:write", "ledger:read", "ledger:write", "dunning:write", "events:read",
        "company:read", "tax:preview", "messages:read", "messages:write", "fx:read", "bank:read", "bank:write",
        "coupons:read", "insights:read", "kpis:read", "quotes:read", "quotes:report",
    }),
}
#: Only administrators reopen periods, change the chart of accounts,
#: manage every channel's webhook subscriptions in the back office, create,
#: revoke and rotate API keys, watch the background job queue, change the
#: company's settings and the VAT rates table (``company:admin``), and enable
#: currencies, record exchange rates and set price lists (``fx:admin``).
ADMIN_ONLY = frozenset({"ledger:admin", "webhooks:admin", "apikeys:admin", "jobs:admin", "company:admin",
                        "fx:admin"})
PERMISSIONS["admin"] = frozenset().union(*PERMISSIONS.values()) | ADMIN_ONLY


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an API key or a signed-in user."""

    kind: str  # "api_key" or "user"
    id: int
    name: str
    role: str
    #: An API key's channel (defaults to its name when the key was created).
    key_channel: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def channel(self) -> str:
        """Orders a webshop key creates belong to its channel; web forms are ``web``."""
        if self.kind != "api_key":
            return "web"
        return self.key_channel or self.name

    @property
    def channel_scope(self) -> str | None:
        """The only channel this principal may see, or ``None`` for all."""
        return self.channel if self.role == "webshop" else None

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


SYSTEM = Principal("system", 0, "system", "admin")
