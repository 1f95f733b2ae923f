"""Back-office users: created from the command line, signed in through the
web forms. Passwords are kept only as salted scrypt hashes; five failures in
a row lock the account for fifteen minutes."""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import hmac
from typing import Any, NamedTuple

from sqlalchemy import insert, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Conflict, ValidationFailed
from o2c.services.platform.uow import Tx

users = m.User.__table__

WEB_ROLES = ("clerk", "accountant", "admin")
MIN_PASSWORD_LENGTH = 8
MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
HASH_METHOD = "scrypt"

@functools.cache
def _dummy_hash() -> str:
    """Checked against when the user name is unknown, so a wrong name costs as
    much time as a wrong password and does not reveal which names exist. Made
    on first use: a scrypt hash costs a tenth of a second that every process
    paid at import, before it could answer anything."""
    return generate_password_hash("not a password of anyone", method=HASH_METHOD)


class SignIn(NamedTuple):
    """The outcome of a sign-in attempt: the principal, or why not."""

    principal: Principal | None
    session_id: str | None
    refusal: str | None


def session_id(user_id: int, password_hash: str) -> str:
    """The id a session remembers: it changes with the password, so changing a
    password ends every session signed in with the old one."""
    return f"{user_id}:{hashlib.sha256(password_hash.encode()).hexdigest()[:16]}"


def _check_new(username: str, password: str, role: str) -> None:
    errors: dict[str, list[str]] = {}
    if not (1 <= len(username) <= 64) or not username.isprintable() or username != username.strip():
        errors["username"] = ["1 to 64 printable characters, no leading or trailing spaces."]
    if len(password) < MIN_PASSWORD_LENGTH:
        errors["password"] = [f"At least {MIN_PASSWORD_LENGTH} characters."]
    if role not in WEB_ROLES:
        errors["role"] = [f"One of {', '.join(WEB_ROLES)}."]
    if errors:
        raise ValidationFailed("The user cannot be created: " + "; ".join(
            f"{k}: {v[0]}" for k, v in errors.items()), errors)


def create_user(tx: Tx, username: str, password: str, role: str) -> dict[str, Any]:
    _check_new(username, password, role)
    if tx.conn.execute(select(users.c.id).where(users.c.username == username)).scalar() is not None:
        raise Conflict(f"A user named “{username}” exists already.", {"username": username})
    uid = tx.conn.execute(insert(users).returning(users.c.id), {
        "username": username, "password_hash": generate_password_hash(password, method=HASH_METHOD),
        "role": role, "active": True, "failed_logins": 0, "created_at": tx.now,
    }).scalar_one()
    tx.audit("user.created", "user", uid, None, {"username": username, "role": role})
    return {"id": uid, "username": username, "role": role, "active": True}


def user_exists(tx: Tx, username: str) -> bool:
    return tx.conn.execute(select(users.c.id).where(users.c.username == username)).scalar() is not None


def sign_in(tx: Tx, username: str, password: str) -> SignIn:
    """Check a user name and password. Failures are counted in this
    transaction, so the caller must let it commit even when refusing."""
    row = tx.conn.execute(
        select(users.c.id, users.c.username, users.c.password_hash, users.c.role, users.c.active,
               users.c.locked_until).where(users.c.username == username).with_for_update()
    ).first()
    refused = SignIn(None, None, "Wrong user name or password.")
    if row is None or not row.active:
        check_password_hash(_dummy_hash(), password)
        return refused
    if row.locked_until is not None and row.locked_until > tx.now:
        minutes = max(1, int((row.locked_until - tx.now).total_seconds() // 60) + 1)
        return SignIn(None, None, f"Too many failed attempts: this account is locked for {minutes} more "
                                  f"minute{'s' if minutes != 1 else ''}.")
    if not check_password_hash(row.password_hash, password):
        failed = tx.conn.execute(
            update(users).where(users.c.id == row.id).values(failed_logins=users.c.failed_logins + 1)
            .returning(users.c.failed_logins)
        ).scalar_one()
        if failed >= MAX_FAILED_LOGINS:
            tx.conn.execute(update(users).where(users.c.id == row.id)
                            .values(failed_logins=0, locked_until=tx.now + LOCKOUT))
            tx.audit("user.locked", "user", row.id, None, {"until": (tx.now + LOCKOUT).isoformat()})
            minutes = int(LOCKOUT.total_seconds() // 60)
            return SignIn(None, None, f"Too many failed attempts: this account is locked for {minutes} minutes.")
        return refused
    tx.conn.execute(update(users).where(users.c.id == row.id)
                    .values(failed_logins=0, locked_until=None, last_login_at=tx.now))
    return SignIn(Principal("user", row.id, row.username, row.role), session_id(row.id, row.password_hash), None)


def principal_for_session(tx: Tx, sid: str) -> Principal | None:
    """The signed-in user behind a session id, if still active with the same password."""
    uid, _, _ = sid.partition(":")
    if not (uid.isascii() and uid.isdigit()) or not 1 <= int(uid) <= 2**63 - 1:
        return None
    row = tx.conn.execute(
        select(users.c.id, users.c.username, users.c.password_hash, users.c.role, users.c.active)
        .where(users.c.id == int(uid))
    ).first()
    if row is None or not row.active or not hmac.compare_digest(session_id(row.id, row.password_hash), sid):
        return None
    return Principal("user", row.id, row.username, row.role)


def set_password(tx: Tx, username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(f"A password has at least {MIN_PASSWORD_LENGTH} characters.",
                               {"password": [f"At least {MIN_PASSWORD_LENGTH} characters."]})
    uid = tx.conn.execute(
        update(users).where(users.c.username == username)
        .values(password_hash=generate_password_hash(password, method=HASH_METHOD), failed_logins=0,
                locked_until=None).returning(users.c.id)
    ).scalar()
    if uid is None:
        raise ValidationFailed(f"No user named “{username}”.", {"username": ["Unknown user."]})
    tx.audit("user.password_changed", "user", uid, None, None)
