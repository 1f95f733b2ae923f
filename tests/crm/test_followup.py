"""Satisfaction follow-up: the message goes out N days after a shipment
(not to customers who opted out), its links record one answer per shipment
(a second click changes it), a low score or a comment opens a task, and the
feedback and task APIs."""
from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from o2c.db import models as m
from o2c.services.crm import feedback
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client, customer, order, product
from tests.crm.history import on


def _shipped(admin: Client, code: str) -> int:
    o = order(admin, code, [("MUG-01", 1)]).get_json()
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "1"})
    return int(sh["id"])


@pytest.fixture
def shipped(admin: Client, engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with on(monkeypatch, "2026-03-01"):
        rossi = customer(admin, "C-ROSSI")
        quiet = customer(admin, "C-QUIET")
        product(admin, "MUG-01", "10.00", stock=10)
        ids = {"rossi": rossi["id"], "quiet": quiet["id"], "s1": _shipped(admin, "C-ROSSI"),
               "s2": _shipped(admin, "C-QUIET")}
    monkeypatch.undo()
    with engine.begin() as c:
        c.execute(update(m.Customer.__table__).where(m.Customer.id == quiet["id"]).values(followup_opt_out=True))
    return ids


def _request(engine: Engine, monkeypatch: pytest.MonkeyPatch, day: str) -> int:
    with on(monkeypatch, day):
        with unit_of_work(engine, "worker") as tx:
            n = feedback.request_followups(tx, "https://o2c.example", 7)
    monkeypatch.undo()
    return n


def _token(engine: Engine) -> str:
    with engine.connect() as c:
        text = c.execute(select(m.Message.body_text).where(m.Message.kind == "follow_up")).scalar_one()
    return re.search(r"https://o2c\.example/f/([A-Za-z0-9_-]+)\?score=1", text).group(1)


def test_the_message_goes_out_once_after_the_configured_days(shipped: dict[str, Any], engine: Engine,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    assert _request(engine, monkeypatch, "2026-03-05") == 0  # too early
    assert _request(engine, monkeypatch, "2026-03-09") == 1  # Rossi only: the other opted out
    assert _request(engine, monkeypatch, "2026-03-10") == 0  # once per shipment
    with engine.connect() as c:
        msg = c.execute(select(m.Message).where(m.Message.kind == "follow_up")).one()
        stored = c.execute(select(m.Feedback.token_hash)).scalar_one()
    assert msg.customer_id == shipped["rossi"] and msg.document_type == "shipment"
    assert all(f"?score={s}" in msg.body_text and f"?score={s}" in msg.body_html for s in range(1, 6))
    token = _token(engine)
    assert token not in stored and stored == feedback.token_hash(token)  # only the hash is kept


@pytest.mark.parametrize(("language", "subject", "said"), [
    ("it", "com'è andata la consegna", "Quanto è soddisfatto?"),
    ("pl", "jak oceniają Państwo dostawę", "Jak bardzo są Państwo zadowoleni?"),
    ("ru", "как прошла доставка", "Насколько Вы довольны?"),
])
def test_the_message_is_written_in_the_customers_language(shipped: dict[str, Any], engine: Engine,
                                                         monkeypatch: pytest.MonkeyPatch, language: str,
                                                         subject: str, said: str) -> None:
    with engine.begin() as c:
        c.execute(update(m.Customer.__table__).where(m.Customer.id == shipped["rossi"]).values(language=language))
    assert _request(engine, monkeypatch, "2026-03-09") == 1
    with engine.connect() as c:
        msg = c.execute(select(m.Message).where(m.Message.kind == "follow_up")).one()
    assert msg.language == language and subject in msg.subject
    for body in (msg.body_text, msg.body_html):
        assert said in body and "How satisfied" not in body and "?score=5" in body


def test_one_answer_per_shipment_and_a_task_for_a_low_score(shipped: dict[str, Any], engine: Engine,
                                                            monkeypatch: pytest.MonkeyPatch, app: Any,
                                                            clerk: Client, shop: Client) -> None:
    _request(engine, monkeypatch, "2026-03-09")
    token = _token(engine)
    web = app.test_client()
    assert web.get(f"/f/{token}?score=4").status_code == 200
    assert clerk.ok("get", "/api/v1/tasks")["items"] == []  # a 4 needs nobody
    page = web.get(f"/f/{token}?score=2")  # changes the answer
    assert page.status_code == 200 and "your answer is saved" in page.get_data(as_text=True)
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.Feedback)).scalar_one() == 1
    items = clerk.ok("get", "/api/v1/feedback?max_score=2")["items"]
    assert [(i["customer_id"], i["shipment_id"], i["score"]) for i in items] == [
        (shipped["rossi"], shipped["s1"], 2)]
    assert clerk.ok("get", "/api/v1/feedback?max_score=1")["items"] == []
    tasks = clerk.ok("get", "/api/v1/tasks?status=open")["items"]
    assert len(tasks) == 1 and "score 2 of 5" in tasks[0]["title"] and tasks[0]["owner"] is None
    web.get(f"/f/{token}?score=1")
    assert len(clerk.ok("get", "/api/v1/tasks")["items"]) == 1  # still one task for the answer
    done = clerk.ok("patch", f"/api/v1/tasks/{tasks[0]['id']}", {"status": "done", "owner": "anna",
                                                                 "note": "Mug arrived chipped; replaced."})
    assert (done["status"], done["owner"], done["note"]) == ("done", "anna", "Mug arrived chipped; replaced.")
    assert done["done_at"] is not None
    assert clerk.ok("get", "/api/v1/tasks?status=open")["items"] == []
    assert web.get("/f/not-a-token?score=3").status_code == 404
    assert web.get(f"/f/{token}?score=9").status_code == 400
    assert shop.get("/api/v1/tasks").status_code == 403
    assert shop.get("/api/v1/feedback").status_code == 403
    assert clerk.patch("/api/v1/tasks/999999", {"status": "done"}).status_code == 404


def test_a_comment_opens_a_task(shipped: dict[str, Any], engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    _request(engine, monkeypatch, "2026-03-09")
    token = _token(engine)
    with unit_of_work(engine, "test") as tx:
        view = feedback.answer(tx, token, 5, "Lovely, but the box was wet.")
    assert (view["score"], view["comment"]) == (5, "Lovely, but the box was wet.")
    with engine.connect() as c:
        titles = c.execute(select(m.FollowUpTask.title)).scalars().all()
    assert len(titles) == 1 and "a comment" in titles[0]
