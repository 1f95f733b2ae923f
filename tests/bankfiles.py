"""Bank statement files for tests, written from o2c's own invoices: each open
invoice paid by a transfer quoting its RF creditor reference (or its number),
in CAMT.053 (001.02 or 001.08), MT940 or CSV, plus the hand-written files with
the quirks banks have."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from o2c.documents.payment import creditor_reference
from o2c.domain.bankfiles.generate import CSV_MAPPING, Stmt, Txn, camt053, csv_export, mt940

__all__ = ["CSV_MAPPING", "COMPANY_IBAN", "Stmt", "Txn", "camt053", "csv_export", "mt940", "payments_for",
           "statement_for", "QUIRKS_CAMT", "BOMB", "EXTERNAL_ENTITY"]

#: The company's IBAN as the migrations seed it (the first bank account).
COMPANY_IBAN = "IT60X0542811101000000123456"
PAYER_IBANS = ["DE89370400440532013000", "FR1420041010050500013M02606", "NL91ABNA0417164300",
               "IT02A0301503200000003517230", "ES9121000418450200051332"]


def payments_for(invoices: list[dict[str, Any]], on: dt.date, by: str = "reference") -> list[Txn]:
    """A credit transfer paying each invoice's balance, ``by`` its RF reference,
    its number in the remittance text, or neither (IBAN only)."""
    out = []
    for i, inv in enumerate(invoices):
        amount = Decimal(inv.get("balance_due", inv["total"]))
        number = inv["number"]
        out.append(Txn(
            booking_date=on, amount=amount, name=f"Customer {inv['customer_id']}",
            iban=PAYER_IBANS[inv["customer_id"] % len(PAYER_IBANS)],
            remittance={"reference": "Invoice payment", "number": f"Payment {number}", "iban": "Thank you"}[by],
            creditor_ref=creditor_reference(number) if by == "reference" else None,
            end_to_end_id=f"E2E-{number}", bank_ref=f"BK{on:%Y%m%d}{i:05d}"))
    return out


def statement_for(txns: list[Txn], ref: str, start: dt.date, end: dt.date,
                  opening: Decimal = Decimal("1000.00")) -> Stmt:
    return Stmt(ref, start, end, opening, txns)


_NS8 = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

#: Hand-written CAMT.053 with bank quirks: a prefixed namespace, remittance
#: split over several Ustrd, a batch entry of two TxDtls, a reversal, a value
#: date in the next month, and an entry the bank reports as pending.
QUIRKS_CAMT = f"""<?xml version="1.0" encoding="UTF-8"?>
<c53:Document xmlns:c53="{_NS8}">
 <c53:BkToCstmrStmt>
  <c53:GrpHdr><c53:MsgId>Q-1</c53:MsgId><c53:CreDtTm>2026-11-30T20:00:00+01:00</c53:CreDtTm></c53:GrpHdr>
  <c53:Stmt>
   <c53:Id>QUIRKS-2026-11-30</c53:Id>
   <c53:Acct><c53:Id><c53:IBAN>{COMPANY_IBAN}</c53:IBAN></c53:Id><c53:Ccy>EUR</c53:Ccy></c53:Acct>
   <c53:Bal><c53:Tp><c53:CdOrPrtry><c53:Cd>PRCD</c53:Cd></c53:CdOrPrtry></c53:Tp>
    <c53:Amt Ccy="EUR">500.00</c53:Amt><c53:CdtDbtInd>CRDT</c53:CdtDbtInd><c53:Dt><c53:Dt>2026-11-29</c53:Dt></c53:Dt></c53:Bal>
   <c53:Bal><c53:Tp><c53:CdOrPrtry><c53:Cd>CLBD</c53:Cd></c53:CdOrPrtry></c53:Tp>
    <c53:Amt Ccy="EUR">795.00</c53:Amt><c53:CdtDbtInd>CRDT</c53:CdtDbtInd><c53:Dt><c53:Dt>2026-11-30</c53:Dt></c53:Dt></c53:Bal>
   <c53:Ntry>
    <c53:Amt Ccy="EUR">122.00</c53:Amt><c53:CdtDbtInd>CRDT</c53:CdtDbtInd>
    <c53:Sts><c53:Cd>BOOK</c53:Cd></c53:Sts>
    <c53:BookgDt><c53:Dt>2026-11-30</c53:Dt></c53:BookgDt><c53:ValDt><c53:Dt>2026-12-01</c53:Dt></c53:ValDt>
    <c53:AcctSvcrRef>Q-SPLIT-1</c53:AcctSvcrRef>
    <c53:NtryDtls><c53:TxDtls>
     <c53:Refs><c53:EndToEndId>NOTPROVIDED</c53:EndToEndId></c53:Refs>
     <c53:RltdPties><c53:Dbtr><c53:Pty><c53:Nm>Rossi Arredamenti S.r.l.</c53:Nm></c53:Pty></c53:Dbtr>
      <c53:DbtrAcct><c53:Id><c53:IBAN>IT02 A030 1503 2000 0000 3517 230</c53:IBAN></c53:Id></c53:DbtrAcct></c53:RltdPties>
     <c53:RltdAgts><c53:DbtrAgt><c53:FinInstnId><c53:BICFI>BCITITMM</c53:BICFI></c53:FinInstnId></c53:DbtrAgt></c53:RltdAgts>
     <c53:RmtInf><c53:Ustrd>Saldo fattura INV-2026-0</c53:Ustrd><c53:Ustrd>00045 grazie</c53:Ustrd></c53:RmtInf>
    </c53:TxDtls></c53:NtryDtls>
   </c53:Ntry>
   <c53:Ntry>
    <c53:Amt Ccy="EUR">200.00</c53:Amt><c53:CdtDbtInd>CRDT</c53:CdtDbtInd>
    <c53:Sts><c53:Cd>BOOK</c53:Cd></c53:Sts>
    <c53:BookgDt><c53:DtTm>2026-11-30T09:12:00+01:00</c53:DtTm></c53:BookgDt><c53:ValDt><c53:Dt>2026-11-30</c53:Dt></c53:ValDt>
    <c53:AcctSvcrRef>Q-BATCH-1</c53:AcctSvcrRef>
    <c53:NtryDtls>
     <c53:Btch><c53:NbOfTxs>2</c53:NbOfTxs></c53:Btch>
     <c53:TxDtls><c53:Refs><c53:EndToEndId>E2E-A</c53:EndToEndId></c53:Refs>
      <c53:Amt Ccy="EUR">150.00</c53:Amt><c53:CdtDbtInd>CRDT</c53:CdtDbtInd>
      <c53:RltdPties><c53:Dbtr><c53:Pty><c53:Nm>Alpha GmbH</c53:Nm></c53:Pty></c53:Dbtr></c53:RltdPties>
      <c53:RmtInf><c53:Strd><c53:CdtrRefInf><c53:Tp><c53:CdOrPrtry><c53:Cd>SCOR</c53:Cd></c53:CdOrPrtry></c53:Tp>
       <c53:Ref>RF18539007547034</c53:Ref></c53:CdtrRefInf></c53:Strd></c53:RmtInf></c53:TxDtls>
     <c53:TxDtls><c53:Refs><c53:EndToEndId>E2E-B</c53:EndToEndId></c53:Refs>
      <c53:Amt Ccy="EUR">50.00</c53:Amt><c53:CdtDbtInd>CRDT</c53:CdtDbtInd>
      <c53:RltdPties><c53:Dbtr><c53:Pty><c53:Nm>Beta SA</c53:Nm></c53:Pty></c53:Dbtr></c53:RltdPties>
      <c53:RmtInf><c53:Ustrd>INV 2026 000046</c53:Ustrd></c53:RmtInf></c53:TxDtls>
    </c53:NtryDtls>
   </c53:Ntry>
   <c53:Ntry>
    <c53:Amt Ccy="EUR">27.00</c53:Amt><c53:CdtDbtInd>DBIT</c53:CdtDbtInd><c53:RvslInd>true</c53:RvslInd>
    <c53:Sts><c53:Cd>BOOK</c53:Cd></c53:Sts>
    <c53:BookgDt><c53:Dt>2026-11-30</c53:Dt></c53:BookgDt>
    <c53:AcctSvcrRef>Q-RVSL-1</c53:AcctSvcrRef>
    <c53:AddtlNtryInf>RETURN OF CREDIT TRANSFER AC04 ACCOUNT CLOSED</c53:AddtlNtryInf>
   </c53:Ntry>
   <c53:Ntry>
    <c53:Amt Ccy="EUR">999.00</c53:Amt><c53:CdtDbtInd>CRDT</c53:CdtDbtInd>
    <c53:Sts><c53:Cd>PDNG</c53:Cd></c53:Sts>
    <c53:BookgDt><c53:Dt>2026-11-30</c53:Dt></c53:BookgDt>
   </c53:Ntry>
  </c53:Stmt>
 </c53:BkToCstmrStmt>
</c53:Document>
""".encode()

BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt>&lol3;</BkToCstmrStmt></Document>
"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02"><BkToCstmrStmt><Stmt><Id>&xxe;</Id></Stmt>
</BkToCstmrStmt></Document>
"""
