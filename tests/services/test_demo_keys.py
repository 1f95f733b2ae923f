"""A second `o2c demo` on a loaded database makes fresh keys; the fresh webshop
key serves the demo webshop's channel, so it sees the demo's webshop orders."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from o2c.demo import load_demo
from tests.conftest import Client


def test_a_later_demo_shop_key_serves_the_demo_webshop_channel(app: Any, engine: Engine) -> None:
    first = load_demo(engine, 12)
    again = load_demo(engine, 12)
    assert set(again) == {f"{name}-2" for name in first}
    one = Client(app.test_client(), first["demo-shop"]).ok("get", "/api/v1/orders?limit=100")["items"]
    two = Client(app.test_client(), again["demo-shop-2"]).ok("get", "/api/v1/orders?limit=100")["items"]
    assert one and [o["id"] for o in two] == [o["id"] for o in one]
    assert {o["channel"] for o in two} == {"demo-shop"}
