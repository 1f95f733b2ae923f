"""Bank statement files read into plain statements: ISO 20022 CAMT.053
(``camt``), SWIFT MT940 (``mt940file``) and CSV with a column mapping
(``csvfile``). Parsers read streams, never the network, and refuse what they
cannot read with :class:`BankFileError` (a 422 naming the problem); nothing
here touches the database."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal

from stdnum import iso11649

from o2c.domain.errors import ValidationFailed

FORMATS = ("camt.053", "mt940", "csv")


class BankFileError(ValidationFailed):
    """A bank file o2c cannot read, or one whose content breaks a rule."""

    def __init__(self, message: str, field_name: str = "file"):
        super().__init__(message, {field_name: [message]})


@dataclass
class ParsedLine:
    booking_date: dt.date
    amount: Decimal  # signed: credits (money in) positive
    currency: str
    value_date: dt.date | None = None
    counterparty_name: str = ""
    counterparty_iban: str | None = None
    counterparty_bic: str | None = None
    remittance: str = ""
    creditor_ref: str | None = None
    end_to_end_id: str | None = None
    bank_ref: str | None = None
    transaction_code: str | None = None
    reversal: bool = False


@dataclass
class ParsedStatement:
    account_iban: str
    currency: str
    statement_ref: str
    from_date: dt.date | None
    to_date: dt.date | None
    opening_balance: Decimal | None
    closing_balance: Decimal | None
    lines: list[ParsedLine] = field(default_factory=list)

    @property
    def period(self) -> tuple[dt.date, dt.date]:
        """The days the statement covers: as stated, else its lines' booking dates."""
        days = [ln.booking_date for ln in self.lines]
        start = self.from_date or (min(days) if days else None)
        end = self.to_date or (max(days) if days else None)
        if start is None or end is None:
            raise BankFileError(f"Statement “{self.statement_ref}” names no dates and has no lines.")
        return start, end


def _clip(text: str | None, size: int) -> str | None:
    return None if text is None else text[:size]


_RF = re.compile(r"(?<![0-9A-Z])RF\d{2}(?: ?[0-9A-Z]){1,21}(?![0-9A-Z])")


def find_creditor_ref(text: str) -> str | None:
    """A valid ISO 11649 creditor reference (``RF…``) written in free text."""
    for match in _RF.finditer(text.upper()):
        candidate = match.group(0).replace(" ", "")
        for end in range(len(candidate), 4, -1):  # the reference may run into the next word
            if iso11649.is_valid(candidate[:end]):
                return candidate[:end]
    return None


def normalise_iban(iban: str) -> str:
    return "".join(iban.split()).upper()


def line_identities(lines: list[ParsedLine]) -> Iterator[str]:
    """Each line's identity, stable across files: the bank's own entry
    reference when it gives one, else a hash of booking date, amount,
    counterparty and remittance with the position among equal lines (two
    equal transfers on one day stay two lines; the same day exported again,
    alone or within a longer period, gives the same identities)."""
    seen: Counter[str] = Counter()
    refs: Counter[str] = Counter(ln.bank_ref for ln in lines if ln.bank_ref)
    ref_seen: Counter[str] = Counter()
    for ln in lines:
        if ln.bank_ref:
            ref_seen[ln.bank_ref] += 1
            # a batch entry carries one reference for several transactions
            suffix = f"/{ref_seen[ln.bank_ref]}" if refs[ln.bank_ref] > 1 else ""
            ident = f"ref:{ln.bank_ref}{suffix}"
            if len(ident) > 64:
                ident = "ref:" + hashlib.sha256(ident.encode()).hexdigest()[:60]
            yield ident
            continue
        key = "\x1f".join([ln.booking_date.isoformat(), f"{ln.amount:.2f}", ln.counterparty_iban or "",
                           " ".join(ln.counterparty_name.split()).upper(), " ".join(ln.remittance.split()),
                           "R" if ln.reversal else ""])
        seen[key] += 1
        yield "h:" + hashlib.sha256(f"{key}\x1f{seen[key]}".encode()).hexdigest()[:62]


def statement_identity(st: ParsedStatement) -> str:
    """The statement's identity within its account: reference, dates and balances."""
    start, end = st.period
    key = "\x1f".join([st.statement_ref, start.isoformat(), end.isoformat(),
                       "" if st.opening_balance is None else f"{st.opening_balance:.2f}",
                       "" if st.closing_balance is None else f"{st.closing_balance:.2f}"])
    return hashlib.sha256(key.encode()).hexdigest()


def check_statement(st: ParsedStatement) -> None:
    """What every statement must satisfy whatever its format: no zero lines,
    one currency, and balances that add up when both are given."""
    for i, ln in enumerate(st.lines, 1):
        if ln.amount == 0:
            raise BankFileError(f"Statement “{st.statement_ref}” line {i} has a zero amount; "
                                "a bank line moves money.")
        if ln.currency != st.currency:
            raise BankFileError(f"Statement “{st.statement_ref}” line {i} is in {ln.currency}, "
                                f"the statement in {st.currency}.")
    if st.opening_balance is not None and st.closing_balance is not None:
        moved = sum((ln.amount for ln in st.lines), Decimal("0"))
        if st.opening_balance + moved != st.closing_balance:
            raise BankFileError(
                f"Statement “{st.statement_ref}” does not add up: opening {st.opening_balance:.2f} "
                f"plus its lines {moved:.2f} is not the closing {st.closing_balance:.2f}; "
                "the file may be truncated.")
