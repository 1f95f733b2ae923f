"""End-to-end: the app served on a local port, driven by a real headless
Chromium (Debian's ``chromium`` package) through Playwright. Screenshots of
the main pages go to build/screenshots/."""
from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("O2C_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists() or shutil.which(CHROMIUM) is None:
        # `make test` installs it (scripts/system-deps): a browser test never
        # passes by skipping, in CI or anywhere else.
        pytest.fail(f"{CHROMIUM} is missing: run `bash scripts/system-deps test` "
                    "(or: apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def live_url(app: Any) -> Iterator[str]:
    """The app on a free local port, in a thread, for as long as the test runs."""
    from werkzeug.serving import make_server
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1366, "height": 860}, accept_downloads=True)
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    # A refused form comes back as 422 on purpose; anything else in red is a fault.
    pg.on("console", lambda msg: errors.append(msg.text)
          if msg.type == "error" and "status of 422" not in msg.text else None)
    yield pg
    context.close()
    assert errors == [], errors  # no script errors, no CSP violations, nothing failed to load


@pytest.fixture
def shoot() -> Any:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def take(pg: Any, name: str) -> Path:
        path = SCREENSHOTS / f"{name}.png"
        pg.screenshot(path=str(path), full_page=True)
        return path
    return take
