"""API keys, for administrators: list, create (the key shown once), revoke
and rotate. The same services as ``o2c api-keys`` and the back office."""
from __future__ import annotations

from typing import Any

from flask_smorest import Blueprint

from o2c.api.common import int_cursor, mutate, page, principal, read, requires
from o2c.schemas import api as s
from o2c.services.platform import apikeys
from o2c.services.platform.uow import Tx

blp = Blueprint("apikeys", __name__, url_prefix="/api/v1",
                description="API keys: created, revoked and rotated by administrators")

PERMISSION = apikeys.PERMISSION
KEY = s.ApiKeyOut()


class _Secret:
    """The new key, held only in memory between the service call and the
    answer: the idempotency record stores the answer without it, so a replay
    says ``key: null`` instead of keeping a secret in the database."""

    def __init__(self) -> None:
        self.key: str | None = None

    def keep(self, result: tuple[dict[str, Any], str]) -> dict[str, Any]:
        record, self.key = result
        return record

    def reveal(self, tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
        return {**body, "key": self.key}


@blp.route("/api-keys", methods=["GET"])
@requires(PERMISSION)
@blp.arguments(s.ApiKeyListArgs, location="query")
@blp.response(200, s.ApiKeyPage)
def list_api_keys(args: dict[str, Any]) -> Any:
    """Every key, oldest first, revoked ones too (never the keys themselves)."""
    return page(lambda tx: apikeys.list_api_keys(tx, principal(), int_cursor(args), args["limit"]), s.ApiKeyPage())


@blp.route("/api-keys", methods=["POST"])
@requires(PERMISSION)
@blp.arguments(s.ApiKeyIn)
@blp.response(201, s.ApiKeyWithSecret)
@blp.alt_response(409, schema=s.ErrorResponse, description="a live key has this name already")
def create_api_key(data: dict[str, Any]) -> Any:
    """Create a key. The answer holds the ``key``: it is shown only here."""
    secret = _Secret()
    return mutate(lambda tx: secret.keep(apikeys.create_api_key(
        tx, data["name"], data["role"], data.get("channel"), expires_at=data.get("expires_at"),
        principal=principal())), KEY, 201, reveal=secret.reveal)


@blp.route("/api-keys/<id:key_id>", methods=["GET"])
@requires(PERMISSION)
@blp.response(200, s.ApiKeyOut)
def get_api_key(key_id: int) -> Any:
    """One key: its name, channel, role, status and when it was last used (never the key itself)."""
    return read(lambda tx: apikeys.get_api_key(tx, principal(), key_id), KEY)


@blp.route("/api-keys/<id:key_id>/revoke", methods=["POST"])
@requires(PERMISSION)
@blp.response(200, s.ApiKeyOut)
@blp.alt_response(409, schema=s.ErrorResponse, description="revoked already")
def revoke_api_key(key_id: int) -> Any:
    """Revoke a key: refused from the next request on, in every process."""
    return mutate(lambda tx: apikeys.revoke_api_key(tx, principal(), key_id), KEY)


@blp.route("/api-keys/<id:key_id>/rotate", methods=["POST"])
@requires(PERMISSION)
@blp.arguments(s.ApiKeyRotateIn)
@blp.response(201, s.ApiKeyWithSecret)
@blp.alt_response(409, schema=s.ErrorResponse, description="the key is revoked or expired")
def rotate_api_key(data: dict[str, Any], key_id: int) -> Any:
    """A new key with the same name, channel, role and expiry (its ``key``
    shown only here); the old key is revoked now, or after
    ``grace_minutes``."""
    secret = _Secret()
    return mutate(lambda tx: secret.keep(apikeys.rotate_api_key(tx, principal(), key_id, data["grace_minutes"])),
                  KEY, 201, reveal=secret.reveal)
