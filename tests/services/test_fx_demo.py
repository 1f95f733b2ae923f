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


def test_the_demo_sells_in_zloty_and_its_books_reconcile(app: Any, engine: Engine) -> None:
    """A Polish café invoiced in PLN, paid in part at another day's rate: an
    exchange difference in the ledger, every reconciliation check zero."""
    from o2c.domain.money import round_money
    from o2c.services.books import revaluation
    from o2c.services.books.reconciliation import currency_checks, gl_by_role_and_currency, reconcile
    load_demo(engine, 4)
    with unit_of_work(engine, "test", readonly=True) as tx:
        zloty = tx.conn.execute(select(m.Invoice.total, m.Invoice.amount_paid, m.Invoice.exchange_rate,
                                       m.Invoice.functional_total).where(m.Invoice.currency == "PLN")
                                .order_by(m.Invoice.id)).all()
        paid = tx.conn.execute(select(m.Payment.amount, m.Payment.exchange_rate)
                               .where(m.Payment.currency == "PLN")).all()
        fx_lines = tx.conn.execute(select(m.JournalLine.account).where(m.JournalLine.account.in_(("4900", "6900"))
                                                                      )).scalars().all()
        report = reconcile(tx)
        today_checks = currency_checks(tx, tx.today, gl_by_role_and_currency(tx, tx.today))
        revalued = revaluation.list_revaluations(tx, None, 10)[0]
    assert len(zloty) == 2 and zloty[0].amount_paid == 300 and zloty[1].amount_paid == 0
    assert all(4 < z.exchange_rate < 5 and z.functional_total < z.total for z in zloty)
    assert len(paid) == 1 and paid[0].exchange_rate != zloty[0].exchange_rate
    assert fx_lines
    assert report["ok"], [c for c in report["checks"] if c["difference"] != 0]
    assert {c["name"] for c in report["checks"]} >= {"receivables_PLN", "customer_credit_PLN"}
    # One revaluation of the złoty still owed, with its reversal; in force or
    # not today, the per-currency checks hold.
    assert len(revalued) == 1 and revalued[0]["entry"] and revalued[0]["reversal"]
    assert [b["currency"] for b in revalued[0]["balances"]] == ["PLN"]
    b = revalued[0]["balances"][0]
    assert b["revalued"] == round_money(b["amount"] / b["rate"]) and b["difference"] == b["revalued"] - b["booked"]
    assert all(c["difference"] == 0 for c in today_checks), today_checks
