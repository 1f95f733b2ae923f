"""The demo sells in PLN and USD once the next step lets it: both enabled, with
ECB-like rates up to the last working day; Russian customers stay in EUR."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select

from o2c.db import models as m
from o2c.demo import load_demo
from o2c.services.books import fx
from o2c.services.platform.uow import unit_of_work


def test_the_demo_enables_pln_and_usd_with_rates_and_keeps_russia_in_eur(app: Any, engine: Engine) -> None:
    load_demo(engine, 4)
    with unit_of_work(engine, "test", readonly=True) as tx:
        enabled = {c["code"]: c for c in fx.list_currencies(tx, True, None, 50)[0]}
        rub = fx.get_currency(tx, "RUB")
        pln = fx.rate_on(tx, "PLN", tx.today)
        usd = fx.rate_on(tx, "USD", tx.today)
        moka = fx.price_for(tx, "MOKA-3", "PLN", tx.today)
        russians = tx.conn.execute(select(m.Customer.currency).where(m.Customer.country == "RU")).scalars().all()
    assert set(enabled) == {"EUR", "PLN", "USD"}
    assert enabled["PLN"]["rate_source"] == "ecb" and rub["rate_source"] == "manual" and not rub["enabled"]
    assert pln.source == usd.source == "ecb" and 4 < pln.rate < 5 and 1 < usd.rate < 2
    assert (pln.requested - pln.date).days <= 2  # the last working day's
    assert moka["basis"] == "price_list" and str(moka["unit_price"].normalize()) == "129"
    assert russians and set(russians) == {"EUR"}
