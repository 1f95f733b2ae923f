"""The official EN 16931 validation: CEN/TC 434's Schematron rules (release
1.3.16, compiled to XSLT 2) run on an e-invoice with SaxonC-HE (``saxonche``).

The artefacts are third-party files kept unchanged beside the repository, in
``../shared/validation/en16931/`` (``cii/xslt/EN16931-CII-validation.xslt``
and ``ubl/xslt/EN16931-UBL-validation.xslt``). Each stylesheet is compiled
once per process; a document is transformed into an SVRL report, and every
``svrl:failed-assert`` with ``flag="fatal"`` is a broken business rule
(``flag="warning"`` is advice and passes).

``fatal(xml)`` lists the broken rules of a document in either syntax,
``assert_valid(xml)`` fails a test with them, and ``COUNTS`` tallies what was
validated (the test session prints it at its end).
"""
from __future__ import annotations

import hashlib
import threading
from collections import Counter
from pathlib import Path
from typing import NamedTuple

from lxml import etree

ROOT = Path(__file__).resolve().parents[2]
ARTEFACTS = ROOT.parent / "shared" / "validation" / "en16931"
STYLESHEETS = {"CII": ARTEFACTS / "cii" / "xslt" / "EN16931-CII-validation.xslt",
               "UBL": ARTEFACTS / "ubl" / "xslt" / "EN16931-UBL-validation.xslt"}
SVRL = "http://purl.oclc.org/dsdl/svrl"
CII_ROOT = "{urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100}CrossIndustryInvoice"
UBL_ROOTS = {"{urn:oasis:names:specification:ubl:schema:xsd:Invoice-2}Invoice": "invoice",
             "{urn:oasis:names:specification:ubl:schema:xsd:CreditNote-2}CreditNote": "credit_note"}

#: Documents that passed in this process, by (syntax, kind), and the distinct ones among them.
COUNTS: Counter[tuple[str, str]] = Counter()
DISTINCT: set[tuple[str, str, str]] = set()


class FailedAssert(NamedTuple):
    rule: str
    flag: str
    location: str
    text: str


class Unreadable(Exception):
    """The official rules stopped on the document instead of judging it."""


class _Validator:
    """One SaxonC processor and the two compiled stylesheets. SaxonC runs on
    one thread at a time here (its processor is no thread-safe object), which
    costs nothing in a single-threaded test run."""

    def __init__(self) -> None:
        from saxonche import PySaxonProcessor
        missing = [str(p) for p in STYLESHEETS.values() if not p.is_file()]
        if missing:
            raise FileNotFoundError(
                "the official EN 16931 validation artefacts are not beside the repository: " + ", ".join(missing))
        self.lock = threading.Lock()
        self.processor = PySaxonProcessor(license=False)
        compiler = self.processor.new_xslt30_processor()
        self.executables = {syntax: compiler.compile_stylesheet(stylesheet_file=str(path))
                            for syntax, path in STYLESHEETS.items()}

    def svrl(self, syntax: str, xml: bytes) -> bytes:
        """The SVRL report; a document the rules cannot even evaluate (the
        stylesheet stops with a type error, as on two VAT totals in one
        currency) raises ``Unreadable``."""
        from saxonche import PySaxonApiError
        with self.lock:
            try:
                node = self.processor.parse_xml(xml_text=xml.decode("utf-8"))
                out = self.executables[syntax].transform_to_string(xdm_node=node)
            except PySaxonApiError as exc:
                raise Unreadable(" ".join(str(exc).split())) from exc
        if not out:
            raise RuntimeError(f"the {syntax} validation produced no report")
        return out.encode("utf-8")


_VALIDATOR: _Validator | None = None
_START = threading.Lock()


def validator() -> _Validator:
    global _VALIDATOR
    with _START:
        if _VALIDATOR is None:
            _VALIDATOR = _Validator()
        return _VALIDATOR


def syntax_of(xml: bytes) -> tuple[str, str]:
    """(``CII`` | ``UBL``, ``invoice`` | ``credit_note``) of an e-invoice."""
    root = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    if root.tag == CII_ROOT:
        code = root.findtext("{*}ExchangedDocument/{*}TypeCode")
        return "CII", "credit_note" if code == "381" else "invoice"
    if root.tag in UBL_ROOTS:
        return "UBL", UBL_ROOTS[root.tag]
    raise ValueError(f"not an EN 16931 e-invoice: root element “{root.tag}”")


def report(xml: bytes) -> list[FailedAssert]:
    """Every failed assertion of the official rules, fatal or warning."""
    syntax, _ = syntax_of(xml)
    try:
        svrl = etree.fromstring(validator().svrl(syntax, xml))
    except Unreadable as exc:  # as fatal as a broken rule: no receiver's validator accepts it
        return [FailedAssert("XSLT-ERROR", "fatal", "/", str(exc))]
    if svrl.tag != f"{{{SVRL}}}schematron-output" or svrl.find(f"{{{SVRL}}}fired-rule") is None:
        raise RuntimeError(f"the {syntax} validation fired no rule: it did not read the document")
    return [FailedAssert(a.get("id", ""), a.get("flag", ""), a.get("location", ""),
                         " ".join((a.findtext(f"{{{SVRL}}}text") or "").split()))
            for a in svrl.iter(f"{{{SVRL}}}failed-assert")]


def fatal(xml: bytes) -> list[FailedAssert]:
    return [a for a in report(xml) if a.flag == "fatal"]


def fatal_rules(xml: bytes) -> set[str]:
    return {a.rule for a in fatal(xml)}


def assert_valid(xml: bytes) -> None:
    """Fail with every fatal rule the document breaks, or pass (and count it)."""
    syntax, kind = syntax_of(xml)
    broken = fatal(xml)
    if not broken:
        COUNTS[(syntax, kind)] += 1
        DISTINCT.add((syntax, kind, hashlib.sha256(xml).hexdigest()))
    assert not broken, f"official EN 16931 {syntax} rules broken:\n" + "\n".join(
        f"  [{a.rule}] {a.text[:300]} at {a.location}" for a in broken)


def summary() -> str | None:
    if not COUNTS:
        return None
    distinct = Counter((syntax, kind) for syntax, kind, _ in DISTINCT)
    parts = ", ".join(f"{syntax} {kind.replace('_', ' ')}s {distinct[key]}" for key in sorted(COUNTS)
                      for syntax, kind in [key])
    return (f"official EN 16931 validation: {len(DISTINCT)} distinct e-invoices passed with no fatal assertion "
            f"({parts}; {sum(COUNTS.values())} validations)")
