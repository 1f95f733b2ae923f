"""The receivables pages of a customer owing in złoty and in euros: each
amount in its currency, subtotals per currency, totals in EUR."""
from __future__ import annotations

from typing import Any

from tests.scenarios.test_foreign_receivables import D1, LATE, day, owing  # noqa: F401 (fixtures)
from tests.web.test_receivables_pages import cells


def test_aging_page_shows_each_currency_and_the_eur_total(owing: dict[str, Any], accountant_web: Any) -> None:
    html = accountant_web.get(f"/receivables/aging?as_of={D1}").text
    assert cells(html, "Total PLN")[1:] == ["1", "575.95 PLN", "—", "—", "—", "—",
                                           "575.95 PLN", "134.73", ""]
    total = cells(html, "Total in EUR")
    assert total[0] == "Total in EUR (1 customer)" and total[1] == "192.07" and total[-2:] == ["192.07", ""]
    assert "633.29" not in html


def test_statement_and_customer_pages_keep_currencies_apart(owing: dict[str, Any], accountant_web: Any) -> None:
    cid = owing["customer"]["id"]
    html = accountant_web.get(f"/customers/{cid}/statement?to={D1}").text
    assert cells(html, "<td>PLN</td>")[1:] == ["0.00 PLN", "575.95 PLN", "575.95 PLN", "0.00 PLN", "134.73 EUR"]
    assert cells(html, "Closing balance PLN")[-1] == "575.95 PLN"
    assert "Closing balance in EUR" in html and "192.07" in html
    page = accountant_web.get(f"/customers/{cid}").text
    assert "Open receivables in EUR" in page and "192.07" in page and "575.95 PLN" in page


def test_dunning_list_states_each_letters_currency(owing: dict[str, Any], accountant_web: Any, day: Any) -> None:
    import re
    day(LATE)
    page = accountant_web.get("/dunning")
    token = re.search(r'name="form_token" value="([^"]+)"', page.text).group(1)
    r = accountant_web.post("/dunning/run", {"as_of": LATE.isoformat(), "form_token": token})
    listed = accountant_web.get(r.headers["Location"]).text
    assert "2 letters with 2 notices recorded as of 2026-12-20 (57.34 EUR, 575.95 PLN)" in listed
    assert "575.95 PLN" in listed


def test_dashboard_keeps_todays_orders_apart_by_currency(owing: dict[str, Any], admin: Any, day: Any,
                                                         accountant_web: Any) -> None:
    import re

    from tests.scenarios.test_foreign_receivables import D1, order
    day(D1)
    order(admin, 2, "PLN")  # 2 × 199.99 PLN + 22 % VAT
    order(admin, 1, "EUR")  # 47.00 EUR + 22 % VAT
    html = accountant_web.get("/").text
    tile = re.search(r'Orders today</span><span class="tile-value">(\d+)</span>\s*<span class="tile-note">([^<]*)<',
                     html)
    assert tile is not None and tile.groups() == ("2", "57.34 EUR · 487.98 PLN")
    assert "545.32" not in html  # the two totals never added up
    to_pack = html[html.index("Orders to pack"):html.index("Packed, to ship")]
    assert ">487.98 PLN<" in to_pack and ">57.34<" in to_pack
