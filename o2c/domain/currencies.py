"""ISO 4217: the currencies o2c knows, with the number of decimals of each
one's minor unit, and which of them the European Central Bank's reference
rates serve.

The table lists the active codes of ISO 4217's list one (funds and units of
account included where the standard gives them minor units; the precious
metals, testing and "no currency" codes, which have none, are left out).
Names are not kept here: they come from the CLDR data Babel ships, in the
reader's language.
"""
from __future__ import annotations

#: Codes whose minor unit is not the hundredth.
_MINOR_UNITS_NOT_2 = {
    # no minor unit
    "BIF": 0, "CLP": 0, "DJF": 0, "GNF": 0, "ISK": 0, "JPY": 0, "KMF": 0, "KRW": 0, "PYG": 0,
    "RWF": 0, "UGX": 0, "UYI": 0, "VND": 0, "VUV": 0, "XAF": 0, "XOF": 0, "XPF": 0,
    # thousandths
    "BHD": 3, "IQD": 3, "JOD": 3, "KWD": 3, "LYD": 3, "OMR": 3, "TND": 3,
    # ten-thousandths (units of account)
    "CLF": 4, "UYW": 4,
}

_HUNDREDTHS = """
AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP BYN BZD
CAD CDF CHE CHF CHW CNY COP COU CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS
GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL
MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK
PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB
TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG
""".split()

#: ISO 4217 code → decimals of its minor unit.
ISO_4217: dict[str, int] = dict(sorted({**dict.fromkeys(_HUNDREDTHS, 2), **_MINOR_UNITS_NOT_2}.items()))

#: The currencies of the ECB's euro foreign exchange reference rates (the
#: daily 16:00 CET publication; RUB has not been among them since March 2022).
ECB_CURRENCIES = frozenset("""
USD JPY BGN CZK DKK GBP HUF PLN RON SEK CHF ISK NOK TRY AUD BRL CAD CNY HKD IDR ILS INR KRW MXN
MYR NZD PHP SGD THB ZAR
""".split())

#: Where a currency's rates come from: the ECB's reference rates, or entered
#: by hand (``POST /api/v1/fx/rates``, a generic CSV import); EUR, the
#: functional currency, needs none.
SOURCE_ECB = "ecb"
SOURCE_MANUAL = "manual"
SOURCE_FUNCTIONAL = "functional"


def rate_source(code: str) -> str:
    if code == "EUR":
        return SOURCE_FUNCTIONAL
    return SOURCE_ECB if code in ECB_CURRENCIES else SOURCE_MANUAL
