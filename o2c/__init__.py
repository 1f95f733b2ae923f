"""o2c: order-to-cash transaction processing."""
from __future__ import annotations

import re
from typing import Any

from flask import Flask, Response
from flask_smorest import Api
from werkzeug.routing import IntegerConverter, UnicodeConverter, ValidationError

from o2c.config import Config


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


def create_app(config: Config | None = None) -> Flask:
    from o2c import inputs, ops, web
    from o2c.api import (
        aftersales, books, catalog, common, documents, errors, events, openapi, receivables, returns, sales,
    )
    from o2c.schemas import fields
    from o2c.db.engine import make_engine

    config = config or Config()
    # No /static route: the back office serves its assets under /assets.
    app = Flask(__name__, static_folder=None)
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["sku"] = SkuConverter
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

    api = ContractApi(app, spec_kwargs={"extra_plugins": [openapi.OperationDocs(app)],
                                        "security": [{"bearer": []}]})
    api.register_field(fields.Money, "string", "decimal")
    api.register_field(fields.Rate, "string", "decimal")
    openapi.init_app(app, api)
    for blp in (catalog.blp, sales.blp, documents.blp, books.blp, receivables.blp, events.blp, aftersales.blp,
                returns.blp):
        api.register_blueprint(blp)
    errors.init_app(app)  # after Api, so the contract's error shape wins
    app.before_request(common.authenticate_request)
    inputs.init_app(app)  # after authentication: bodies of strangers are not read
    ops.init_app(app)
    web.init_app(app)  # the back-office forms, over the same services

    openapi.init_docs(app)

    @app.get("/api/ping")
    def ping() -> Response:
        """A trivial JSON endpoint: the ceiling the benchmarks compare against."""
        return Response('{"ok":true}', mimetype="application/json")

    return app
