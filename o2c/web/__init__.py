"""The back office: server-rendered forms for clerks and accountants over the
same services as the JSON API. Signed-in users only (Flask-Login sessions),
CSRF on every form, nothing fetched from elsewhere at run time."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from flask import Flask, g, render_template, request
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect
from markupsafe import Markup, escape
from werkzeug.exceptions import HTTPException

from o2c.domain.access import Principal
from o2c.domain.currencies import ISO_4217
from o2c.domain.errors import DomainError, NotFound
from o2c.domain.fx import FUNCTIONAL_CURRENCY
from o2c.schemas.fields import rate_text
from o2c.web.core import bp, can, engine, field_label, language_options, new_token, wants_json

csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "web.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"

SAFE_METHODS = ("GET", "HEAD", "OPTIONS", "TRACE")


class WebUser(UserMixin):
    """The signed-in user for Flask-Login; its id changes with the password."""

    def __init__(self, sid: str, principal: Principal):
        self.id = sid
        self.principal = principal

    @property
    def username(self) -> str:
        return self.principal.name

    @property
    def role(self) -> str:
        return self.principal.role


@login_manager.user_loader
def _load_user(sid: str) -> WebUser | None:
    from o2c.services.platform import users
    from o2c.services.platform.uow import unit_of_work
    with unit_of_work(engine(), "auth", readonly=True) as tx:
        p = users.principal_for_session(tx, sid)
    return WebUser(sid, p) if p else None


# -- filters -----------------------------------------------------------------------

def money(value: Any, currency: str | None = None) -> str:
    """``1,234.50 EUR``; with its currency, an amount has that currency's
    decimals (``14,896 JPY``)."""
    if value is None or value == "":
        return ""
    places = ISO_4217.get(currency or "", 2)
    v = Decimal(value).quantize(Decimal(1).scaleb(-places))
    text = f"{v:,.{places}f}"
    return f"{text} {currency}" if currency else text


def amount(value: Any, currency: str | None = None, name_foreign: bool = False) -> str:
    """An amount in a column whose currency is stated elsewhere: that
    currency's decimals (``14,896`` for yen), without its code — or, with
    ``name_foreign``, with it where it is not the functional currency (lists
    mixing currencies: ``975.95 PLN`` beside ``57.34``)."""
    if value is None or value == "":
        return ""
    text = money(value, currency)
    if currency and not (name_foreign and currency != FUNCTIONAL_CURRENCY):
        text = text.removesuffix(f" {currency}")
    return text


def rate(value: Any) -> str:
    if value is None:
        return ""
    return f"{(Decimal(value) * 100).normalize():f} %"


def day(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d")
    return value.isoformat() if isinstance(value, dt.date) else str(value)


def moment(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%d %H:%M")
    return str(value)


def label(value: Any) -> str:
    """``partially_shipped`` → ``partially shipped``."""
    return "" if value is None else str(value).replace("_", " ")


def badge(value: Any) -> Markup:
    return Markup('<span class="badge badge-{0}">{1}</span>').format(escape(str(value)), label(value))


def attrs(values: dict[str, Any]) -> Markup:
    """HTML attributes: ``True`` as a bare attribute, ``False`` and ``None`` left out."""
    out = []
    for k, v in values.items():
        if v is None or v is False:
            continue
        out.append(Markup(" {0}").format(k) if v is True else Markup(' {0}="{1}"').format(k, v))
    return Markup("").join(out)


def init_app(app: Flask) -> None:
    cfg = app.config["O2C"]
    app.config.update(
        PERMANENT_SESSION_LIFETIME=dt.timedelta(hours=cfg.SESSION_HOURS),
        SESSION_COOKIE_NAME="o2c_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=cfg.SESSION_COOKIE_SECURE,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SECURE=cfg.SESSION_COOKIE_SECURE,
        # CSRF is checked below for the forms only: the JSON API authenticates
        # every request with a Bearer key and carries no cookies.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,  # a token lives as long as the session it belongs to
    )
    csrf.init_app(app)
    login_manager.init_app(app)

    @app.before_request
    def _csrf() -> None:
        if request.method not in SAFE_METHODS and not request.path.startswith("/api/"):
            csrf.protect()

    from o2c.web import (  # noqa: F401  (routes register on bp)
        aftersales,
        apikeys,
        auth,
        bank,
        bank_accounts,
        bankwork,
        books,
        catalog,
        crm,
        fx,
        jobs,
        lookups,
        outbox,
        quotes,
        receivables,
        returns,
        revaluation,
        sales,
        settings,
        tax_reports,
        webhooks,
    )
    from o2c.web.audit import describe
    from o2c.web.nav import navigation
    app.register_blueprint(bp)
    app.register_blueprint(crm.public)  # the satisfaction page: public, behind a secret link
    from o2c.web.quote_links import public
    app.register_blueprint(public)  # the quotation's acceptance pages: public, behind a secret link

    app.jinja_env.filters.update(money=money, amount=amount, rate=rate, fxrate=rate_text, day=day, moment=moment,
                                 label=label, badge=badge, attrs=attrs, audit_words=describe)
    # Globals (not context): imported macros see them too.
    app.jinja_env.globals.update(can=can, navigation=navigation, new_token=new_token, field_label=field_label,
                                 language_options=language_options)


@bp.before_request
def _signed_in() -> Any:
    if request.endpoint in ("web.login", "web.static"):
        return None
    if not current_user.is_authenticated:
        if wants_json():
            return _json_error(401, "unauthorized", "Signed out: sign in again and retry.")
        return login_manager.unauthorized()
    g.principal = current_user.principal  # the request log names the user
    return None


def _json_error(status: int, code: str, message: str) -> Any:
    from o2c.api.errors import error_response
    return error_response(status, code, message)


def _error_page(status: int, title: str, message: str) -> Any:
    if wants_json():
        codes = {400: "bad_request", 403: "forbidden", 404: "not_found", 409: "conflict"}
        return _json_error(status, codes.get(status, "error"), message)
    return render_template("web/error.html", status=status, title=title, message=message), status


@bp.app_errorhandler(CSRFError)
def _csrf_error(exc: CSRFError) -> Any:
    if request.path.startswith("/api/"):
        return exc
    if wants_json():
        return _json_error(400, "csrf_failed", "The form has expired: reload the page and try again.")
    return _error_page(400, "The form has expired",
                       "The page was open too long or you signed in again elsewhere. "
                       "Go back, reload the page and submit the form again.")


@bp.app_errorhandler(404)
def _no_such_page(exc: HTTPException) -> Any:
    """Unknown paths: the back office's page, or the contract's JSON under /api."""
    if request.path.startswith("/api"):
        from o2c.api.errors import error_response
        return error_response(404, "not_found", exc.description or "Not found.")
    return _error_page(404, "Not found", "There is no such page.")


@bp.errorhandler(NotFound)
def _not_found(exc: NotFound) -> Any:
    return _error_page(404, "Not found", exc.message)


@bp.errorhandler(DomainError)
def _domain_error(exc: DomainError) -> Any:
    return _error_page(409, "Not possible", exc.message)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    if exc.code == 403:
        role, perm = g.get("forbidden", (getattr(current_user, "role", "?"), "?"))
        return _error_page(403, "Not allowed", f"The {role} role may not do this (it needs {perm}).")
    if exc.code == 404:
        return _error_page(404, "Not found", "There is no such page.")
    return _error_page(exc.code or 500, exc.name, exc.description or "")
