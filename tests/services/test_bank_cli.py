"""``o2c bank import FILE…``: each file whole or not at all, the same file
again adds nothing, and a refused file makes the exit status 1."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from o2c.cli import main
from o2c.db import models as m
from tests.bankfiles import COMPANY_IBAN, Stmt, Txn, camt053, mt940

DAY = dt.date(2026, 11, 2)


def test_the_command_imports_files_once_and_says_which_it_refused(engine: Engine, db_url: str, tmp_path: Path,
                                                                   monkeypatch: Any) -> None:
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)
    a = tmp_path / "a.xml"
    a.write_bytes(camt053(COMPANY_IBAN, "EUR", [Stmt("CLI-A", DAY, DAY, Decimal("0.00"), [
        Txn(DAY, Decimal("10.00"), "A", remittance="x")])]))
    b = tmp_path / "b.sta"
    b.write_bytes(mt940(COMPANY_IBAN, "EUR", [Stmt("CLI-B", DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=1),
                                                   Decimal("10.00"), [Txn(DAY + dt.timedelta(days=1),
                                                                          Decimal("5.00"), "B", remittance="y")])]))
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<Document")
    run = CliRunner().invoke(main, ["bank", "import", str(a), str(b), str(bad)])
    assert run.exit_code == 1, run.output
    assert "CLI-A" in run.output and "CLI-B" in run.output and "refused" in run.output
    again = CliRunner().invoke(main, ["bank", "import", str(a)])
    assert again.exit_code == 0 and "imported before" in again.output
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.BankStatement.__table__)).scalar_one() == 2
        assert c.execute(select(func.count()).select_from(m.BankLine.__table__)).scalar_one() == 2
