"""Customer insights against hand-computed figures on the fixed history of
``tests/crm/history.py``; RFM scores and segments against the other customers."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import Engine, insert

from o2c.db import models as m
from o2c.domain.access import SYSTEM
from o2c.services.crm import insights
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client
from tests.crm.history import build

AS_OF = "2026-03-01"


@pytest.fixture
def history(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    ids = build(engine, monkeypatch)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    with engine.begin() as c:
        ships = [r[0] for r in c.exec_driver_sql("SELECT id FROM shipments ORDER BY id")]
        c.execute(insert(m.Feedback.__table__), [
            {"customer_id": ids["C-ROSSI"], "shipment_id": ships[1], "token_hash": "a" * 64, "score": 4,
             "created_at": now, "answered_at": now},
            {"customer_id": ids["C-ROSSI"], "shipment_id": ships[2], "token_hash": "b" * 64, "score": 5,
             "created_at": now, "answered_at": now},
            {"customer_id": ids["C-ROSSI"], "shipment_id": ships[3], "token_hash": "c" * 64, "score": None, "created_at": now,
             "answered_at": None}])
    with unit_of_work(engine, "test") as tx:
        assert insights.refresh_rfm(tx) == 3  # the draft-only customer has no figures
    return ids


def test_insights_of_a_customer_with_returns_payments_and_feedback(history: dict[str, Any], clerk: Client) -> None:
    got = clerk.ok("get", f"/api/v1/customers/{history['C-ROSSI']}/insights?as_of={AS_OF}")
    assert got == {
        "customer_id": history["C-ROSSI"],
        "first_order_on": "2026-01-10", "last_order_on": "2026-02-19", "orders": 3,
        "lifetime_net": "60.00",  # 20 + 30 + 20 invoiced − 10 credited
        "cogs": "24.00",  # 7 mugs shipped at 4.00 − 1 restocked
        "gross_margin": "36.00", "gross_margin_rate": "0.6000",
        "average_order_interval_days": "20.0",  # 40 days ÷ 2 gaps
        "returns_rate": "0.1429",  # 1 of 7 units
        "satisfaction_average": "4.5", "satisfaction_answers": 2,
        "open_balance": "12.20",  # I3 24.40 − credit note 12.20
        "open_balance_by_currency": [{"currency": "EUR", "open_balance": "12.20", "functional_open_balance": "12.20"}],
        "average_days_to_pay": "12.5",  # (10 + 15) ÷ 2
        "rfm": {"recency": 10, "frequency": 3, "monetary": "60.00",
                "recency_score": 4, "frequency_score": 5, "monetary_score": 5, "segment": "champion"},
    }


def test_rfm_segments_against_the_other_customers(history: dict[str, Any], accountant: Client) -> None:
    def seg(code: str) -> Any:
        return accountant.ok("get", f"/api/v1/customers/{history[code]}/insights?as_of={AS_OF}")["rfm"]
    # 3 customers with orders: scores are ⌈5 × (1 + strictly worse) ÷ 3⌉.
    assert seg("C-BIANCHI") == {"recency": 4, "frequency": 1, "monetary": "10.00", "recency_score": 5,
                                "frequency_score": 2, "monetary_score": 2, "segment": "new"}
    assert seg("C-VERDI") == {"recency": 273, "frequency": 1, "monetary": "10.00", "recency_score": 2,
                              "frequency_score": 2, "monetary_score": 2, "segment": "lapsed"}
    neri = accountant.ok("get", f"/api/v1/customers/{history['C-NERI']}/insights?as_of={AS_OF}")
    assert neri["orders"] == 0 and neri["rfm"] is None and neri["lifetime_net"] == "0.00"


def test_only_back_office_roles_read_insights(history: dict[str, Any], shop: Client, admin: Client) -> None:
    assert shop.get(f"/api/v1/customers/{history['C-ROSSI']}/insights").status_code == 403
    assert admin.get("/api/v1/customers/999999/insights").status_code == 404
    assert admin.get(f"/api/v1/customers/{history['C-ROSSI']}/insights?as_of=soon").status_code == 422


@pytest.mark.parametrize(("r", "f", "mo", "n", "expected"), [
    (5, 1, 1, 1, "new"), (4, 4, 4, 2, "champion"), (3, 3, 1, 5, "loyal"), (2, 3, 5, 4, "at_risk"),
    (1, 1, 1, 1, "lapsed"), (3, 2, 2, 2, "occasional"),
])
def test_the_segment_table(r: int, f: int, mo: int, n: int, expected: str) -> None:
    assert insights.segment(r, f, mo, n) == expected
    assert expected in dict(insights.SEGMENTS)
