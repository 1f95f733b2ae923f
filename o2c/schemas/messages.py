"""Messages (API.md, Messages): e-mails to customers and their delivery."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from o2c.schemas.api import PageArgs, page_of
from o2c.schemas.fields import Id
from o2c.services.platform.outbox import KINDS, STATUSES

Str = fields.String


class DocumentRef(Schema):
    type = Str(metadata={"description": "invoice, credit_note, dunning_letter, …"})
    id = fields.Integer()


class AttachmentOut(Schema):
    filename = Str()
    content_type = Str()
    size = fields.Integer(metadata={"description": "Bytes."})
    sha256 = Str(metadata={"description": "Of the bytes sent: for a document, those of its stored file."})


class MessageOut(Schema):
    id = fields.Integer()
    kind = Str(validate=validate.OneOf(KINDS))
    to = Str(metadata={"description": "The recipients, comma-separated."})
    subject = Str()
    language = Str()
    status = Str(validate=validate.OneOf(STATUSES), metadata={
        "description": "queued (waiting, or retried after a temporary failure), sending (handed to the server), "
                       "sent, failed (a permanent answer, in last_error)."})
    attempts = fields.Integer()
    last_error = Str(allow_none=True, metadata={"description": "The mail server's last answer."})
    message_id = Str(metadata={"description": "The RFC 5322 Message-ID, fixed when the message was queued."})
    customer_id = fields.Integer()
    document = fields.Nested(DocumentRef, allow_none=True)
    attachments = fields.List(fields.Nested(AttachmentOut))
    resent_from = fields.Integer(allow_none=True, metadata={"description": "The message this one sends again."})
    next_attempt_at = fields.DateTime(allow_none=True)
    created_at = fields.DateTime()
    sent_at = fields.DateTime(allow_none=True)


MessagePage = page_of(MessageOut)


class MessageListArgs(PageArgs):
    status = Str(validate=validate.OneOf(STATUSES))
    kind = Str(validate=validate.OneOf(KINDS))
    customer_id = Id(strict=False)


__all__ = ["AttachmentOut", "DocumentRef", "MessageListArgs", "MessageOut", "MessagePage"]
