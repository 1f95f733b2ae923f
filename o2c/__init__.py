"""o2c: order-to-cash transaction processing.

Importing ``o2c`` (and so ``o2c.cli``) imports no web stack: Flask, the API
and the back office are imported by ``create_app``, and heavy libraries
(WeasyPrint, factur-x, openpyxl) only where they are used. A command such as
``o2c serve`` or ``o2c worker`` therefore starts without paying for what it
does not run.
"""
from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Any

from o2c.config import Config

if TYPE_CHECKING:
    from flask import Flask


_WEB_PARTS = ("IdConverter", "ContractApi", "SkuConverter")


@functools.cache
def _web_parts() -> dict[str, Any]:
    """The app's classes built on Flask's, made on first use."""
    from flask_smorest import Api
    from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

    class IdConverter(IntegerConverter):
        """Database ids in URLs: 1 to 2^63 − 1; anything else is simply not found."""

        def __init__(self, map: object, *args: object, **kwargs: object) -> None:  # noqa: A002
            super().__init__(map, min=1, max=2**63 - 1)

    class ContractApi(Api):
        """flask-smorest, documenting errors in the contract's shape (API.md, Errors)."""

        from o2c.schemas.api import ErrorResponse as ERROR_SCHEMA  # noqa: N811

    class SkuConverter(UnicodeConverter):
        """SKUs in URLs: the characters a SKU may have; anything else is not found."""

        pattern = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")

        def to_python(self, value: str) -> str:
            if not self.pattern.fullmatch(value):
                raise ValidationError()
            return value

    return {"IdConverter": IdConverter, "ContractApi": ContractApi, "SkuConverter": SkuConverter}


def __getattr__(name: str) -> Any:
    if name in _WEB_PARTS:
        return _web_parts()[name]
    raise AttributeError(f"module 'o2c' has no attribute {name!r}")


def create_app(config: Config | None = None) -> Flask:
    from flask import Flask, Response

    from o2c import inputs, ops, ratelimit, web
    from o2c.api import (
        aftersales, apikeys, bank, bankmatch, books, catalog, common, crm, documents, errors, events, fx,
        messages, openapi, quotes, receivables, returns, sales, tax,
    )
    from o2c.schemas import fields
    from o2c.db.engine import make_engine

    config = config or Config()
    # No /static route: the back office serves its assets under /assets.
    app = Flask(__name__, static_folder=None)
    parts = _web_parts()
    app.url_map.converters["id"] = parts["IdConverter"]
    app.url_map.converters["sku"] = parts["SkuConverter"]
    app.config.update(config.as_flask())
    app.config.update(
        API_TITLE="o2c",
        API_VERSION="v1",
        OPENAPI_VERSION=openapi.OPENAPI_VERSION,
        OPENAPI_URL_PREFIX="/api",
        OPENAPI_JSON_PATH="openapi.json",
    )
    app.extensions["o2c.engine"] = make_engine(
        config.DATABASE_URL, config.SQLITE_BUSY_TIMEOUT_MS, config.DB_POOL_SIZE)
    from o2c.services.books import fx as fx_service
    fx_service.configure(fallback_days=config.FX_RATE_FALLBACK_DAYS)

    api = parts["ContractApi"](app, spec_kwargs={"extra_plugins": [openapi.OperationDocs(app)],
                                                 "security": [{"bearer": []}]})
    api.register_field(fields.Money, "string", "decimal")
    api.register_field(fields.Rate, "string", "decimal")
    api.register_field(fields.ExchangeRate, "string", "decimal")
    openapi.init_app(app, api)
    for blp in (catalog.blp, sales.blp, documents.blp, books.blp, receivables.blp, events.blp, aftersales.blp,
                returns.blp, apikeys.blp, tax.blp, messages.blp, fx.blp, bank.blp, bankmatch.blp, crm.blp,
                quotes.blp):
        api.register_blueprint(blp)
    errors.init_app(app)  # after Api, so the contract's error shape wins
    ops.init_app(app)  # first: every answer (a 401 too) has a request id and a log line
    app.before_request(inputs.check_size)  # before anything reads the request
    app.before_request(common.authenticate_request)
    ratelimit.init_app(app)  # after authentication (limits per key), before the 401 (limits per address)
    app.before_request(common.refuse_unauthenticated)
    inputs.init_app(app)  # after authentication: bodies of strangers are not read
    web.init_app(app)  # the back-office forms, over the same services

    openapi.init_docs(app)

    @app.get("/api/ping")
    def ping() -> Response:
        """A trivial JSON endpoint: the ceiling the benchmarks compare against."""
        return Response('{"ok":true}', mimetype="application/json")

    return app
