"""When to try a failed delivery again (pure): exponential backoff with
jitter, until a horizon counted from the first attempt."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    base_s: float = 30.0  # the first retry comes after 15 to 30 seconds
    max_delay_s: float = 6 * 3600.0  # no wait between two attempts is longer
    horizon_s: float = 3 * 24 * 3600.0  # after this long since the first attempt: failed

    def delay(self, attempts_made: int, rand: float) -> float:
        """The wait after the ``attempts_made``-th failed attempt: doubling
        from ``base_s``, capped, and jittered to between half and all of it
        (``rand`` in [0, 1)) so that receivers coming back are not hit by
        every retry at once."""
        raw = min(self.base_s * 2 ** min(attempts_made - 1, 62), self.max_delay_s)
        return raw * (0.5 + rand / 2)

    def next_attempt(
        self, attempts_made: int, first_attempt_at: dt.datetime, now: dt.datetime, rand: float,
    ) -> dt.datetime | None:
        """When to try again, or ``None`` when the horizon is reached. The
        last retry happens at the horizon itself."""
        give_up_at = first_attempt_at + dt.timedelta(seconds=self.horizon_s)
        if now >= give_up_at:
            return None
        return min(now + dt.timedelta(seconds=self.delay(attempts_made, rand)), give_up_at)
