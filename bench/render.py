"""Invoice rendering: how long one PDF takes, and how many PDFs both cores make.

    .venv/bin/python bench/render.py [--runs 30] [--batch 80] [--jobs 2]

Renders hand-built invoices (no database): a one-page invoice of six lines
and a ten-page one, each as the full Factur-X PDF the service stores (pages
as PDF/A-3 plus the embedded EN 16931 XML) and as the pages alone. Prints the
median and spread in milliseconds after warming up (fonts, stylesheet and
catalogs load once per process), then PDFs per second from worker processes.
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from o2c.documents.pdf import document_pdf, pages_pdf  # noqa: E402
from o2c.documents.render import renderer_info  # noqa: E402
from tests.docbuild import sample_document  # noqa: E402


def page_count(pdf: bytes) -> int:
    from pypdf import PdfReader
    return len(PdfReader(BytesIO(pdf)).pages)


def lines_for_pages(pages: int) -> int:
    """The fewest lines that make an invoice of ``pages`` pages."""
    n = 27 * pages
    while page_count(pages_pdf(sample_document("it", n))) < pages:
        n += 5
    while n > 5 and page_count(pages_pdf(sample_document("it", n - 5))) >= pages:
        n -= 5
    return n


def timings(fn: Callable[[Any], bytes], doc: Any, runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU milliseconds of each run (the CPU time is what the
    render costs; the wall time also has whatever else the machine runs)."""
    for _ in range(2):
        fn(doc)
    wall, cpu = [], []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn(doc)
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    return wall, cpu


def report(label: str, ms: tuple[list[float], list[float]]) -> None:
    wall, cpu = ms
    q = statistics.quantiles(wall, n=10)
    print(f"  {label:<30} median {statistics.median(wall):7.1f} ms (p10 {q[0]:6.1f}, p90 {q[-1]:6.1f}); "
          f"CPU median {statistics.median(cpu):7.1f} ms  (n={len(wall)})")


def _warm() -> None:
    """Worker start-up: the first PDF loads fonts, stylesheet and catalogs."""
    for lang in ("it", "pl", "ru", "en"):
        document_pdf(sample_document(lang, 6))


def _pid(_: int) -> int:
    time.sleep(0.05)
    return os.getpid()


def _one(i: int) -> int:
    return len(document_pdf(sample_document(("it", "pl", "ru", "en")[i % 4], 6)))


def throughput(jobs: int, batch: int) -> float:
    with multiprocessing.get_context("spawn").Pool(jobs, initializer=_warm) as pool:
        while len(set(pool.map(_pid, range(jobs * 4), chunksize=1))) < jobs:
            pass  # until every worker has started (and warmed up) and taken work
        t = time.perf_counter()
        pool.map(_one, range(batch), chunksize=2)
        return batch / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=30, help="timed renders of the one-page invoice")
    ap.add_argument("--batch", type=int, default=80, help="one-page invoices for the throughput run")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="worker processes for the throughput run")
    args = ap.parse_args()

    print(f"{renderer_info()}; {os.cpu_count()} cores")

    one = sample_document("it", 6)
    assert page_count(document_pdf(one)) == 1
    n10 = lines_for_pages(10)
    ten = sample_document("it", n10)
    print(f"one-page invoice: 6 lines; ten-page invoice: {n10} lines ({page_count(pages_pdf(ten))} pages)")
    report("1 page, Factur-X PDF", timings(document_pdf, one, args.runs))
    report("1 page, pages only (PDF/A-3)", timings(pages_pdf, one, args.runs))
    report("10 pages, Factur-X PDF", timings(document_pdf, ten, max(5, args.runs // 3)))

    t = time.perf_counter()
    for i in range(args.batch // 2):
        _one(i)
    print(f"  {'1 process':<30} {args.batch // 2 / (time.perf_counter() - t):7.1f} PDFs/s (one-page invoices)")
    print(f"  {f'{args.jobs} processes':<30} {throughput(args.jobs, args.batch):7.1f} PDFs/s (one-page invoices)")
    print(f"load average while measuring: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
