"""The public pages of a quotation's acceptance link (no sign-in): the
proposal, accept, decline. The link's token is the only key: an unknown or
altered token is a plain 404 that says nothing about whether a quotation
exists; every request counts against the caller's address (rate limit).
The forms carry a CSRF token like every form of the service."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask.typing import ResponseReturnValue

from o2c.domain.access import SYSTEM
from o2c.domain.errors import DomainError
from o2c.ratelimit import client_address, quote_link_wait
from o2c.services.platform.uow import unit_of_work
from o2c.services.sales import quotes

public = Blueprint("quote_links", __name__, template_folder="templates")
ACTOR = "public:quote-link"


def _engine() -> Any:
    return current_app.extensions["o2c.engine"]


@public.before_request
def _limited() -> ResponseReturnValue | None:
    wait = quote_link_wait()
    if wait is not None:
        return render_template("public/message.html", title="Too many requests",
                               message=f"Please wait {wait} seconds and try again."), 429, {"Retry-After": str(wait)}
    return None


def _not_found() -> ResponseReturnValue:
    return render_template("public/message.html", title="Link not valid",
                           message="This link is not valid. Please use the link in the latest e-mail you "
                                   "received, or contact us."), 404


def _state(token: str) -> dict[str, Any] | None:
    """What the page shows for this token, or ``None`` (not found)."""
    with unit_of_work(_engine(), ACTOR, readonly=True) as tx:
        found = quotes.find_by_token(tx, token)
        if found is None:
            return None
        q, token_revision = found
        latest = quotes.get_quote(tx, q.id, SYSTEM)
        shown = latest if token_revision == q.revision else quotes.get_quote(tx, q.id, SYSTEM, token_revision)
        expired = q.status == "expired" or (q.status == "sent" and q.valid_until < tx.today)
    return {"quote": latest, "shown": shown, "token_revision": token_revision,
            "superseded": token_revision != q.revision, "expired": expired,
            "open": q.status == "sent" and not expired,
            "reasons": current_app.config["O2C"].QUOTE_DECLINE_REASONS}


def _page(token: str, state: dict[str, Any], error: str | None = None, status: int = 200,
          form: dict[str, Any] | None = None) -> ResponseReturnValue:
    return render_template("public/quote.html", token=token, error=error, form=form or {}, **state), status


@public.get("/q/<token>")
def proposal(token: str) -> ResponseReturnValue:
    """The proposal behind an acceptance link, with the accept and decline forms while it is open."""
    state = _state(token)
    return _not_found() if state is None else _page(token, state)


def _revision_field() -> int | None:
    raw = request.form.get("revision", "")
    return int(raw) if raw.isdigit() and len(raw) < 6 else None


@public.post("/q/<token>/accept")
def accept(token: str) -> ResponseReturnValue:
    """Accept the latest revision: typed name, optional purchase order, chosen optional lines."""
    state = _state(token)
    if state is None:
        return _not_found()
    data = {"accepted_by": request.form.get("accepted_by", "").strip()[:255],
            "purchase_order": request.form.get("purchase_order", "").strip()[:128] or None,
            "optional_skus": [s[:64] for s in request.form.getlist("optional_skus")][:500]}
    if not data["accepted_by"]:
        return _page(token, state, "Type your name to accept.", 422, data)
    try:
        with unit_of_work(_engine(), ACTOR) as tx:
            quotes.accept_quote(tx, state["quote"]["id"], SYSTEM, data, ip=client_address(),
                                revision=_revision_field())
    except DomainError as exc:
        return _page(token, _state(token) or state, exc.message, 409 if exc.code != "validation_error" else 422,
                     data)
    return _page(token, _state(token) or state)


@public.post("/q/<token>/decline")
def decline(token: str) -> ResponseReturnValue:
    """Decline the latest revision, with a reason from the list and a comment."""
    state = _state(token)
    if state is None:
        return _not_found()
    data = {"reason": request.form.get("reason", "")[:64], "comment": request.form.get("comment", "").strip()[:4000]
            or None}
    try:
        with unit_of_work(_engine(), ACTOR) as tx:
            quotes.decline_quote(tx, state["quote"]["id"], SYSTEM, data, reasons=state["reasons"],
                                 revision=_revision_field())
    except DomainError as exc:
        return _page(token, _state(token) or state, exc.message, 409 if exc.code != "validation_error" else 422,
                     data)
    return _page(token, _state(token) or state)
