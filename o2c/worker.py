"""``o2c worker``: claims background jobs from the database and runs them.

Run as many as you like, on as many hosts as you like, against the same
database: they share the work through row locks (``o2c.services.platform.jobs``), not
through each other. Each worker, in a loop:

- runs the periodic tasks that are due (fanning new events out into webhook
  deliveries on every poll, a sweep every minute, making sure the recurring
  journal-sealing job exists);
- claims due jobs lane by lane (``o2c.services.platform.lanes``), each lane up
  to its own number of free threads (``--lanes deliveries=2,documents=1``),
  and runs them in a thread pool: a lane whose threads are all busy (a batch
  of PDF renders) leaves the other lanes' threads free for their jobs
  (webhook deliveries start while the renders are still queued);
- renews the leases of the jobs it is running (every third of the lease);
- sleeps ``--poll-interval`` when there was nothing to do.

On SIGTERM or SIGINT it stops claiming, lets running jobs finish and exits; a
second signal exits at once (the jobs' leases then run out and other workers
take them over).
"""
from __future__ import annotations

import importlib
import logging
import threading
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from o2c.config import Config
from o2c.outbound import Outbound
from o2c.services.platform import clock, jobs

log = logging.getLogger("o2c.worker")

#: Modules whose import registers job kinds and periodic tasks. A new kind of
#: background work adds its module here.
JOB_MODULES: list[str] = ["o2c.services.platform.webhooks", "o2c.services.platform.background",
                           "o2c.services.platform.outbox", "o2c.services.crm.background",
                           "o2c.services.sales.quote_jobs"]


def load_job_modules(extra: Iterable[str] = ()) -> None:
    for name in [*JOB_MODULES, *extra]:
        importlib.import_module(name)


@dataclass
class Lane:
    """A lane this worker runs: its kinds and how many of its jobs run at once."""

    name: str
    threads: int
    kinds: list[str]
    running: int = 0


@dataclass
class Stats:
    done: int = 0
    rescheduled: int = 0
    errors: int = 0
    lost: int = 0  # finished after the lease had been taken over
    periodic: dict[str, int] = field(default_factory=dict)


class Worker:
    def __init__(
        self, engine: Engine, config: Config, *, concurrency: int | None = None,
        lanes: Mapping[str, int] | None = None, poll_interval: float = 1.0,
        lease_s: float | None = None, name: str | None = None, kinds: Iterable[str] | None = None,
        periodic: Iterable[str] | None = None, outbound: Any = None, now: Callable[[], Any] = clock.now,
    ):
        """``lanes``: threads per lane (``jobs.DEFAULT_LANES`` by default);
        ``concurrency``: the same number of threads for every lane instead.
        ``kinds``: run only these kinds (default: every registered kind)."""
        self.engine = engine
        self.config = config
        self.poll_interval = poll_interval
        self.lease_s = lease_s or config.JOB_LEASE_S
        self.name = name or jobs.worker_name()
        self.kinds = sorted(kinds if kinds is not None else jobs.KINDS)
        if lanes is None:
            lanes = {lane: max(1, concurrency) for lane in jobs.LANES} if concurrency else jobs.DEFAULT_LANES
        self.lanes = [Lane(lane, n, jobs.lane_kinds(lane, self.kinds)) for lane, n in lanes.items() if n > 0]
        self.lanes = [lane for lane in self.lanes if lane.kinds]  # nothing this worker knows runs there
        self.concurrency = sum(lane.threads for lane in self.lanes) or 1
        self.periodic = [jobs.PERIODIC[p] for p in (periodic if periodic is not None else jobs.PERIODIC)]
        self._owns_outbound = outbound is None
        self.outbound = outbound or Outbound(config.WEBHOOK_TIMEOUT_S, config.webhook_allow_private)
        self.now = now
        self.stats = Stats()
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._running: dict[int, tuple[jobs.Claimed, Lane, Future[None]]] = {}
        self._lock = threading.Lock()
        self._next_periodic = {p.name: 0.0 for p in self.periodic}
        self._next_beat = 0.0

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    def context(self, job_id: int = 0, kind: str = "", attempt: int = 0) -> jobs.JobContext:
        return jobs.JobContext(self.engine, self.config, job_id, kind, attempt, self.name, self.now, self.outbound)

    # -- the loop --------------------------------------------------------------------
    def run(self, *, once: bool = False, until: Callable[[], bool] | None = None, timeout: float | None = None) -> Stats:
        """Work until stopped. ``once``: until nothing is due (jobs scheduled
        for later are left for later). ``until``: until it returns true, or
        ``timeout`` seconds pass."""
        deadline = None if timeout is None else time.monotonic() + timeout
        self.stopping.clear()
        self._next_beat = time.monotonic() + self.lease_s / 3
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="o2c-job") as pool:
            try:
                while not self.stopping.is_set():
                    if until is not None and until():
                        break
                    if deadline is not None and time.monotonic() > deadline:
                        break
                    busy = self._step(pool)
                    self._beat_if_due()
                    if once and not busy and not self._running:
                        break
                    if not busy:
                        self._wake.wait(self._idle_wait())
                        self._wake.clear()
            finally:
                self.stopping.set()
                self._drain()
        if self._owns_outbound:
            self.outbound.close()
        return self.stats

    def _idle_wait(self) -> float:
        return max(0.0, min(self.poll_interval, self._next_beat - time.monotonic()))

    def _beat_if_due(self) -> None:
        if time.monotonic() >= self._next_beat:
            self._heartbeat()
            self._next_beat = time.monotonic() + self.lease_s / 3

    def _step(self, pool: ThreadPoolExecutor) -> bool:
        """One round; true if it found work (so the next round starts at once)."""
        busy = False
        try:
            busy = self._run_periodic() > 0
            with self._lock:
                wanted = [(lane, lane.threads - lane.running) for lane in self.lanes]
            wanted = [(lane, free) for lane, free in wanted if free > 0]
            if wanted:
                claimed = jobs.claim_lanes(self.engine, self.name, [(lane.kinds, free) for lane, free in wanted],
                                           self.lease_s, self.now())
                for (lane, _), lane_jobs in zip(wanted, claimed):
                    for job in lane_jobs:
                        with self._lock:
                            lane.running += 1
                            self._running[job.id] = (job, lane, pool.submit(self._execute, job))
                    busy = busy or bool(lane_jobs)
            elif self.lanes:  # every lane's threads are busy
                busy = True
                self._wake.wait(self._idle_wait())  # a finishing job wakes us
                self._wake.clear()
        except DBAPIError as exc:
            log.warning("database unavailable (%s); retrying in %.1fs", type(exc.orig).__name__, self.poll_interval)
            time.sleep(self.poll_interval)
        return busy

    def _run_periodic(self) -> int:
        did = 0
        for p in self.periodic:
            if time.monotonic() < self._next_periodic[p.name]:
                continue
            try:
                n = p.fn(self.context(kind=p.name))
            except DBAPIError:
                raise
            except Exception:  # a bug in one task must not stop the others
                log.exception("periodic task %s failed", p.name)
                n = 0
            self.stats.periodic[p.name] = self.stats.periodic.get(p.name, 0) + n
            did += n
            interval = p.every_s if p.every_s is not None else (0.0 if n else self.poll_interval)
            self._next_periodic[p.name] = time.monotonic() + interval
        return did

    def _execute(self, job: jobs.Claimed) -> None:
        ctx = self.context(job.id, job.kind, job.attempts)
        outcome_name = "error"
        started = time.monotonic()
        try:
            try:
                outcome = jobs.KINDS[job.kind].handler(ctx, job.payload)
            except Exception as exc:
                log.warning("job %s %s failed (attempt %d/%d): %s", job.id, job.kind, job.attempts,
                            job.max_attempts, exc)
                ok = jobs.fail_run(self.engine, job, "".join(traceback.format_exception(exc)), self.now())
            else:
                if isinstance(outcome, jobs.Reschedule):
                    outcome_name = "rescheduled"
                    ok = jobs.reschedule(self.engine, job, outcome.at, self.now())
                else:
                    outcome_name = "done"
                    ok = jobs.complete(self.engine, job, self.now())
            log.info("job %s %s %s in %.0f ms", job.id, job.kind, outcome_name, (time.monotonic() - started) * 1000)
            if not ok:
                outcome_name = "lost"
                log.warning("job %s %s: lease was lost before it finished; its new owner decides", job.id, job.kind)
        except Exception:
            log.exception("job %s %s: could not record the outcome; the lease will run out", job.id, job.kind)
        finally:
            with self._lock:
                entry = self._running.pop(job.id, None)
                if entry is not None:
                    entry[1].running -= 1
                if outcome_name == "done":
                    self.stats.done += 1
                elif outcome_name == "rescheduled":
                    self.stats.rescheduled += 1
                elif outcome_name == "lost":
                    self.stats.lost += 1
                else:
                    self.stats.errors += 1
            self._wake.set()

    def _heartbeat(self) -> None:
        with self._lock:
            running = [j for j, _, _ in self._running.values()]
        if running:
            try:
                jobs.extend_leases(self.engine, running, self.lease_s, self.now())
            except DBAPIError as exc:
                log.warning("could not extend leases: %s", exc)

    def _drain(self) -> None:
        """Let running jobs finish, renewing their leases meanwhile."""
        while True:
            with self._lock:
                if not self._running:
                    return
            self._beat_if_due()
            self._wake.wait(self._idle_wait() or 0.05)
            self._wake.clear()
