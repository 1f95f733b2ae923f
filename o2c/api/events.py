"""The event feed and webhook subscriptions."""
from __future__ import annotations

from typing import Any

from flask import current_app
from flask_smorest import Blueprint

from o2c.api.common import int_cursor, mutate, page, principal, read, remove, requires
from o2c.schemas import api as s
from o2c.schemas import events as es
from o2c.services.platform import events, webhooks
from o2c.services.platform.uow import Tx

blp = Blueprint("events", __name__, url_prefix="/api/v1",
                description="Events in order, and webhooks that receive them signed")

WEBHOOK = es.WebhookOut()
WITH_SECRET = es.WebhookWithSecret()
DELIVERY = es.DeliveryDetailOut()
URL_REFUSED = ("validation_error: invalid input, or a URL whose host is not a public address — loopback, private, "
               "link-local, metadata service, in any notation, or localhost (details.fields.url)")


def _settle_wait() -> float:
    return current_app.config["O2C"].EVENTS_SETTLE_WAIT_S


def _with_secret(tx: Tx, body: dict[str, Any]) -> dict[str, Any]:
    key = current_app.config["O2C"].webhook_key
    return {**body, "secret": webhooks.reveal_secret(tx, principal(), body["id"], key)}


@blp.route("/events", methods=["GET"])
@requires("events:read")
@blp.arguments(es.EventListArgs, location="query")
@blp.response(200, es.EventPage)
def list_events(args: dict[str, Any]) -> Any:
    """Events after ``after``, oldest first (a webshop: its own channel's).
    Poll with ``after`` = the previous ``next_cursor``, which is the id of
    the last event of the page (the feed is positioned by event id, not by an
    opaque cursor); ``has_more`` says whether to ask again right away."""
    def run(tx: Tx) -> dict[str, Any]:
        items, last, more = events.events_page(
            tx, principal(), args["after"], args["limit"], args.get("type"), _settle_wait())
        return {"items": items, "next_cursor": None if last is None else str(last), "has_more": more}
    return read(run, es.EventPage())


@blp.route("/events/<id:event_id>", methods=["GET"])
@requires("events:read")
@blp.response(200, es.EventOut)
def get_event(event_id: int) -> Any:
    """One event (a webshop: only its own channel's)."""
    return read(lambda tx: events.get_event(tx, principal(), event_id), es.EventOut())


@blp.route("/webhooks", methods=["POST"])
@requires("webhooks:write")
@blp.arguments(es.WebhookIn)
@blp.response(201, es.WebhookWithSecret)
@blp.alt_response(403, schema=s.ErrorResponse, description="a webshop naming another channel")
@blp.alt_response(409, schema=s.ErrorResponse, description="too many webhooks on the channel")
@blp.alt_response(422, schema=s.ErrorResponse, description=URL_REFUSED)
def create_webhook(data: dict[str, Any]) -> Any:
    """Subscribe a URL to events from now on. The answer holds the signing
    ``secret``: it is shown only here."""
    allow_private = current_app.config["O2C"].webhook_allow_private
    return mutate(lambda tx: webhooks.create_webhook(tx, principal(), data, allow_private=allow_private),
                  WEBHOOK, 201, reveal=_with_secret)


@blp.route("/webhooks", methods=["GET"])
@requires("webhooks:read")
@blp.arguments(s.PageArgs, location="query")
@blp.response(200, es.WebhookPage)
def list_webhooks(args: dict[str, Any]) -> Any:
    """Webhook subscriptions (a webshop: its own channel's)."""
    return page(lambda tx: webhooks.list_webhooks(tx, principal(), int_cursor(args), args["limit"]),
                es.WebhookPage())


@blp.route("/webhooks/<id:webhook_id>", methods=["GET"])
@requires("webhooks:read")
@blp.response(200, es.WebhookOut)
def get_webhook(webhook_id: int) -> Any:
    """One webhook subscription with its delivery counts."""
    return read(lambda tx: webhooks.get_webhook(tx, principal(), webhook_id), WEBHOOK)


@blp.route("/webhooks/<id:webhook_id>", methods=["PATCH"])
@requires("webhooks:write")
@blp.arguments(es.WebhookPatch)
@blp.response(200, es.WebhookOut)
@blp.alt_response(422, schema=s.ErrorResponse, description=URL_REFUSED)
def update_webhook(data: dict[str, Any], webhook_id: int) -> Any:
    """Change the URL, event types or description; ``"active": false`` pauses it."""
    allow_private = current_app.config["O2C"].webhook_allow_private
    return mutate(lambda tx: webhooks.update_webhook(tx, principal(), webhook_id, data, allow_private=allow_private),
                  WEBHOOK)


@blp.route("/webhooks/<id:webhook_id>", methods=["DELETE"])
@requires("webhooks:write")
@blp.response(204)
def delete_webhook(webhook_id: int) -> Any:
    """Unsubscribe: the webhook and its delivery log are deleted."""
    return remove(lambda tx: webhooks.delete_webhook(tx, principal(), webhook_id))


@blp.route("/webhooks/<id:webhook_id>/rotate-secret", methods=["POST"])
@requires("webhooks:write")
@blp.response(200, es.WebhookWithSecret)
def rotate_secret(webhook_id: int) -> Any:
    """A new signing secret (shown only here); deliveries are signed with the
    old one too for 24 hours."""
    return mutate(lambda tx: webhooks.rotate_secret(tx, principal(), webhook_id), WEBHOOK, reveal=_with_secret)


@blp.route("/webhooks/<id:webhook_id>/deliveries", methods=["GET"])
@requires("webhooks:read")
@blp.arguments(es.DeliveryListArgs, location="query")
@blp.response(200, es.DeliveryPage)
def list_deliveries(args: dict[str, Any], webhook_id: int) -> Any:
    """Deliveries, newest first; ``status=failed`` for those that gave up."""
    return page(lambda tx: webhooks.list_deliveries(
        tx, principal(), webhook_id, args.get("status"), int_cursor(args), args["limit"]), es.DeliveryPage())


@blp.route("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>", methods=["GET"])
@requires("webhooks:read")
@blp.response(200, es.DeliveryDetailOut)
def get_delivery(webhook_id: int, delivery_id: int) -> Any:
    """A delivery with its log: every attempt with the receiver's status code."""
    return read(lambda tx: webhooks.get_delivery(tx, principal(), webhook_id, delivery_id), DELIVERY)


@blp.route("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver", methods=["POST"])
@requires("webhooks:write")
@blp.response(202, es.DeliveryDetailOut)
def redeliver(webhook_id: int, delivery_id: int) -> Any:
    """Send this delivery again now (a failed one releases its order's later events)."""
    return mutate(lambda tx: webhooks.redeliver(tx, principal(), webhook_id, delivery_id), DELIVERY, 202)


@blp.route("/webhooks/<id:webhook_id>/redeliver-failed", methods=["POST"])
@requires("webhooks:write")
@blp.response(202, es.RedeliveredOut)
def redeliver_failed(webhook_id: int) -> Any:
    """Send every failed delivery of this webhook again."""
    return mutate(lambda tx: webhooks.redeliver_failed(tx, principal(), webhook_id), es.RedeliveredOut(), 202)
