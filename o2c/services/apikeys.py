"""API keys: shown once at creation, stored only as a SHA-256 hash.

A key is 32 random bytes, so a fast hash is the right tool (it is not a
password); lookup is by hash through a unique index."""
from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import insert, select

from o2c.db import models as m
from o2c.domain.access import ROLES, Principal
from o2c.domain.errors import Conflict, ValidationFailed
from o2c.services.uow import Tx

api_keys = m.ApiKey.__table__


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(tx: Tx, name: str, role: str) -> tuple[dict[str, Any], str]:
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role “{role}”.", {"role": [f"One of {', '.join(ROLES)}."]})
    if tx.conn.execute(select(api_keys.c.id).where(api_keys.c.name == name)).scalar() is not None:
        raise Conflict(f"An API key named “{name}” exists already.")
    prefix = secrets.token_hex(4)
    key = f"o2c_{prefix}_{secrets.token_urlsafe(32)}"
    kid = tx.conn.execute(insert(api_keys).returning(api_keys.c.id), {
        "name": name, "role": role, "prefix": prefix, "key_hash": hash_key(key), "created_at": tx.now,
    }).scalar_one()
    tx.audit("api_key.created", "api_key", kid, None, {"name": name, "role": role, "prefix": prefix})
    return {"id": kid, "name": name, "role": role, "prefix": prefix}, key


def authenticate(tx: Tx, key: str) -> Principal | None:
    row = tx.conn.execute(
        select(api_keys.c.id, api_keys.c.name, api_keys.c.role)
        .where(api_keys.c.key_hash == hash_key(key), api_keys.c.revoked_at.is_(None))
    ).first()
    return Principal("api_key", row.id, row.name, row.role) if row else None
