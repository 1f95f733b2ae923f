"""The background job queue in the back office (admins only): per worker
lane and job kind, how many jobs wait, are scheduled for later, run and
failed, and how long the oldest waiting one has waited; then the latest
failed jobs with their last error. Failed jobs are queued again with
``o2c jobs retry``."""
from __future__ import annotations

from typing import Any

from flask import render_template

from o2c.services.platform import jobs
from o2c.web.core import bp, principal, read, requires
from o2c.web.nav import Item, add

ADMIN = "jobs:admin"


def age(seconds: float | None) -> str:
    """A wait in words: ``—``, ``12 s``, ``4 min 5 s``, ``2 h 10 min``."""
    if seconds is None:
        return "—"
    s = int(seconds)
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def last_line(error: str | None) -> str:
    lines = (error or "").strip().splitlines()
    return lines[-1] if lines else ""


@bp.route("/jobs")
@requires(ADMIN)
def jobs_page() -> Any:
    data = read(lambda tx: jobs.overview(tx, principal()))
    return render_template("web/jobs/index.html", lanes=data["lanes"], failed=data["failed"], age=age,
                           last_line=last_line)


add("Jobs", Item("Job queue", "web.jobs_page", ADMIN))
