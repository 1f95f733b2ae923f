"""A worker renders invoices on several threads: the first e-invoice checks of
a process, made at the same moment, must each get the schema's verdict, never
libxml2's "not a built-in type" parse failure (which then sticks to the process)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RACE = """
import sys, threading
from o2c.documents import einvoice
sys.setswitchinterval(1e-6)
start = threading.Barrier(8)
verdicts = []
def check():
    start.wait()
    try:
        einvoice.check_cii(b"<x/>")
    except ValueError as exc:
        verdicts.append("invalid" if "SCHEMAV_CVC_ELT_1" in str(exc) else repr(exc))
    except Exception as exc:
        verdicts.append(repr(exc))
threads = [threading.Thread(target=check) for _ in range(8)]
for t in threads: t.start()
for t in threads: t.join()
print(",".join(verdicts))
"""


def test_concurrent_first_schema_checks_each_get_the_schemas_verdict() -> None:
    for _ in range(10):  # a fresh process each time: the race is at the first parse
        out = subprocess.run([sys.executable, "-c", RACE], cwd=ROOT, capture_output=True, text=True,
                             timeout=120, check=True).stdout.strip()
        assert out.split(",") == ["invalid"] * 8


def test_schemas_are_parsed_and_used_one_thread_at_a_time(monkeypatch: object) -> None:
    """The guard itself, deterministically: however many threads ask at once,
    libxml2 never parses or validates with two of them inside."""
    import threading
    import time

    from o2c.documents import einvoice

    inside, most = [0], [0]
    count = threading.Lock()

    class SlowSchema:
        error_log = type("Log", (), {"last_error": "SCHEMAV_CVC_ELT_1"})()

        def __init__(self) -> None:
            self._enter()

        def _enter(self) -> None:
            with count:
                inside[0] += 1
                most[0] = max(most[0], inside[0])
            time.sleep(0.01)  # parsing or validating takes a while; others arrive meanwhile
            with count:
                inside[0] -= 1

        def validate(self, document: object) -> bool:
            self._enter()
            return False

    monkeypatch.setattr(einvoice, "_parse_schema", lambda relative: SlowSchema())  # type: ignore[attr-defined]
    start = threading.Barrier(8)
    errors: list[str] = []

    def check() -> None:
        start.wait()
        try:
            einvoice.check_cii(b"<x/>")
        except ValueError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=check) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == ["invalid e-invoice XML: SCHEMAV_CVC_ELT_1"] * 8
    assert most[0] == 1
