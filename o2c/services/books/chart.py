"""The chart of accounts: codes, names, types, and which account serves each
posting role.

Journal lines reference accounts by code, so a code never changes once it
exists; "configuring the code" of, say, revenue means creating account 4010
and moving the ``revenue`` role to it. From then on the posting rules credit
4010 (every process within ``CHART_TTL`` seconds: the chart is cached per
process). 4000 keeps its history, and ``account_roles`` remembers that it
served revenue, so the reconciliation sums both. An account serves at most
one role in its life, so no figure is ever counted for two roles.

The chart's rules, and how a refusal answers:

- a code is 3 to 10 digits (``CODE_PATTERN``): else 422 on ``code``;
- a posting role goes only to an account of the type the role needs
  (``ROLE_TYPES``), whether the role is assigned or the type of the account
  serving it is changed: else 422 on ``role`` or ``type``;
- an account with postings keeps its type (its balance was built under it;
  open a new account instead): else 409 ``conflict``, like the other refusals
  that depend on what the books already hold (a code that exists, an account
  that serves or served another role).

The 409s are checked first: a request that breaks both kinds of rule hears
about what the books hold.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update

from o2c.db import models as m
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.ledger.accounts import ACCOUNT_TYPES, CODE_PATTERN, CODE_RULE, ROLES, normal_balance, role_type_error
from o2c.services.platform.uow import Tx, forget_chart

accounts = m.Account.__table__
account_roles = m.AccountRole.__table__
journal_lines = m.JournalLine.__table__


def _view(row: Any, former: dict[str, str]) -> dict[str, Any]:
    return {"code": row.code, "name": row.name, "type": row.type, "role": row.role,
            "former_role": former.get(row.code) if row.role is None else None,
            "normal_balance": normal_balance(row.type)}


def _former_roles(tx: Tx) -> dict[str, str]:
    return {r.account: r.role for r in tx.conn.execute(select(account_roles.c.account, account_roles.c.role))}


def list_accounts(tx: Tx) -> list[dict[str, Any]]:
    former = _former_roles(tx)
    return [_view(r, former) for r in tx.conn.execute(select(accounts).order_by(accounts.c.code))]


def get_account(tx: Tx, code: str) -> dict[str, Any]:
    row = tx.conn.execute(select(accounts).where(accounts.c.code == code)).first()
    if row is None:
        raise NotFound(f"No account with code “{code}”.")
    return _view(row, _former_roles(tx))


def _check_type(type_: str) -> None:
    if type_ not in ACCOUNT_TYPES:
        raise ValidationFailed(f"Unknown account type “{type_}”.", {"type": [f"One of {', '.join(ACCOUNT_TYPES)}."]})


def _check_role(role: str, account_type: str, field: str) -> None:
    """A role only on an account of a type it allows (``ROLE_TYPES``)."""
    if role not in ROLES:
        raise ValidationFailed(f"Unknown posting role “{role}”.", {"role": [f"One of {', '.join(ROLES)}."]})
    why = role_type_error(role, account_type)
    if why:
        raise ValidationFailed(why, {field: [why]})


def create_account(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    code = data["code"]
    if not CODE_PATTERN.fullmatch(code):
        raise ValidationFailed(f"“{code}” is not an account code: {CODE_RULE}", {"code": [f"“{code}” is not an account code: {CODE_RULE}"]})
    _check_type(data["type"])
    if data.get("role"):
        _check_role(data["role"], data["type"], "role")
    if tx.conn.execute(select(accounts.c.code).where(accounts.c.code == code)).first() is not None:
        raise Conflict(f"Account {code} already exists.", {"code": code})
    tx.conn.execute(insert(accounts), {"code": code, "name": data["name"], "type": data["type"], "role": None})
    tx.audit("account.created", "account", _object_id(code), None,
             {"code": code, "name": data["name"], "type": data["type"]})
    if data.get("role"):
        return assign_role(tx, data["role"], code)
    return get_account(tx, code)


def update_account(tx: Tx, code: str, data: dict[str, Any]) -> dict[str, Any]:
    """Rename or retype an account (one without postings, to a type its role
    allows); with ``role``, move that posting role to it. A field given with
    the value it has is no change (and no audit row)."""
    before = get_account(tx, code)
    changes = {k: data[k] for k in ("name", "type") if k in data and data[k] != before[k]}
    if "type" in changes:
        _check_type(changes["type"])
        postings = tx.conn.execute(
            select(func.count()).select_from(journal_lines).where(journal_lines.c.account == code)).scalar_one()
        if postings:
            raise Conflict(
                f"Account {code} ({before['type']}) has {postings} posting(s): its type cannot change. "
                "Open a new account of the other type and move the role or the balance to it.",
                {"code": code, "type": before["type"], "postings": postings})
        if before["role"] and data.get("role") in (None, before["role"]):
            _check_role(before["role"], changes["type"], "type")  # another role given: assign_role checks it
    if changes:
        tx.conn.execute(update(accounts).where(accounts.c.code == code).values(**changes))
        tx.audit("account.updated", "account", _object_id(code),
                 {k: before[k] for k in changes}, changes)
        forget_chart()
    if data.get("role"):
        return assign_role(tx, data["role"], code)
    return get_account(tx, code)


def assign_role(tx: Tx, role: str, code: str) -> dict[str, Any]:
    """Post ``role`` to account ``code`` from now on."""
    if role not in ROLES:
        raise ValidationFailed(f"Unknown posting role “{role}”.", {"role": [f"One of {', '.join(ROLES)}."]})
    target = get_account(tx, code)
    if target["role"] == role:
        return target
    if target["role"] is not None:
        raise Conflict(f"Account {code} already serves {target['role']}; an account serves one role.",
                       {"code": code, "role": target["role"]})
    served = tx.conn.execute(select(account_roles.c.role).where(account_roles.c.account == code)).scalar()
    if served is not None and served != role:
        raise Conflict(f"Account {code} served {served} before; its history would be counted twice. "
                       "Use a new account.", {"code": code, "role": served})
    _check_role(role, target["type"], "role")
    current = tx.conn.execute(select(accounts.c.code).where(accounts.c.role == role)).scalar()
    tx.conn.execute(update(accounts).where(accounts.c.role == role).values(role=None))
    tx.conn.execute(update(accounts).where(accounts.c.code == code).values(role=role))
    if served is None:
        tx.conn.execute(insert(account_roles), {"role": role, "account": code, "assigned_at": tx.now})
    tx.audit("account.role_assigned", "account", _object_id(code), {"role": role, "account": current},
             {"role": role, "account": code})
    forget_chart()
    return get_account(tx, code)


def _object_id(code: str) -> int:
    """Audit rows carry an integer object id: the code's digits, or a stable hash."""
    if code.isascii() and code.isdigit() and len(code) < 18:
        return int(code)
    return int.from_bytes(code.encode()[:7].ljust(7, b"\0"), "big")
