"""API keys: shown once at creation, stored only as a SHA-256 hash.

A key is 32 random bytes, so a fast hash is the right tool (it is not a
password); lookup is by hash through a unique index.

Lifecycle: a key serves one channel (by default its name; several keys may
serve one channel), may expire, and is revoked or rotated by an
administrator. Every request reads its key's row (one indexed statement, no
transaction), so a revocation or an expiry takes effect on the next request
in every process: no process keeps a key it has not just read. The key's
``last_used_at`` is written at most once a minute, so most requests write
nothing.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, insert, or_, select, update

from o2c.db import models as m
from o2c.domain.access import ROLES, SYSTEM, Principal
from o2c.domain.errors import Conflict, Forbidden, NotFound, ValidationFailed
from o2c.domain.text import UNPRINTABLE
from o2c.services.platform import clock
from o2c.services.platform.uow import Tx, unit_of_work

api_keys = m.ApiKey.__table__

PERMISSION = "apikeys:admin"
#: ``last_used_at`` is written when it is older than this (at most once a minute per key).
TOUCH_EVERY = dt.timedelta(minutes=1)
#: The longest a rotated key may keep working beside its successor.
MAX_GRACE_MINUTES = 7 * 24 * 60
#: The back office's own channel: no key may order as the web forms.
RESERVED_CHANNELS = frozenset({"web"})

COLS = (api_keys.c.id, api_keys.c.name, api_keys.c.channel, api_keys.c.role, api_keys.c.prefix,
        api_keys.c.created_at, api_keys.c.last_used_at, api_keys.c.expires_at, api_keys.c.revoked_at)

# Built once: this runs on every API request.
_by_hash = select(api_keys.c.id, api_keys.c.name, api_keys.c.channel, api_keys.c.role, api_keys.c.last_used_at,
                  api_keys.c.expires_at, api_keys.c.revoked_at).where(api_keys.c.key_hash == bindparam("h"))
_touch = (update(api_keys).where(api_keys.c.id == bindparam("b_id"),
                                 or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < bindparam("b_before")))
          .values(last_used_at=bindparam("b_now")))


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _require_admin(principal: Principal) -> None:
    if not principal.can(PERMISSION):
        raise Forbidden(f"The {principal.role} role may not manage API keys (needs {PERMISSION}).")


def _check_label(field: str, value: str) -> str:
    value = (value or "").strip()
    if not 1 <= len(value) <= 64:
        raise ValidationFailed(f"The key's {field} must be 1 to 64 characters.", {field: ["1 to 64 characters."]})
    if UNPRINTABLE.search(value):  # the API's text rule (o2c.schemas.fields.TEXT_PATTERN)
        raise ValidationFailed(f"The key's {field} has a character that cannot be printed.",
                               {field: ["Printable characters only."]})
    return value


def status_of(row: Any, now: dt.datetime) -> str:
    """``active``, ``expiring`` (revoked at a future moment: a rotation's
    grace period), ``revoked`` or ``expired``."""
    if row.revoked_at is not None and row.revoked_at <= now:
        return "revoked"
    if row.expires_at is not None and row.expires_at <= now:
        return "expired"
    return "expiring" if row.revoked_at is not None else "active"


def _out(row: Any, now: dt.datetime) -> dict[str, Any]:
    d = {c.name: getattr(row, c.name) for c in COLS}
    d["status"] = status_of(row, now)
    return d


def _new_secret() -> tuple[str, str]:
    prefix = secrets.token_hex(4)
    return prefix, f"o2c_{prefix}_{secrets.token_urlsafe(32)}"


def _insert(tx: Tx, name: str, channel: str, role: str, expires_at: dt.datetime | None) -> tuple[int, str, str]:
    prefix, key = _new_secret()
    kid = tx.conn.execute(insert(api_keys).returning(api_keys.c.id), {
        "name": name, "channel": channel, "role": role, "prefix": prefix, "key_hash": hash_key(key),
        "created_at": tx.now, "expires_at": expires_at,
    }).scalar_one()
    return kid, prefix, key


def create_api_key(tx: Tx, name: str, role: str, channel: str | None = None, *,
                   expires_at: dt.datetime | None = None,
                   principal: Principal = SYSTEM) -> tuple[dict[str, Any], str]:
    """A new key for ``channel`` (default: its name). Returns the key's
    record and the key itself, which is shown this once."""
    _require_admin(principal)
    name = _check_label("name", name)
    channel = _check_label("channel", name if channel is None or not channel.strip() else channel)
    if role not in ROLES:
        raise ValidationFailed(f"Unknown role “{role}”.", {"role": [f"One of {', '.join(ROLES)}."]})
    if channel in RESERVED_CHANNELS:
        raise ValidationFailed(f"The channel “{channel}” is the back office's own.",
                               {"channel": ["Choose another channel."]})
    if expires_at is not None and expires_at <= tx.now:
        raise ValidationFailed("The expiry must be in the future.", {"expires_at": ["A moment in the future."]})
    live = or_(api_keys.c.revoked_at.is_(None), api_keys.c.revoked_at > tx.now)
    if tx.conn.execute(select(api_keys.c.id).where(api_keys.c.name == name, live).limit(1)).scalar() is not None:
        raise Conflict(f"An API key named “{name}” exists already: rotate it, or revoke it first.",
                       {"name": name})
    kid, prefix, key = _insert(tx, name, channel, role, expires_at)
    tx.audit("api_key.created", "api_key", kid, None,
             {"name": name, "channel": channel, "role": role, "prefix": prefix,
              "expires_at": expires_at.isoformat() if expires_at else None})
    return get_api_key(tx, principal, kid), key


def _load(tx: Tx, key_id: int, *, lock: bool = False) -> Any:
    q = select(*COLS).where(api_keys.c.id == key_id)
    row = tx.conn.execute(q.with_for_update() if lock else q).first()
    if row is None:
        raise NotFound(f"API key {key_id} not found.")
    return row


def get_api_key(tx: Tx, principal: Principal, key_id: int) -> dict[str, Any]:
    _require_admin(principal)
    return _out(_load(tx, key_id), tx.now)


def list_api_keys(tx: Tx, principal: Principal, cursor: int | None = None,
                  limit: int = 100) -> tuple[list[dict[str, Any]], int | None]:
    """Every key, oldest first (revoked ones too: they explain the audit trail)."""
    _require_admin(principal)
    q = select(*COLS).order_by(api_keys.c.id).limit(limit + 1)
    if cursor is not None:
        q = q.where(api_keys.c.id > cursor)
    rows = tx.conn.execute(q).all()
    items = [_out(r, tx.now) for r in rows[:limit]]
    return items, (items[-1]["id"] if len(rows) > limit else None)


def revoke_api_key(tx: Tx, principal: Principal, key_id: int) -> dict[str, Any]:
    """From now on the key is refused, in every process."""
    _require_admin(principal)
    row = _load(tx, key_id, lock=True)
    if status_of(row, tx.now) == "revoked":
        raise Conflict(f"API key {key_id} is revoked already.", {"revoked_at": row.revoked_at.isoformat()})
    tx.conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=tx.now))
    tx.audit("api_key.revoked", "api_key", key_id,
             {"revoked_at": row.revoked_at.isoformat() if row.revoked_at else None},
             {"name": row.name, "channel": row.channel, "prefix": row.prefix, "revoked_at": tx.now.isoformat()})
    return get_api_key(tx, principal, key_id)


def rotate_api_key(tx: Tx, principal: Principal, key_id: int,
                   grace_minutes: int = 0) -> tuple[dict[str, Any], str]:
    """A new key with the same name, channel, role and expiry; the old one is
    revoked now, or after ``grace_minutes`` (both work meanwhile). Returns the
    new key's record and the key, shown this once."""
    _require_admin(principal)
    if not isinstance(grace_minutes, int) or not 0 <= grace_minutes <= MAX_GRACE_MINUTES:
        raise ValidationFailed(f"The grace period is 0 to {MAX_GRACE_MINUTES} minutes.",
                               {"grace_minutes": [f"0 to {MAX_GRACE_MINUTES}."]})
    old = _load(tx, key_id, lock=True)
    state = status_of(old, tx.now)
    if state in ("revoked", "expired"):
        raise Conflict(f"API key {key_id} is {state}: create a new key instead.", {"status": state})
    kid, prefix, key = _insert(tx, old.name, old.channel, old.role, old.expires_at)
    until = tx.now + dt.timedelta(minutes=grace_minutes)
    if old.revoked_at is None or old.revoked_at > until:
        tx.conn.execute(update(api_keys).where(api_keys.c.id == key_id).values(revoked_at=until))
    tx.audit("api_key.rotated", "api_key", key_id, {"prefix": old.prefix},
             {"name": old.name, "channel": old.channel, "role": old.role, "replaced_by": kid, "prefix": prefix,
              "old_key_revoked_at": until.isoformat()})
    return get_api_key(tx, principal, kid), key


# -- every request ----------------------------------------------------------------

@contextmanager
def _single_read(engine: Engine) -> Iterator[Connection]:
    """A connection for one read statement outside a transaction: no BEGIN
    or COMMIT round trip, nothing held open. On SQLite the engine emits no
    BEGIN (``sqlite_begin="NONE"``); PostgreSQL runs in autocommit."""
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            yield conn.execution_options(sqlite_begin="NONE")
        else:
            yield conn.execution_options(isolation_level="AUTOCOMMIT")


def authenticate(engine: Engine, key: str) -> Principal | None:
    """The key's principal, or ``None`` for an unknown, revoked or expired
    key. One indexed read; a write only when ``last_used_at`` is over a
    minute old."""
    if not key.isascii() or len(key) > 200:
        return None
    with _single_read(engine) as conn:
        row = conn.execute(_by_hash, {"h": hash_key(key)}).first()
    if row is None:
        return None
    now = clock.now()
    if status_of(row, now) in ("revoked", "expired"):
        return None
    if row.last_used_at is None or row.last_used_at < now - TOUCH_EVERY:
        with unit_of_work(engine, f"api_key:{row.name}") as tx:
            tx.conn.execute(_touch, {"b_id": row.id, "b_before": now - TOUCH_EVERY, "b_now": now})
    return Principal("api_key", row.id, row.name, row.role, row.channel)
