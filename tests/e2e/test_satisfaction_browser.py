"""The satisfaction link in a real browser: no sign-in, a click on a score
records it, the comment box saves a comment, a second answer replaces the
first, and a low score leaves a task for the clerks."""
from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c.db import models as m
from o2c.services.crm import feedback
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client
from tests.crm.history import on
from tests.crm.test_followup import _shipped


def test_a_customer_answers_from_the_link_without_signing_in(admin: Client, engine: Engine, live_url: str,
                                                             page: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.conftest import customer, product
    with on(monkeypatch, "2026-03-01"):
        customer(admin, "C-ROSSI")
        product(admin, "MUG-01", "10.00", stock=5)
        _shipped(admin, "C-ROSSI")
    with on(monkeypatch, "2026-03-09"):
        with unit_of_work(engine, "worker") as tx:
            assert feedback.request_followups(tx, live_url, 7) == 1
    monkeypatch.undo()
    with engine.connect() as c:
        text = c.execute(select(m.Message.body_text).where(m.Message.kind == "follow_up")).scalar_one()
    link = re.search(r"(http://\S+/f/[A-Za-z0-9_-]+)\?score=5", text).group(1)

    page.goto(f"{link}?score=5")
    assert page.locator("#saved").inner_text() == "Thank you: your answer is saved."
    assert page.locator("input[name=score][value='5']").is_checked()
    page.locator("input[name=score][value='1']").check()
    page.fill("#comment", "The handle broke on the first day.")
    page.click("button:has-text('Send')")
    assert page.locator("#saved").inner_text() == "Thank you: your comment is saved."
    assert page.locator("#comment").input_value() == "The handle broke on the first day."
    with engine.connect() as c:
        rows = c.execute(select(m.Feedback.score, m.Feedback.comment)).all()
        tasks = c.execute(select(func.count()).select_from(m.FollowUpTask)).scalar_one()
    assert rows == [(1, "The handle broke on the first day.")] and tasks == 1
