"""The chart of accounts. Posting rules refer to accounts by role, never by
code; which account serves which role is configuration (the ``accounts``
table, o2c.services.chart), with the defaults of SPEC.md §4."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple


class Account(NamedTuple):
    code: str
    name: str
    type: str  # asset, liability, equity, revenue, expense


ACCOUNT_TYPES = ("asset", "liability", "equity", "revenue", "expense")
#: Types whose balance is normally a debit; the others normally a credit.
DEBIT_NORMAL = frozenset({"asset", "expense"})
CODE_PATTERN = re.compile(r"[0-9A-Za-z][0-9A-Za-z.\-]{0,15}")

DEFAULT_CHART: dict[str, Account] = {
    "bank": Account("1000", "Bank", "asset"),
    "receivables": Account("1100", "Accounts receivable", "asset"),
    "inventory": Account("1200", "Inventory", "asset"),
    "goods_received": Account("2100", "Goods received clearing", "liability"),
    "vat_payable": Account("2200", "VAT payable", "liability"),
    "customer_credit": Account("2300", "Customer credit", "liability"),
    "revenue": Account("4000", "Revenue", "revenue"),
    "cogs": Account("5000", "Cost of goods sold", "expense"),
    "inventory_write_off": Account("5100", "Inventory write-off", "expense"),
}
#: Every role the posting rules use; each must be served by exactly one account.
ROLES = tuple(DEFAULT_CHART)


class ChartError(ValueError):
    pass


def chart(overrides: dict[str, str] | None = None) -> dict[str, Account]:
    """The chart with account codes overridden by role (``{"revenue": "4010"}``)."""
    result = dict(DEFAULT_CHART)
    for role, code in (overrides or {}).items():
        if role not in result:
            raise KeyError(f"unknown account role {role!r}; roles are {sorted(result)}")
        result[role] = result[role]._replace(code=code)
    return result


def chart_from_rows(rows: Iterable[Any]) -> dict[str, Account]:
    """Role → account from ``(role, code, name, type)`` rows; every role must be there."""
    result = {r[0]: Account(r[1], r[2], r[3]) for r in rows if r[0] is not None}
    missing = [r for r in ROLES if r not in result]
    if missing:
        raise ChartError(f"No account serves the posting role(s) {', '.join(missing)}; "
                         "assign each to an account in the chart of accounts.")
    return result


def normal_balance(account_type: str) -> str:
    return "debit" if account_type in DEBIT_NORMAL else "credit"
