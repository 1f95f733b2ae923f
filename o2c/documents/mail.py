"""E-mails as the customer reads them: subject, plain text and HTML from
``templates/mail/<template>/{subject.txt,body.txt,body.html}``, in the
customer's language (the same gettext catalogs as the documents, Babel for
money and dates)."""
from __future__ import annotations

import functools
import re
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from o2c.documents.i18n import ROOT, formats, translations

MAIL_TEMPLATES = ROOT / "templates" / "mail"
_BREAKS = re.compile(r"[\r\n\t\v\f\x00-\x1f\x7f\u2028\u2029\x85]+")


def one_line(value: str, limit: int = 900) -> str:
    """A header value: line breaks and control characters become one space,
    so nothing a customer's name or a subject holds can start a new header."""
    return " ".join(_BREAKS.sub(" ", value).split())[:limit]


@functools.cache
def environment(lang: str) -> Environment:
    env = Environment(loader=FileSystemLoader(str(MAIL_TEMPLATES)), undefined=StrictUndefined,
                      autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
                      extensions=["jinja2.ext.i18n"], auto_reload=False, keep_trailing_newline=True)
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    f = formats(lang)
    env.filters.update(money=f.money, amount=f.amount, percent=f.percent, date=f.date)
    return env


def template_exists(template: str) -> bool:
    return all((MAIL_TEMPLATES / template / part).is_file() for part in ("subject.txt", "body.txt", "body.html"))


def render_mail(template: str, lang: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """``(subject, text, html)`` of a mail template in ``lang``."""
    env = environment(lang)
    context = {"language": lang, **context}
    subject = one_line(env.get_template(f"{template}/subject.txt").render(**context))
    text = env.get_template(f"{template}/body.txt").render(**context).strip() + "\n"
    html = env.get_template(f"{template}/body.html").render(**context)
    return subject, text, html
