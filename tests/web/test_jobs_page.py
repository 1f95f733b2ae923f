"""The job queue page (admins only): per lane and kind, waiting, scheduled,
running and failed jobs with the oldest wait, and the latest failures."""
from __future__ import annotations

import datetime as dt
import html
import re

import pytest
from sqlalchemy import Engine, update

from o2c.db import models as m
from o2c.domain.access import Principal
from o2c.domain.errors import Forbidden
from o2c.services.platform import jobs
from o2c.services.platform.uow import unit_of_work
from o2c.worker import load_job_modules
from tests.web.conftest import Web

J = m.Job.__table__


def _row(page: str, label: str) -> list[str]:
    """The cells of the table row headed ``label``, as text."""
    row = re.search(r"<tr[^>]*>\s*<t[hd][^>]*>(?:&nbsp;)*" + re.escape(label) + r"</t[hd]>(.*?)</tr>", page, re.S)
    assert row, label
    return [html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(1), re.S)]


def test_an_admin_sees_each_lane_and_kind_with_its_backlog_and_failures(admin_web: Web, engine: Engine) -> None:
    load_job_modules()
    now = dt.datetime.now(dt.timezone.utc)
    with engine.begin() as conn:
        for n in range(3):
            jobs.enqueue(conn, "invoice.render_pdf", {"invoice_id": n}, now=now - dt.timedelta(minutes=5))
        jobs.enqueue(conn, "webhooks.deliver", {"webhook_id": 1, "event_id": 9}, run_at=now + dt.timedelta(hours=1))
        jobs.enqueue(conn, "dunning.render_letter", {"letter_id": 4}, now=now)
        conn.execute(update(J).where(J.c.kind == "dunning.render_letter").values(
            status="failed", attempts=5, last_error="Traceback …\nOSError: the disk is full"))
    page = admin_web.get("/jobs")
    assert page.status_code == 200
    text = page.text
    documents = _row(text, "documents")
    assert documents[:4] == ["3", "0", "0", "1"]
    assert documents[4].startswith("5 min")  # the oldest render has waited five minutes
    assert _row(text, "invoice.render_pdf")[:4] == ["3", "0", "0", "0"]
    assert _row(text, "deliveries")[:5] == ["0", "1", "0", "0", "—"]
    assert _row(text, "mail")[:4] == ["0", "0", "0", "0"]  # every lane is listed, also without kinds yet
    assert "OSError: the disk is full" in text and "Traceback" not in text
    assert 'href="/jobs"' in text  # in the navigation


@pytest.mark.parametrize("who", ["clerk_web", "accountant_web"])
def test_only_admins_see_the_job_queue(request: pytest.FixtureRequest, who: str) -> None:
    web: Web = request.getfixturevalue(who)
    assert web.get("/jobs").status_code == 403
    assert 'href="/jobs"' not in web.get("/").text


def test_the_service_refuses_everyone_but_admins(engine: Engine) -> None:
    with unit_of_work(engine, "test", readonly=True) as tx:
        for role in ("webshop", "clerk", "accountant"):
            with pytest.raises(Forbidden):
                jobs.overview(tx, Principal("user", 1, "x", role))
        assert [lane["lane"] for lane in jobs.overview(tx, Principal("user", 1, "x", "admin"))["lanes"]] == \
            list(jobs.LANES)
