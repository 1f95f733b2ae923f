"""Customer statements and dunning letters as PDF: the context a template
needs, in the customer's language with its locale's numbers, dates and
currency (Babel), rendered by ``o2c.documents.render``.

Templates live in ``templates/statements/`` and ``templates/dunning/``.
"""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.dates import format_date
from babel.numbers import format_currency
from jinja2 import Environment, FileSystemLoader, select_autoescape

from o2c.documents.render import html_to_pdf

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
LOCALES = {"en": "en_GB", "it": "it_IT", "pl": "pl_PL", "ru": "ru_RU"}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "statement": "Statement of account", "period": "Period", "from_start": "from the first document",
        "date": "Date", "document": "Document", "description": "Description", "debit": "Charges",
        "credit": "Payments and credits", "balance": "Balance", "opening": "Opening balance",
        "closing": "Balance due", "in_credit": "in your favour", "open_items": "Open invoices",
        "invoice": "Invoice", "issued": "Issued", "due": "Due", "days_overdue": "Days overdue",
        "amount": "Amount", "open": "Open", "total": "Total", "customer_no": "Customer no.", "tax_id": "Tax ID",
        "no_movements": "No movements in this period.", "pay_to": "Please pay to", "page": "Page",
        "reminder": "Payment reminder", "second_reminder": "Second payment reminder",
        "final_notice": "Final notice before collection",
        "dear": "Dear customer,",
        "body_1": "according to our records the invoices listed below are past due. Perhaps they escaped your "
                  "attention: we kindly ask you to pay the open amount within the next 7 days.",
        "body_2": "we have not yet received payment of the invoices below despite our reminder. Please pay the "
                  "open amount within 7 days or contact us if there is a problem with these invoices.",
        "body_3": "despite our earlier reminders the invoices below remain unpaid. Unless we receive the full "
                  "amount within 7 days we will hand the matter over for collection without further notice.",
        "already_paid": "If you have paid in the meantime, please disregard this letter.",
        "kind_invoice": "Invoice", "kind_payment": "Payment received", "kind_credit_note": "Credit note",
        "kind_refund": "Refund", "kind_credit_application": "Credit applied",
        "regards": "Kind regards,", "letter_no": "Reference", "total_due": "Total due",
    },
    "it": {
        "statement": "Estratto conto", "period": "Periodo", "from_start": "dal primo documento",
        "date": "Data", "document": "Documento", "description": "Descrizione", "debit": "Addebiti",
        "credit": "Pagamenti e accrediti", "balance": "Saldo", "opening": "Saldo iniziale",
        "closing": "Saldo dovuto", "in_credit": "a vostro favore", "open_items": "Fatture aperte",
        "invoice": "Fattura", "issued": "Emessa", "due": "Scadenza", "days_overdue": "Giorni di ritardo",
        "amount": "Importo", "open": "Residuo", "total": "Totale", "customer_no": "Codice cliente",
        "tax_id": "P. IVA", "no_movements": "Nessun movimento nel periodo.", "pay_to": "Coordinate bancarie",
        "page": "Pagina",
        "reminder": "Sollecito di pagamento", "second_reminder": "Secondo sollecito di pagamento",
        "final_notice": "Ultimo avviso prima del recupero crediti",
        "dear": "Gentile cliente,",
        "body_1": "dai nostri registri risultano scadute le fatture elencate di seguito. Forse sono sfuggite "
                  "alla vostra attenzione: vi preghiamo di saldare l'importo aperto entro 7 giorni.",
        "body_2": "nonostante il nostro sollecito non abbiamo ancora ricevuto il pagamento delle fatture "
                  "seguenti. Vi preghiamo di saldare entro 7 giorni o di contattarci in caso di problemi.",
        "body_3": "nonostante i precedenti solleciti le fatture seguenti risultano ancora non pagate. Se non "
                  "riceveremo l'intero importo entro 7 giorni affideremo la pratica al recupero crediti "
                  "senza ulteriore preavviso.",
        "already_paid": "Se nel frattempo avete già provveduto al pagamento, vi preghiamo di non considerare "
                        "questa lettera.",
        "kind_invoice": "Fattura", "kind_payment": "Pagamento ricevuto", "kind_credit_note": "Nota di credito",
        "kind_refund": "Rimborso", "kind_credit_application": "Credito utilizzato",
        "regards": "Cordiali saluti,", "letter_no": "Riferimento", "total_due": "Totale dovuto",
    },
    "pl": {
        "statement": "Wyciąg z konta", "period": "Okres", "from_start": "od pierwszego dokumentu",
        "date": "Data", "document": "Dokument", "description": "Opis", "debit": "Obciążenia",
        "credit": "Wpłaty i uznania", "balance": "Saldo", "opening": "Saldo początkowe",
        "closing": "Saldo do zapłaty", "in_credit": "na Państwa korzyść", "open_items": "Nierozliczone faktury",
        "invoice": "Faktura", "issued": "Wystawiona", "due": "Termin", "days_overdue": "Dni po terminie",
        "amount": "Kwota", "open": "Do zapłaty", "total": "Razem", "customer_no": "Nr klienta", "tax_id": "NIP",
        "no_movements": "Brak operacji w tym okresie.", "pay_to": "Prosimy o wpłatę na konto", "page": "Strona",
        "reminder": "Przypomnienie o płatności", "second_reminder": "Drugie przypomnienie o płatności",
        "final_notice": "Ostateczne wezwanie do zapłaty",
        "dear": "Szanowni Państwo,",
        "body_1": "według naszych zapisów termin płatności poniższych faktur już minął. Być może umknęło to "
                  "Państwa uwadze: uprzejmie prosimy o uregulowanie należności w ciągu 7 dni.",
        "body_2": "mimo naszego przypomnienia nie otrzymaliśmy jeszcze zapłaty za poniższe faktury. Prosimy "
                  "o uregulowanie należności w ciągu 7 dni lub o kontakt w razie wątpliwości.",
        "body_3": "mimo wcześniejszych przypomnień poniższe faktury pozostają nieopłacone. Jeśli nie "
                  "otrzymamy całej kwoty w ciągu 7 dni, przekażemy sprawę do windykacji bez dalszego "
                  "zawiadomienia.",
        "already_paid": "Jeśli płatność została już dokonana, prosimy uznać to pismo za nieaktualne.",
        "kind_invoice": "Faktura", "kind_payment": "Otrzymana wpłata", "kind_credit_note": "Faktura korygująca",
        "kind_refund": "Zwrot", "kind_credit_application": "Zaliczenie nadpłaty",
        "regards": "Z poważaniem,", "letter_no": "Numer pisma", "total_due": "Razem do zapłaty",
    },
    "ru": {
        "statement": "Выписка по счёту", "period": "Период", "from_start": "с первого документа",
        "date": "Дата", "document": "Документ", "description": "Описание", "debit": "Начисления",
        "credit": "Оплаты и зачёты", "balance": "Сальдо", "opening": "Входящее сальдо",
        "closing": "К оплате", "in_credit": "в вашу пользу", "open_items": "Неоплаченные счета",
        "invoice": "Счёт", "issued": "Выставлен", "due": "Срок оплаты", "days_overdue": "Дней просрочки",
        "amount": "Сумма", "open": "Остаток", "total": "Итого", "customer_no": "Номер клиента", "tax_id": "ИНН",
        "no_movements": "За период операций нет.", "pay_to": "Реквизиты для оплаты", "page": "Страница",
        "reminder": "Напоминание об оплате", "second_reminder": "Повторное напоминание об оплате",
        "final_notice": "Последнее уведомление перед взысканием",
        "dear": "Уважаемый клиент!",
        "body_1": "По нашим данным, срок оплаты перечисленных ниже счетов истёк. Возможно, это ускользнуло "
                  "от вашего внимания: просим оплатить задолженность в течение 7 дней.",
        "body_2": "Несмотря на наше напоминание, оплата перечисленных ниже счетов не поступила. Просим "
                  "оплатить задолженность в течение 7 дней или связаться с нами, если возникли вопросы.",
        "body_3": "Несмотря на предыдущие напоминания, перечисленные ниже счета остаются неоплаченными. Если "
                  "вся сумма не поступит в течение 7 дней, мы передадим дело на взыскание без "
                  "дополнительного уведомления.",
        "already_paid": "Если вы уже произвели оплату, просим не принимать это письмо во внимание.",
        "kind_invoice": "Счёт", "kind_payment": "Поступление оплаты", "kind_credit_note": "Кредит-нота",
        "kind_refund": "Возврат средств", "kind_credit_application": "Зачёт аванса",
        "regards": "С уважением,", "letter_no": "Исх. номер", "total_due": "Итого к оплате",
    },
}

_env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))


def language_of(code: str | None) -> str:
    return code if code in TEXTS else "en"


class Formatter:
    """Numbers, dates and money in one locale."""

    def __init__(self, language: str, currency: str):
        self.locale = LOCALES[language]
        self.currency = currency

    def money(self, value: Decimal, currency: str | None = None) -> str:
        """``value`` in ``currency`` (the formatter's by default), with its minor units."""
        return format_currency(value, currency or self.currency, locale=self.locale)

    def date(self, value: dt.date | None) -> str:
        return "" if value is None else format_date(value, format="medium", locale=self.locale)

    def long_date(self, value: dt.date) -> str:
        return format_date(value, format="long", locale=self.locale)


def _address_lines(address: dict[str, Any] | None) -> list[str]:
    if not address:
        return []
    return [x for x in (address.get("line1"), address.get("line2"),
                        " ".join(p for p in (address.get("postal_code"), address.get("city")) if p),
                        address.get("country")) if x]


def _company_context(company: dict[str, Any]) -> dict[str, Any]:
    return {**company, "address_lines": [p.strip() for p in (company.get("address") or "").split(",") if p.strip()]}


def statement_html(statement: dict[str, Any], company: dict[str, Any], today: dt.date) -> str:
    c = statement["customer"]
    lang = language_of(c["language"])
    return _env.get_template("statements/statement.html").render(**{
        "t": TEXTS[lang], "lang": lang, "f": Formatter(lang, company.get("currency", "EUR")),
        "s": statement, "customer": c, "address": _address_lines(c.get("billing_address")),
        "company": _company_context(company), "today": today,
    })


def statement_pdf(statement: dict[str, Any], company: dict[str, Any], today: dt.date) -> bytes:
    return html_to_pdf(statement_html(statement, company, today), base_url=str(TEMPLATES))


def dunning_html(letter: dict[str, Any], customer: dict[str, Any], company: dict[str, Any]) -> str:
    lang = language_of(letter["language"])
    return _env.get_template("dunning/letter.html").render(**{
        "t": TEXTS[lang], "lang": lang, "f": Formatter(lang, letter.get("currency") or company.get("currency", "EUR")),
        "letter": letter, "customer": customer, "address": _address_lines(customer.get("billing_address")),
        "company": _company_context(company), "body": TEXTS[lang][f"body_{letter['level']}"],
        "title": TEXTS[lang][letter["level_name"]],
    })


def dunning_pdf(letter: dict[str, Any], customer: dict[str, Any], company: dict[str, Any]) -> bytes:
    return html_to_pdf(dunning_html(letter, customer, company), base_url=str(TEMPLATES))
