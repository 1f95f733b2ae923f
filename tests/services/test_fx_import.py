"""``o2c fx import``: the ECB's reference rates as XML and CSV, a generic CSV;
idempotent, all or nothing, clear about bad files; and the live source that
is never called unless configured."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, func, select

from o2c.cli import main
from o2c.db import models as m
from o2c.services.books import fx, fx_files, fx_provider
from o2c.services.platform.uow import unit_of_work
from tests.conftest import Client

ECB_DAILY = """<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
\t<gesmes:subject>Reference rates</gesmes:subject>
\t<gesmes:Sender>
\t\t<gesmes:name>European Central Bank</gesmes:name>
\t</gesmes:Sender>
\t<Cube>
\t\t<Cube time='2026-12-04'>
\t\t\t<Cube currency='USD' rate='1.1654'/>
\t\t\t<Cube currency='JPY' rate='163.45'/>
\t\t\t<Cube currency='PLN' rate='4.2750'/>
\t\t</Cube>
\t\t<Cube time='2026-12-03'>
\t\t\t<Cube currency='USD' rate='1.1631'/>
\t\t\t<Cube currency='JPY' rate='162.98'/>
\t\t\t<Cube currency='PLN' rate='4.2811'/>
\t\t</Cube>
\t</Cube>
</gesmes:Envelope>
"""

ECB_HIST_CSV = """Date,USD,JPY,BGN,CYP,PLN,
2026-12-04,1.1654,163.45,1.9558,N/A,4.2750,
2026-12-03,1.1631,162.98,1.9558,N/A,4.2811,
2026-12-02,1.1602,N/A,1.9558,N/A,4.2790,
"""

GENERIC = """currency,date,rate,source
PLN,2026-12-07,4.2700,bank
RUB,2026-12-07,91.20,bank
"""


@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)

    def run(*args: str) -> Any:
        return CliRunner().invoke(main, ["fx", *args])
    return run


def write(tmp_path: Path, name: str, text: str | bytes) -> str:
    p = tmp_path / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return str(p)


def stored(engine: Engine) -> dict[tuple[str, str], tuple[str, str]]:
    t = m.FxRate.__table__
    with engine.connect() as c:
        return {(r.currency, r.date.isoformat()): (f"{r.rate.normalize():f}", r.source)
                for r in c.execute(select(t))}


def enable(admin: Client, *codes: str) -> None:
    for code in codes:
        admin.ok("post", "/api/v1/currencies", {"code": code, "enabled": True})


def test_the_ecb_xml_is_imported_once_for_the_enabled_currencies(
        admin: Client, engine: Engine, cli: Any, tmp_path: Path) -> None:
    enable(admin, "PLN", "USD")
    path = write(tmp_path, "eurofxref-daily.xml", ECB_DAILY)
    out = cli("import", "--no-progress", path)
    assert out.exit_code == 0, out.output
    assert "6 rates read; 4 added, 0 changed, 0 unchanged" in out.output
    assert "left out (currencies not enabled, or not ISO 4217): JPY" in out.output
    assert stored(engine) == {
        ("USD", "2026-12-04"): ("1.1654", "ecb"), ("PLN", "2026-12-04"): ("4.275", "ecb"),
        ("USD", "2026-12-03"): ("1.1631", "ecb"), ("PLN", "2026-12-03"): ("4.2811", "ecb")}
    again = cli("import", "--no-progress", path)
    assert again.exit_code == 0 and "0 added, 0 changed, 4 unchanged" in again.output
    assert len(stored(engine)) == 4


def test_the_ecb_csv_and_a_generic_csv(admin: Client, engine: Engine, cli: Any, tmp_path: Path) -> None:
    enable(admin, "PLN", "USD", "RUB")
    hist = write(tmp_path, "eurofxref-hist.csv", ECB_HIST_CSV)
    generic = write(tmp_path, "bank.csv", GENERIC)
    out = cli("import", "--no-progress", hist, generic)
    assert out.exit_code == 0, out.output
    assert "eurofxref-hist.csv: 11 rates read; 6 added" in out.output  # N/A cells are no rates
    assert "left out (currencies not enabled, or not ISO 4217): BGN, JPY" in out.output
    assert "bank.csv: 2 rates read; 2 added" in out.output
    rates = stored(engine)
    assert rates[("PLN", "2026-12-02")] == ("4.279", "ecb")
    assert rates[("RUB", "2026-12-07")] == ("91.2", "bank")
    assert len(rates) == 8


def test_a_changed_rate_in_a_file_changes_the_days_rate(admin: Client, engine: Engine, cli: Any,
                                                        tmp_path: Path) -> None:
    enable(admin, "PLN", "USD")
    cli("import", "--no-progress", write(tmp_path, "a.xml", ECB_DAILY))
    out = cli("import", "--no-progress", write(tmp_path, "b.xml", ECB_DAILY.replace("4.2750", "4.2760")))
    assert "0 added, 1 changed, 3 unchanged" in out.output
    assert stored(engine)[("PLN", "2026-12-04")] == ("4.276", "ecb")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("empty.csv", "", "the file is empty"),
    ("other.csv", "sku,quantity\nA,1\n", "not a rate file"),
    ("bad-rate.csv", "currency,date,rate\nPLN,2026-12-04,-4.27\n", "line 2: “-4.27” is not a rate. A rate is above zero"),
    ("digits.csv", "currency,date,rate\nPLN,2026-12-04,4.27501234567\n", "at most 10 significant digits"),
    ("bad-date.csv", "currency,date,rate\nPLN,04/12/2026,4.27\n", "line 2: “04/12/2026” is not a date"),
    ("columns.csv", "currency,date,rate\nPLN,2026-12-04\n", "line 2: expected 3 columns"),
    ("hist.csv", "Date,USD\n2026-12-04,abc\n", "line 2, USD: “abc” is not a rate"),
    ("broken.xml", "<gesmes:Envelope", "not well-formed XML"),
    ("other.xml", "<html><body/></html>", "not the ECB's reference rates"),
    ("nocube.xml", ECB_DAILY.replace("Cube", "Box"), "no <Cube time=…> element"),
    ("entities.xml", '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>',
     "a document type declaration is not allowed"),
    ("twice.csv", "currency,date,rate\nPLN,2026-12-04,4.27\nPLN,2026-12-04,4.28\n", "two different rates"),
    ("latin1.csv", "currency,date,rate\nPLN,2026-12-04,4.27,\xe9\n".encode("latin-1"), "not UTF-8"),
])
def test_a_bad_file_says_where_and_why_and_imports_nothing(
        admin: Client, engine: Engine, cli: Any, tmp_path: Path, name: str, content: Any, message: str) -> None:
    enable(admin, "PLN", "USD")
    good = write(tmp_path, "good.xml", ECB_DAILY)
    out = cli("import", "--no-progress", write(tmp_path, name, content), good)
    assert out.exit_code == 1
    assert message in out.output and name in out.output, out.output
    assert stored(engine) == {}


def test_a_file_over_the_size_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "big.csv", "currency,date,rate\n" + "PLN,2026-12-04,4.27\n" * 100)
    with pytest.raises(fx_files.BadRateFile, match="more than the 1,000 a rate file may have"):
        fx_files.read_file(path, max_bytes=1000)


def test_an_import_never_changes_a_used_rate_of_a_closed_period(
        admin: Client, engine: Engine, cli: Any, tmp_path: Path) -> None:
    enable(admin, "PLN", "USD")
    cli("import", "--no-progress", write(tmp_path, "a.xml", ECB_DAILY.replace("2026-12", "2026-01")))
    with unit_of_work(engine, "test") as tx:
        fx.rate_on(tx, "PLN", dt.date(2026, 1, 4), use=True)
        tx.conn.execute(m.Period.__table__.insert(), {"period": "2026-01", "closed_at": tx.now, "closed_by": "t"})
    changed = ECB_DAILY.replace("2026-12", "2026-01").replace("4.2750", "4.3000").replace("1.1631", "1.1632")
    out = cli("import", "--no-progress", write(tmp_path, "b.xml", changed))
    assert out.exit_code == 1 and "period 2026-01 is closed" in out.output and "Nothing imported" in out.output
    rates = stored(engine)
    assert rates[("PLN", "2026-01-04")][0] == "4.275" and rates[("USD", "2026-01-03")][0] == "1.1631"


# -- the live source ------------------------------------------------------------------------

def test_without_a_configured_source_nothing_is_fetched(
        cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import urllib.request

    from o2c import outbound
    calls: list[Any] = []
    monkeypatch.delenv("O2C_FX_PROVIDER_URL", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(outbound, "fetch_document", lambda *a, **k: calls.append(a))
    out = cli("fetch")
    assert out.exit_code == 1 and "No live exchange-rate source is configured" in out.output
    with pytest.raises(fx_provider.NotConfigured):
        fx_provider.fetch_rates("", get=lambda url: calls.append(url) or b"")
    assert calls == []


def test_a_configured_source_is_read_as_the_ecbs_daily_xml(
        admin: Client, engine: Engine, cli: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from o2c import outbound
    enable(admin, "PLN")
    asked: list[str] = []
    monkeypatch.setenv("O2C_FX_PROVIDER_URL", "https://rates.example/eurofxref-daily.xml")
    monkeypatch.setattr(outbound, "fetch_document", lambda url: asked.append(url) or ECB_DAILY.encode())
    out = cli("fetch")
    assert out.exit_code == 0, out.output
    assert asked == ["https://rates.example/eurofxref-daily.xml"]
    assert stored(engine)[("PLN", "2026-12-04")] == ("4.275", "ecb")
    with unit_of_work(engine, "test", readonly=True) as tx:
        assert fx.rate_on(tx, "PLN", dt.date(2026, 12, 4)).rate == Decimal("4.2750")
        assert tx.conn.execute(select(func.count()).select_from(m.FxRate.__table__)).scalar_one() == 2


def test_a_source_that_fails_is_a_clear_error() -> None:
    def down(url: str) -> bytes:
        raise OSError("connection refused")
    with pytest.raises(fx_files.BadRateFile, match="Could not fetch the rates from https://x.example/: connection"):
        fx_provider.fetch_rates("https://x.example/", get=down)
