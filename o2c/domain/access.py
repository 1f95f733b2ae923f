"""Who may do what: roles, permissions and the principal behind a request."""
from __future__ import annotations

from dataclasses import dataclass

ROLES = ("webshop", "clerk", "accountant", "admin")

# ``costs:read``: unit costs, stock value and the cost of returned goods in
# answers (a webshop needs availability, not margins; ``o2c.schemas.api.for_reader``).
PERMISSIONS: dict[str, frozenset[str]] = {
    "webshop": frozenset({
        "catalog:read", "orders:read", "orders:write", "invoices:read", "events:read",
        "webhooks:read", "webhooks:write", "quotes:read", "quotes:write", "tax:preview",
    }),
    "clerk": frozenset({
        "catalog:read", "catalog:write", "costs:read", "customers:read", "customers:write", "stock:write",
        "orders:read", "orders:write", "fulfilment:write", "returns:write", "invoices:read",
        "payments:read", "payments:write", "events:read", "messages:read", "messages:write",
        "quotes:read", "quotes:write", "quotes:report", "company:read", "tax:preview",
    }),
    "accountant": frozenset({
        "catalog:read", "costs:read", "customers:read", "orders:read", "invoices:read",
        "payments:read", "payments:write", "ledger:read", "ledger:write", "dunning:write", "events:read",
        "messages:read", "messages:write", "quotes:read", "quotes:report", "company:read", "tax:preview",
    }),
}
#: Only administrators reopen periods, change the chart of accounts,
#: manage every channel's webhook subscriptions in the back office, create,
#: revoke and rotate API keys, and watch the background job queue.
#: And change the company's settings and the VAT rates table.
ADMIN_ONLY = frozenset({"ledger:admin", "webhooks:admin", "apikeys:admin", "jobs:admin", "company:admin"})
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
