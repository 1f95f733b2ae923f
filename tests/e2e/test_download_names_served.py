"""A download named after a customer whose code is outside Latin-1, served
by gunicorn (``o2c serve``): gunicorn refuses to send a header it cannot
encode (a 500 with an HTML body), so this is where the naming has to hold."""
from __future__ import annotations

import http.client
import os
import signal
from urllib.parse import unquote

import pytest
from sqlalchemy import Engine

from tests.conftest import Client, customer
from tests.e2e.test_graceful_shutdown import _free_port, _serve

pytestmark = pytest.mark.slow


def test_gunicorn_sends_a_statement_named_after_a_russian_emoji_customer(
    db_url: str, engine: Engine, admin: Client, accountant: Client,
) -> None:
    code = "С-ЖУК-🙂"  # a Cyrillic С
    c = customer(admin, code, name="ООО «Жук» 🙂", language="ru")
    key = accountant.key
    engine.dispose()
    port = _free_port()
    proc = _serve(db_url, port)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", f"/api/v1/customers/{c['id']}/statement/pdf?from=2026-01-01&to=2026-01-31",
                     headers={"Authorization": f"Bearer {key}"})
        r = conn.getresponse()
        body = r.read()
        conn.close()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    assert r.status == 200, body[:300]
    assert r.getheader("Content-Type") == "application/pdf" and body[:5] == b"%PDF-"
    disposition = r.getheader("Content-Disposition")
    assert disposition == ('inline; filename="statement_2026-01-31.pdf"; '
                           "filename*=UTF-8''statement_" + "%D0%A1-%D0%96%D0%A3%D0%9A-%F0%9F%99%82" + "_2026-01-31.pdf")
    assert unquote(disposition.split("''", 1)[1]) == f"statement_{code}_2026-01-31.pdf"
