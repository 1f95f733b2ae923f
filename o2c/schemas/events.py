"""Schemas of the events feed and webhook subscriptions (API.md, Events)."""
from __future__ import annotations

from urllib.parse import urlsplit

from marshmallow import Schema, ValidationError, fields, validate

from o2c.domain.events import ALL, EVENT_TYPES, pattern_error
from o2c.schemas.api import CURSOR_MAX, HAS_MORE_DOC, page_of
from o2c.schemas.fields import Text

DELIVERY_STATUSES = ("pending", "delivered", "failed")


class EventOut(Schema):
    id = fields.Integer()
    type = Text()
    channel = Text()
    order_id = fields.Integer(allow_none=True)
    created_at = Text(metadata={"format": "date-time", "description": "ISO 8601, UTC."})
    data = fields.Dict()


class EventListArgs(Schema):
    after = fields.Integer(load_default=0, validate=validate.Range(0, 2**63 - 1),
                           metadata={"description": "Only events with a greater id: the last id you have seen."})
    limit = fields.Integer(load_default=100, validate=validate.Range(1, 1000))
    type = fields.List(Text(validate=validate.OneOf(EVENT_TYPES)), load_default=None,
                       metadata={"description": "Only these event types (repeat the parameter)."})


_H16 = "[0-9A-Fa-f]{1,4}"
_IPV4 = r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])"
_LS32 = f"(?:{_H16}:{_H16}|{_IPV4})"
#: An IPv6 address as RFC 3986 writes it (section 3.2.2), inside the brackets of a URL.
IPV6_PATTERN = "(?:" + "|".join([
    f"(?:{_H16}:){{6}}{_LS32}",
    f"::(?:{_H16}:){{5}}{_LS32}",
    f"(?:{_H16})?::(?:{_H16}:){{4}}{_LS32}",
    f"(?:(?:{_H16}:){{0,1}}{_H16})?::(?:{_H16}:){{3}}{_LS32}",
    f"(?:(?:{_H16}:){{0,2}}{_H16})?::(?:{_H16}:){{2}}{_LS32}",
    f"(?:(?:{_H16}:){{0,3}}{_H16})?::{_H16}:{_LS32}",
    f"(?:(?:{_H16}:){{0,4}}{_H16})?::{_LS32}",
    f"(?:(?:{_H16}:){{0,5}}{_H16})?::{_H16}",
    f"(?:(?:{_H16}:){{0,6}}{_H16})?::",
]) + ")"

#: An absolute http(s) URL without credentials or fragment, with a valid
#: port (a host name, an IPv4 address or a bracketed IPv6 one): what
#: :func:`_url` accepts, as the OpenAPI document states it.
URL_PATTERN = (r"^https?://(?:[^\s/?#@:\[\]\\\x00-\x1f\x7f-\x9f]+|\[" + IPV6_PATTERN + r"\])"
               r"(:(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[0-9]{1,4}))?"
               r"([/?][^#\s\x00-\x1f\x7f-\x9f]*)?$")


def _url(value: str) -> None:
    try:
        parts = urlsplit(value)
    except ValueError:  # e.g. brackets around something that is no IPv6 address
        raise ValidationError("An absolute http:// or https:// URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError("An absolute http:// or https:// URL.")
    if parts.username or parts.password:
        raise ValidationError("No credentials in the URL; verify the O2C-Signature header instead.")
    if parts.fragment:
        raise ValidationError("No #fragment in the URL.")
    try:
        parts.port
    except ValueError:
        raise ValidationError("Invalid port.") from None


_URL = [validate.Length(max=2048), validate.Regexp(URL_PATTERN, error="An absolute http:// or https:// URL."), _url]


def _patterns(value: list[str]) -> None:
    errors = {i: [e] for i, p in enumerate(value) if (e := pattern_error(p))}
    if errors:
        raise ValidationError(errors)


class WebhookIn(Schema):
    url = Text(required=True, validate=_URL)
    event_types = fields.List(Text(validate=validate.Length(min=1, max=64)), load_default=lambda: [ALL],
                              validate=[validate.Length(min=1, max=50), _patterns],
                              metadata={"description": "Event types, families such as 'shipment.*', or '*' (default)."})
    channel = Text(validate=validate.Length(min=1, max=64), load_default=None, allow_none=True,
                   metadata={"description": "Admin only: the channel to follow; none for every channel. "
                                            "A webshop key always follows its own."})
    description = Text(validate=validate.Length(max=255), load_default="")
    active = fields.Boolean(load_default=True)


class WebhookPatch(Schema):
    url = Text(validate=_URL)
    event_types = fields.List(Text(validate=validate.Length(min=1, max=64)),
                              validate=[validate.Length(min=1, max=50), _patterns])
    description = Text(validate=validate.Length(max=255))
    active = fields.Boolean()


class DeliveryCounts(Schema):
    pending = fields.Integer()
    delivered = fields.Integer()
    failed = fields.Integer()


class WebhookOut(Schema):
    id = fields.Integer()
    channel = Text(allow_none=True)
    url = Text()
    description = Text()
    event_types = fields.List(Text())
    active = fields.Boolean()
    last_event_id = fields.Integer(metadata={"description": "The last event fanned out to this webhook."})
    deliveries = fields.Nested(DeliveryCounts)
    previous_secret_valid_until = fields.DateTime(allow_none=True)
    created_by = Text()
    created_at = fields.DateTime()
    updated_at = fields.DateTime()


class WebhookWithSecret(WebhookOut):
    secret = Text(metadata={"description": "The signing secret. Shown only in this answer: keep it."})


class DeliveryOut(Schema):
    id = fields.Integer()
    webhook_id = fields.Integer()
    event_id = fields.Integer()
    event_type = Text()
    order_id = fields.Integer(allow_none=True)
    status = Text(metadata={"description": "pending, delivered or failed (retries exhausted)."})
    attempts = fields.Integer()
    next_attempt_at = fields.DateTime(allow_none=True)
    first_attempt_at = fields.DateTime(allow_none=True)
    last_attempt_at = fields.DateTime(allow_none=True)
    last_status_code = fields.Integer(allow_none=True)
    last_error = Text(allow_none=True)
    delivered_at = fields.DateTime(allow_none=True)
    blocked_by = fields.Integer(allow_none=True, metadata={
        "description": "A failed earlier delivery of the same order that holds this one back."})
    created_at = fields.DateTime()


class AttemptOut(Schema):
    attempted_at = fields.DateTime()
    status_code = fields.Integer(allow_none=True)
    error = Text(allow_none=True)
    duration_ms = fields.Integer()
    response_excerpt = Text(allow_none=True)


class DeliveryDetailOut(DeliveryOut):
    attempt_log = fields.List(fields.Nested(AttemptOut))


class DeliveryListArgs(Schema):
    status = Text(validate=validate.OneOf(DELIVERY_STATUSES))
    cursor = Text(validate=validate.Length(max=CURSOR_MAX))
    limit = fields.Integer(load_default=20, validate=validate.Range(1, 100))


class RedeliveredOut(Schema):
    webhook_id = fields.Integer()
    requeued = fields.Integer()


class EventPage(Schema):
    """The feed is positioned by event id: ``next_cursor`` is the id of the
    page's last event, to pass as ``after``."""

    items = fields.List(fields.Nested(EventOut))
    next_cursor = Text(allow_none=True, metadata={
        "description": "The id of the page's last event: pass it as `after` (null when the page is empty)."})
    has_more = fields.Boolean(metadata={"description": HAS_MORE_DOC})


WebhookPage = page_of(WebhookOut)
DeliveryPage = page_of(DeliveryOut)
