"""The outbox: every e-mail o2c sends a customer, queued in the transaction of
the business event that causes it and sent by the worker.

``queue_message`` writes the message (subject, plain text and HTML rendered in
the customer's language from ``templates/mail/<template>/``), its attachments
and a ``mail.send`` job in the caller's ``Tx``: the message exists exactly when
that event commits. Its ``Message-ID`` is fixed there.

The worker (``mail`` lane) sends it through SMTP (``O2C_MAIL_URL``, with
``smtplib`` and ``email.message.EmailMessage``) or, without one, writes it as
an ``.eml`` file under ``OUTBOX_DIR`` and marks it sent. Before handing a
message to the server the attempt is recorded (``sending``, attempts + 1);
the server's answer decides the rest:

- accepted (2xx): ``sent`` with ``sent_at`` and the answer; event ``message.sent``;
- a temporary failure (4xx, connection refused or lost, a timeout, the
  server vanishing mid-send): ``queued`` again with the answer, retried with
  exponential backoff up to ``MAIL_MAX_ATTEMPTS``;
- a permanent failure (5xx, every recipient refused): ``failed`` with the
  answer at once; event ``message.failed``.

Delivery guarantee: a message is sent at least once and recorded exactly
once; if the worker dies after the server accepted a message but before it
was marked sent, the message is sent once more after the job's lease runs
out, with the same ``Message-ID``, so the receiving side can recognise the
duplicate — at most one extra copy per such crash, never a different message.
"""
from __future__ import annotations

import datetime as dt
import email.policy
import hashlib
import os
import random
import smtplib
import socket
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from sqlalchemy import Connection, Engine, and_, insert, select, update

from o2c.config import Config
from o2c.db import models as m
from o2c.documents.i18n import document_language
from o2c.documents.mail import one_line, render_mail, template_exists
from o2c.domain.errors import NotFound, ValidationFailed
from o2c.domain.mailaddr import addresses_error, split_addresses
from o2c.services.platform import jobs
from o2c.services.platform.uow import Tx, unit_of_work

messages = m.Message.__table__
attachments_t = m.MessageAttachment.__table__
customers = m.Customer.__table__
company = m.Company.__table__
files = m.DocumentFile.__table__

KINDS = ("invoice", "credit_note", "statement", "dunning_letter", "quotation", "follow_up", "winback")
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
STATUSES = (QUEUED, SENDING, SENT, FAILED)
SEND = "mail.send"
ACTOR = "system:outbox"
#: Attachments of one message above this many bytes in all are refused when
#: the message is queued (``O2C_MAIL_MAX_ATTACHMENT_BYTES``).
DEFAULT_MAX_ATTACHMENT_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class Attachment:
    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class StoredAttachment(Attachment):
    """A stored document file (``document_files``) attached as it is: the
    message refers to the file rather than copying its bytes."""

    file_kind: str = ""
    file_document_id: int = 0


def stored_attachment(kind: str, document_id: int, filename: str, media_type: str, content: bytes) -> StoredAttachment:
    return StoredAttachment(filename, media_type, content, kind, document_id)


def max_attachment_bytes() -> int:
    return int(os.environ.get("O2C_MAIL_MAX_ATTACHMENT_BYTES") or DEFAULT_MAX_ATTACHMENT_BYTES)


def _domain(address: str) -> str:
    return address.rsplit("@", 1)[-1] or "o2c.invalid"


def new_message_id(kind: str, sender: str | None = None) -> str:
    """A globally unique RFC 5322 ``Message-ID``: ``<hex.kind@sender-domain>``."""
    return f"<{uuid.uuid4().hex}.{kind.replace('_', '-')}@{_domain(sender or Config().MAIL_FROM)}>"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


# -- queueing (in the business event's transaction) ---------------------------------------

def queue_message(tx: Tx, *, kind: str, customer_id: int, template: str, context: dict[str, Any],
                  document: tuple[str, int] | None = None, attachments: Sequence[Attachment] = (),
                  to: str | None = None) -> int:
    """Queue one message in the business event's transaction; returns its id. Renders subject, text and HTML
    from templates/mail/<template>/{subject.txt,body.txt,body.html} in the customer's language."""
    return _queue(tx, kind=kind, customer_id=customer_id, template=template, context=context, document=document,
                  attachments=attachments, to=to)


def _queue(tx: Tx, *, kind: str, customer_id: int, template: str, context: dict[str, Any],
           document: tuple[str, int] | None, attachments: Sequence[Attachment], to: str | None,
           resent_from: int | None = None) -> int:
    if kind not in KINDS:
        raise ValidationFailed(f"“{kind}” is not a kind of message: use one of {', '.join(KINDS)}.",
                               {"kind": [f"One of {', '.join(KINDS)}."]})
    if not template_exists(template):
        raise ValidationFailed(f"No mail template “{template}” under templates/mail.", {"template": ["Unknown."]})
    row = tx.conn.execute(
        select(customers.c.name, customers.c.email, customers.c.invoice_email, customers.c.language,
               select(company.c.name).order_by(company.c.id).limit(1).scalar_subquery().label("company"))
        .where(customers.c.id == customer_id)).first()
    if row is None:
        raise NotFound(f"No customer with id {customer_id}.")
    recipients = (to if to is not None else (row.invoice_email or row.email)).strip()
    problem = addresses_error(recipients)
    if problem is not None:
        raise ValidationFailed(problem, {"to": [problem]})
    found = split_addresses(recipients)
    if not found:
        raise ValidationFailed(
            f"Customer “{row.name}” has no e-mail address: set the invoice e-mail or e-mail first.",
            {"to": ["No address to send to."]})
    total = sum(len(a.data) for a in attachments)
    limit = max_attachment_bytes()
    if total > limit:
        raise ValidationFailed(
            f"The attachments add up to {_mb(total)} ({total} bytes); a message may carry at most "
            f"{_mb(limit)} ({limit} bytes). Send the documents separately or raise O2C_MAIL_MAX_ATTACHMENT_BYTES.",
            {"attachments": [f"{total} bytes over the limit of {limit}."]})
    lang = document_language(row.language)
    ctx = {"customer_name": one_line(row.name), "company_name": one_line(row.company or ""), **context}
    subject, text, html = render_mail(template, lang, ctx)
    mid = tx.conn.execute(insert(messages).returning(messages.c.id), {
        "kind": kind, "customer_id": customer_id, "to": ", ".join(found), "subject": subject, "language": lang,
        "template": template, "status": QUEUED, "attempts": 0, "last_error": None,
        "message_id": new_message_id(kind), "document_type": document[0] if document else None,
        "document_id": document[1] if document else None, "body_text": text, "body_html": html,
        "resent_from": resent_from, "next_attempt_at": tx.now, "created_at": tx.now, "created_by": tx.actor,
        "sent_at": None,
    }).scalar_one()
    if attachments:
        tx.conn.execute(insert(attachments_t), [_attachment_row(mid, i, a) for i, a in enumerate(attachments)])
    jobs.enqueue(tx.conn, SEND, {"message_id": mid}, key=f"mail:{mid}", now=tx.now)
    tx.audit("message.queued", "message", mid, None, {
        "kind": kind, "to": ", ".join(found), "subject": subject, "document": list(document) if document else None,
        "attachments": [a.filename for a in attachments]})
    return int(mid)


def _attachment_row(message_id: int, position: int, a: Attachment) -> dict[str, Any]:
    stored = isinstance(a, StoredAttachment) and a.file_kind
    return {
        "message_id": message_id, "position": position, "filename": one_line(a.filename, 200) or "attachment",
        "content_type": a.content_type, "size": len(a.data), "sha256": hashlib.sha256(a.data).hexdigest(),
        "content": None if stored else a.data,
        "file_kind": a.file_kind if stored else None,  # type: ignore[union-attr]
        "file_document_id": a.file_document_id if stored else None,  # type: ignore[union-attr]
    }


def resend(tx: Tx, message_id: int) -> int:
    """A new message with the same content and attachments (and a new
    ``Message-ID``) to the customer's current address; the old one is kept."""
    old = tx.conn.execute(select(messages).where(messages.c.id == message_id)).first()
    if old is None:
        raise NotFound(f"No message with id {message_id}.")
    row = tx.conn.execute(select(customers.c.email, customers.c.invoice_email)
                          .where(customers.c.id == old.customer_id)).one()
    to = (row.invoice_email or row.email or old.to).strip()
    problem = addresses_error(to)
    if problem is not None or not split_addresses(to):
        raise ValidationFailed(problem or "The customer has no e-mail address.", {"to": [problem or "Empty."]})
    new_id = tx.conn.execute(insert(messages).returning(messages.c.id), {
        "kind": old.kind, "customer_id": old.customer_id, "to": ", ".join(split_addresses(to)),
        "subject": old.subject, "language": old.language, "template": old.template, "status": QUEUED, "attempts": 0,
        "last_error": None, "message_id": new_message_id(old.kind), "document_type": old.document_type,
        "document_id": old.document_id, "body_text": old.body_text, "body_html": old.body_html,
        "resent_from": old.id, "next_attempt_at": tx.now, "created_at": tx.now, "created_by": tx.actor,
        "sent_at": None,
    }).scalar_one()
    rows = tx.conn.execute(select(attachments_t).where(attachments_t.c.message_id == old.id)
                           .order_by(attachments_t.c.position)).all()
    if rows:
        tx.conn.execute(insert(attachments_t), [
            {**{k: getattr(r, k) for k in ("position", "filename", "content_type", "size", "sha256", "content",
                                           "file_kind", "file_document_id")}, "message_id": new_id} for r in rows])
    jobs.enqueue(tx.conn, SEND, {"message_id": new_id}, key=f"mail:{new_id}", now=tx.now)
    tx.audit("message.resent", "message", new_id, None, {"resent_from": old.id, "to": to})
    return int(new_id)


# -- reading ----------------------------------------------------------------------------------

def attachment_rows(conn: Connection, message_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in message_ids}
    if not message_ids:
        return out
    for r in conn.execute(select(attachments_t.c.message_id, attachments_t.c.id, attachments_t.c.filename,
                                 attachments_t.c.content_type, attachments_t.c.size, attachments_t.c.sha256)
                          .where(attachments_t.c.message_id.in_(list(message_ids)))
                          .order_by(attachments_t.c.message_id, attachments_t.c.position)):
        out[r.message_id].append({"id": r.id, "filename": r.filename, "content_type": r.content_type,
                                  "size": int(r.size), "sha256": r.sha256})
    return out


def attachment_bytes(conn: Connection, message_id: int) -> list[tuple[str, str, bytes, str]]:
    """``(filename, content type, bytes, sha256)`` of a message's attachments,
    stored document files read from ``document_files``."""
    rows = conn.execute(
        select(attachments_t.c.filename, attachments_t.c.content_type, attachments_t.c.sha256,
               attachments_t.c.content, files.c.content.label("file_content"))
        .select_from(attachments_t.outerjoin(files, and_(files.c.kind == attachments_t.c.file_kind,
                                                         files.c.document_id == attachments_t.c.file_document_id)))
        .where(attachments_t.c.message_id == message_id).order_by(attachments_t.c.position)).all()
    out = []
    for r in rows:
        data = r.content if r.content is not None else r.file_content
        if data is None or hashlib.sha256(data).hexdigest() != r.sha256:
            raise RuntimeError(f"attachment {r.filename} of message {message_id} is not the file that was queued")
        out.append((r.filename, r.content_type, bytes(data), r.sha256))
    return out


def to_dict(row: Any, atts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": row.id, "kind": row.kind, "to": row.to, "subject": row.subject, "language": row.language,
        "status": row.status, "attempts": row.attempts, "last_error": row.last_error,
        "message_id": row.message_id, "customer_id": row.customer_id,
        "document": {"type": row.document_type, "id": row.document_id} if row.document_type else None,
        "attachments": [{k: a[k] for k in ("filename", "content_type", "size", "sha256")} for a in atts],
        "resent_from": row.resent_from, "next_attempt_at": row.next_attempt_at,
        "created_at": row.created_at, "sent_at": row.sent_at,
    }


def get_message(tx: Tx, message_id: int, *, bodies: bool = False) -> dict[str, Any]:
    row = tx.conn.execute(select(messages).where(messages.c.id == message_id)).first()
    if row is None:
        raise NotFound(f"No message with id {message_id}.")
    out = to_dict(row, attachment_rows(tx.conn, [row.id])[row.id])
    if bodies:
        out.update(body_text=row.body_text, body_html=row.body_html)
    return out


def list_messages(tx: Tx, *, status: str | None = None, kind: str | None = None, customer_id: int | None = None,
                  document: tuple[str, int] | None = None, cursor: int | None = None,
                  limit: int = 50) -> tuple[list[dict[str, Any]], int | None]:
    q = select(messages).order_by(messages.c.id.desc()).limit(limit + 1)
    if status:
        q = q.where(messages.c.status == status)
    if kind:
        q = q.where(messages.c.kind == kind)
    if customer_id is not None:
        q = q.where(messages.c.customer_id == customer_id)
    if document is not None:
        q = q.where(messages.c.document_type == document[0], messages.c.document_id == document[1])
    if cursor is not None:
        q = q.where(messages.c.id < cursor)
    rows = tx.conn.execute(q).all()
    page = rows[:limit]
    atts = attachment_rows(tx.conn, [r.id for r in page])
    return [to_dict(r, atts[r.id]) for r in page], (page[-1].id if len(rows) > limit else None)


# -- the e-mail itself --------------------------------------------------------------------------

def build_email(msg: Any, files_: list[tuple[str, str, bytes, str]], sender: str, sender_name: str) -> EmailMessage:
    """The MIME message: text and HTML alternatives, then the attachments."""
    em = EmailMessage()
    em["From"] = formataddr((one_line(sender_name, 200), sender)) if sender_name else sender
    em["To"] = ", ".join(str(Address(addr_spec=a)) for a in split_addresses(msg.to))
    em["Subject"] = one_line(msg.subject)
    em["Date"] = format_datetime(msg.created_at if msg.created_at.tzinfo else msg.created_at.replace(tzinfo=dt.UTC))
    em["Message-ID"] = msg.message_id
    em["Content-Language"] = msg.language
    em["Auto-Submitted"] = "auto-generated"
    em.set_content(msg.body_text, cte="quoted-printable")
    em.add_alternative(msg.body_html, subtype="html", cte="quoted-printable")
    for filename, content_type, data, _sha in files_:
        maintype, _, subtype = content_type.partition("/")
        em.add_attachment(data, maintype=maintype or "application", subtype=subtype or "octet-stream",
                          filename=filename)
    return em


# -- sending (the worker's side) ------------------------------------------------------------------

class TemporaryFailure(Exception):
    """Try again later: a 4xx answer, a connection refused, lost or timed out."""


class PermanentFailure(Exception):
    """Never retried: a 5xx answer, every recipient refused."""


def _answer(code: int, text: bytes | str) -> str:
    t = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return f"{code} {t}".strip()


@dataclass(frozen=True)
class MailUrl:
    host: str
    port: int
    user: str
    password: str
    ssl: bool
    starttls: bool
    timeout: float | None


def parse_mail_url(url: str) -> MailUrl:
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError("O2C_MAIL_URL: expected smtp://user:pass@host:587?starttls=1 or smtps://user:pass@host:465")
    q = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    on = ("1", "true", "yes", "on")
    # float ok: the timeout is seconds
    return MailUrl(parts.hostname, parts.port or (465 if parts.scheme == "smtps" else 25),
                   unquote(parts.username or ""), unquote(parts.password or ""), parts.scheme == "smtps",
                   q.get("starttls", "0").lower() in on, float(q["timeout"]) if "timeout" in q else None)


def smtp_send(url: str, em: EmailMessage, recipients: list[str], timeout: float) -> str:
    """Hand ``em`` to the SMTP server; the server's answer on success. Raises
    ``TemporaryFailure`` or ``PermanentFailure`` with the server's answer."""
    u = parse_mail_url(url)
    timeout = u.timeout or timeout
    try:
        client: smtplib.SMTP
        if u.ssl:
            client = smtplib.SMTP_SSL(u.host, u.port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(u.host, u.port, timeout=timeout)
        with client:
            if u.starttls:
                client.starttls(context=ssl.create_default_context())
            if u.user:
                client.login(u.user, u.password)
            refused = client.send_message(em, to_addrs=recipients)
            answer = "250 accepted"
            if refused:
                answer += "; refused: " + "; ".join(f"{a}: {_answer(c, t)}" for a, (c, t) in refused.items())
            return answer
    except smtplib.SMTPRecipientsRefused as e:
        answers = "; ".join(f"{a}: {_answer(c, t)}" for a, (c, t) in e.recipients.items())
        if all(int(c) >= 500 for c, _ in e.recipients.values()):
            raise PermanentFailure(answers) from e
        raise TemporaryFailure(answers) from e
    except smtplib.SMTPResponseException as e:
        answer = _answer(e.smtp_code, e.smtp_error)
        if 500 <= e.smtp_code < 600:
            raise PermanentFailure(answer) from e
        raise TemporaryFailure(answer) from e
    except (smtplib.SMTPException, OSError, socket.timeout) as e:
        raise TemporaryFailure(f"{type(e).__name__}: {e}") from e


def eml_path(directory: str, msg: Any) -> Path:
    return Path(directory) / f"{msg.id:08d}-{msg.kind}.eml"


def write_eml(directory: str, msg: Any, em: EmailMessage) -> str:
    """The embedded default: the message as an ``.eml`` file (written whole,
    then renamed into place)."""
    path = eml_path(directory, msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".eml.part")
    tmp.write_bytes(em.as_bytes(policy=email.policy.SMTP))  # CRLF lines, 7-bit: as it would go on the wire
    tmp.replace(path)
    return f"written to {path}"


def _event(tx: Tx, type_: str, msg: Any, **extra: Any) -> None:
    tx.emit(type_, "internal", None, {
        "message_id": msg.id, "kind": msg.kind, "customer_id": msg.customer_id, "to": msg.to,
        "document": {"type": msg.document_type, "id": msg.document_id} if msg.document_type else None, **extra})


def backoff(config: Config, attempts: int, rand: float | None = None) -> float:
    r = random.random() if rand is None else rand
    return min(config.MAIL_RETRY_BASE_S * 2 ** max(attempts - 1, 0), config.MAIL_RETRY_MAX_DELAY_S) * (0.5 + r / 2)


def deliver(engine: Engine, config: Config, message_id: int) -> dt.datetime | None:
    """Send one queued message. Returns when to try again (a temporary
    failure), or ``None`` when it is done (sent, failed, or not to be sent)."""
    with unit_of_work(engine, ACTOR) as tx:
        msg = tx.conn.execute(select(messages).where(messages.c.id == message_id)).first()
        if msg is None or msg.status in (SENT, FAILED):
            return None
        # The attempt is recorded before the server sees it: a crash from here
        # on leaves it ``sending``, and the job's next run sends it again.
        tx.conn.execute(update(messages).where(messages.c.id == message_id).values(
            status=SENDING, attempts=messages.c.attempts + 1, next_attempt_at=None))
        attempts = msg.attempts + 1
        sender_name = tx.conn.execute(select(company.c.name).order_by(company.c.id).limit(1)).scalar() or ""
        files_ = attachment_bytes(tx.conn, message_id)
    em = build_email(msg, files_, config.MAIL_FROM, sender_name)
    try:
        if config.MAIL_URL:
            answer = smtp_send(config.MAIL_URL, em, split_addresses(msg.to), config.MAIL_TIMEOUT_S)
        else:
            answer = write_eml(config.OUTBOX_DIR, msg, em)
    except PermanentFailure as e:
        with unit_of_work(engine, ACTOR) as tx:
            tx.conn.execute(update(messages).where(messages.c.id == message_id).values(
                status=FAILED, last_error=str(e)[:4000]))
            _event(tx, "message.failed", msg, error=str(e)[:500], attempts=attempts)
        return None
    except TemporaryFailure as e:
        with unit_of_work(engine, ACTOR) as tx:
            if attempts >= config.MAIL_MAX_ATTEMPTS:
                tx.conn.execute(update(messages).where(messages.c.id == message_id).values(
                    status=FAILED, last_error=f"gave up after {attempts} attempts: {e}"[:4000]))
                _event(tx, "message.failed", msg, error=str(e)[:500], attempts=attempts)
                return None
            at = tx.now + dt.timedelta(seconds=backoff(config, attempts))
            tx.conn.execute(update(messages).where(messages.c.id == message_id).values(
                status=QUEUED, last_error=str(e)[:4000], next_attempt_at=at))
        return at
    with unit_of_work(engine, ACTOR) as tx:
        tx.conn.execute(update(messages).where(messages.c.id == message_id).values(
            status=SENT, sent_at=tx.now, last_error=answer[:4000]))
        _event(tx, "message.sent", msg, attempts=attempts)
    return None


@jobs.job_kind(SEND, max_attempts=1000, retry_base_s=30.0, retry_max_s=3600.0)
def send_message(ctx: jobs.JobContext, payload: dict[str, Any]) -> jobs.Reschedule | None:
    at = deliver(ctx.engine, ctx.config, int(payload["message_id"]))
    return jobs.Reschedule(at) if at is not None else None


__all__ = [
    "ACTOR", "Attachment", "FAILED", "KINDS", "QUEUED", "SEND", "SENDING", "SENT", "STATUSES", "StoredAttachment",
    "PermanentFailure", "TemporaryFailure", "build_email", "deliver", "get_message", "list_messages",
    "new_message_id", "parse_mail_url", "queue_message", "resend", "send_message", "smtp_send", "stored_attachment",
    "write_eml",
]
