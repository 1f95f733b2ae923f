"""``o2c invoices render``: a period's invoices as PDF files, into a folder or a zip."""
from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from o2c.cli import main
from o2c.db import models as m
from o2c.services.billing.document_batch import export_invoices
from o2c.services.platform import clock
from tests.conftest import Client, customer, order, product
from tests.docbuild import pdf_pages

DAYS = (dt.date(2026, 3, 30), dt.date(2026, 3, 31), dt.date(2026, 4, 1))


@pytest.fixture
def three_invoices(admin: Client, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Invoices issued on 30 and 31 March and 1 April 2026."""
    customer(admin, "C-ROSSI")
    product(admin, "RETRO-CLOCK", "49.90", stock=10, cost="20.00")
    out = []
    for day in DAYS:
        monkeypatch.setattr(clock, "now", lambda day=day: dt.datetime.combine(day, dt.time(10), dt.timezone.utc))
        o = order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)]).get_json()
        sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
        sh = admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T"})
        out.append(admin.ok("get", f"/api/v1/invoices/{sh['invoice_id']}"))
    monkeypatch.undo()
    return out


def stored(engine: Engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(m.DocumentFile.__table__)).scalar_one()


def test_a_period_is_exported_to_a_folder_as_the_stored_documents(db_url, engine, admin, three_invoices, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    march = three_invoices[:2]
    names = export_invoices(db_url, dt.date(2026, 3, 1), dt.date(2026, 3, 31), tmp_path / "march", progress=False)
    assert names == [f"{i['number']}.pdf" for i in march]
    assert sorted(p.name for p in (tmp_path / "march").iterdir()) == names
    assert stored(engine) == 2  # rendered once, and kept
    for inv in march:
        content = (tmp_path / "march" / f"{inv['number']}.pdf").read_bytes()
        assert content == admin.get(f"/api/v1/invoices/{inv['id']}/pdf").data
        assert inv["number"] in pdf_pages(content)[0]
    again = export_invoices(db_url, dt.date(2026, 3, 1), dt.date(2026, 3, 31), tmp_path / "again", progress=False)
    assert [(tmp_path / "again" / n).read_bytes() for n in again] == [(tmp_path / "march" / n).read_bytes() for n in names]


def test_fresh_renders_do_not_touch_the_stored_documents(db_url, engine, three_invoices, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    names = export_invoices(db_url, dt.date(2026, 4, 1), dt.date(2026, 4, 30), tmp_path / "out.zip", fresh=True,
                            progress=False)
    assert names == [f"{three_invoices[2]['number']}.pdf"]
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.namelist() == names
        assert three_invoices[2]["number"] in pdf_pages(zf.read(names[0]))[0]
    assert stored(engine) == 0


@pytest.mark.slow
def test_the_command_renders_with_worker_processes_into_a_zip(db_url, engine, three_invoices, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "q1.zip"
    result = CliRunner().invoke(main, ["invoices", "render", "--from", "2026-01-01", "--to", "2026-12-31",
                                       "-o", str(out), "--jobs", "2"], env={"O2C_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.output
    assert "3 invoices written to" in result.output
    with zipfile.ZipFile(out) as zf:
        assert zf.namelist() == [f"{i['number']}.pdf" for i in three_invoices]
        with engine.connect() as c:
            kept = dict(c.execute(select(m.DocumentFile.number, m.DocumentFile.content)).all())
        assert {n.removesuffix(".pdf"): zf.read(n) for n in zf.namelist()} == kept


def test_the_command_refuses_a_period_that_ends_before_it_starts(db_url, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = CliRunner().invoke(main, ["invoices", "render", "--from", "2026-04-01", "--to", "2026-03-01",
                                       "-o", str(tmp_path)], env={"O2C_DATABASE_URL": db_url})
    assert result.exit_code == 2 and "--to is before --from" in result.output
