"""ISO 20022 CAMT.053 (bank to customer statement), versions 001.02 to 001.08.

Streamed with ``lxml.etree.iterparse``: each entry (``Ntry``) is read and
dropped as soon as it ends, so memory stays flat in the file's size. Elements
are found by local name whatever namespace prefix the bank uses. The parser
never resolves entities, never loads a DTD and never touches the network; a
file with a document type declaration is refused (an XML bomb or an external
entity has nowhere to hide)."""
from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from lxml import etree

from o2c.domain.bankfiles import BankFileError, ParsedLine, ParsedStatement, normalise_iban

VERSIONS = ("02", "03", "04", "05", "06", "07", "08")
_NS = re.compile(r"^urn:iso:std:iso:20022:tech:xsd:camt\.053\.001\.(\d\d)$")
_NO_REF = {"", "NONREF", "NOTPROVIDED", "NOT PROVIDED"}
#: A remittance chunk of exactly this length was cut by the bank, not ended by the payer.
_CHUNK_SIZES = (35, 140)


#: Local names by qualified tag: a statement repeats a few dozen tags ten
#: thousand times, so each is split once.
_LOCAL: dict[str, str] = {}


def _local(el: Any) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    name = _LOCAL.get(tag)
    if name is None:
        name = tag.rsplit("}", 1)[-1]
        if len(_LOCAL) < 4096:  # tags of hostile files do not grow it without end
            _LOCAL[tag] = name
    return name


def _child(el: Any, *path: str) -> Any:
    """The first element along ``path`` of local names, or ``None``."""
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if _local(c) == name), None)
    return el


def _children(el: Any, name: str) -> list[Any]:
    return [] if el is None else [c for c in el if _local(c) == name]


def _text(el: Any, *path: str) -> str | None:
    found = _child(el, *path)
    if found is None or found.text is None:
        return None
    value = " ".join(found.text.split())
    return value or None


def _date(el: Any, what: str) -> dt.date | None:
    """``Dt`` or ``DtTm`` inside ``el``."""
    if el is None:
        return None
    raw = _text(el, "Dt") or _text(el, "DtTm")
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise BankFileError(f"The {what} “{raw}” is not a date.") from None


def _amount(el: Any, what: str) -> tuple[Decimal, str]:
    if el is None or not (el.text or "").strip():
        raise BankFileError(f"The {what} has no amount.")
    try:
        value = Decimal(el.text.strip())
    except InvalidOperation:
        raise BankFileError(f"The {what} amount “{el.text.strip()[:40]}” is not a number.") from None
    if not value.is_finite() or value < 0 or value != value.quantize(Decimal("0.01")):
        raise BankFileError(f"The {what} amount “{el.text.strip()[:40]}” is not an amount in cents.")
    return value, (el.get("Ccy") or "").upper()


def _signed(value: Decimal, indicator: str | None, what: str) -> Decimal:
    if indicator == "CRDT":
        return value
    if indicator == "DBIT":
        return -value
    raise BankFileError(f"The {what} says neither credit nor debit (CdtDbtInd “{indicator or ''}”).")


def _ref(value: str | None) -> str | None:
    return None if value is None or value.upper() in _NO_REF else value[:64]


def _join_remittance(parts: list[str]) -> str:
    out = ""
    prev = ""
    for part in parts:
        if out and len(prev) not in _CHUNK_SIZES:
            out += " "
        out += part
        prev = part
    return out


def _party(tx: Any, side: str) -> tuple[str, str | None, str | None]:
    """Name, IBAN and BIC of the debtor or creditor side (``Dbtr``/``Cdtr``)."""
    parties = _child(tx, "RltdPties")
    party = _child(parties, side)
    name = _text(party, "Nm") or _text(party, "Pty", "Nm") or ""  # 001.08 wraps the party in Pty
    acct = _child(parties, f"{side}Acct", "Id")
    iban = _text(acct, "IBAN")
    agent = _child(tx, "RltdAgts", f"{side}Agt", "FinInstnId")
    bic = _text(agent, "BIC") or _text(agent, "BICFI")
    return name[:255], normalise_iban(iban)[:34] if iban else None, bic[:11] if bic else None


def _remittance(tx: Any) -> tuple[str, str | None]:
    rmt = _child(tx, "RmtInf")
    ustrd = [" ".join((u.text or "").split()) for u in _children(rmt, "Ustrd")]
    creditor_ref = None
    for strd in _children(rmt, "Strd"):
        creditor_ref = creditor_ref or _text(strd, "CdtrRefInf", "Ref")
        ustrd += [t for t in (_text(strd, "AddtlRmtInf"),) if t]
    return _join_remittance([u for u in ustrd if u]), creditor_ref


def _entry_lines(ntry: Any, currency: str, where: str) -> list[ParsedLine]:
    status = _text(ntry, "Sts", "Cd") or _text(ntry, "Sts")
    if status is not None and status.upper() not in ("BOOK",):
        return []  # pending or information only: not on the books yet
    value, ccy = _amount(_child(ntry, "Amt"), where)
    indicator = _text(ntry, "CdtDbtInd")
    amount = _signed(value, indicator, where)
    reversal = (_text(ntry, "RvslInd") or "").lower() == "true"
    booking = _date(_child(ntry, "BookgDt"), f"booking date of {where}")
    if booking is None:
        raise BankFileError(f"The {where} has no booking date.")
    value_date = _date(_child(ntry, "ValDt"), f"value date of {where}")
    entry_ref = _ref(_text(ntry, "AcctSvcrRef"))
    domain = _child(ntry, "BkTxCd", "Domn")
    code = ("/".join(filter(None, [_text(domain, "Cd"), _text(domain, "Fmly", "Cd"),
                                   _text(domain, "Fmly", "SubFmlyCd")]))
            or _text(ntry, "BkTxCd", "Prtry", "Cd"))
    details = [tx for d in _children(ntry, "NtryDtls") for tx in _children(d, "TxDtls")]
    entry_info = _text(ntry, "AddtlNtryInf") or ""

    def line(tx: Any, amt: Decimal) -> ParsedLine:
        side = "Dbtr" if amt > 0 else "Cdtr"
        if reversal:  # a reversed credit pays back the original debtor
            side = "Cdtr" if side == "Dbtr" else "Dbtr"
        name, iban, bic = _party(tx, side) if tx is not None else ("", None, None)
        remittance, creditor_ref = _remittance(tx) if tx is not None else ("", None)
        refs = _child(tx, "Refs")
        return ParsedLine(
            booking_date=booking, value_date=value_date, amount=amt, currency=ccy or currency,
            counterparty_name=name, counterparty_iban=iban, counterparty_bic=bic,
            remittance=remittance or entry_info, creditor_ref=creditor_ref and creditor_ref[:64],
            end_to_end_id=_ref(_text(refs, "EndToEndId")),
            bank_ref=_ref(_text(refs, "AcctSvcrRef")) or entry_ref,
            transaction_code=code and code[:64], reversal=reversal)

    amounts: list[Decimal] = []
    for tx in details:
        tx_amt = _child(tx, "Amt")
        if tx_amt is None:
            tx_amt = _child(tx, "AmtDtls", "TxAmt", "Amt")
        if tx_amt is None:
            break
        v, _ = _amount(tx_amt, where)
        amounts.append(_signed(v, _text(tx, "CdtDbtInd") or indicator, where))
    if len(details) > 1 and len(amounts) == len(details) and sum(amounts) == amount:
        return [line(tx, a) for tx, a in zip(details, amounts)]  # a batch: one line per transaction
    return [line(details[0] if details else None, amount)]


def _balances(stmt: Any) -> tuple[Decimal | None, Decimal | None, dt.date | None, dt.date | None]:
    opening = closing = None
    opened_on = closed_on = None
    for bal in _children(stmt, "Bal"):
        kind = (_text(bal, "Tp", "CdOrPrtry", "Cd") or _text(bal, "Tp", "CdOrPrtry", "Prtry") or "").upper()
        value, _ = _amount(_child(bal, "Amt"), f"balance {kind}")
        value = _signed(value, _text(bal, "CdtDbtInd"), f"balance {kind}")
        if kind in ("OPBD", "PRCD") and opening is None:
            opening, opened_on = value, _date(_child(bal, "Dt"), "balance date")
        elif kind == "CLBD":
            closing, closed_on = value, _date(_child(bal, "Dt"), "balance date")
    return opening, closing, opened_on, closed_on


def parse(stream: IO[bytes]) -> Iterator[ParsedStatement]:
    """Each ``Stmt`` of the file, in order."""
    context = etree.iterparse(stream, events=("start", "end"), resolve_entities=False, no_network=True,
                              huge_tree=False, load_dtd=False, remove_comments=True, remove_pis=True)
    checked = False
    lines: list[ParsedLine] = []
    currency = ""
    try:
        for event, el in context:
            if not checked:
                checked = True
                tree = el.getroottree()
                if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
                    raise BankFileError("The file declares a document type; bank statements never do, "
                                        "and o2c does not read entity declarations.")
                match = _NS.match(etree.QName(el).namespace or "")
                if _local(el) != "Document" or match is None:
                    raise BankFileError("This XML is not a CAMT.053 bank statement "
                                        "(expected a Document in the camt.053.001 namespace).")
                if match.group(1) not in VERSIONS:
                    raise BankFileError(f"CAMT.053 version 001.{match.group(1)} is not supported; "
                                        f"o2c reads 001.{VERSIONS[0]} to 001.{VERSIONS[-1]}.")
            name = _local(el)
            if event == "start":
                if name == "Stmt":
                    lines, currency = [], ""
                continue
            if name == "Acct" and _local(el.getparent()) == "Stmt":
                currency = (_text(el, "Ccy") or "").upper()
            elif name == "Ntry":
                where = f"entry {len(lines) + 1}"
                lines.extend(_entry_lines(el, currency, where))
                el.clear(keep_tail=False)
                parent, prev = el.getparent(), el.getprevious()
                while prev is not None and _local(prev) == "Ntry":  # entries already read
                    parent.remove(prev)
                    prev = el.getprevious()
            elif name == "Stmt":
                yield _statement(el, lines, currency)
                el.clear(keep_tail=False)
    except etree.XMLSyntaxError as exc:
        raise BankFileError(f"The file is not complete, well-formed XML ({exc.msg}).") from None
    if not checked:
        raise BankFileError("The file is empty.")


def _statement(stmt: Any, lines: list[ParsedLine], currency: str) -> ParsedStatement:
    acct = _child(stmt, "Acct")
    iban = _text(acct, "Id", "IBAN")
    if iban is None:
        raise BankFileError("A statement names no account IBAN (Acct/Id/IBAN).")
    opening, closing, opened_on, closed_on = _balances(stmt)
    ccy = currency or next((ln.currency for ln in lines), "")
    if not ccy:
        bal_amt = _child(next(iter(_children(stmt, "Bal")), None), "Amt")
        ccy = (bal_amt.get("Ccy") if bal_amt is not None else "") or ""
    period = _child(stmt, "FrToDt")
    start = _date_time(_text(period, "FrDtTm")) or opened_on
    end = _date_time(_text(period, "ToDtTm")) or closed_on
    ref = _text(stmt, "Id") or _text(stmt, "ElctrncSeqNb") or ""
    return ParsedStatement(account_iban=normalise_iban(iban), currency=ccy.upper(), statement_ref=ref[:64],
                           from_date=start, to_date=end, opening_balance=opening, closing_balance=closing,
                           lines=lines)


def _date_time(raw: str | None) -> dt.date | None:
    if raw is None:
        return None
    try:
        return dt.date.fromisoformat(raw[:10])
    except ValueError:
        raise BankFileError(f"The statement period “{raw}” is not a date.") from None
