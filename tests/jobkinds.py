"""Job kinds for tests, also loaded by worker processes (``--import
tests.jobkinds``). Each run appends ``start``/``end`` lines to the file named
in the payload, so a test sees who ran what, and when, across processes."""
from __future__ import annotations

import os
import time
from typing import Any

from o2c.services.platform import jobs


def _log(path: str, *fields: object) -> None:
    line = " ".join(str(f) for f in fields) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@jobs.job_kind("test.record", max_attempts=3)
def record(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    _log(payload["log"], "start", ctx.job_id, os.getpid(), time.time_ns())
    time.sleep(payload.get("seconds", 0))
    _log(payload["log"], "end", ctx.job_id, os.getpid(), time.time_ns())


@jobs.job_kind("test.flaky", max_attempts=3, retry_base_s=0.01, retry_max_s=0.01)
def flaky(ctx: jobs.JobContext, payload: dict[str, Any]) -> None:
    _log(payload["log"], "try", ctx.job_id, ctx.attempt)
    if ctx.attempt < payload["succeed_on"]:
        raise RuntimeError(f"attempt {ctx.attempt} fails on purpose")
