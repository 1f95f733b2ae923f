"""Wait until a URL answers 200 (``python -m o2c.ready URL [SECONDS [PID]]``):
how `make run` knows the server can serve before it prints the demo keys. With
a PID, it gives up as soon as that process (the server) has exited."""
from __future__ import annotations

import os
import sys
import time
import http.client
from urllib.parse import urlsplit


def _alive(pid: int | None) -> bool:
    if pid is None:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def wait_ready(url: str, timeout_s: float = 60.0, pid: int | None = None) -> bool:
    """True once ``url`` (plain http) answers 200; false after ``timeout_s``
    or as soon as process ``pid`` has exited."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname:
        raise ValueError(f"Not an http:// URL: {url}")
    target = parts.path + (f"?{parts.query}" if parts.query else "") or "/"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and _alive(pid):
        conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=2)
        try:
            conn.request("GET", target)
            if conn.getresponse().status == 200:
                return True
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.1)
    return False


def main(argv: list[str]) -> int:
    url = argv[1] if len(argv) > 1 else "http://127.0.0.1:8000/readyz"
    timeout_s = float(argv[2]) if len(argv) > 2 else 60.0
    pid = int(argv[3]) if len(argv) > 3 else None
    if wait_ready(url, timeout_s, pid):
        return 0
    print(f"{url} did not answer within {timeout_s:.0f} s", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
