"""Streaming exports of the journal (CSV, XLSX, SAF-T XML) and of the trial
balance (CSV, XLSX).

An export reads the sealed journal in one snapshot (a read transaction;
REPEATABLE READ on PostgreSQL, so the SAF-T header totals and the lines agree)
through a server-side cursor, a page of rows at a time, and writes as it
reads: memory stays flat whatever the size. The caller seals the journal
first (``o2c.services.books.chain.seal_journal``) so everything committed is in it;
the entry number is the chain's sequence number, gapless.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import IO, Any
from xml.sax.saxutils import escape

from sqlalchemy import BigInteger, Connection, Engine, func, select, type_coerce

from o2c.db import models as m
from o2c.domain.text import UNPRINTABLE

entries = m.JournalEntry.__table__
jlines = m.JournalLine.__table__
accounts = m.Account.__table__
customers = m.Customer.__table__
company = m.Company.__table__

FORMATS = ("csv", "xlsx", "saft")
TRIAL_BALANCE_FORMATS = ("csv", "xlsx")
JOURNAL_COLUMNS = ("entry_number", "date", "account", "account_name", "debit", "credit", "document",
                   "customer", "currency", "description")
TRIAL_BALANCE_COLUMNS = ("account", "account_name", "type", "debit", "credit", "balance")
#: Media types without parameters: the response adds ``charset=utf-8`` to
#: the textual ones (CSV, XML), once.
MEDIA_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "saft": "application/xml",
}
EXTENSIONS = {"csv": "csv", "xlsx": "xlsx", "saft": "xml"}
XLSX_MAX_ROWS = 1_000_000  # per sheet (Excel's limit is 1,048,576 with the header)
CHUNK = 64 * 1024
FETCH = 5000
SAFT_NS = "urn:OECD:StandardAuditFile-Tax:2.00"

Progress = Callable[[int], None]


# -- cells ---------------------------------------------------------------------------

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def safe_text(value: str | None) -> str:
    """A text cell a spreadsheet will not run: cells starting with = + - @, a
    tab or a carriage return get a leading apostrophe (CSV/formula injection).
    Control characters (which XLSX cannot hold) are dropped."""
    if not value:
        return ""
    value = UNPRINTABLE.sub("", value)
    return "'" + value if value.startswith(_FORMULA_START) else value


def cents_text(cents: int) -> str:
    """Exact decimal text of an amount in cents (``1230`` → ``"12.30"``)."""
    if not cents:
        return "0.00"  # one side of every journal line
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(int(cents)), 100)
    return f"{sign}{whole}.{frac:02d}"


def _date_text(value: Any) -> str:
    return value if isinstance(value, str) else value.isoformat()


# -- reading -------------------------------------------------------------------------

@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """A read transaction that sees one moment of the database."""
    with engine.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        else:
            conn.execution_options(sqlite_begin="DEFERRED")
        with conn.begin():
            yield conn


def _in_range(q: Any, date_from: dt.date | None, date_to: dt.date | None) -> Any:
    q = q.where(entries.c.seq.is_not(None))
    if date_from is not None:
        q = q.where(entries.c.date >= date_from)
    if date_to is not None:
        q = q.where(entries.c.date <= date_to)
    return q


def journal_query(date_from: dt.date | None, date_to: dt.date | None, saft: bool = False) -> Any:
    """One row per journal line, in chain order; amounts in cents. SAF-T also
    takes the line id, the source type and when the entry was made (the
    other formats have no column for them, and a timestamp costs a
    conversion per row)."""
    extra = (jlines.c.id, entries.c.source_type, entries.c.created_at) if saft else ()
    return _in_range(
        select(entries.c.seq, entries.c.date, jlines.c.account, accounts.c.name,
               type_coerce(jlines.c.debit, BigInteger), type_coerce(jlines.c.credit, BigInteger),
               entries.c.document, customers.c.code, entries.c.description, *extra)
        .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id)
                     .join(accounts, accounts.c.code == jlines.c.account)
                     .outerjoin(customers, customers.c.id == entries.c.customer_id)),
        date_from, date_to,
    ).order_by(entries.c.seq, jlines.c.id)


def count_lines(conn: Connection, date_from: dt.date | None, date_to: dt.date | None) -> int:
    q = _in_range(select(func.count()).select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id)),
                  date_from, date_to)
    return int(conn.execute(q).scalar_one())


def _stream(conn: Connection, stmt: Any) -> Iterator[Any]:
    result = conn.execution_options(stream_results=True, yield_per=FETCH).execute(stmt)
    for part in result.partitions():
        yield from part


def currency(conn: Connection) -> str:
    return conn.execute(select(company.c.currency).limit(1)).scalar() or "EUR"


# -- writers -------------------------------------------------------------------------

class _Buffer:
    """Collects text and hands it out as UTF-8 chunks."""

    def __init__(self) -> None:
        self.io = io.StringIO()

    def take(self, force: bool = False) -> bytes | None:
        if not force and self.io.tell() < CHUNK:
            return None
        data = self.io.getvalue().encode()
        self.io.seek(0)
        self.io.truncate()
        return data


def journal_csv(conn: Connection, date_from: dt.date | None, date_to: dt.date | None,
                progress: Progress | None = None) -> Iterator[bytes]:
    """RFC 4180 CSV (UTF-8, CRLF), one row per journal line."""
    cur = currency(conn)
    buf = _Buffer()
    w = csv.writer(buf.io, lineterminator="\r\n")
    w.writerow(JOURNAL_COLUMNS)
    n = 0
    # The cells of an entry are made once for all its lines (they come
    # together, in chain order); accounts and customers repeat: remembered.
    account_cells: dict[tuple[str, str], tuple[str, str]] = {}
    customer_cells: dict[str | None, str] = {}
    last_seq = None
    head: tuple[Any, ...] = ()
    tail: tuple[str, ...] = ()
    for seq, date, acc, name, debit, credit, doc, cust, desc in _stream(conn, journal_query(date_from, date_to)):
        if seq != last_seq:
            last_seq = seq
            customer = customer_cells.get(cust)
            if customer is None:
                customer = customer_cells[cust] = safe_text(cust)
            head = (seq, _date_text(date))
            tail = (safe_text(doc), customer, cur, safe_text(desc))
        account = account_cells.get((acc, name))
        if account is None:
            account = account_cells[(acc, name)] = (safe_text(acc), safe_text(name))
        w.writerow((*head, *account, cents_text(debit), cents_text(credit), *tail))
        n += 1
        chunk = buf.take()
        if chunk:
            if progress:
                progress(n)
                n = 0
            yield chunk
    if progress and n:
        progress(n)
    yield buf.take(force=True) or b""


def _xlsx_file(write: Callable[[Any], None]) -> Iterator[bytes]:
    """Run ``write(workbook)`` on a write-only workbook saved to a temporary
    file, then hand the file out in chunks (a ZIP is written at the end)."""
    from openpyxl import Workbook
    wb = Workbook(write_only=True)
    write(wb)
    fd, path = tempfile.mkstemp(suffix=".xlsx")
    os.close(fd)
    try:
        wb.save(path)
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


def _amount(cents: int) -> Decimal:
    return Decimal(int(cents)).scaleb(-2)


def journal_xlsx(conn: Connection, date_from: dt.date | None, date_to: dt.date | None,
                 progress: Progress | None = None) -> Iterator[bytes]:
    """The same rows as the CSV in an XLSX workbook (openpyxl's write-only
    mode: rows go to disk as they are added), a new sheet every million rows."""
    cur = currency(conn)

    def write(wb: Any) -> None:
        sheet, rows, n = None, XLSX_MAX_ROWS, 0
        for seq, date, acc, name, debit, credit, doc, cust, desc in _stream(conn, journal_query(date_from, date_to)):
            if rows >= XLSX_MAX_ROWS:
                sheet = wb.create_sheet("Journal" if sheet is None else f"Journal {len(wb.worksheets) + 1}")
                sheet.append(JOURNAL_COLUMNS)
                rows = 0
            sheet.append((seq, dt.date.fromisoformat(date) if isinstance(date, str) else date, safe_text(acc),
                          safe_text(name), _amount(debit), _amount(credit), safe_text(doc), safe_text(cust), cur,
                          safe_text(desc)))
            rows += 1
            n += 1
            if progress and n == FETCH:
                progress(n)
                n = 0
        if sheet is None:
            wb.create_sheet("Journal").append(JOURNAL_COLUMNS)
        if progress and n:
            progress(n)

    return _xlsx_file(write)


def trial_balance_csv(report: dict[str, Any]) -> Iterator[bytes]:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(TRIAL_BALANCE_COLUMNS)
    for a in report["accounts"]:
        w.writerow((safe_text(a["code"]), safe_text(a["name"]), a["type"], f"{a['debit']:.2f}",
                    f"{a['credit']:.2f}", f"{a['balance']:.2f}"))
    w.writerow(("", "Total", "", f"{report['total_debit']:.2f}", f"{report['total_credit']:.2f}",
                f"{report['total_debit'] - report['total_credit']:.2f}"))
    yield buf.getvalue().encode()


def trial_balance_xlsx(report: dict[str, Any]) -> Iterator[bytes]:
    def write(wb: Any) -> None:
        ws = wb.create_sheet("Trial balance")
        ws.append(TRIAL_BALANCE_COLUMNS)
        for a in report["accounts"]:
            ws.append((safe_text(a["code"]), safe_text(a["name"]), a["type"], a["debit"], a["credit"], a["balance"]))
        ws.append(("", "Total", "", report["total_debit"], report["total_credit"],
                   report["total_debit"] - report["total_credit"]))
    return _xlsx_file(write)


def export_trial_balance(report: dict[str, Any], fmt: str) -> Iterator[bytes]:
    """A trial balance (``ledger.trial_balance``) as CSV or XLSX chunks."""
    return trial_balance_csv(report) if fmt == "csv" else trial_balance_xlsx(report)


# -- SAF-T ---------------------------------------------------------------------------

def _el(name: str, value: Any) -> str:
    return f"<{name}>{escape(UNPRINTABLE.sub('', str(value)))}</{name}>"


def _balances(conn: Connection, before: dt.date | None, upto: dt.date | None) -> dict[str, int]:
    """Σ debit − Σ credit in cents per account over a date range."""
    q = select(jlines.c.account, type_coerce(func.sum(jlines.c.debit - jlines.c.credit), BigInteger)) \
        .join(entries, entries.c.id == jlines.c.entry_id).group_by(jlines.c.account)
    if before is not None:
        q = q.where(entries.c.date < before)
    if upto is not None:
        q = q.where(entries.c.date <= upto)
    return {a: int(v or 0) for a, v in conn.execute(q)}


def _debit_credit(prefix: str, cents: int) -> str:
    if cents >= 0:
        return _el(f"{prefix}DebitBalance", cents_text(cents))
    return _el(f"{prefix}CreditBalance", cents_text(-cents))


def _saft_account_type(type_: str) -> str:
    return {"asset": "Asset", "liability": "Liability", "equity": "Equity", "revenue": "Revenue",
            "expense": "Expense"}.get(type_, "Other")


def journal_saft(conn: Connection, date_from: dt.date | None, date_to: dt.date | None,
                 progress: Progress | None = None, today: dt.date | None = None) -> Iterator[bytes]:
    """The general ledger as SAF-T XML (the OECD SAF-T 2.0 structure: Header,
    MasterFiles with accounts and customers, GeneralLedgerEntries with one
    Journal whose Transactions are the journal entries in chain order)."""
    today = today or dt.date.today()
    co = conn.execute(select(company).limit(1)).first()
    cur = co.currency if co is not None else "EUR"
    totals = conn.execute(_in_range(
        select(func.count(entries.c.id.distinct()), type_coerce(func.coalesce(func.sum(jlines.c.debit), 0), BigInteger),
               type_coerce(func.coalesce(func.sum(jlines.c.credit), 0), BigInteger))
        .select_from(jlines.join(entries, entries.c.id == jlines.c.entry_id)), date_from, date_to)).one()
    first_last = conn.execute(_in_range(select(func.min(entries.c.date), func.max(entries.c.date)),
                                        date_from, date_to)).one()
    start = date_from or (first_last[0] and _as_date(first_last[0])) or today
    end = date_to or (first_last[1] and _as_date(first_last[1])) or today
    opening = _balances(conn, start, None) if date_from else {}
    closing = _balances(conn, None, end)
    receivables = conn.execute(select(accounts.c.code).where(accounts.c.role == "receivables")).scalar() or ""

    out = io.StringIO()
    out.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    out.write(f'<AuditFile xmlns="{SAFT_NS}">\n<Header>')
    country = co.tax_id[:2] if co is not None and co.tax_id[:2].isalpha() else ""
    out.write(_el("AuditFileVersion", "2.00") + _el("AuditFileCountry", country))
    out.write(_el("AuditFileDateCreated", today.isoformat()) + _el("SoftwareCompanyName", "o2c")
              + _el("SoftwareID", "o2c") + _el("SoftwareVersion", "0.1.0"))
    out.write("<Company>" + _el("RegistrationNumber", co.tax_id if co else "") + _el("Name", co.name if co else "")
              + "<Address>" + _el("StreetName", co.address if co else "") + "</Address>"
              + (f"<BankAccount>{_el('IBANNumber', co.iban)}{_el('BankAccountName', co.bank_name)}"
                 f"{_el('BIC', co.bic)}</BankAccount>" if co is not None and co.iban else "")
              + "</Company>")
    out.write(_el("DefaultCurrencyCode", cur))
    out.write("<SelectionCriteria>" + _el("SelectionStartDate", start.isoformat())
              + _el("SelectionEndDate", end.isoformat()) + "</SelectionCriteria>")
    out.write(_el("TaxAccountingBasis", "Invoice") + "</Header>\n<MasterFiles>\n<GeneralLedgerAccounts>\n")
    for code, name, type_ in conn.execute(select(accounts.c.code, accounts.c.name, accounts.c.type)
                                          .order_by(accounts.c.code)):
        out.write("<Account>" + _el("AccountID", code) + _el("AccountDescription", name)
                  + _el("AccountType", _saft_account_type(type_))
                  + _debit_credit("Opening", opening.get(code, 0)) + _debit_credit("Closing", closing.get(code, 0))
                  + "</Account>\n")
    out.write("</GeneralLedgerAccounts>\n<Customers>\n")
    used = _in_range(select(entries.c.customer_id).where(entries.c.customer_id.is_not(None)).distinct(),
                     date_from, date_to).subquery()
    for c in _stream(conn, select(customers).where(customers.c.id.in_(select(used.c.customer_id)))
                     .order_by(customers.c.code)):
        addr = c.billing_address or {}
        out.write("<Customer>" + _el("RegistrationNumber", c.tax_id) + _el("Name", c.name)
                  + "<Address>" + _el("StreetName", addr.get("line1", "")) + _el("City", addr.get("city", ""))
                  + _el("PostalCode", addr.get("postal_code", "")) + _el("Country", addr.get("country", c.country))
                  + "</Address>" + _el("CustomerID", c.code) + _el("AccountID", receivables) + "</Customer>\n")
        if out.tell() > CHUNK:
            yield _take(out)
    out.write("</Customers>\n</MasterFiles>\n<GeneralLedgerEntries>")
    out.write(_el("NumberOfEntries", totals[0]) + _el("TotalDebit", cents_text(totals[1]))
              + _el("TotalCredit", cents_text(totals[2])))
    out.write("\n<Journal>" + _el("JournalID", "GL") + _el("Description", "General journal")
              + _el("Type", "GL") + "\n")
    current, n = None, 0
    for seq, date, acc, _name, debit, credit, doc, cust, desc, line_id, source_type, created in _stream(
            conn, journal_query(date_from, date_to, saft=True)):
        if seq != current:
            if current is not None:
                out.write("</Transaction>\n")
            day = _as_date(date)
            out.write("<Transaction>" + _el("TransactionID", seq) + _el("Period", day.month)
                      + _el("PeriodYear", day.year) + _el("TransactionDate", day.isoformat())
                      + _el("TransactionType", source_type) + _el("Description", desc)
                      + _el("SystemEntryDate", _as_datetime(created)) + _el("GLPostingDate", day.isoformat())
                      + (_el("CustomerID", cust) if cust else ""))
            current = seq
        side, cents = ("Debit", debit) if debit else ("Credit", credit)
        out.write("<Line>" + _el("RecordID", line_id) + _el("AccountID", acc) + _el("SourceDocumentID", doc)
                  + (_el("CustomerID", cust) if cust else "") + _el("Description", desc)
                  + f"<{side}Amount><Amount>{cents_text(cents)}</Amount></{side}Amount></Line>")
        n += 1
        if out.tell() > CHUNK:
            if progress:
                progress(n)
                n = 0
            yield _take(out)
    if current is not None:
        out.write("</Transaction>\n")
    out.write("</Journal>\n</GeneralLedgerEntries>\n</AuditFile>\n")
    if progress and n:
        progress(n)
    yield _take(out)


def _take(out: io.StringIO) -> bytes:
    data = out.getvalue().encode()
    out.seek(0)
    out.truncate()
    return data


def _as_date(value: Any) -> dt.date:
    return dt.date.fromisoformat(value) if isinstance(value, str) else value


def _as_datetime(value: Any) -> str:
    if isinstance(value, str):
        return value.replace(" ", "T")[:19]
    return value.strftime("%Y-%m-%dT%H:%M:%S")


WRITERS: dict[str, Callable[..., Iterator[bytes]]] = {"csv": journal_csv, "xlsx": journal_xlsx, "saft": journal_saft}


def export_journal(engine: Engine, fmt: str, date_from: dt.date | None, date_to: dt.date | None,
                   progress: Progress | None = None) -> Iterator[bytes]:
    """The journal lines dated ``date_from``..``date_to`` in ``fmt``, as chunks.
    Reads one snapshot; the connection is released when the iterator ends or
    is closed."""
    with snapshot(engine) as conn:
        yield from WRITERS[fmt](conn, date_from, date_to, progress)


def write_journal(engine: Engine, fmt: str, date_from: dt.date | None, date_to: dt.date | None,
                  out: IO[bytes], progress: Progress | None = None) -> None:
    for chunk in export_journal(engine, fmt, date_from, date_to, progress):
        out.write(chunk)


def filename(kind: str, fmt: str, date_from: dt.date | None, date_to: dt.date | None) -> str:
    span = f"{date_from or 'start'}_{date_to or 'today'}"
    return f"{kind}_{span}.{EXTENSIONS[fmt]}"
