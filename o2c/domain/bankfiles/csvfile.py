"""Bank exports as CSV, read with a named column mapping kept per bank
account (``bank_accounts.csv_mappings``). A mapping:

``columns``: ``booking_date`` and ``amount`` (required), ``value_date``,
``counterparty_name``, ``counterparty_iban``, ``remittance`` (a column or a
list of columns, joined), ``bank_ref``, ``end_to_end_id``, ``currency``,
``credit_debit`` (a column saying which way the money went); ``date_format``
(``strftime`` notation, default ISO), ``decimal`` (``.`` or ``,``),
``delimiter`` (default ``,``), ``debit_values`` (values of the credit/debit
column meaning money out, default ``D``, ``DBIT``, ``S``), ``encoding``.
Amounts are signed as written unless a credit/debit column says otherwise."""
from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation
from typing import Any

from o2c.domain.bankfiles import BankFileError, ParsedLine, ParsedStatement, find_creditor_ref

COLUMNS = ("booking_date", "amount", "value_date", "counterparty_name", "counterparty_iban", "remittance",
           "bank_ref", "end_to_end_id", "currency", "credit_debit")


def check_mapping(mapping: Any) -> dict[str, Any]:
    """The mapping, or a ``BankFileError`` naming what is wrong with it."""
    if not isinstance(mapping, dict) or not isinstance(mapping.get("columns"), dict):
        raise BankFileError("A CSV mapping is an object with “columns”.", "csv_mappings")
    cols = mapping["columns"]
    for need in ("booking_date", "amount"):
        if not cols.get(need):
            raise BankFileError(f"A CSV mapping must name the “{need}” column.", "csv_mappings")
    unknown = sorted(set(cols) - set(COLUMNS))
    if unknown:
        raise BankFileError(f"A CSV mapping has unknown columns: {', '.join(unknown)}.", "csv_mappings")
    if mapping.get("decimal", ".") not in (".", ","):
        raise BankFileError("The decimal separator is “.” or “,”.", "csv_mappings")
    if len(mapping.get("delimiter", ",")) != 1:
        raise BankFileError("The delimiter is one character.", "csv_mappings")
    return mapping


def _amount(raw: str, decimal: str, row: int) -> Decimal:
    text = raw.strip().replace(" ", "").replace("\u00a0", "")
    if decimal == ",":
        text = text.replace(".", "").replace(",", ".")
    else:
        text = text.replace(",", "")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise BankFileError(f"Row {row}: the amount “{raw.strip()[:40]}” is not a number.") from None
    if not value.is_finite() or value != value.quantize(Decimal("0.01")):
        raise BankFileError(f"Row {row}: the amount “{raw.strip()[:40]}” is not an amount in cents.")
    return value


def _date(raw: str, fmt: str | None, row: int) -> dt.date:
    try:
        return dt.datetime.strptime(raw.strip(), fmt).date() if fmt else dt.date.fromisoformat(raw.strip())
    except ValueError:
        raise BankFileError(f"Row {row}: “{raw.strip()[:40]}” is not a date"
                            + (f" in the format {fmt}." if fmt else " (YYYY-MM-DD).")) from None


def parse(data: bytes, mapping: dict[str, Any], account_iban: str, currency: str,
          name: str) -> ParsedStatement:
    check_mapping(mapping)
    try:
        text = data.decode(mapping.get("encoding", "utf-8-sig"))
    except (UnicodeDecodeError, LookupError):
        raise BankFileError("The CSV file is not text in the mapping's encoding.") from None
    if "\x00" in text:
        raise BankFileError("The file is not CSV text.")
    cols = mapping["columns"]
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=mapping.get("delimiter", ","))
    header = reader.fieldnames or []
    wanted = [c for v in cols.values() for c in (v if isinstance(v, list) else [v])]
    missing = [c for c in wanted if c not in header]
    if missing:
        raise BankFileError(f"The CSV file has no column {', '.join(f'“{c}”' for c in missing)} "
                            f"that the mapping “{name}” reads.")
    debit_values = {v.upper() for v in mapping.get("debit_values", ["D", "DBIT", "S", "DEBIT"])}
    fmt = mapping.get("date_format")
    decimal = mapping.get("decimal", ".")

    def get(row: dict[str, str], key: str) -> str:
        col = cols.get(key)
        if not col:
            return ""
        if isinstance(col, list):
            return " ".join(" ".join((row.get(c) or "").split()) for c in col).strip()
        return " ".join((row.get(col) or "").split())

    lines = []
    try:
        for n, row in enumerate(reader, 2):
            if not any((v or "").strip() for v in row.values() if isinstance(v, str)):
                continue
            if None in row:
                raise BankFileError(f"Row {n} has more fields than the header.")
            amount = _amount(get(row, "amount"), decimal, n)
            if cols.get("credit_debit"):
                amount = abs(amount)
                if get(row, "credit_debit").upper() in debit_values:
                    amount = -amount
            value_raw = get(row, "value_date")
            lines.append(ParsedLine(
                booking_date=_date(get(row, "booking_date"), fmt, n),
                value_date=_date(value_raw, fmt, n) if value_raw else None,
                amount=amount, currency=(get(row, "currency") or currency).upper(),
                counterparty_name=get(row, "counterparty_name")[:255],
                counterparty_iban="".join(get(row, "counterparty_iban").split()).upper()[:34] or None,
                remittance=get(row, "remittance"), creditor_ref=find_creditor_ref(get(row, "remittance")),
                bank_ref=get(row, "bank_ref")[:64] or None,
                end_to_end_id=get(row, "end_to_end_id")[:64] or None))
    except csv.Error as exc:
        raise BankFileError(f"The file is not readable CSV ({exc}).") from None
    if not lines:
        raise BankFileError("The CSV file has no lines.")
    start = min(ln.booking_date for ln in lines)
    end = max(ln.booking_date for ln in lines)
    return ParsedStatement(account_iban=account_iban, currency=currency,
                           statement_ref=f"{name} {start.isoformat()}..{end.isoformat()}"[:64],
                           from_date=start, to_date=end, opening_balance=None, closing_balance=None, lines=lines)
