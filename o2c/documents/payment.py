"""How the customer pays: a structured creditor reference (ISO 11649, the
``RF…`` reference banks accept across SEPA) and the EPC QR code that banking
apps scan to fill in a SEPA credit transfer."""
from __future__ import annotations

import re
from decimal import Decimal

_ALNUM = re.compile(r"[^0-9A-Za-z]")


def _iso7064_digits(text: str) -> int:
    """Letters become 10…35 (ISO 7064 MOD 97-10, as for IBANs)."""
    return int("".join(str(int(c, 36)) for c in text.upper()))


def creditor_reference(document_number: str) -> str:
    """ISO 11649 reference for a document number: ``INV-2026-000045`` becomes
    ``RF`` + two check digits + ``INV2026000045`` (at most 21 characters)."""
    body = _ALNUM.sub("", document_number).upper()[-21:]
    if not body:
        raise ValueError(f"{document_number!r} has no letters or digits for a creditor reference")
    check = 98 - _iso7064_digits(body + "RF00") % 97
    return f"RF{check:02d}{body}"


def is_valid_creditor_reference(reference: str) -> bool:
    ref = reference.replace(" ", "").upper()
    return (ref.startswith("RF") and 5 <= len(ref) <= 25 and ref[2:4].isdigit()
            and _iso7064_digits(ref[4:] + ref[:4]) % 97 == 1)


def grouped(code: str) -> str:
    """IBANs and references as printed: in groups of four (``IT60 X054 …``)."""
    compact = code.replace(" ", "")
    return " ".join(compact[i:i + 4] for i in range(0, len(compact), 4))


def epc_qr_payload(name: str, iban: str, bic: str, amount: Decimal, reference: str) -> str | None:
    """The EPC069-12 (version 002) payload of a SEPA credit transfer in euro,
    or ``None`` when the document cannot be paid that way."""
    iban = iban.replace(" ", "")
    if not iban or amount <= 0 or amount > Decimal("999999999.99"):
        return None
    return "\n".join([
        "BCD", "002", "1", "SCT", bic.replace(" ", ""), name[:70], iban,
        f"EUR{amount:.2f}", "", reference.replace(" ", ""), "",
    ])


def qr_png_data_uri(payload: str) -> str:
    """The payload as a QR code: a PNG ``data:`` URI of one pixel per module,
    for an ``<img>`` scaled up without smoothing (``image-rendering: pixelated``).
    A few hundred bytes, and much cheaper to lay out and draw than the same code
    as an SVG path."""
    import segno
    return segno.make(payload, error="m", micro=False).png_data_uri(scale=1, border=0)
