"""Worker lanes: which lane each kind of job runs in, and the threads a
worker gives each lane by default.

A worker claims jobs lane by lane, each lane up to its own threads, so a
backlog in one lane (a batch of PDF renders in ``documents``) never delays the
jobs of another (webhook deliveries in ``deliveries``, e-mails in ``mail``).
This module is the one place that says which kind runs where; it imports
nothing heavy, so ``o2c worker --help`` can show it.
"""
from __future__ import annotations

from collections.abc import Iterable

#: Which lane each kind of job runs in. A kind not listed runs in ``other``.
LANE_OF: dict[str, str] = {
    "webhooks.deliver": "deliveries",     # o2c.services.platform.webhooks
    "invoice.render_pdf": "documents",     # o2c.services.platform.background
    "dunning.render_letter": "documents",  # o2c.services.platform.background
    "credit_note.render_pdf": "documents", # o2c.services.platform.background
    "backorders.hand_over": "books",       # o2c.services.platform.background
    "ledger.seal": "books",                # o2c.services.platform.background
    "mail.send": "mail",                   # o2c.services.platform.outbox
}
OTHER_LANE = "other"

#: The lanes a worker runs and their threads, unless told otherwise
#: (``o2c worker --lanes``). Deliveries get two threads: a receiver that is
#: slow to answer must not hold the others up.
DEFAULT_LANES: dict[str, int] = {"deliveries": 2, "mail": 1, "documents": 1, "books": 1, OTHER_LANE: 1}
LANES = tuple(DEFAULT_LANES)


def lane_of(kind: str) -> str:
    return LANE_OF.get(kind, OTHER_LANE)


def lane_kinds(lane: str, kinds: Iterable[str]) -> list[str]:
    """Those of ``kinds`` that run in ``lane``."""
    return sorted(k for k in kinds if lane_of(k) == lane)


def parse_lanes(spec: str, base: dict[str, int] | None = None) -> dict[str, int]:
    """``"deliveries=4,documents=0"``: threads per lane, over ``base`` (the
    default lanes); 0 turns a lane off in this worker."""
    lanes = dict(DEFAULT_LANES if base is None else base)
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        name, eq, count = part.partition("=")
        name = name.strip()
        if name not in DEFAULT_LANES:
            raise ValueError(f"unknown lane {name!r}: the lanes are {', '.join(LANES)}")
        if not eq or not count.strip().isdigit() or int(count) > 256:
            raise ValueError(f"{part!r}: expected LANE=THREADS with THREADS from 0 to 256")
        lanes[name] = int(count)
    if not any(lanes.values()):
        raise ValueError("every lane has 0 threads: this worker would do nothing")
    return lanes


__all__ = ["DEFAULT_LANES", "LANES", "LANE_OF", "OTHER_LANE", "lane_kinds", "lane_of", "parse_lanes"]
