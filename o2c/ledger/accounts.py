"""The chart of accounts. Posting rules refer to accounts by role, never by
code; which account serves which role is configuration (the ``accounts``
table, o2c.services.books.chart), with the defaults of SPEC.md §4."""
from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, NamedTuple

from o2c.domain.vat_rates import EU_MEMBER_STATES


class Account(NamedTuple):
    code: str
    name: str
    type: str  # asset, liability, equity, revenue, expense


ACCOUNT_TYPES = ("asset", "liability", "equity", "revenue", "expense")
#: Beside the posting roles, the chart as a unit of work reads it holds
#: ``bank_in:PLN`` → the GL account of the first bank account held in PLN
#: (any currency but the functional one): where money typed in or paid out
#: in that currency is booked.
CURRENCY_BANK = "bank_in:"
#: Types whose balance is normally a debit; the others normally a credit.
DEBIT_NORMAL = frozenset({"asset", "expense"})
#: An account code: 3 to 10 digits (the default chart's are four). Journal
#: lines, exports and the SAF-T file carry it; letters, signs and spaces in it
#: break sorting by code and spreadsheets (``=SUM(A1)``), so there are none.
CODE_PATTERN = re.compile(r"[0-9]{3,10}")
CODE_RULE = "3 to 10 digits, e.g. 4010."

def oss_role(country: str) -> str:
    """The posting role of the One-Stop-Shop VAT owed to a member state."""
    return f"vat_oss_{country}"


#: Every OSS role, and the roles whose sum is "VAT payable" and "revenue"
#: in the reconciliation (the domestic account and its companions).
OSS_ROLES = tuple(oss_role(cc) for cc in EU_MEMBER_STATES)
VAT_ROLES = ("vat_payable", *OSS_ROLES)
REVENUE_ROLES = ("revenue", "revenue_intra_eu", "revenue_export")

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
    # The net of VAT-free sales the return reports apart: intra-EU supplies
    # to businesses (reverse charged) and exports out of the EU.
    "revenue_intra_eu": Account("4060", "Revenue, intra-EU supplies", "revenue"),
    "revenue_export": Account("4070", "Revenue, exports", "revenue"),
    # Realised exchange differences: a foreign-currency receivable settled at
    # another rate than the one it was booked at.
    "fx_gain": Account("4900", "Realised exchange gains", "revenue"),
    "fx_loss": Account("6900", "Realised exchange losses", "expense"),
    # Unrealised ones: open foreign-currency balances revalued at a period's
    # end, reversed on the first day of the next.
    "fx_unrealised_gain": Account("4910", "Unrealised exchange gains", "revenue"),
    "fx_unrealised_loss": Account("6910", "Unrealised exchange losses", "expense"),
    # One-Stop Shop: the destination VAT of EU distance sales, one payable per member state.
    **{oss_role(cc): Account(str(2410 + i), f"OSS VAT payable {cc}", "liability")
       for i, cc in enumerate(EU_MEMBER_STATES)},
}
#: Every role the posting rules use; each must be served by exactly one account.
ROLES = tuple(DEFAULT_CHART)
#: The account types that may serve each posting role: the posting rules
#: debit and credit a role on the assumption of its side (the bank is an asset
#: whose debit balance is money held; revenue is credited), and the trial
#: balance, reconciliation and exports read balances by type. An account of
#: another type would turn those figures over.
ROLE_TYPES: dict[str, tuple[str, ...]] = {
    "bank": ("asset",),
    "receivables": ("asset",),
    "inventory": ("asset",),
    "goods_received": ("liability",),
    "vat_payable": ("liability",),
    "customer_credit": ("liability",),
    "revenue": ("revenue",),
    "cogs": ("expense",),
    "inventory_write_off": ("expense",),
    "revenue_intra_eu": ("revenue",),
    "revenue_export": ("revenue",),
    "fx_gain": ("revenue",),
    "fx_loss": ("expense",),
    "fx_unrealised_gain": ("revenue",),
    "fx_unrealised_loss": ("expense",),
    **{r: ("liability",) for r in OSS_ROLES},
}


def role_type_error(role: str, account_type: str) -> str | None:
    """Why an account of ``account_type`` cannot serve ``role``, or ``None``."""
    allowed = ROLE_TYPES[role]
    if account_type in allowed:
        return None
    return (f"The {role.replace('_', ' ')} role needs {' or '.join(_a(t) for t in allowed)} account, "
            f"not {_a(account_type)} one.")


def _a(word: str) -> str:
    return f"{'an' if word[:1] in ('a', 'e', 'i', 'o', 'u') else 'a'} {word}"


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
