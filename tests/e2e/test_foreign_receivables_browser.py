"""An accountant reads the aging and the statement of a café owing in złoty
and in euros — in a real browser, with screenshots."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import Engine

from tests.e2e.test_back_office import sign_in
from tests.scenarios.test_foreign_receivables import D1, day, owing  # noqa: F401 (fixtures)
from tests.web.conftest import make_user

pytestmark = [pytest.mark.slow, pytest.mark.browser]


def test_aging_and_statement_in_two_currencies(owing: dict[str, Any], engine: Engine, live_url: str, page: Any,
                                               shoot: Any) -> None:
    make_user(engine, "ewa", "accountant")
    pg, base = page, live_url
    sign_in(pg, base, "ewa")
    pg.goto(f"{base}/receivables/aging?as_of={D1}")
    pln = pg.locator("table.aging tbody tr", has_text="PLN")
    assert pln.locator("td").nth(1).inner_text() == "PLN"
    assert "Total in EUR" in pg.inner_text("table.aging tfoot")
    shoot(pg, "40-aging-currencies")
    pg.goto(f"{base}/customers/{owing['customer']['id']}/statement?to={D1}")
    assert "575.95 PLN" in pg.inner_text("main")
    shoot(pg, "41-statement-currencies")
