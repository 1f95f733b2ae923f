"""Webhook subscriptions and their deliveries in the back office (admins
only): subscribe a URL (its signing secret shown once), switch it off and
on, delete it, read each subscription's delivery log with the receiver's
answers, and send failed deliveries again — one, a subscription's, or all."""
from __future__ import annotations

import re
from typing import Any

from flask import current_app, render_template, request, session, url_for

from o2c.domain.events import ALL, EVENTS, families
from o2c.schemas import events as es
from o2c.services.platform import webhooks
from o2c.services.sales import lookups
from o2c.web.core import (
    Form,
    Problem,
    args_without,
    back_to,
    blank,
    bp,
    int_arg,
    load,
    principal,
    read,
    requires,
    str_arg,
    submit,
)
from o2c.web.nav import Item, add

PAGE = 25
ADMIN = "webhooks:admin"
DELIVERY_STATUSES = ("pending", "delivered", "failed")
_REVEAL = "o2c_reveal_webhook"  # session marker: the subscription whose secret the next view shows, once


def _list_page(form: Form, status: int = 200) -> Any:
    cursor = int_arg("after")
    items, next_cursor = read(lambda tx: webhooks.list_webhooks(tx, principal(), cursor, PAGE))
    return render_template("web/webhooks/list.html", form=form, hooks=items, next_cursor=next_cursor,
                           event_groups=_event_groups(), base_args=args_without("after")), status


def _event_groups() -> list[tuple[str, list[tuple[str, str]]]]:
    """The registry's event types by family (``order.*`` → its types with what each means)."""
    return [(f, [(t, text) for t, text in EVENTS.items() if t.startswith(f[:-1])]) for f in families()]


@bp.route("/webhooks")
@requires(ADMIN)
def webhook_list() -> Any:
    return _list_page(Form())


@bp.route("/webhooks", methods=["POST"])
@requires(ADMIN)
def create_webhook() -> Any:
    form = Form.posted()
    chosen = [t for t in request.form.getlist("event_types") if t]
    if ALL in chosen:  # every event covers whatever else was ticked
        chosen = [ALL]
    body: dict[str, Any] = {"url": form.value("url").strip(), "event_types": chosen or [ALL],
                            "description": form.value("description").strip(),
                            "channel": None if blank(form.value("channel")) else form.value("channel").strip()}
    data, problem = load(es.WebhookIn(), body)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            hook = webhooks.create_webhook(tx, principal(), data,
                                           allow_private=current_app.config["O2C"].webhook_allow_private)
            return (url_for("web.webhook", webhook_id=hook["id"]),
                    f"Subscribed {hook['url']}. Copy its signing secret now: it is shown only this once.")
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            session[_REVEAL] = int(re.search(r"/webhooks/(\d+)", outcome.location).group(1))
            return outcome
        problem = outcome
    form.problem = problem
    form.values["event_types"] = ",".join(chosen)
    return _list_page(form, problem.status)


@bp.route("/webhooks/<id:webhook_id>")
@requires(ADMIN)
def webhook(webhook_id: int) -> Any:
    status = str_arg("status", DELIVERY_STATUSES) or None
    cursor = int_arg("after")
    reveal = session.pop(_REVEAL, None) == webhook_id

    def run(tx: Any) -> dict[str, Any]:
        hook = webhooks.get_webhook(tx, principal(), webhook_id)
        items, next_cursor = webhooks.list_deliveries(tx, principal(), webhook_id, status, cursor, PAGE)
        secret = webhooks.reveal_secret(tx, principal(), webhook_id, current_app.config["O2C"].webhook_key) \
            if reveal else None
        return {"hook": hook, "deliveries": items, "next_cursor": next_cursor, "secret": secret,
                "order_numbers": lookups.order_numbers(tx, [d["order_id"] for d in items])}
    return render_template("web/webhooks/show.html", status=status, statuses=DELIVERY_STATUSES,
                           base_args=args_without("after"), **read(run))


@bp.route("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>")
@requires(ADMIN)
def webhook_delivery(webhook_id: int, delivery_id: int) -> Any:
    def run(tx: Any) -> tuple[Any, Any, dict[int, str]]:
        d = webhooks.get_delivery(tx, principal(), webhook_id, delivery_id)
        return webhooks.get_webhook(tx, principal(), webhook_id), d, lookups.order_numbers(tx, [d["order_id"]])
    hook, d, numbers = read(run)
    return render_template("web/webhooks/delivery.html", hook=hook, d=d, order_numbers=numbers)


def _set_active(webhook_id: int, active: bool) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        hook = webhooks.update_webhook(tx, principal(), webhook_id, {"active": active})
        return (url_for("web.webhook", webhook_id=webhook_id),
                f"{hook['url']} switched {'on: it catches up from where it stopped' if active else 'off'}.")
    return back_to(url_for("web.webhook", webhook_id=webhook_id), submit(work))


@bp.route("/webhooks/<id:webhook_id>/disable", methods=["POST"])
@requires(ADMIN)
def disable_webhook(webhook_id: int) -> Any:
    return _set_active(webhook_id, False)


@bp.route("/webhooks/<id:webhook_id>/enable", methods=["POST"])
@requires(ADMIN)
def enable_webhook(webhook_id: int) -> Any:
    return _set_active(webhook_id, True)


@bp.route("/webhooks/<id:webhook_id>/rotate-secret", methods=["POST"])
@requires(ADMIN)
def rotate_webhook_secret(webhook_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        webhooks.rotate_secret(tx, principal(), webhook_id)
        return (url_for("web.webhook", webhook_id=webhook_id),
                "New signing secret: copy it now, it is shown only this once. The old one stays valid for 24 hours.")
    outcome = submit(work)
    if not isinstance(outcome, Problem):
        session[_REVEAL] = webhook_id
    return back_to(url_for("web.webhook", webhook_id=webhook_id), outcome)


@bp.route("/webhooks/<id:webhook_id>/delete", methods=["POST"])
@requires(ADMIN)
def delete_webhook(webhook_id: int) -> Any:
    def work(tx: Any) -> tuple[str, str]:
        url = webhooks.get_webhook(tx, principal(), webhook_id)["url"]
        webhooks.delete_webhook(tx, principal(), webhook_id)
        return url_for("web.webhook_list"), f"Webhook {url} deleted with its delivery log."
    return back_to(url_for("web.webhook", webhook_id=webhook_id), submit(work))


def _back() -> str:
    """Where a redelivery button was pressed: the failed list or the subscription."""
    target = request.form.get("back", "")
    return target if target.startswith("/webhooks") and "//" not in target else url_for("web.failed_deliveries")


@bp.route("/webhooks/<id:webhook_id>/deliveries/<id:delivery_id>/redeliver", methods=["POST"])
@requires(ADMIN)
def redeliver(webhook_id: int, delivery_id: int) -> Any:
    back = _back()

    def work(tx: Any) -> tuple[str, str]:
        d = webhooks.redeliver(tx, principal(), webhook_id, delivery_id)
        return back, f"Delivery of event {d['event_id']} ({d['event_type']}) queued to be sent again."
    return back_to(back, submit(work))


@bp.route("/webhooks/<id:webhook_id>/redeliver-failed", methods=["POST"])
@requires(ADMIN)
def redeliver_webhook_failed(webhook_id: int) -> Any:
    back = _back()

    def work(tx: Any) -> tuple[str, str]:
        n = webhooks.redeliver_failed(tx, principal(), webhook_id)["requeued"]
        return back, f"{n} failed deliver{'ies' if n != 1 else 'y'} queued to be sent again."
    return back_to(back, submit(work))


@bp.route("/webhooks/failed")
@requires(ADMIN)
def failed_deliveries() -> Any:
    cursor = int_arg("after")
    def run(tx: Any) -> tuple[Any, Any, dict[int, str]]:
        items, next_cursor = webhooks.failed_deliveries(tx, principal(), cursor, PAGE)
        return items, next_cursor, lookups.order_numbers(tx, [d["order_id"] for d in items])
    items, next_cursor, numbers = read(run)
    return render_template("web/webhooks/failed.html", deliveries=items, next_cursor=next_cursor,
                           order_numbers=numbers, base_args=args_without("after"))


@bp.route("/webhooks/failed/redeliver", methods=["POST"])
@requires(ADMIN)
def redeliver_all_failed() -> Any:
    def work(tx: Any) -> tuple[str, str]:
        r = webhooks.redeliver_all_failed(tx, principal())
        return (url_for("web.failed_deliveries"),
                f"{r['requeued']} failed deliver{'ies' if r['requeued'] != 1 else 'y'} of {r['webhooks']} "
                f"webhook{'s' if r['webhooks'] != 1 else ''} queued to be sent again.")
    return back_to(url_for("web.failed_deliveries"), submit(work))


add("Webhooks", Item("Subscriptions", "web.webhook_list", ADMIN, ("web.webhook", "web.webhook_delivery")))
add("Webhooks", Item("Failed deliveries", "web.failed_deliveries", ADMIN))
