"""Cost as the books grow: the same full cycles through HTTP against a small
and a large database, alternating so both see the same machine, and the ratio
of latencies per endpoint.

    python bench/bulk_load.py --orders 1000 --db sqlite:////tmp/o2c-1k.sqlite3
    python bench/bulk_load.py --orders 1000000 --db sqlite:////tmp/o2c-1m.sqlite3
    python bench/growth.py --small sqlite:////tmp/o2c-1k.sqlite3 --large sqlite:////tmp/o2c-1m.sqlite3

Each round runs --seconds of cycles at --clients clients on each database
(server restarted per database); figures are the medians over the rounds.
"""
from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from load import ENDPOINTS, free_port, run_level, seed, start_server  # noqa: E402


def measure(url: str, clients: int, seconds: float, workers: int, threads: int) -> dict:
    key, customers = seed(url, clients)
    port = free_port()
    server = start_server(url, port, workers, threads)
    try:
        run_level(port, key, customers, clients, min(seconds, 3.0), "cycle")  # warm caches and pools
        return run_level(port, key, customers, clients, seconds, "cycle")
    finally:
        os.killpg(server.pid, signal.SIGINT)  # quick shutdown: the measurement is over
        server.wait(timeout=60)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", required=True, help="database URL of the small book (e.g. 1k orders)")
    ap.add_argument("--large", required=True, help="database URL of the large book (e.g. 1M orders)")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()

    runs: dict[str, list[dict]] = {"small": [], "large": []}
    for r in range(args.rounds):
        for name in ("small", "large") if r % 2 == 0 else ("large", "small"):
            res = measure(getattr(args, name), args.clients, args.seconds, args.workers, args.threads)
            runs[name].append(res)
            print(f"round {r + 1} {name}: {res['rate']:.1f} cycles/s, {res['errors']} errors", flush=True)

    def med(name: str, e: str, p: str) -> float:
        return statistics.median(x["latency"][e][p] for x in runs[name])

    print(f"\nLatency at the large book ÷ latency at the small one, {args.clients} clients, "
          f"median of {args.rounds} rounds of {args.seconds:.0f} s")
    print(f"{'endpoint':<16} {'small p50':>9} {'large p50':>9} {'ratio':>6} {'small p95':>9} {'large p95':>9} {'ratio':>6}")
    for e in ENDPOINTS:
        s50, l50, s95, l95 = med("small", e, "p50"), med("large", e, "p50"), med("small", e, "p95"), med("large", e, "p95")
        print(f"{e:<16} {s50:>9.1f} {l50:>9.1f} {l50 / s50:>6.2f} {s95:>9.1f} {l95:>9.1f} {l95 / s95:>6.2f}")
    rs = statistics.median(x["rate"] for x in runs["small"])
    rl = statistics.median(x["rate"] for x in runs["large"])
    print(f"{'cycles/s':<16} {rs:>9.1f} {rl:>9.1f} {rl / rs:>6.2f}")


if __name__ == "__main__":
    main()
