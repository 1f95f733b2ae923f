"""What every back-office page shares: the blueprint, the signed-in user and
the permission check, reading in a transaction, and submitting a form as one
service call at most once per form token.

Forms are validated by the same marshmallow schemas as the JSON API and
handled by the same services: a view only turns form fields into a service
call and the outcome into a redirect, or into the form again with the errors
next to the fields and the entered values kept.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import secrets
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from flask import Blueprint, Response, abort, current_app, flash, g, redirect, request, url_for
from flask_login import current_user
from marshmallow import Schema, ValidationError
from sqlalchemy import Engine

from o2c.api.errors import domain_outcome
from o2c.domain.access import Principal
from o2c.domain.errors import DomainError
from o2c.services.platform import idempotency
from o2c.services.platform.uow import Tx, unit_of_work

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static",
               static_url_path="/assets")


def engine() -> Engine:
    return current_app.extensions["o2c.engine"]


def principal() -> Principal:
    """The signed-in user as the services know callers (channel ``web``)."""
    return current_user.principal  # type: ignore[no-any-return]


def can(permission: str) -> bool:
    return bool(current_user.is_authenticated and principal().can(permission))


def requires(*permissions: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The signed-in user's role must have every one of ``permissions`` (403 otherwise)."""
    def deco(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            missing = [p for p in permissions if not can(p)]
            if missing:
                g.forbidden = (principal().role, missing[0])
                abort(403)
            return fn(*args, **kwargs)
        wrapper.permissions = permissions  # type: ignore[attr-defined]
        return wrapper
    return deco


#: Endpoints a page's script calls: JSON in and out, refusals in the API's
#: error shape (401 when signed out, 403, 400 for a missing CSRF token).
JSON_ENDPOINTS: set[str] = set()


def json_view(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Mark a view as one of the ``JSON_ENDPOINTS`` (apply above ``bp.route``)."""
    JSON_ENDPOINTS.add(f"{bp.name}.{fn.__name__}")
    return fn


def wants_json() -> bool:
    return request.endpoint in JSON_ENDPOINTS


def read(fn: Callable[[Tx], Any]) -> Any:
    """Run read-only work in one transaction (a consistent snapshot)."""
    with unit_of_work(engine(), principal().actor, readonly=True) as tx:
        return fn(tx)


# -- forms -----------------------------------------------------------------------

_LANGUAGE_NAMES = {"en": "English", "it": "Italiano", "pl": "Polski", "ru": "Русский", "de": "Deutsch",
                   "fr": "Français", "es": "Español"}


def language_options() -> list[tuple[str, str]]:
    from o2c.schemas.api import LANGUAGES
    return [(code, _LANGUAGE_NAMES.get(code, code)) for code in LANGUAGES]


def new_token() -> str:
    return secrets.token_urlsafe(18)


@dataclass
class Problem:
    """Why a submission was refused: the contract's error code, a message,
    details, and the field errors to show next to the fields."""

    code: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def items(self) -> list[str]:
        return explain(self.code, self.details)

    @property
    def status(self) -> int:
        """What the form is answered with again: 422 for input the fields
        refuse, 409 for a refusal of the business rules."""
        return 422 if self.code == "validation_error" else 409


@dataclass
class Form:
    """A form's values (flat, dotted names), its errors and its token."""

    values: dict[str, str] = field(default_factory=dict)
    problem: Problem | None = None
    token: str = field(default_factory=new_token)

    def value(self, name: str, default: Any = "") -> Any:
        v = self.values.get(name)
        return default if v is None else v

    def error(self, name: str) -> str | None:
        return self.problem.fields.get(name) if self.problem else None

    @property
    def errors(self) -> dict[str, str]:
        return self.problem.fields if self.problem else {}

    @classmethod
    def posted(cls) -> Form:
        """The submitted values (tokens aside), with a fresh token for the next try."""
        # The last value of a name wins: a checkbox follows its hidden "unchecked" twin.
        return cls({k: v[-1] for k, v in request.form.to_dict(flat=False).items()
                    if k not in ("csrf_token", "form_token")})


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, str]:
    """Nested marshmallow or service field errors to ``{"lines.0.sku": "…"}``."""
    out: dict[str, str] = {}
    if isinstance(messages, Mapping):
        for k, v in messages.items():
            name = prefix if k == "_schema" else (f"{prefix}.{k}" if prefix else str(k))
            for key, msg in flatten_errors(v, name).items():
                out.setdefault(key, msg)
    elif isinstance(messages, (list, tuple)):
        if messages and all(isinstance(m, str) for m in messages):
            out[prefix or "_form"] = " ".join(messages)
        else:
            for i, v in enumerate(messages):
                out.update(flatten_errors(v, f"{prefix}.{i}" if prefix else str(i)))
    elif messages is not None:
        out[prefix or "_form"] = str(messages)
    return out


def load(schema: Schema, data: dict[str, Any]) -> tuple[dict[str, Any] | None, Problem | None]:
    """Validate with an API schema; field errors keyed by dotted form names."""
    try:
        return schema.load(data), None
    except ValidationError as exc:
        fields = {k: "Required." if v.startswith("Length must be between 1 ") and blank(_value_at(data, k))
                  else _PLAIN.get(v, v) for k, v in flatten_errors(exc.messages).items()}
        return None, Problem("validation_error", "Please correct the fields marked below.", {}, fields)


def _value_at(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and ascii_digits(part) and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


_PLAIN = {"Missing data for required field.": "Required.", "Field may not be null.": "Required.",
          "Not a valid integer.": "Enter a whole number.", "Not a valid date.": "Enter a date as YYYY-MM-DD."}


def explain(code: str, details: Mapping[str, Any]) -> list[str]:
    """The details of a refusal, as lines a clerk can act on."""
    items: list[str] = []
    if code == "out_of_stock":
        for l in details.get("lines", []):
            short = int(l["requested"]) - int(l["available"])
            items.append(f"{l['sku']}: {l['requested']} requested, {l['available']} available — {short} short")
    elif code == "credit_limit_exceeded":
        items.append(f"Credit limit {details.get('credit_limit')}, open exposure {details.get('exposure')}, "
                     f"this order {details.get('order_total')}")
    elif code == "period_closed" and details.get("period"):
        items.append(f"Period {details['period']} is closed.")
    for l in details.get("lines", []) if code == "conflict" else []:
        if "open" in l:
            items.append(f"{l['sku']}: {l['requested']} requested, {l['open']} open to pack")
    for a in details.get("allocations", []) if code == "conflict" else []:
        if isinstance(a, Mapping):
            items.append(f"{a.get('number')}: {a.get('requested')} requested, balance due {a.get('balance_due')}")
    return items


def _fingerprint() -> str:
    form = sorted((k, v) for k, v in request.form.items(multi=True) if k not in ("csrf_token", "form_token"))
    return idempotency.request_fingerprint("POST", request.path, json.dumps(form).encode())


def submit(work: Callable[[Tx], tuple[str, str]]) -> Response | Problem:
    """Run ``work`` (one service call, returning where to go next and what to
    say) in one transaction, at most once per form token: a double submit
    replays the first outcome instead of creating a second document."""
    p = principal()
    key = request.form.get("form_token") or None
    if key is not None and not (8 <= len(key) <= 64 and key.isascii() and key.isprintable()):
        key = None

    def run(tx: Tx) -> tuple[int, str]:
        url, message = work(tx)
        return 303, json.dumps({"url": url, "message": message})

    status, body = idempotency.run(engine(), p.actor, f"{p.kind}:{p.id}", key, _fingerprint(), run, domain_outcome)
    data = json.loads(body)
    if "error" in data:
        err = data["error"]
        if err["code"] == "idempotency_key_reused":
            return Problem(err["code"], "This form was already submitted with other values. "
                                        "Check the values below and submit again.")
        return Problem(err["code"], err["message"], err.get("details") or {},
                       flatten_errors((err.get("details") or {}).get("fields")))
    flash(data["message"], "success")
    return redirect(data["url"], 303)


def flash_problem(problem: Problem) -> None:
    flash({"message": problem.message, "items": problem.items + list(problem.fields.values())}, "error")


def back_to(url: str, outcome: Response | Problem) -> Response:
    """For buttons: a refusal is flashed and the user goes back to ``url``."""
    if isinstance(outcome, Problem):
        flash_problem(outcome)
        return redirect(url, 303)
    return outcome


# -- turning form fields into service input -----------------------------------------

def unflatten(values: Mapping[str, str], prefix: str) -> dict[str, str]:
    """``{"billing_address.city": "Roma"}`` → ``{"city": "Roma"}`` for prefix ``billing_address``."""
    start = prefix + "."
    return {k[len(start):]: v for k, v in values.items() if k.startswith(start)}


def rows(values: Mapping[str, str], prefix: str) -> list[tuple[int, dict[str, str]]]:
    """Numbered rows (``lines.0.sku``, ``lines.0.quantity``, …) in order."""
    found: dict[int, dict[str, str]] = {}
    for k, v in values.items():
        parts = k.split(".")
        if len(parts) == 3 and parts[0] == prefix and ascii_digits(parts[1]) and len(parts[1]) < 5:
            found.setdefault(int(parts[1]), {})[parts[2]] = v
    return sorted(found.items())


def renumber_rows(fields: dict[str, str], index: list[int]) -> dict[str, str]:
    """Errors on the n-th filled row (``lines.n.…``, as the schema numbers them) →
    the form row it came from (``index[n]``): empty rows are skipped before validating."""
    out = {}
    for k, msg in fields.items():
        parts = k.split(".")
        if len(parts) >= 2 and parts[0] == "lines" and ascii_digits(parts[1]) and int(parts[1]) < len(index):
            parts[1] = str(index[int(parts[1])])
        out[".".join(parts)] = msg
    return out


def ascii_digits(text: str) -> bool:
    """Only 0-9: ``str.isdigit`` also admits ``²`` and other digits ``int`` refuses."""
    return text.isascii() and text.isdigit()


def blank(v: Any) -> bool:
    return v is None or (isinstance(v, str) and not v.strip())


def integer(v: str | None) -> Any:
    """A whole number from a form field, or the text itself (the schema then says why not)."""
    if blank(v):
        return None
    text = v.strip()  # type: ignore[union-attr]
    return int(text) if ascii_digits(text.removeprefix("-")) and len(text) < 19 else text


def percent(v: str | None) -> str | None:
    """A percentage typed by a person (``22`` or ``22.5``) as the fraction the
    services take (``"0.22"``); anything else is left for the schema to refuse."""
    if blank(v):
        return None
    text = v.strip().rstrip("%").strip().replace(",", ".")  # type: ignore[union-attr]
    try:
        return str(Decimal(text) / 100) if Decimal(text).is_finite() else text
    except InvalidOperation:
        return text


def rate_as_percent(rate: Decimal | None) -> str:
    if rate is None:
        return ""
    text = f"{(rate * 100).normalize():f}"
    return text


def amount(v: str | None) -> str | None:
    """An amount as a person types it, for the Money field: ``1,234.50``,
    ``1.234,50``, ``20,00``, ``1 234,5`` and ``1'234.50`` all mean what they
    say. Where both separators appear, the last one is the decimal mark; a
    lone comma or dot is the decimal mark, but a comma with three digits
    after it groups thousands (``1,234``: amounts have two decimals). A lone
    ``1.234`` stays a decimal, which the field refuses as too precise rather
    than reading a thousand into it. Repeated marks group thousands. What is
    still not a number goes on unchanged for the field to refuse."""
    if blank(v):
        return None
    text = "".join(v.split()).replace("'", "").replace("\u2019", "")  # type: ignore[union-attr]
    sign, digits = (text[0], text[1:]) if text[:1] in "+-" else ("", text)
    if "," in digits and "." in digits:
        mark = "," if digits.rfind(",") > digits.rfind(".") else "."
    elif digits.count(",") == 1 or digits.count(".") == 1:
        mark = "," if "," in digits else "."
        if mark == "," and len(digits) - digits.index(mark) - 1 == 3:
            mark = ""
    else:
        mark = ""
    whole, _, fraction = digits.rpartition(mark) if mark else (digits, "", "")
    whole = whole.replace(",", "").replace(".", "")
    return f"{sign}{whole}.{fraction}" if mark else f"{sign}{whole}"


def date_arg(name: str) -> dt.date | None:
    """A date from the query string; a bad one is ignored (filters are forgiving)."""
    raw = request.args.get(name, "").strip()
    try:
        return dt.date.fromisoformat(raw) if raw else None
    except ValueError:
        return None


def int_arg(name: str) -> int | None:
    raw = request.args.get(name, "").strip()
    return int(raw) if ascii_digits(raw) and 1 <= int(raw) <= 2**63 - 1 else None


def str_arg(name: str, choices: Iterable[str] | None = None, max_len: int = 128) -> str:
    raw = request.args.get(name, "").strip()[:max_len]
    if choices is not None and raw not in choices:
        return ""
    return raw


def args_without(*names: str) -> dict[str, str]:
    """The current query string without some arguments (for pagination links)."""
    return {k: v for k, v in request.args.items() if k not in names and v != ""}


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after signing in."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return url_for("web.dashboard")


class _DryRun(Exception):
    """Carries a result out of a transaction that must roll back."""


def dry_run(work: Callable[[Tx], Any]) -> Any:
    """Run ``work`` through the real services and roll everything back: a
    preview that follows exactly the rules saving would. Refusals come back
    as a ``Problem``."""
    try:
        with unit_of_work(engine(), principal().actor) as tx:
            raise _DryRun(work(tx))
    except _DryRun as done:
        return done.args[0]
    except DomainError as exc:
        details = exc.details or {}
        return Problem(exc.code, exc.message, details, flatten_errors(details.get("fields")))


_WORDS = {"lines": "Line", "allocations": "Allocation", "billing_address": "billing address",
          "shipping_address": "shipping address", "customer": "Customer", "_form": "Form"}


def field_label(name: str) -> str:
    """``lines.1.sku`` → ``Line 2 · sku``: where a field error is, in words."""
    parts = name.split(".")
    out: list[str] = []
    i = 0
    while i < len(parts):
        p = parts[i]
        if p in ("lines", "allocations") and i + 1 < len(parts) and ascii_digits(parts[i + 1]):
            out.append(f"{_WORDS[p]} {int(parts[i + 1]) + 1}")
            i += 2
            continue
        out.append(_WORDS.get(p, p.replace("_", " ")))
        i += 1
    return " · ".join(out)
