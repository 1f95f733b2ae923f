"""API keys in the back office (administrators only): the list with each
key's channel, last use, expiry and state; create a key (shown once, on the
page that answers the form); revoke one (after a confirmation); rotate one,
the old key working on for a grace period if asked."""
from __future__ import annotations

import datetime as dt
from typing import Any

from flask import render_template, url_for

from o2c.schemas import api as s
from o2c.services.platform import apikeys
from o2c.web.core import Form, Problem, back_to, blank, bp, integer, load, principal, read, requires, submit
from o2c.web.nav import Item, add

ADMIN = apikeys.PERMISSION


def _page(form: Form, status: int = 200, revealed: dict[str, Any] | None = None) -> Any:
    items, _ = read(lambda tx: apikeys.list_api_keys(tx, principal(), None, 500))
    return render_template("web/api_keys/list.html", form=form, keys=items, roles=s.API_KEY_ROLES,
                           revealed=revealed), status


@bp.route("/keys")
@requires(ADMIN)
def api_keys() -> Any:
    return _page(Form())


class _Secret:
    """The new key, kept in memory only until this answer shows it."""

    def __init__(self) -> None:
        self.record: dict[str, Any] | None = None
        self.key: str | None = None

    def keep(self, result: tuple[dict[str, Any], str]) -> dict[str, Any]:
        self.record, self.key = result
        return self.record

    def shown(self) -> dict[str, Any] | None:
        return None if self.key is None else {**(self.record or {}), "key": self.key}


@bp.route("/keys", methods=["POST"])
@requires(ADMIN)
def create_api_key_page() -> Any:
    form = Form.posted()
    expires = form.value("expires").strip()
    body: dict[str, Any] = {"name": form.value("name").strip(), "role": form.value("role"),
                            "channel": None if blank(form.value("channel")) else form.value("channel").strip(),
                            "expires_at": f"{expires}T00:00:00+00:00" if expires else None}
    data, problem = load(s.ApiKeyIn(), body)
    if problem is None:
        secret = _Secret()

        def work(tx: Any) -> tuple[str, str]:
            k = secret.keep(apikeys.create_api_key(tx, data["name"], data["role"], data.get("channel"),
                                                   expires_at=data.get("expires_at"), principal=principal()))
            return url_for("web.api_keys"), f"API key {k['name']} created for channel {k['channel']}."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            shown = secret.shown()
            return _page(Form(), 201, shown) if shown else outcome  # a double submit: shown the first time
        problem = outcome
    if "expires_at" in problem.fields:  # the form's field is a date
        problem.fields["expires"] = problem.fields.pop("expires_at")
        if "date" in problem.fields["expires"].lower() or "datetime" in problem.fields["expires"].lower():
            problem.fields["expires"] = "Enter a date as YYYY-MM-DD."
    form.problem = problem
    return _page(form, problem.status)


@bp.route("/keys/<id:key_id>/revoke", methods=["POST"])
@requires(ADMIN)
def revoke_api_key_page(key_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        k = apikeys.revoke_api_key(tx, principal(), key_id)
        return url_for("web.api_keys"), f"API key {k['name']} (o2c_{k['prefix']}_…) revoked: it is refused from now on."
    return back_to(url_for("web.api_keys"), submit(work))


@bp.route("/keys/<id:key_id>/rotate", methods=["POST"])
@requires(ADMIN)
def rotate_api_key_page(key_id: int) -> Any:
    form = Form.posted()
    grace = integer(form.value("grace_minutes")) or 0
    secret = _Secret()

    def work(tx: Any) -> tuple[str, str]:
        if not isinstance(grace, int):
            from o2c.domain.errors import ValidationFailed
            raise ValidationFailed("Enter the grace period in whole minutes.", {"grace_minutes": ["Whole minutes."]})
        k = secret.keep(apikeys.rotate_api_key(tx, principal(), key_id, grace))
        until = dt.timedelta(minutes=grace)
        return (url_for("web.api_keys"),
                f"API key {k['name']} rotated: the old key is " + (f"refused in {grace} minutes." if until else
                                                                   "refused from now on."))
    outcome = submit(work)
    shown = secret.shown()
    if shown:
        return _page(Form(), 201, shown)
    return back_to(url_for("web.api_keys"), outcome)


add("API keys", Item("API keys", "web.api_keys", ADMIN))
