"""The rounding rule of documents in another currency, proven on random
documents: each VAT row's net and VAT converted and rounded on its own, the
functional totals the sums of the rows, the lines sharing the functional net
by the largest remainder, and the ledger posting exactly those figures; the
settled value of a document always within its booked figure and all of it at
the end, whatever the steps."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from o2c.domain import fx
from o2c.domain.money import document_totals, line_net, spread
from o2c.domain.tax import vat_rows
from o2c.ledger.accounts import DEFAULT_CHART
from o2c.ledger.posting import entry_for_invoice, entry_in_currency

D = Decimal
rates = st.builds(lambda mantissa, exp: D(mantissa).scaleb(exp),
                  st.integers(min_value=1000, max_value=999999), st.integers(min_value=-6, max_value=-1)
                  ).filter(lambda r: D("0.3") <= r <= D("30000"))
currencies = st.sampled_from(["PLN", "USD", "JPY", "HUF", "GBP"])
line = st.tuples(st.integers(min_value=1, max_value=500), st.integers(min_value=1, max_value=10**7),
                 st.sampled_from([D(0), D("0.10"), D("0.25")]), st.sampled_from([D("0.22"), D("0.10"), D("0.04"), D(0)]))


@settings(max_examples=300, deadline=None, database=None)
@given(lines=st.lists(line, min_size=1, max_size=12), rate=rates, currency=currencies)
def test_functional_lines_add_up_to_the_functional_total_and_the_ledger_posts_it(
        lines: list[tuple[int, int, Decimal, Decimal]], rate: Decimal, currency: str) -> None:
    places = fx.minor_units(currency)
    nets = [line_net(q, D(p).scaleb(-places), disc, places) for q, p, disc, _ in lines]
    totals = document_totals(((n, r) for n, (_, _, _, r) in zip(nets, lines)), places)
    rows = vat_rows(((n, "S" if r else "Z", r) for n, (_, _, _, r) in zip(nets, lines)), places)
    f = fx.functional_figures([(v.net, v.vat) for v in rows], nets, rate, currency)

    assert sum(f.lines, D(0)) == f.net
    assert f.net == sum((n for n, _ in f.rows), D(0)) and f.vat == sum((v for _, v in f.rows), D(0))
    assert f.total == f.net + f.vat
    for (fn, fv), v in zip(f.rows, rows):
        assert fn == fx.to_functional(v.net, rate, currency) and fv == fx.to_functional(v.vat, rate, currency)
    # Every line's share is within a cent of its exact proportion.
    for share, n in zip(f.lines, nets):
        exact = f.net * n / totals.net if totals.net else D(0)
        assert abs(share - exact) < D("0.01") or not totals.net

    entry = entry_for_invoice(DEFAULT_CHART, dt.date(2026, 11, 2), 1, "INV-1", f.net, f.vat, 1,
                              foreign=(currency, totals.net, totals.vat))
    assert entry is not None
    receivable = [l for l in entry.lines if l.account == "1100"]
    assert sum((l.debit for l in receivable), D(0)) == f.total
    assert sum((l.debit - l.credit for l in entry.lines), D(0)) == 0
    assert sum((l.amount or D(0) for l in entry.lines), D(0)) == 0


@settings(max_examples=300, deadline=None, database=None)
@given(total=st.integers(min_value=0, max_value=10**9).map(lambda c: D(c).scaleb(-2)),
       weights=st.lists(st.integers(min_value=0, max_value=10**8).map(lambda c: D(c).scaleb(-2)),
                        min_size=1, max_size=20))
def test_the_largest_remainder_spread_adds_up_exactly(total: Decimal, weights: list[Decimal]) -> None:
    parts = spread(total, weights)
    assert sum(parts, D(0)) == total and len(parts) == len(weights)
    assert all(p >= 0 for p in parts)


@settings(max_examples=300, deadline=None, database=None)
@given(total=st.integers(min_value=1, max_value=10**9), booked=st.integers(min_value=0, max_value=10**9),
       steps=st.lists(st.integers(min_value=1, max_value=10**8), min_size=1, max_size=8))
def test_settling_in_steps_clears_exactly_the_booked_figure(total: int, booked: int, steps: list[int]) -> None:
    """However a document is settled, the values cleared step by step are
    never negative, never more than booked, and add up to it at the end."""
    T, F = D(total).scaleb(-2), D(booked).scaleb(-2)
    settled, cleared = D(0), D(0)
    for s in [*steps, total]:
        step = min(D(s).scaleb(-2), T - settled)
        value = fx.settled_value(F, T, settled + step) - fx.settled_value(F, T, settled)
        assert value >= 0
        settled += step
        cleared += value
        assert cleared <= F
    assert settled == T and cleared == F


def test_an_exchange_difference_goes_to_gain_or_loss() -> None:
    day = dt.date(2026, 11, 3)
    loss = entry_in_currency(DEFAULT_CHART, day, "payment", 1, "PAY-1", "", "PLN",
                             [("bank", D("93.00"), D("400.00")), ("receivables", D("-93.57"), D("-400.00"))], 1)
    gain = entry_in_currency(DEFAULT_CHART, day, "payment", 2, "PAY-2", "", "PLN",
                             [("bank", D("77.96"), D("331.96")), ("receivables", D("-77.65"), D("-331.96"))], 1)
    assert loss is not None and gain is not None
    assert [(l.account, l.debit, l.credit) for l in loss.lines][-1] == ("6900", D("0.57"), D(0))
    assert [(l.account, l.debit, l.credit) for l in gain.lines][-1] == ("4900", D(0), D("0.31"))
