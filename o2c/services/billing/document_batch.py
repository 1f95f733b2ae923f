"""Invoices of a period as files, into a folder or a zip: ``o2c invoices render``.

By default each invoice's stored PDF is exported (rendered and stored first
when it never was, exactly as a download would). ``fresh`` renders every
invoice again from the books, for looking at a changed template, and leaves
the stored documents as they are. Rendering runs in worker processes, one per
core by default; each opens its own database connections.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from o2c.db.engine import make_engine
from o2c.services.billing import documents
from o2c.services.platform.uow import unit_of_work

_engine: Engine | None = None


def _start_worker(url: str) -> None:
    global _engine
    _engine = make_engine(url, pool_size=1)


def _render_one(job: tuple[int, bool]) -> tuple[str, bytes]:
    """``(file name, bytes)`` of one invoice, in a worker."""
    invoice_id, fresh = job
    assert _engine is not None, "worker not started"
    if not fresh:
        stored = documents.render_invoice_document(_engine, invoice_id)
        return stored.filename, stored.content
    with unit_of_work(_engine, documents.ACTOR, readonly=True) as tx:
        doc = documents.LOADERS["invoice"](tx.conn, invoice_id)
    _, content = documents.render_file(doc)
    return f"{doc['number']}.pdf", content


@contextmanager
def _sink(output: Path) -> Iterator[Any]:
    """Where files go: ``write(name, bytes)`` into a zip (``*.zip``) or a folder."""
    if output.suffix.lower() == ".zip":
        output.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_STORED) as zf:  # PDFs are compressed already
            yield zf.writestr
        return
    output.mkdir(parents=True, exist_ok=True)
    yield lambda name, content: (output / name).write_bytes(content)


def invoices_to_render(url: str, start: dt.date, end: dt.date) -> list[tuple[int, str]]:
    engine = make_engine(url, pool_size=1)
    try:
        with unit_of_work(engine, documents.ACTOR, readonly=True) as tx:
            return documents.invoices_issued(tx, start, end)
    finally:
        engine.dispose()


def export_invoices(url: str, start: dt.date, end: dt.date, output: Path, *, jobs: int = 1,
                    fresh: bool = False, progress: bool | None = None) -> list[str]:
    """Write the PDFs of the invoices issued from ``start`` to ``end`` to
    ``output``, in number order; returns the file names written.
    ``progress``: show a progress bar (``None``: when the terminal is interactive)."""
    from tqdm import tqdm

    todo = invoices_to_render(url, start, end)
    jobs = max(1, min(jobs, len(todo)))
    written: list[str] = []
    with _sink(output) as write, tqdm(total=len(todo), unit="pdf", desc="invoices",
                                      disable=None if progress is None else not progress) as bar:
        def done(name: str, content: bytes) -> None:
            write(name, content)
            written.append(name)
            bar.update()

        work = [(invoice_id, fresh) for invoice_id, _ in todo]
        if jobs == 1:
            _start_worker(url)
            try:
                for job in work:
                    done(*_render_one(job))
            finally:
                assert _engine is not None
                _engine.dispose()
        else:
            # Fresh interpreters, not forks: WeasyPrint's native libraries and
            # open connections are not safe to share with a forked child.
            with multiprocessing.get_context("spawn").Pool(jobs, _start_worker, (url,)) as pool:
                for name, content in pool.imap(_render_one, work):  # files in number order
                    done(name, content)
    return written
