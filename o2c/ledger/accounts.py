"""The default chart of accounts (SPEC.md §4). Posting rules refer to accounts
by role, never by code, so the codes can be configured in one place."""
from __future__ import annotations

from typing import NamedTuple


class Account(NamedTuple):
    code: str
    name: str
    type: str  # asset, liability, equity, revenue, expense


DEFAULT_CHART: dict[str, Account] = {
    "bank": Account("1000", "Bank", "asset"),
    "receivables": Account("1100", "Accounts receivable", "asset"),
    "inventory": Account("1200", "Inventory", "asset"),
    "goods_received": Account("2100", "Goods received clearing", "liability"),
    "vat_payable": Account("2200", "VAT payable", "liability"),
    "customer_credit": Account("2300", "Customer credit", "liability"),
    "revenue": Account("4000", "Revenue", "revenue"),
    "cogs": Account("5000", "Cost of goods sold", "expense"),
}


def chart(overrides: dict[str, str] | None = None) -> dict[str, Account]:
    """The chart with account codes overridden by role (``{"revenue": "4010"}``)."""
    result = dict(DEFAULT_CHART)
    for role, code in (overrides or {}).items():
        if role not in result:
            raise KeyError(f"unknown account role {role!r}; roles are {sorted(result)}")
        result[role] = result[role]._replace(code=code)
    return result
