"""Realistic statement files written from a list of transactions: CAMT.053
(001.02 or 001.08 layout), MT940 and CSV. The demo writes its month of
statements with these, and the tests write files from o2c's own invoices."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from xml.sax.saxutils import escape

#: The mapping the CSV writer's columns are read with.
CSV_MAPPING = {
    "columns": {"booking_date": "Booking date", "value_date": "Value date", "amount": "Amount",
                "credit_debit": "C/D", "counterparty_name": "Counterparty", "counterparty_iban": "IBAN",
                "remittance": ["Details 1", "Details 2"], "bank_ref": "Reference"},
    "date_format": "%d.%m.%Y", "decimal": ",", "delimiter": ";",
}


@dataclass
class Txn:
    booking_date: dt.date
    amount: Decimal  # signed: credits positive
    name: str = ""
    iban: str = ""
    remittance: str = ""
    creditor_ref: str | None = None
    end_to_end_id: str | None = None
    bank_ref: str | None = None
    value_date: dt.date | None = None
    reversal: bool = False
    code: str = "PMNT/RCDT/ESCT"


@dataclass
class Stmt:
    ref: str
    from_date: dt.date
    to_date: dt.date
    opening: Decimal
    txns: list[Txn] = field(default_factory=list)

    @property
    def closing(self) -> Decimal:
        return self.opening + sum((t.amount for t in self.txns), Decimal("0"))


def _amt(value: Decimal) -> str:
    return f"{abs(value):.2f}"


def _cd(value: Decimal) -> str:
    return "CRDT" if value >= 0 else "DBIT"


def _ustrd(text: str, size: int = 140) -> str:
    return "".join(f"<Ustrd>{escape(text[i:i + size])}</Ustrd>" for i in range(0, len(text), size))


def camt053(iban: str, currency: str, statements: list[Stmt], version: str = "08",
            bic: str = "BEXAITMMXXX") -> bytes:
    """A CAMT.053 document with one ``Stmt`` per statement."""
    ns = f"urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}"
    new = version >= "05"  # later versions wrap parties in Pty and call the BIC BICFI
    out = [f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{ns}"><BkToCstmrStmt>',
           f"<GrpHdr><MsgId>MSG-{statements[0].ref if statements else 'EMPTY'}</MsgId>"
           f"<CreDtTm>{(statements[-1].to_date if statements else dt.date.today()).isoformat()}T18:00:00</CreDtTm>"
           "</GrpHdr>"]
    for st in statements:
        out.append(f"<Stmt><Id>{escape(st.ref)}</Id><CreDtTm>{st.to_date.isoformat()}T18:00:00</CreDtTm>"
                   f"<FrToDt><FrDtTm>{st.from_date.isoformat()}T00:00:00</FrDtTm>"
                   f"<ToDtTm>{st.to_date.isoformat()}T23:59:59</ToDtTm></FrToDt>"
                   f"<Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{currency}</Ccy></Acct>")
        for code, value, day in (("OPBD", st.opening, st.from_date), ("CLBD", st.closing, st.to_date)):
            out.append(f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
                       f'<Amt Ccy="{currency}">{_amt(value)}</Amt><CdtDbtInd>{_cd(value)}</CdtDbtInd>'
                       f"<Dt><Dt>{day.isoformat()}</Dt></Dt></Bal>")
        for t in st.txns:
            out.append(_entry(t, currency, new))
        out.append("</Stmt>")
    out.append("</BkToCstmrStmt></Document>\n")
    return "".join(out).encode()


def _entry(t: Txn, currency: str, new: bool) -> str:
    credit = t.amount > 0
    side = "Dbtr" if credit != t.reversal else "Cdtr"
    name = escape(t.name)
    party = f"<{side}><Pty><Nm>{name}</Nm></Pty></{side}>" if new else f"<{side}><Nm>{name}</Nm></{side}>"
    acct = f"<{side}Acct><Id><IBAN>{t.iban}</IBAN></Id></{side}Acct>" if t.iban else ""
    rmt = _ustrd(t.remittance) if t.remittance else ""
    if t.creditor_ref:
        rmt += ("<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry><Issr>ISO</Issr></Tp>"
                f"<Ref>{escape(t.creditor_ref)}</Ref></CdtrRefInf></Strd>")
    status = "<Sts><Cd>BOOK</Cd></Sts>" if new else "<Sts>BOOK</Sts>"
    domain, family, sub = (t.code.split("/") + ["", "", ""])[:3]
    value = t.value_date or t.booking_date
    return (f'<Ntry><Amt Ccy="{currency}">{_amt(t.amount)}</Amt><CdtDbtInd>{_cd(t.amount)}</CdtDbtInd>'
            + ("<RvslInd>true</RvslInd>" if t.reversal else "")
            + f"{status}<BookgDt><Dt>{t.booking_date.isoformat()}</Dt></BookgDt>"
            f"<ValDt><Dt>{value.isoformat()}</Dt></ValDt>"
            + (f"<AcctSvcrRef>{escape(t.bank_ref)}</AcctSvcrRef>" if t.bank_ref else "")
            + f"<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub}</SubFmlyCd></Fmly></Domn>"
            "</BkTxCd><NtryDtls><TxDtls><Refs>"
            f"<EndToEndId>{escape(t.end_to_end_id or 'NOTPROVIDED')}</EndToEndId></Refs>"
            f'<AmtDtls><TxAmt><Amt Ccy="{currency}">{_amt(t.amount)}</Amt></TxAmt></AmtDtls>'
            f"<RltdPties>{party}{acct}</RltdPties>"
            + (f"<RmtInf>{rmt}</RmtInf>" if rmt else "")
            + "</TxDtls></NtryDtls></Ntry>")


def _mt_amount(value: Decimal) -> str:
    return f"{abs(value):.2f}".replace(".", ",")


def _mt_balance(tag: str, value: Decimal, day: dt.date, currency: str) -> str:
    return f":{tag}:{'C' if value >= 0 else 'D'}{day:%y%m%d}{currency}{_mt_amount(value)}"


def mt940(iban: str, currency: str, statements: list[Stmt]) -> bytes:
    """An MT940 file with one block per statement (``:20:`` … ``-``)."""
    out: list[str] = []
    for n, st in enumerate(statements, 1):
        out += [f":20:{st.ref[:16]}", f":25:{iban}", f":28C:{n:05d}/001",
                _mt_balance("60F", st.opening, st.from_date, currency)]
        for t in st.txns:
            value = t.value_date or t.booking_date
            mark = ("R" if t.reversal else "") + ("C" if t.amount > 0 else "D")
            out.append(f":61:{value:%y%m%d}{t.booking_date:%m%d}{mark}{_mt_amount(t.amount)}N"
                       f"{'TRF' if t.iban else 'MSC'}{(t.end_to_end_id or 'NONREF')[:16]}"
                       + (f"//{t.bank_ref[:16]}" if t.bank_ref else ""))
            remi = t.remittance + (f" {t.creditor_ref}" if t.creditor_ref else "")
            details = (f"/EREF/{t.end_to_end_id or 'NOTPROVIDED'}" + (f"/NAME/{t.name}" if t.name else "")
                       + (f"/IBAN/{t.iban}" if t.iban else "") + f"/REMI/{remi.strip()}")
            out.append(":86:" + "\n".join(details[i:i + 65] for i in range(0, len(details), 65)))
        out += [_mt_balance("62F", st.closing, st.to_date, currency), "-"]
    return ("\r\n".join(out) + "\r\n").encode()


def csv_export(txns: list[Txn]) -> bytes:
    """A bank's CSV export of ``txns``, read with :data:`CSV_MAPPING`."""
    rows = ["Booking date;Value date;Amount;C/D;Counterparty;IBAN;Details 1;Details 2;Reference"]
    for t in txns:
        remi = t.remittance + (f" {t.creditor_ref}" if t.creditor_ref else "")
        first, second = remi[:35], remi[35:]
        fields = [f"{t.booking_date:%d.%m.%Y}", f"{(t.value_date or t.booking_date):%d.%m.%Y}",
                  _mt_amount(t.amount), "C" if t.amount > 0 else "D", t.name, t.iban, first, second,
                  t.bank_ref or ""]
        rows.append(";".join('"' + f.replace('"', '""') + '"' if (";" in f or '"' in f) else f for f in fields))
    return ("\n".join(rows) + "\n").encode()
