"""The worker's document and ledger jobs: invoice PDFs rendered after the ship
commits, dunning letters rendered after the run, and the journal sealed once
per interval however many workers run."""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import threading
import time
from collections import Counter
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, text

from o2c.config import Config
from o2c.db import models as m
from o2c.services.books import chain
from o2c.services.platform import background, jobs
from o2c.worker import Worker, load_job_modules
from tests.api.books_helpers import on, sell
from tests.conftest import Client, customer, product

load_job_modules()
J = m.Job.__table__
FILES = m.DocumentFile.__table__


@pytest.fixture
def config(db_url: str) -> Config:
    return Config(DATABASE_URL=db_url, ENV="testing", SEAL_INTERVAL_S=0.5)


@pytest.fixture
def stocked(admin: Client) -> None:
    customer(admin, "C-ROSSI")
    product(admin, "MUG-01", "10.00", "0.10", stock=100, cost="3.00")


def queued(engine: Engine, kind: str) -> list[Any]:
    with engine.connect() as c:
        return c.execute(select(J.c.key, J.c.payload, J.c.status).where(J.c.kind == kind).order_by(J.c.id)).all()


def stored(engine: Engine, kind: str) -> dict[int, str]:
    with engine.connect() as c:
        return dict(c.execute(select(FILES.c.document_id, FILES.c.sha256).where(FILES.c.kind == kind)).all())


def audits(engine: Engine, action: str) -> Counter[int]:
    with engine.connect() as c:
        return Counter(c.execute(text("SELECT object_id FROM audit_log WHERE action = :a"), {"a": action}).scalars())


def run_workers(engine: Engine, config: Config, n: int, until: Any, timeout: float = 60, **kw: Any) -> None:
    """``n`` workers in threads of this process, each with its own claims."""
    ws = [Worker(engine, config, concurrency=2, poll_interval=0.02, name=f"w{i}", **kw) for i in range(n)]
    threads = [threading.Thread(target=w.run, kwargs={"until": until, "timeout": timeout}) for w in ws]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout + 10)
    assert until(), "the workers ran out of time"


def test_shipping_queues_the_invoice_pdf_and_a_worker_stores_it(
    engine: Engine, config: Config, admin: Client, stocked: None,
) -> None:
    inv = sell(admin, "C-ROSSI", [("MUG-01", 2)])
    [job] = queued(engine, "invoice.render_pdf")
    assert (job.key, job.payload, job.status) == (f"invoice-pdf:{inv['id']}", {"invoice_id": inv["id"]}, "queued")
    assert stored(engine, "invoice") == {}

    run_workers(engine, config, 1, lambda: not queued(engine, "invoice.render_pdf"), periodic=[])
    files = stored(engine, "invoice")
    assert list(files) == [inv["id"]]
    pdf = admin.get(f"/api/v1/invoices/{inv['id']}/pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF")
    assert hashlib.sha256(pdf.data).hexdigest() == files[inv["id"]]  # the stored bytes, not a new rendering
    assert audits(engine, "invoice.file_stored") == {inv["id"]: 1}


def test_a_download_before_the_job_renders_and_the_job_then_changes_nothing(
    engine: Engine, config: Config, admin: Client, stocked: None,
) -> None:
    inv = sell(admin, "C-ROSSI", [("MUG-01", 1)])
    first = admin.get(f"/api/v1/invoices/{inv['id']}/pdf")
    assert first.status_code == 200 and first.data.startswith(b"%PDF")
    assert len(queued(engine, "invoice.render_pdf")) == 1  # still queued: the download did not need it

    run_workers(engine, config, 1, lambda: not queued(engine, "invoice.render_pdf"), periodic=[])
    assert admin.get(f"/api/v1/invoices/{inv['id']}/pdf").data == first.data
    assert audits(engine, "invoice.file_stored") == {inv["id"]: 1}


def test_a_job_for_an_invoice_that_does_not_exist_ends_without_retrying(engine: Engine, config: Config) -> None:
    with engine.begin() as c:
        jobs.enqueue(c, "invoice.render_pdf", {"invoice_id": 987654}, key="invoice-pdf:987654")
    stats = Worker(engine, config, poll_interval=0.01, periodic=[]).run(once=True)
    assert (stats.done, stats.errors) == (1, 0)
    assert queued(engine, "invoice.render_pdf") == [] and stored(engine, "invoice") == {}


def test_many_workers_render_every_invoice_exactly_once(
    engine: Engine, config: Config, admin: Client, stocked: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = [sell(admin, "C-ROSSI", [("MUG-01", 1 + i % 3)])["id"] for i in range(8)]
    calls: Counter[int] = Counter()
    lock = threading.Lock()
    real = background.render_invoice_document

    def counting(engine_: Engine, invoice_id: int) -> Any:
        with lock:
            calls[invoice_id] += 1
        return real(engine_, invoice_id)

    monkeypatch.setattr(background, "render_invoice_document", counting)
    run_workers(engine, config, 4, lambda: not queued(engine, "invoice.render_pdf"), periodic=[])
    assert calls == {i: 1 for i in ids}, calls
    assert sorted(stored(engine, "invoice")) == sorted(ids)
    assert audits(engine, "invoice.file_stored") == {i: 1 for i in ids}


def _overdue(admin: Client) -> dict[str, Any]:
    c = customer(admin, "C-LATE", payment_terms_days=30)
    product(admin, "MUG-01", "10.00", "0.10", stock=100, cost="3.00")
    sell(admin, "C-LATE", [("MUG-01", 3)], "2026-03-01")
    sell(admin, "C-LATE", [("MUG-01", 1)], "2026-04-20")
    return c


def test_a_dunning_run_queues_the_letters_and_a_download_first_gets_the_same_letter(
    engine: Engine, config: Config, admin: Client, accountant: Client,
) -> None:
    _overdue(admin)
    with on("2026-06-01"):
        run = accountant.ok("post", "/api/v1/dunning/runs", {"as_of": "2026-06-01"})
    [letter] = run["letters"]
    [job] = queued(engine, "dunning.render_letter")
    assert (job.key, job.payload) == (f"dunning-letter:{letter['id']}", {"letter_id": letter["id"]})

    # Correct without the job: the first download renders from what the run recorded.
    early = accountant.get(f"/api/v1/dunning/letters/{letter['id']}/pdf")
    assert early.status_code == 200 and early.data.startswith(b"%PDF") and early.mimetype == "application/pdf"
    run_workers(engine, config, 2, lambda: not queued(engine, "dunning.render_letter"), periodic=[])
    files = stored(engine, "dunning_letter")
    assert files == {letter["id"]: hashlib.sha256(early.data).hexdigest()}
    assert accountant.get(f"/api/v1/dunning/letters/{letter['id']}/pdf").data == early.data
    assert accountant.get("/api/v1/dunning/letters/999/pdf").status_code == 404


def test_the_worker_renders_letters_before_anyone_asks(engine: Engine, config: Config, admin: Client,
                                                       accountant: Client) -> None:
    _overdue(admin)
    with on("2026-06-01"):
        [letter] = accountant.ok("post", "/api/v1/dunning/runs", {"as_of": "2026-06-01"})["letters"]
    run_workers(engine, config, 1, lambda: not queued(engine, "dunning.render_letter"), periodic=[])
    files = stored(engine, "dunning_letter")
    assert list(files) == [letter["id"]]
    pdf = accountant.get(f"/api/v1/dunning/letters/{letter['id']}/pdf")
    assert hashlib.sha256(pdf.data).hexdigest() == files[letter["id"]]
    assert audits(engine, "dunning_letter.file_stored") == {letter["id"]: 1}


def test_next_slot_is_the_same_boundary_for_every_worker() -> None:
    at = dt.datetime(2026, 5, 1, 10, 0, 59, 999000, tzinfo=dt.timezone.utc)
    assert background.next_slot(at, 60) == dt.datetime(2026, 5, 1, 10, 1, tzinfo=dt.timezone.utc)
    assert background.next_slot(at.replace(second=0, microsecond=0), 60) == \
        dt.datetime(2026, 5, 1, 10, 1, tzinfo=dt.timezone.utc)  # on a boundary: the next one, never now


def test_many_workers_seal_the_journal_once_per_interval(
    engine: Engine, config: Config, admin: Client, stocked: None, monkeypatch: pytest.MonkeyPatch,
) -> None:
    sell(admin, "C-ROSSI", [("MUG-01", 1)])
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM journal_entries WHERE seq IS NULL")).scalar_one() > 0
    seals: list[tuple[float, str]] = []
    lock = threading.Lock()
    real = chain.seal_journal

    def counting(engine_: Engine, *a: Any, **kw: Any) -> Any:
        with lock:
            seals.append((time.time(), threading.current_thread().name))
        return real(engine_, *a, **kw)

    monkeypatch.setattr(chain, "seal_journal", counting)
    started = time.time()
    run_workers(engine, config, 4, lambda: time.time() - started > 3.2, timeout=10,
                kinds=["ledger.seal"], periodic=["ledger.seal.schedule"])

    interval = config.SEAL_INTERVAL_S
    slots = Counter(int(t // interval) for t, _ in seals)
    assert slots and max(slots.values()) == 1, slots  # never two seals in one interval
    assert len(seals) >= 4, seals  # and one in (nearly) every interval that passed: 3.2 s of 0.5 s slots
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM journal_entries WHERE seq IS NULL")).scalar_one() == 0
        recurring = c.execute(select(J.c.key, J.c.status).where(J.c.kind == "ledger.seal")).all()
    assert [tuple(r) for r in recurring] == [("ledger.seal", "queued")]  # one job, waiting for the next interval


def test_ensure_adds_a_recurring_job_once_and_leaves_it_alone(engine: Engine) -> None:
    now = dt.datetime(2026, 5, 1, 12, tzinfo=dt.timezone.utc)
    later = now + dt.timedelta(minutes=5)
    with engine.begin() as c:
        assert jobs.ensure(c, "ledger.seal", {}, key="ledger.seal", run_at=later, now=now) is True
        assert jobs.ensure(c, "ledger.seal", {}, key="ledger.seal", run_at=now, now=now) is False
    with engine.connect() as c:
        rows = c.execute(select(J.c.run_at, J.c.rerun).where(J.c.key == "ledger.seal")).all()
        assert c.execute(select(func.count()).select_from(J)).scalar_one() == 1
    assert [(r.run_at, r.rerun) for r in rows] == [(later, False)]  # not brought forward, not asked to rerun


def test_shipping_adds_one_statement_for_the_pdf_job(engine: Engine, admin: Client, stocked: None) -> None:
    """The ship transaction stays lean: the job is one INSERT … ON CONFLICT, nothing else touches the queue."""
    from sqlalchemy import event
    o = admin.ok("post", "/api/v1/orders", {"customer": {"code": "C-ROSSI"}, "currency": "EUR", "confirm": True,
                                            "lines": [{"sku": "MUG-01", "quantity": 1}]}, status=201)
    sh = admin.ok("post", f"/api/v1/orders/{o['id']}/shipments", {}, status=201)
    seen: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)
    event.listen(engine, "before_cursor_execute", count)
    try:
        admin.ok("post", f"/api/v1/shipments/{sh['id']}/ship", {"carrier": "BRT", "tracking_number": "T1"})
    finally:
        event.remove(engine, "before_cursor_execute", count)
    on_jobs = [s for s in seen if re.search(r"\bjobs\b", s)]
    assert len(on_jobs) == 1 and on_jobs[0].lstrip().upper().startswith("INSERT INTO JOBS"), on_jobs
    print(f"ship: {len(seen)} statements, {len(on_jobs)} on the job queue")


def test_cli_dunning_run_records_and_leaves_the_rendering_to_the_worker(
    engine: Engine, config: Config, admin: Client, db_url: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from o2c.cli import main
    _overdue(admin)
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)
    out = CliRunner().invoke(main, ["dunning", "run", "--as-of", "2026-06-01"])
    assert out.exit_code == 0, out.output
    assert "1 letter(s), 2 notice(s) as of 2026-06-01; the worker renders the letters" in out.output
    [job] = queued(engine, "dunning.render_letter")
    assert stored(engine, "dunning_letter") == {}  # recorded, not rendered: the command returns at once
    run_workers(engine, config, 1, lambda: not queued(engine, "dunning.render_letter"), periodic=[])
    assert list(stored(engine, "dunning_letter")) == [job.payload["letter_id"]]
