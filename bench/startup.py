"""How long o2c takes to start: the median of N cold starts.

- ``serve``: ``o2c serve`` (gunicorn, 2 workers) started from nothing until
  ``GET /readyz`` answers 200 — what a client waits after a restart;
- ``app``: a fresh interpreter importing ``o2c`` and running ``create_app``
  (in-process, no server), then its first ``/readyz``;
- the heaviest imports of one ``create_app`` (``python -X importtime``).

On a shared machine the wall-clock figures grow with its load; the CPU
seconds (of the server with its workers, of the interpreter) do not, and on
an idle machine the wall clock of a start is close to them. Each run uses a
fresh SQLite database migrated to head beforehand, so the
figures are start-up only. ``--source DIR`` measures another checkout of o2c
(e.g. ``git worktree add /tmp/o2c-main main``) with this virtualenv, for a
before/after comparison::

    .venv/bin/python bench/startup.py --runs 7
    .venv/bin/python bench/startup.py --runs 7 --source /tmp/o2c-main

Python's bytecode cache is used as in a deployment (``PYTHONDONTWRITEBYTECODE``
is cleared for the runs; ``--no-bytecode`` keeps every module compiled from
source each time, the worst case).
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

APP_PROBE = """
import time
t0 = time.perf_counter()
import o2c
t1 = time.perf_counter()
app = o2c.create_app()
t2 = time.perf_counter()
r = app.test_client().get("/readyz")
t3 = time.perf_counter()
import sys
assert r.status_code == 200, r.get_data(as_text=True)
print(t1 - t0, t2 - t1, t3 - t2, "weasyprint" in sys.modules)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def env_for(source: Path, db: Path, bytecode: bool) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(source), "O2C_DATABASE_URL": f"sqlite:///{db}", "O2C_ENV": "testing"}
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its children, from /proc:
    unlike the wall clock, it does not grow with the load of a shared machine."""
    total = 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / TICK
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return total
    return total + sum(cpu_seconds(int(c)) for c in children)


def serve_once(source: Path, env: dict[str, str], timeout: float) -> tuple[float, float]:
    port = free_port()
    began = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "from o2c.cli import main; main()", "serve", "--port", str(port),
                             "--workers", "2"], cwd=source, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.perf_counter() - began < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=timeout) as r:
                    if r.status == 200:
                        return time.perf_counter() - began, cpu_seconds(proc.pid)
            except urllib.error.HTTPError:
                pass  # 503: not ready yet
            except OSError:
                pass  # not listening yet
            if proc.poll() is not None:
                raise RuntimeError(f"o2c serve exited with {proc.returncode}")
            time.sleep(0.01)
        raise RuntimeError(f"/readyz did not answer 200 within {timeout} s")
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def app_once(source: Path, env: dict[str, str]) -> tuple[float, float, float, bool, float]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run([sys.executable, "-c", APP_PROBE], cwd=source, env=env, capture_output=True, text=True,
                         check=True).stdout.split()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return float(out[0]), float(out[1]), float(out[2]), out[3] == "True", cpu


def heaviest_imports(source: Path, env: dict[str, str], top: int) -> list[tuple[float, str]]:
    err = subprocess.run([sys.executable, "-X", "importtime", "-c", "import o2c; o2c.create_app()"], cwd=source,
                         env=env, capture_output=True, text=True, check=True).stderr
    seen: list[tuple[float, str]] = []
    for line in err.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if m and len(m.group(2)) <= 3:  # the top levels only: the rest is inside them
            seen.append((int(m.group(1)) / 1e6, m.group(3).strip()))
    return sorted(seen, reverse=True)[:top]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=5, help="cold starts per figure (the median is shown)")
    ap.add_argument("--source", type=Path, default=ROOT, help="the o2c checkout to start (default: this one)")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds a start may take before it counts as failed")
    ap.add_argument("--no-bytecode", action="store_true", help="compile every module from source on each start")
    ap.add_argument("--top", type=int, default=8, help="heaviest imports to list")
    args = ap.parse_args()
    source = args.source.resolve()
    with tempfile.TemporaryDirectory(prefix="o2c-startup-") as tmp:
        db = Path(tmp) / "o2c.sqlite3"
        env = env_for(source, db, not args.no_bytecode)
        subprocess.run([sys.executable, "-c", "from o2c.cli import main; main()", "db", "upgrade"], cwd=source,
                       env=env, check=True, capture_output=True)
        app_once(source, env)  # fills the bytecode cache, like any earlier start would have
        apps = [app_once(source, env) for _ in range(args.runs)]
        serves = [serve_once(source, env, args.timeout) for _ in range(args.runs)]
        imports = heaviest_imports(source, env, args.top)
    med = statistics.median
    print(f"o2c start-up, {source} ({os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}), "
          f"median of {args.runs}{'' if not args.no_bytecode else ', no bytecode cache'}:")
    print(f"  o2c serve until /readyz is 200   {med(s[0] for s in serves):6.2f} s   "
          f"CPU {med(s[1] for s in serves):5.2f} s (server and workers)   "
          f"runs: {' '.join(f'{s[0]:.2f}' for s in serves)}")
    print(f"  import o2c                       {med(a[0] for a in apps):6.2f} s")
    print(f"  create_app                       {med(a[1] for a in apps):6.2f} s")
    print(f"  first /readyz in-process         {med(a[2] for a in apps):6.2f} s")
    print(f"  import + create_app + /readyz    {med(sum(a[:3]) for a in apps):6.2f} s   "
          f"CPU {med(a[4] for a in apps):5.2f} s (whole interpreter)")
    print(f"  weasyprint imported by create_app: {'yes' if any(a[3] for a in apps) else 'no'}")
    print("  heaviest imports of create_app (cumulative):")
    for secs, name in imports:
        print(f"    {secs:6.3f} s  {name}")


if __name__ == "__main__":
    main()
