"""The company's settings page (administrators): country, VAT id, the
One-Stop-Shop registration and the distance-sales threshold."""
from __future__ import annotations

from typing import Any

from flask import render_template, request, url_for

from o2c.schemas import api as s
from o2c.services.platform import company
from o2c.web import nav
from o2c.web.core import Form, Problem, amount, bp, load, read, requires, submit

nav.add("Books", nav.Item("Company", "web.company_settings", "company:admin"))

FIELDS = ("name", "address", "country", "vat_id", "iban", "bic")


def _values(c: dict[str, Any]) -> dict[str, str]:
    values = {k: str(c.get(k) or "") for k in FIELDS}
    values["oss_registered"] = "1" if c["oss_registered"] else ""
    values["distance_sales_threshold"] = f"{c['distance_sales_threshold']:.2f}"
    return values


def _body(v: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {k: v.get(k, "").strip() for k in FIELDS}
    body["country"] = body["country"].upper()
    body["oss_registered"] = v.get("oss_registered") == "1"
    body["distance_sales_threshold"] = amount(v.get("distance_sales_threshold"))
    return body


@bp.route("/settings/company", methods=["GET", "POST"])
@requires("company:admin")
def company_settings() -> Any:
    if request.method == "GET":
        c = read(company.get_company)
        return render_template("web/settings/company.html", form=Form(_values(c)))
    form = Form.posted()
    data, problem = load(s.CompanyPatch(), _body(form.values))
    if problem is None:
        def work(tx: Any) -> tuple[str, str]:
            company.update_company(tx, data)
            return url_for("web.company_settings"), "Company settings saved."
        outcome = submit(work)
        if not isinstance(outcome, Problem):
            return outcome
        problem = outcome
    form.problem = problem
    return render_template("web/settings/company.html", form=form), 422
