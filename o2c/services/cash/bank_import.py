"""Bank statements in: the company's bank accounts, and importing the files
the bank sends (CAMT.053, MT940, CSV) — each statement once, each line once.

An import is one transaction: every statement of the file is read and
checked before anything is written, so a file is taken whole or not at all.
The same statement again (or two imports of one file racing) finds the
statement already there and adds nothing; an overlapping export adds only
the lines not yet imported (line identities are unique per bank account).
Lines arrive ``unmatched``; applying them to invoices is the matcher's work
(it reads ``bank_lines`` by status)."""
from __future__ import annotations

import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from schwifty import IBAN
from schwifty.exceptions import SchwiftyException
from sqlalchemy import delete, func, select, update

from o2c.db import models as m
from o2c.db.types import money_sum
from o2c.domain.bankfiles import (
    BankFileError,
    ParsedStatement,
    check_statement,
    csvfile,
    line_identities,
    normalise_iban,
    statement_identity,
)
from o2c.domain.errors import Conflict, NotFound, ValidationFailed
from o2c.domain.fx import FUNCTIONAL_CURRENCY
from o2c.services.books import fx
from o2c.services.platform.uow import Tx, dialect_insert, forget_chart

accounts = m.BankAccount.__table__
statements = m.BankStatement.__table__
lines = m.BankLine.__table__
_gl_accounts = m.Account.__table__
_jlines = m.JournalLine.__table__
_entries = m.JournalEntry.__table__

STATUSES = ("unmatched", "suggested", "matched", "booked", "ignored")
CONTENT_TYPES = {"application/xml": "camt.053", "text/xml": "camt.053", "text/plain": "mt940", "text/csv": "csv"}
_INSERTS: dict[tuple[str, str, bool], Any] = {}


def _insert_new(tx: Tx, table: Any, *unique: str, returning: bool = False) -> Any:
    """``INSERT … ON CONFLICT (unique…) DO NOTHING``: a row whose key exists is
    left out (on PostgreSQL after waiting for a concurrent insert of that key)."""
    key = (tx.conn.dialect.name, table.name, returning)
    stmt = _INSERTS.get(key)
    if stmt is None:
        stmt = dialect_insert(tx.conn)(table).on_conflict_do_nothing(index_elements=list(unique))
        if returning:
            stmt = stmt.returning(table.c.id)
        _INSERTS[key] = stmt
    return stmt


#: Lines are written in batches of this many rows.
BATCH = 1000


# -- bank accounts -------------------------------------------------------------------------------

def valid_iban(raw: str, field: str = "iban") -> str:
    """``raw`` as an IBAN without spaces, or a 422 saying why it is not one."""
    try:
        return str(IBAN(raw).compact)
    except (SchwiftyException, ValueError) as exc:
        raise ValidationFailed(f"“{raw}” is not a valid IBAN ({exc}).", {field: ["Not a valid IBAN."]}) from None


def _account_out(row: Any) -> dict[str, Any]:
    return {"id": row.id, "iban": row.iban, "name": row.name, "currency": row.currency,
            "gl_account": row.gl_account, "csv_mappings": row.csv_mappings or {}}


def list_accounts(tx: Tx) -> list[dict[str, Any]]:
    return [_account_out(r) for r in tx.conn.execute(select(accounts).order_by(accounts.c.id))]


def get_account(tx: Tx, account_id: int) -> dict[str, Any]:
    row = tx.conn.execute(select(accounts).where(accounts.c.id == account_id)).first()
    if row is None:
        raise NotFound(f"Bank account {account_id} not found.")
    return _account_out(row)


def _check_gl(tx: Tx, code: str, account_id: int | None = None, currency: str = FUNCTIONAL_CURRENCY) -> None:
    """A bank account is booked on an asset account of its own (the ``bank``
    role's account or one without a role), so that its GL balance can be
    reconciled against that bank's statements alone. An account in another
    currency needs one without a role: the ``bank`` role's account takes the
    payments typed in and the refunds paid out in any currency no bank
    account is held in, which its statements in its currency never report."""
    row = tx.conn.execute(select(_gl_accounts.c.type, _gl_accounts.c.role).where(_gl_accounts.c.code == code)).first()
    if row is None:
        raise ValidationFailed(f"There is no GL account “{code}”.", {"gl_account": ["Unknown account."]})
    if row.type != "asset" or row.role not in (None, "bank"):
        raise ValidationFailed(f"GL account “{code}” is not a bank asset account: use the bank account (1000) "
                               "or an asset account without a posting role.", {"gl_account": ["Not a bank account."]})
    if currency != FUNCTIONAL_CURRENCY and row.role is not None:
        raise ValidationFailed(f"A bank account in {currency} is booked on a GL asset account of its own without a "
                               f"posting role, not on “{code}”, which takes bookings in every currency.",
                               {"gl_account": [f"Needs an asset account without a role for {currency}."]})
    other = tx.conn.execute(select(accounts.c.iban).where(
        accounts.c.gl_account == code, accounts.c.id != (account_id or 0))).scalar()
    if other is not None:
        raise ValidationFailed(f"GL account “{code}” already holds bank account {other}; each bank account needs "
                               "a GL account of its own to be reconciled.", {"gl_account": ["Already used."]})


def _check_mappings(mappings: dict[str, Any]) -> dict[str, Any]:
    for name, mapping in mappings.items():
        if not name or len(name) > 64:
            raise ValidationFailed("A CSV mapping's name is 1 to 64 characters.", {"csv_mappings": ["Bad name."]})
        try:
            csvfile.check_mapping(mapping)
        except BankFileError as exc:
            raise ValidationFailed(f"CSV mapping “{name}”: {exc.message}", {"csv_mappings": [exc.message]}) from None
    return mappings


def create_account(tx: Tx, data: dict[str, Any]) -> dict[str, Any]:
    iban = valid_iban(data["iban"])
    currency = data["currency"].upper()
    gl = data.get("gl_account") or tx.chart["bank"].code
    if tx.conn.execute(select(accounts.c.id).where(accounts.c.iban == iban)).first() is None:
        fx.require_enabled(tx, currency)
        _check_gl(tx, gl, currency=currency)
    row = {"iban": iban, "name": data.get("name") or iban, "currency": currency,
           "gl_account": gl, "csv_mappings": _check_mappings(data.get("csv_mappings") or {}),
           "created_at": tx.now}
    new_id = tx.conn.execute(_insert_new(tx, accounts, "iban", returning=True), row).scalar()
    if new_id is None:
        existing = tx.conn.execute(select(accounts.c.id).where(accounts.c.iban == iban)).scalar_one()
        raise Conflict(f"Bank account {iban} exists already.", {"id": existing})
    forget_chart()  # the chart names the bank account of each foreign currency
    tx.audit("bank_account.created", "bank_account", new_id, None, {k: row[k] for k in ("iban", "currency",
                                                                                       "gl_account")})
    return get_account(tx, new_id)


def update_account(tx: Tx, account_id: int, data: dict[str, Any]) -> dict[str, Any]:
    before = get_account(tx, account_id)
    changes: dict[str, Any] = {}
    if "name" in data:
        changes["name"] = data["name"]
    if "gl_account" in data:
        _check_gl(tx, data["gl_account"], account_id, before["currency"])
        changes["gl_account"] = data["gl_account"]
    if "csv_mappings" in data:
        changes["csv_mappings"] = {**before["csv_mappings"], **_check_mappings(data["csv_mappings"])}
    if changes:
        tx.conn.execute(update(accounts).where(accounts.c.id == account_id).values(**changes))
        forget_chart()
        tx.audit("bank_account.updated", "bank_account", account_id,
                 {k: before[k] for k in changes}, changes)
    return get_account(tx, account_id)


def ensure_company_account(tx: Tx) -> dict[str, Any] | None:
    """The bank account of the company's own IBAN, created on the ``bank``
    GL account if it does not exist yet (``None`` without a company IBAN)."""
    co = tx.conn.execute(select(m.Company.__table__).limit(1)).first()
    if co is None or not co.iban:
        return None
    iban = normalise_iban(co.iban)
    row = tx.conn.execute(select(accounts).where(accounts.c.iban == iban)).first()
    if row is not None:
        return _account_out(row)
    return create_account(tx, {"iban": iban, "name": co.bank_name or iban, "currency": co.currency})


# -- import --------------------------------------------------------------------------------------

@dataclass
class Imported:
    statements: list[dict[str, Any]]
    created: bool


def file_format(content_type: str | None) -> str:
    kind = CONTENT_TYPES.get((content_type or "").split(";")[0].strip().lower())
    if kind is None:
        raise ValidationFailed(
            "Send the statement with Content-Type application/xml (CAMT.053), text/plain (MT940) "
            "or text/csv (CSV, with ?mapping=).", {"Content-Type": ["Not a bank statement type."]})
    return kind


def sniff_format(data: bytes) -> str:
    """The format a file's first bytes suggest (for files named on the command line)."""
    head = data[:2048].lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"<"):
        return "camt.053"
    if b":20:" in head or head.startswith(b"{1:"):
        return "mt940"
    return "csv"


def _mapping(tx: Tx, name: str | None, account_iban: str | None) -> tuple[Any, dict[str, Any]]:
    if not name:
        raise ValidationFailed("A CSV statement needs ?mapping= naming a column mapping of the bank account.",
                               {"mapping": ["Required for CSV."]})
    rows = tx.conn.execute(select(accounts)).all()
    if account_iban:
        rows = [r for r in rows if r.iban == normalise_iban(account_iban)]
    found = [r for r in rows if name in (r.csv_mappings or {})]
    if not found:
        raise ValidationFailed(f"No bank account has a CSV mapping named “{name}”.", {"mapping": ["Unknown."]})
    if len(found) > 1:
        raise ValidationFailed(f"Several bank accounts have a CSV mapping named “{name}”; name the account "
                               "with ?account=<IBAN>.", {"account": ["Required: the mapping name is shared."]})
    return found[0], found[0].csv_mappings[name]


def parse_file(tx: Tx, data: bytes, kind: str, mapping: str | None = None,
               account_iban: str | None = None) -> list[ParsedStatement]:
    """Every statement of the file, read and checked; nothing written."""
    if not data.strip():
        raise BankFileError("The file is empty.")
    if kind == "camt.053":
        from o2c.domain.bankfiles import camt  # lxml loads where it is used, not at start-up
        parsed = list(camt.parse(io.BytesIO(data)))
    elif kind == "mt940":
        from o2c.domain.bankfiles import mt940file
        parsed = list(mt940file.parse(data))
    else:
        acct, cols = _mapping(tx, mapping, account_iban)
        parsed = [csvfile.parse(data, cols, acct.iban, acct.currency, mapping or "")]
    if not parsed:
        raise BankFileError("The file holds no statement.")
    for st in parsed:
        check_statement(st)
        st.period  # noqa: B018 - refuses a statement without dates
    return parsed


def import_file(tx: Tx, data: bytes, kind: str, mapping: str | None = None,
                account_iban: str | None = None) -> Imported:
    """Import every statement of a file (one transaction: all or nothing)."""
    parsed = parse_file(tx, data, kind, mapping, account_iban)
    sha = hashlib.sha256(data).hexdigest()
    by_iban = {r.iban: r for r in tx.conn.execute(select(accounts))}
    for st in parsed:  # every statement is checked before anything is written
        acct = by_iban.get(st.account_iban)
        if acct is None:
            raise ValidationFailed(f"o2c holds no bank account {st.account_iban}; add it under bank accounts "
                                   "first.", {"account_iban": [f"Unknown IBAN {st.account_iban}."]})
        if st.currency != acct.currency:
            raise ValidationFailed(f"Statement “{st.statement_ref}” is in {st.currency or 'no currency'}, bank "
                                   f"account {acct.iban} in {acct.currency}.",
                                   {"currency": [f"Expected {acct.currency}."]})
    results: list[dict[str, Any]] = []
    created = False
    for st in parsed:
        sid, new = _store(tx, by_iban[st.account_iban], st, kind, sha)
        created = created or new
        results.append(get_statement(tx, sid, with_lines=False))
    return Imported(results, created)


def _store(tx: Tx, acct: Any, st: ParsedStatement, kind: str, sha: str) -> tuple[int, bool]:
    start, end = st.period
    identity = statement_identity(st)
    row = {"bank_account_id": acct.id, "identity": identity, "statement_ref": st.statement_ref, "format": kind,
           "from_date": start, "to_date": end, "opening_balance": st.opening_balance,
           "closing_balance": st.closing_balance, "currency": st.currency, "continuity": "ok",
           "gap_from": None, "gap_to": None, "file_sha256": sha, "created_by": tx.actor, "created_at": tx.now}
    sid = tx.conn.execute(_insert_new(tx, statements, "bank_account_id", "identity", returning=True), row).scalar()
    if sid is None:  # imported before (or by a concurrent import that committed first)
        return tx.conn.execute(select(statements.c.id).where(
            statements.c.bank_account_id == acct.id, statements.c.identity == identity)).scalar_one(), False
    rows = [{"statement_id": sid, "bank_account_id": acct.id, "identity": ident, "position": pos,
             "booking_date": ln.booking_date, "value_date": ln.value_date, "amount": ln.amount,
             "currency": ln.currency, "counterparty_name": ln.counterparty_name,
             "counterparty_iban": ln.counterparty_iban, "counterparty_bic": ln.counterparty_bic,
             "remittance": ln.remittance, "creditor_ref": ln.creditor_ref, "end_to_end_id": ln.end_to_end_id,
             "bank_ref": ln.bank_ref, "transaction_code": ln.transaction_code, "reversal": ln.reversal,
             "status": "unmatched", "created_at": tx.now}
            for pos, (ln, ident) in enumerate(zip(st.lines, line_identities(st.lines)), 1)]
    stmt = _insert_new(tx, lines, "bank_account_id", "identity")
    for i in range(0, len(rows), BATCH):
        tx.conn.execute(stmt, rows[i:i + BATCH])
    if rows:
        added = tx.conn.execute(select(func.count()).where(lines.c.statement_id == sid)).scalar_one()
        if added == 0:  # an export overlapping what is imported, with nothing new: the statement holding it
            tx.conn.execute(delete(statements).where(statements.c.id == sid))
            first = rows[0]["identity"]
            return tx.conn.execute(select(lines.c.statement_id).where(
                lines.c.bank_account_id == acct.id, lines.c.identity == first)).scalar_one(), False
    continuity, gap_from, gap_to = _continuity(tx, acct.id, sid, start, end, st.opening_balance)
    tx.conn.execute(update(statements).where(statements.c.id == sid).values(
        continuity=continuity, gap_from=gap_from, gap_to=gap_to))
    count = len(rows) if not rows else tx.conn.execute(
        select(func.count()).where(lines.c.statement_id == sid)).scalar_one()
    after = {"account_iban": acct.iban, "statement_ref": st.statement_ref, "from_date": start.isoformat(),
             "to_date": end.isoformat(), "line_count": count, "continuity": continuity,
             "closing_balance": None if st.closing_balance is None else f"{st.closing_balance:.2f}"}
    tx.audit("bank_statement.imported", "bank_statement", sid, None, {**after, "file_sha256": sha, "format": kind})
    tx.emit("bank_statement.imported", "internal", None, {"statement_id": sid, **after})
    return sid, True


def _continuity(tx: Tx, account_id: int, sid: int, start: dt.date, end: dt.date,
                opening: Decimal | None) -> tuple[str, dt.date | None, dt.date | None]:
    """ok, overlap (another statement covers some of the same days) or gap
    (the opening balance does not continue the previous closing balance; the
    days in between, if any, are the ones missing)."""
    others = statements.c.bank_account_id == account_id, statements.c.id != sid
    overlapping = tx.conn.execute(select(statements.c.id).where(
        *others, statements.c.from_date <= end, statements.c.to_date >= start).limit(1)).first()
    if overlapping is not None:
        return "overlap", None, None
    prev = tx.conn.execute(select(statements.c.to_date, statements.c.closing_balance).where(
        *others, statements.c.to_date < start).order_by(statements.c.to_date.desc(), statements.c.id.desc())
        .limit(1)).first()
    if prev is None or opening is None or prev.closing_balance is None or prev.closing_balance == opening:
        return "ok", None, None
    gap_from = prev.to_date + dt.timedelta(days=1)
    gap_to = start - dt.timedelta(days=1)
    return ("gap", gap_from, gap_to) if gap_from <= gap_to else ("gap", None, None)


# -- reading ---------------------------------------------------------------------------------------

def _counts(tx: Tx, ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {i: dict.fromkeys(STATUSES, 0) for i in ids}
    if ids:
        for sid, status, n in tx.conn.execute(select(lines.c.statement_id, lines.c.status, func.count()).where(
                lines.c.statement_id.in_(ids)).group_by(lines.c.statement_id, lines.c.status)):
            out[sid][status] = n
    return out


def _statement_out(row: Any, acct: Any, counts: dict[str, int]) -> dict[str, Any]:
    return {"id": row.id, "account_iban": acct.iban, "bank_account_id": acct.id, "statement_ref": row.statement_ref,
            "format": row.format, "from_date": row.from_date, "to_date": row.to_date,
            "opening_balance": row.opening_balance, "closing_balance": row.closing_balance,
            "currency": row.currency, "line_count": sum(counts.values()), "matched": counts["matched"],
            "suggested": counts["suggested"], "unmatched": counts["unmatched"], "ignored": counts["ignored"],
            "booked": counts["booked"], "continuity": row.continuity,
            "missing_days": ({"from": row.gap_from, "to": row.gap_to} if row.gap_from else None),
            "created_at": row.created_at}


def line_out(row: Any) -> dict[str, Any]:
    return {"id": row.id, "statement_id": row.statement_id, "booking_date": row.booking_date,
            "value_date": row.value_date, "amount": row.amount, "currency": row.currency,
            "counterparty_name": row.counterparty_name, "counterparty_iban": row.counterparty_iban,
            "remittance": row.remittance, "creditor_ref": row.creditor_ref, "end_to_end_id": row.end_to_end_id,
            "bank_ref": row.bank_ref, "reversal": row.reversal, "status": row.status, "rule": row.rule,
            "payment_id": row.payment_id, "journal_entry_id": row.journal_entry_id,
            "suggestion": row.suggestion, "reason": row.ignore_reason or row.unmatched_reason}


def get_statement(tx: Tx, statement_id: int, with_lines: bool = True) -> dict[str, Any]:
    row = tx.conn.execute(select(statements).where(statements.c.id == statement_id)).first()
    if row is None:
        raise NotFound(f"Bank statement {statement_id} not found.")
    acct = tx.conn.execute(select(accounts).where(accounts.c.id == row.bank_account_id)).one()
    out = _statement_out(row, acct, _counts(tx, [row.id])[row.id])
    if with_lines:
        out["lines"] = [line_out(r) for r in tx.conn.execute(
            select(lines).where(lines.c.statement_id == statement_id).order_by(lines.c.position))]
    return out


def list_statements(tx: Tx, cursor: int | None, limit: int,
                    account_id: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first."""
    q = select(statements).order_by(statements.c.id.desc()).limit(limit + 1)
    if cursor is not None:
        q = q.where(statements.c.id < cursor)
    if account_id is not None:
        q = q.where(statements.c.bank_account_id == account_id)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    accts = {r.id: r for r in tx.conn.execute(select(accounts))}
    counts = _counts(tx, [r.id for r in page])
    return ([_statement_out(r, accts[r.bank_account_id], counts[r.id]) for r in page],
            page[-1].id if len(rows) > limit else None)


def list_lines(tx: Tx, status: str | None, cursor: int | None, limit: int,
               statement_id: int | None = None) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first."""
    q = select(lines).order_by(lines.c.id.desc()).limit(limit + 1)
    if status is not None:
        q = q.where(lines.c.status == status)
    if statement_id is not None:
        q = q.where(lines.c.statement_id == statement_id)
    if cursor is not None:
        q = q.where(lines.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    return [line_out(r) for r in page], (page[-1].id if len(rows) > limit else None)


def gl_balance(tx: Tx, gl_account: str, as_of: dt.date, currency: str = FUNCTIONAL_CURRENCY) -> Decimal:
    """The GL account's balance (debit − credit) at the end of ``as_of``; for
    a bank account in another currency, in that currency (its lines' amounts)."""
    joined = _jlines.join(_entries, _entries.c.id == _jlines.c.entry_id)
    where = (_jlines.c.account == gl_account, _entries.c.date <= as_of)
    if currency != FUNCTIONAL_CURRENCY:
        return tx.conn.execute(select(func.coalesce(func.sum(_jlines.c.amount), 0)).select_from(joined)
                               .where(*where, _jlines.c.currency == currency)).scalar_one()
    return tx.conn.execute(select(money_sum(_jlines.c.debit - _jlines.c.credit)).select_from(joined)
                           .where(*where)).scalar_one()


def statement_reconciliation(tx: Tx, statement_id: int) -> dict[str, Any]:
    """The statement beside the books: the bank's closing balance and the GL
    bank account's balance at the statement's last day, with the account's
    bank reconciliation on that day (``o2c.services.books.reconciliation.
    bank_checks``): the bookings no line reported yet, the lines not applied
    and the lines ignored that make up the difference."""
    from o2c.services.books.reconciliation import bank_checks

    st = get_statement(tx, statement_id)
    acct = tx.conn.execute(select(accounts).where(accounts.c.id == st["bank_account_id"])).one()
    gl = gl_balance(tx, acct.gl_account, st["to_date"], acct.currency)
    (check,) = bank_checks(tx, st["to_date"], acct.id)
    return {"statement": st, "gl_account": acct.gl_account, "gl_balance": gl,
            "difference": None if st["closing_balance"] is None else gl - st["closing_balance"],
            "check": check}
