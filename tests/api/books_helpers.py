"""Builders for the accountant's tests: sales on given days, a clock that can
be moved, raw access to the tables an accountant must be able to trust."""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from o2c.services.platform import clock
from tests.conftest import Client, order

UTC = dt.timezone.utc


@contextmanager
def on(day: str | dt.date) -> Iterator[dt.date]:
    """Run the services as if it were noon of ``day``."""
    d = dt.date.fromisoformat(day) if isinstance(day, str) else day
    real = clock.now
    clock.now = lambda: dt.datetime.combine(d, dt.time(12), UTC)  # type: ignore[assignment]
    try:
        yield d
    finally:
        clock.now = real  # type: ignore[assignment]


def sell(api: Client, customer_code: str, lines: list[tuple[str, int]], day: str | None = None) -> dict[str, Any]:
    """Order, pack and ship everything (on ``day``): returns the invoice."""
    def go() -> dict[str, Any]:
        r = order(api, customer_code, lines)
        assert r.status_code == 201, r.get_json()
        sh = api.ok("post", f"/api/v1/orders/{r.get_json()['id']}/shipments", {}, status=201)
        sh = api.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
        return api.ok("get", f"/api/v1/invoices/{sh['invoice_id']}")
    if day is None:
        return go()
    with on(day):
        return go()


def pay(api: Client, customer_id: int, amount: str, received_on: str, reference: str, **extra: Any) -> Any:
    return api.post("/api/v1/payments", {"customer_id": customer_id, "amount": amount, "currency": "EUR",
                                         "received_on": received_on, "method": "bank_transfer",
                                         "reference": reference, **extra})
