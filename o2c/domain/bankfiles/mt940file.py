"""SWIFT MT940 customer statements, read with the ``mt-940`` library; one
file may hold several statements (each starts with ``:20:``).

The free text of ``:86:`` is read in the two shapes banks commonly use: the
slash-keyed one (``/EREF/…/NAME/…/IBAN/…/REMI/…``) and the German ``?20``…
``?33`` subfields; anything else is kept whole as the remittance."""
from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import mt940

from o2c.domain.bankfiles import BankFileError, ParsedLine, ParsedStatement, find_creditor_ref, normalise_iban

_SLASH_KEYS = ("EREF", "KREF", "MREF", "CRED", "NAME", "IBAN", "BIC", "REMI", "ORDP", "BENM", "CSID", "SVWZ",
               "TRTP", "RTRN", "ABWA", "PURP")
_SLASH = re.compile(r"/(" + "|".join(_SLASH_KEYS) + r")/")
_QMARK = re.compile(r"\?(\d\d)")
_NO_REF = {"", "NONREF", "NOTPROVIDED"}


def _details(text: str) -> dict[str, str]:
    """The parts of a ``:86:`` text: name, iban, bic, eref, remittance."""
    text = text.replace("\n", "")
    out: dict[str, str] = {}
    if _QMARK.search(text):
        fields: dict[str, list[str]] = {}
        for key, value in re.findall(r"\?(\d\d)([^?]*)", text):
            fields.setdefault(key, []).append(value)
        remi = "".join("".join(fields.get(str(k), [])) for k in range(20, 30)) + "".join(
            "".join(fields.get(str(k), [])) for k in range(60, 64))
        out["remittance"] = remi.strip()
        out["name"] = ("".join(fields.get("32", [])) + "".join(fields.get("33", []))).strip()
        out["iban"] = "".join(fields.get("31", [])).strip()
        out["bic"] = "".join(fields.get("30", [])).strip()
        eref = re.search(r"EREF\+(\S+)", remi)
        if eref:
            out["eref"] = eref.group(1)
        return out
    parts = _SLASH.split(text)
    if len(parts) > 1:
        values: dict[str, str] = {}
        for key, value in zip(parts[1::2], parts[2::2]):
            values[key] = value.strip("/ ")
        out["name"] = values.get("NAME", "")
        out["iban"] = values.get("IBAN", "")
        out["bic"] = values.get("BIC", "")
        out["eref"] = values.get("EREF", "")
        remi = values.get("REMI", "") or values.get("SVWZ", "")
        remi = re.sub(r"^(USTD|STRD)/+", "", remi)
        out["remittance"] = re.sub(r"^(CUR|ISO)/+(?=RF)", "", remi)
        return out
    out["remittance"] = text.strip()
    return out


def _money(balance: Any, what: str) -> tuple[Decimal, str, dt.date | None]:
    if balance is None:
        raise BankFileError(f"The MT940 statement has no {what} balance.")
    amount = balance.amount
    date = balance.date
    return (Decimal(amount.amount).quantize(Decimal("0.01")), (amount.currency or "").upper(),
            dt.date(date.year, date.month, date.day) if date else None)


def parse(data: bytes) -> Iterator[ParsedStatement]:
    if b":20:" not in data or b":61:" not in data and b":60F:" not in data and b":60M:" not in data:
        raise BankFileError("This file is not an MT940 statement (no :20: and :60F: fields).")
    try:
        blocks = mt940.parse_statements(io.BytesIO(data), encoding="utf-8")
    except Exception as exc:  # the library raises plain errors on malformed fields
        raise BankFileError(f"The MT940 file cannot be read ({str(exc)[:200]}).") from None
    if not blocks:
        raise BankFileError("This file holds no MT940 statement.")
    for n, block in enumerate(blocks, 1):
        head = block.data
        account = (head.get("account_identification") or "").split("/")[-1]
        if not account:
            raise BankFileError(f"MT940 statement {n} names no account (:25:).")
        opening_bal = head.get("final_opening_balance") or head.get("intermediate_opening_balance")
        closing_bal = head.get("final_closing_balance") or head.get("intermediate_closing_balance")
        opening, currency, opened_on = _money(opening_bal, "opening (:60F:)")
        closing, _, closed_on = _money(closing_bal, "closing (:62F:)")
        ref = "/".join(filter(None, [head.get("transaction_reference"), head.get("statement_number"),
                                     head.get("sequence_number")]))
        lines = []
        for tr in block:
            t = tr.data
            details = _details(t.get("transaction_details") or "")
            amount = Decimal(t["amount"].amount).quantize(Decimal("0.01"))
            entry = t.get("entry_date") or t.get("date")
            value = t.get("date")
            remittance = details.get("remittance", "")
            bank_ref = t.get("bank_reference") or ""
            lines.append(ParsedLine(
                booking_date=dt.date(entry.year, entry.month, entry.day),
                value_date=dt.date(value.year, value.month, value.day) if value else None,
                amount=amount, currency=(t.get("currency") or currency).upper(),
                counterparty_name=details.get("name", "")[:255],
                counterparty_iban=normalise_iban(details["iban"])[:34] if details.get("iban") else None,
                counterparty_bic=details.get("bic", "")[:11] or None,
                remittance=remittance, creditor_ref=find_creditor_ref(remittance),
                end_to_end_id=(details.get("eref") or None) if details.get("eref", "").upper() not in _NO_REF
                else None,
                bank_ref=None if bank_ref.upper() in _NO_REF else bank_ref[:64],
                transaction_code=(t.get("id") or None), reversal=(t.get("status") or "").startswith("R")))
        yield ParsedStatement(account_iban=normalise_iban(account), currency=currency, statement_ref=ref[:64],
                              from_date=opened_on, to_date=closed_on, opening_balance=opening,
                              closing_balance=closing, lines=lines)
