"""Operability: health, readiness, request ids, security headers, configuration."""
from __future__ import annotations

import pytest

from o2c import create_app
from o2c.config import DEV_SECRET, Config
from o2c.ops import InsecureConfiguration


def test_health_and_readiness_answer_without_a_key(app):  # type: ignore[no-untyped-def]
    c = app.test_client()
    assert c.get("/healthz").get_json() == {"status": "ok"}
    assert c.get("/readyz").get_json() == {"status": "ok"}


def test_a_database_without_the_schema_is_not_ready(tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(Config(DATABASE_URL=f"sqlite:///{tmp_path}/empty.sqlite3", ENV="testing"))
    r = app.test_client().get("/readyz")
    assert r.status_code == 503
    assert "o2c db upgrade" in r.get_json()["reason"]
    app.extensions["o2c.engine"].dispose()


def test_every_answer_carries_a_request_id_and_security_headers(admin):  # type: ignore[no-untyped-def]
    r = admin.get("/api/v1/stock", headers={"X-Request-Id": "shop-a-req-77"})
    assert r.headers["X-Request-Id"] == "shop-a-req-77"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    generated = admin.get("/api/v1/stock").headers["X-Request-Id"]
    assert len(generated) == 32 and generated != "shop-a-req-77"


def test_an_overlong_request_id_is_replaced(admin):  # type: ignore[no-untyped-def]
    r = admin.get("/api/v1/stock", headers={"X-Request-Id": "x" * 65})
    assert r.headers["X-Request-Id"] != "x" * 65


def test_the_development_secret_is_refused_in_production(tmp_path):  # type: ignore[no-untyped-def]
    with pytest.raises(InsecureConfiguration, match="O2C_SECRET_KEY"):
        create_app(Config(DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3", ENV="production", SECRET_KEY=DEV_SECRET))
    app = create_app(Config(DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3", ENV="production",
                            SECRET_KEY="a-long-random-production-secret"))
    assert app.config["SECRET_KEY"] == "a-long-random-production-secret"
    app.extensions["o2c.engine"].dispose()


def test_the_docs_page_needs_no_inline_style(app):  # type: ignore[no-untyped-def]
    c = app.test_client()
    page = c.get("/api/docs").get_data(as_text=True)
    assert "<style" not in page and 'href="/api/docs/o2c-docs.css"' in page
    assert c.get("/api/docs/o2c-docs.css").mimetype == "text/css"


def test_a_database_one_migration_behind_is_not_ready_until_upgraded(tmp_path):  # type: ignore[no-untyped-def]
    """The migrations' head is read once per process; the database's own
    revision is checked on every call, so readiness follows an upgrade."""
    from o2c.db.migrate import downgrade, head_revisions, upgrade
    app = create_app(Config(DATABASE_URL=f"sqlite:///{tmp_path}/behind.sqlite3", ENV="testing"))
    engine = app.extensions["o2c.engine"]
    upgrade(engine)
    [head] = head_revisions()
    downgrade(engine, "-1")
    c = app.test_client()
    r = c.get("/readyz")
    assert r.status_code == 503 and "o2c db upgrade" in r.get_json()["reason"], head
    upgrade(engine)
    assert c.get("/readyz").status_code == 200
    engine.dispose()


def test_a_database_that_does_not_answer_is_not_ready(tmp_path):  # type: ignore[no-untyped-def]
    app = create_app(Config(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:9/none", ENV="testing"))
    r = app.test_client().get("/readyz")
    assert r.status_code == 503 and r.get_json()["status"] == "unavailable"
    app.extensions["o2c.engine"].dispose()
