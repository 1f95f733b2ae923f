"""Cycle KPIs against hand-computed figures on the fixed history of
``tests/crm/history.py`` (period 2026-01-01 … 2026-02-28, 59 days)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.conftest import Client
from tests.crm.history import build

PERIOD = "from=2026-01-01&to=2026-02-28"


@pytest.fixture
def history(engine: Engine, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    return build(engine, monkeypatch)


def test_every_figure_by_hand(history: dict[str, Any], accountant: Client) -> None:
    k = accountant.ok("get", f"/api/v1/reports/kpis?{PERIOD}")
    # Invoiced in the period: I1 24.40 + I2 36.60 + I3 24.40 + I4 12.20 = 97.60.
    assert (k["days"], k["invoiced"]) == (59, "97.60")
    # Receivables: nothing open on 2025-12-31 (I0 paid); at the end I3 24.40 − 12.20 credited, and I4 12.20.
    assert (k["receivables_start"], k["receivables_end"]) == ("0.00", "24.40")
    assert k["dso"] == "14.8"  # 24.40 ÷ 97.60 × 59 = 14.75
    # Current (not yet due) at the end: I3 12.20 (due 03-21), I4 12.20 (due 03-27): (0 + 97.60 − 24.40) ÷ (0 + 97.60 − 24.40).
    assert (k["current_receivables_end"], k["cei"]) == ("24.40", "100.0")
    # Paid orders: O1 10 days (01-10 → 01-20), O2 15 days (01-30 → 02-14).
    assert k["o2c_cycle_days"] == {"median": "12.5", "p90": 15, "orders": 2}
    # O1 perfect; O2 shipped after its promise; O3 returned and credited; O4 perfect (no promise): 2 of 4.
    assert k["perfect_order_rate"] == "0.5000"
    assert k["on_time_shipment_rate"] == "0.5000"  # O1 on time, O2 late
    assert k["repeat_purchase_rate"] == "0.5000"  # Rossi (3 orders) of Rossi and Bianchi
    assert k["quote_win_rate"] is None
    gm = k["gross_margin"]
    assert gm["by_month"] == [
        {"month": "2026-01", "revenue": "50.00", "cogs": "20.00", "margin": "30.00"},
        {"month": "2026-02", "revenue": "20.00", "cogs": "8.00", "margin": "12.00"},  # 20 − 10 credited + 10
    ]
    assert gm["by_product"] == [{"sku": "MUG-01", "revenue": "70.00", "cogs": "28.00", "margin": "42.00"}]
    assert [(r["code"], r["revenue"], r["cogs"], r["margin"]) for r in gm["by_customer"]] == [
        ("C-BIANCHI", "10.00", "4.00", "6.00"), ("C-ROSSI", "60.00", "24.00", "36.00")]


def test_each_figure_drills_down_to_its_documents_and_exports_csv(history: dict[str, Any], clerk: Client) -> None:
    perfect = clerk.ok("get", f"/api/v1/reports/kpis/perfect_order_rate?{PERIOD}")
    assert [i["perfect"] for i in perfect["items"]] == [True, False, False, True]
    cycle = clerk.ok("get", f"/api/v1/reports/kpis/o2c_cycle_days?{PERIOD}")
    assert [i["cycle_days"] for i in cycle["items"]] == [10, 15]
    dso = clerk.ok("get", f"/api/v1/reports/kpis/dso?{PERIOD}")
    assert sorted(i["open"] for i in dso["items"]) == ["12.20", "12.20"]
    repeat = clerk.ok("get", f"/api/v1/reports/kpis/repeat_purchase_rate?{PERIOD}")
    assert [(i["code"], i["repeat"]) for i in repeat["items"]] == [("C-BIANCHI", False), ("C-ROSSI", True)]
    csv = clerk.get(f"/api/v1/reports/kpis/on_time_shipment_rate/export?{PERIOD}")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    text = csv.get_data(as_text=True).splitlines()
    assert text[0] == "order,customer_id,promised_date,shipped_on,on_time"
    assert [line.split(",")[-1] for line in text[1:]] == ["yes", "no"]
    assert clerk.get(f"/api/v1/reports/kpis/nothing?{PERIOD}").status_code == 404
    assert clerk.get("/api/v1/reports/kpis?from=2026-03-01&to=2026-01-01").status_code == 422


def test_who_may_read_the_kpis(history: dict[str, Any], shop: Client, admin: Client) -> None:
    assert shop.get(f"/api/v1/reports/kpis?{PERIOD}").status_code == 403
    assert shop.get(f"/api/v1/reports/kpis/dso/export?{PERIOD}").status_code == 403
    assert admin.ok("get", "/api/v1/reports/kpis")["days"] == 365
