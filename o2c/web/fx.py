"""Currencies and exchange rates in the back office: the enabled currencies
with their latest rates, the recent rates, and (administrators) enabling a
currency and recording a day's rate."""
from __future__ import annotations

from typing import Any

from flask import render_template, url_for

from o2c.schemas import fx as f
from o2c.services.books import fx
from o2c.web.core import Form, Problem, back_to, bp, load, read, requires, str_arg, submit
from o2c.web.nav import Item, add


def _page(rate_form: Form | None = None, enable_form: Form | None = None, status: int = 200) -> Any:
    shown = str_arg("currency", max_len=3).upper()

    def run(tx: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        every, _ = fx.list_currencies(tx, None, None, 500)
        rates, _ = fx.list_rates(tx, shown or None, None, None, None, 60)
        latest = {}
        for c in every:
            if c["enabled"] and not c["functional"]:
                found, _ = fx.list_rates(tx, c["code"], None, None, None, 1)
                latest[c["code"]] = found[0] if found else None
        enabled = [{**c, "latest": latest.get(c["code"])} for c in every if c["enabled"]]
        return enabled, [c for c in every if not c["enabled"]], rates
    enabled, disabled, rates = read(run)
    for r in rates:
        r["rate_text"] = f.rate_text(r["rate"])
    for c in enabled:
        if c["latest"]:
            c["latest"]["rate_text"] = f.rate_text(c["latest"]["rate"])
    return render_template("web/books/currencies.html", enabled=enabled, disabled=disabled, rates=rates,
                           shown=shown, rate_form=rate_form or Form(), enable_form=enable_form or Form()), status


@bp.route("/books/currencies")
@requires("fx:read", "ledger:read")
def currencies() -> Any:
    return _page()


@bp.route("/books/currencies/enable", methods=["POST"])
@requires("fx:admin")
def enable_currency() -> Any:
    form = Form.posted()
    enabled = form.value("enabled", "1") == "1"
    data, problem = load(f.CurrencyIn(), {"code": form.value("code").strip().upper(), "enabled": enabled})
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            c = fx.set_currency(tx, data["code"], data["enabled"])
            state = "enabled: documents may use it" if c["enabled"] else "disabled"
            return url_for("web.currencies"), f"{c['code']} ({c['name']}) {state}."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    if not enabled:  # a disable button: no form to show the refusal beside
        return back_to(url_for("web.currencies"), problem)
    form.problem = problem
    return _page(enable_form=form, status=problem.status)


@bp.route("/books/currencies/rates", methods=["POST"])
@requires("fx:admin")
def record_rate_page() -> Any:
    form = Form.posted()
    body = {"currency": form.value("currency").strip().upper(), "date": form.value("date").strip(),
            "rate": form.value("rate").strip(), "source": form.value("source").strip() or "manual"}
    data, problem = load(f.RateIn(), body)
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            r = fx.record_rate(tx, data["currency"], data["date"], data["rate"], data["source"])
            return (url_for("web.currencies"),
                    f"{r['currency']} {f.rate_text(r['rate'])} per euro on {r['date'].isoformat()} recorded.")
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return _page(rate_form=form, status=problem.status)


# In the accountants' Books section (clerks read rates over the API).
add("Books", Item("Currencies", "web.currencies", "ledger:read", ("web.enable_currency", "web.record_rate_page")))
