"""API keys' lifecycle: channels apart from names, several keys per channel,
expiry, revocation effective at once in every process, rotation; the admin
API, its authorization matrix, and the command line."""
from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, text

from o2c import create_app
from o2c.cli import main
from o2c.config import Config
from o2c.db.models import ApiKey
from o2c.services.platform import clock
from tests.api.test_access import assert_error
from tests.conftest import Client, customer, make_key, order, product

API_KEYS = ApiKey.__table__


def key_rows(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as c:
        return [dict(r._mapping) for r in c.execute(API_KEYS.select().order_by(API_KEYS.c.id))]


def audit_actions(engine: Engine) -> list[str]:
    with engine.connect() as c:
        return list(c.execute(text("SELECT action FROM audit_log WHERE object_type = 'api_key' ORDER BY id"))
                    .scalars())


@pytest.fixture
def stock(admin: Client) -> None:
    # Shared with the channels the keys below order for (API.md, "Whose
    # customers a webshop may use").
    customer(admin, "C-ROSSI", channels=["shop-x-eu", "shop-x"])
    product(admin, "MUG-01", "8.50", "0.10", stock=50, cost="3.00")


def create(admin: Client, **body: Any) -> dict[str, Any]:
    return admin.ok("post", "/api/v1/api-keys", body, status=201)


# -- revocation and expiry ---------------------------------------------------------------

def test_a_revoked_key_is_refused_at_once_by_another_process_that_just_used_it(
    app: Any, db_url: str, admin: Client, stock: None,
) -> None:
    made = create(admin, name="shop-x", role="webshop")
    other = create_app(Config(DATABASE_URL=db_url, ENV="testing"))  # a second process on the same database
    try:
        shop_elsewhere = Client(other.test_client(), made["key"])
        assert shop_elsewhere.get("/api/v1/orders").status_code == 200  # it has seen (and trusted) the key

        revoked = admin.ok("post", f"/api/v1/api-keys/{made['id']}/revoke")
        assert revoked["status"] == "revoked" and revoked["revoked_at"]

        assert_error(shop_elsewhere.get("/api/v1/orders"), 401, "unauthorized")
        assert_error(Client(app.test_client(), made["key"]).get("/api/v1/orders"), 401, "unauthorized")
    finally:
        other.extensions["o2c.engine"].dispose()


def test_revoking_twice_is_a_conflict(admin: Client) -> None:
    made = create(admin, name="shop-x", role="webshop")
    admin.ok("post", f"/api/v1/api-keys/{made['id']}/revoke")
    assert_error(admin.post(f"/api/v1/api-keys/{made['id']}/revoke"), 409, "conflict")
    assert_error(admin.post("/api/v1/api-keys/999999/revoke"), 404, "not_found")


def test_an_expired_key_is_refused(app: Any, admin: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    tomorrow = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)).replace(microsecond=0)
    made = create(admin, name="temp", role="clerk", expires_at=tomorrow.isoformat())
    assert made["expires_at"].startswith(tomorrow.date().isoformat()) and made["status"] == "active"
    temp = Client(app.test_client(), made["key"])
    assert temp.get("/api/v1/orders").status_code == 200

    monkeypatch.setattr(clock, "now", lambda: tomorrow + dt.timedelta(seconds=1))
    assert_error(temp.get("/api/v1/orders"), 401, "unauthorized")
    listed = {k["id"]: k for k in admin.ok("get", "/api/v1/api-keys")["items"]}
    assert listed[made["id"]]["status"] == "expired"


def test_an_expiry_in_the_past_is_refused(admin: Client) -> None:
    r = admin.post("/api/v1/api-keys", {"name": "old", "role": "clerk", "expires_at": "2020-01-01T00:00:00Z"})
    assert_error(r, 422, "validation_error")
    assert "expires_at" in r.get_json()["error"]["details"]["fields"]


# -- rotation ----------------------------------------------------------------------------

def test_rotation_replaces_the_key_and_the_channel_keeps_its_orders(app: Any, admin: Client, stock: None) -> None:
    made = create(admin, name="shop-x", role="webshop", channel="shop-x-eu")
    old = Client(app.test_client(), made["key"])
    first = order(old, "C-ROSSI", [("MUG-01", 1)], external_ref="X-1")
    assert first.status_code == 201 and first.get_json()["channel"] == "shop-x-eu"

    rotated = admin.ok("post", f"/api/v1/api-keys/{made['id']}/rotate", {}, status=201)
    assert rotated["id"] != made["id"] and rotated["key"] and rotated["key"] != made["key"]
    assert (rotated["name"], rotated["channel"], rotated["role"]) == ("shop-x", "shop-x-eu", "webshop")

    new = Client(app.test_client(), rotated["key"])
    assert_error(old.get("/api/v1/orders"), 401, "unauthorized")
    seen = [o["id"] for o in new.ok("get", "/api/v1/orders")["items"]]
    assert seen == [first.get_json()["id"]]
    # The channel's external references stay unique across the rotation.
    assert_error(order(new, "C-ROSSI", [("MUG-01", 1)], external_ref="X-1"), 409, "conflict")
    assert audit_actions(app.extensions["o2c.engine"])[-2:] == ["api_key.created", "api_key.rotated"]


def test_rotation_with_a_grace_period_keeps_the_old_key_until_it_ends(
    app: Any, admin: Client, monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = create(admin, name="shop-x", role="webshop")
    rotated = admin.ok("post", f"/api/v1/api-keys/{made['id']}/rotate", {"grace_minutes": 30}, status=201)
    old, new = Client(app.test_client(), made["key"]), Client(app.test_client(), rotated["key"])
    assert old.get("/api/v1/orders").status_code == 200 and new.get("/api/v1/orders").status_code == 200
    listed = {k["id"]: k["status"] for k in admin.ok("get", "/api/v1/api-keys")["items"]}
    assert listed[made["id"]] == "expiring" and listed[rotated["id"]] == "active"

    later = dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=31)
    monkeypatch.setattr(clock, "now", lambda: later)
    assert_error(old.get("/api/v1/orders"), 401, "unauthorized")
    assert new.get("/api/v1/orders").status_code == 200


def test_a_revoked_key_cannot_be_rotated(admin: Client) -> None:
    made = create(admin, name="shop-x", role="webshop")
    admin.ok("post", f"/api/v1/api-keys/{made['id']}/revoke")
    assert_error(admin.post(f"/api/v1/api-keys/{made['id']}/rotate", {}), 409, "conflict")
    assert_error(admin.post(f"/api/v1/api-keys/{made['id']}/rotate", {"grace_minutes": -1}), 422,
                 "validation_error")


# -- channels ----------------------------------------------------------------------------

def test_several_keys_serve_one_channel(app: Any, admin: Client, shop_b: Client, stock: None) -> None:
    k1 = create(admin, name="shop-x-web", role="webshop", channel="shop-x")
    k2 = create(admin, name="shop-x-app", role="webshop", channel="shop-x")
    one, two = Client(app.test_client(), k1["key"]), Client(app.test_client(), k2["key"])
    o1 = order(one, "C-ROSSI", [("MUG-01", 1)]).get_json()
    o2 = order(two, "C-ROSSI", [("MUG-01", 1)]).get_json()
    assert o1["channel"] == o2["channel"] == "shop-x"
    assert {o["id"] for o in one.ok("get", "/api/v1/orders")["items"]} == {o1["id"], o2["id"]}
    assert two.ok("get", f"/api/v1/orders/{o1['id']}")["id"] == o1["id"]
    assert_error(shop_b.get(f"/api/v1/orders/{o1['id']}"), 404, "not_found")

    # Webhooks and events follow the channel, not the key's name.
    hook = one.ok("post", "/api/v1/webhooks", {"url": "http://127.0.0.1:9/hook"}, status=201)
    assert hook["channel"] == "shop-x"
    assert two.ok("get", f"/api/v1/webhooks/{hook['id']}")["id"] == hook["id"]
    events = two.ok("get", "/api/v1/events")["items"]
    assert events and {e["channel"] for e in events} == {"shop-x"}
    assert_error(shop_b.get(f"/api/v1/webhooks/{hook['id']}"), 404, "not_found")


def test_the_channel_defaults_to_the_name_and_names_are_unique_among_live_keys(admin: Client) -> None:
    made = create(admin, name="shop-y", role="webshop")
    assert made["channel"] == "shop-y"
    assert_error(admin.post("/api/v1/api-keys", {"name": "shop-y", "role": "webshop"}), 409, "conflict")
    admin.ok("post", f"/api/v1/api-keys/{made['id']}/revoke")
    again = create(admin, name="shop-y", role="webshop")  # the name is free once its key is revoked
    assert again["channel"] == "shop-y"
    r = admin.post("/api/v1/api-keys", {"name": "sneaky", "role": "webshop", "channel": "web"})
    assert_error(r, 422, "validation_error")


def test_the_key_is_shown_once_and_never_stored(app: Any, admin: Client, engine: Engine) -> None:
    body = {"name": "shop-z", "role": "webshop", "channel": "z"}
    first = admin.post("/api/v1/api-keys", body, headers={"Idempotency-Key": "create-z"})
    assert first.status_code == 201
    made = first.get_json()
    assert made["key"].startswith(f"o2c_{made['prefix']}_")
    replay = admin.post("/api/v1/api-keys", body, headers={"Idempotency-Key": "create-z"})
    assert replay.status_code == 201
    assert replay.get_json() == {**made, "key": None}
    assert [r["name"] for r in key_rows(engine)].count("shop-z") == 1
    with engine.connect() as c:
        stored = " ".join(str(v) for t in ("api_keys", "idempotency_keys", "audit_log")
                          for row in c.execute(text(f"SELECT * FROM {t}")) for v in row)
    assert made["key"] not in stored and made["key"].split("_", 2)[2] not in stored
    assert Client(app.test_client(), made["key"]).get("/api/v1/orders").status_code == 200


def test_last_use_is_written_at_most_once_a_minute(
    app: Any, engine: Engine, monkeypatch: pytest.MonkeyPatch,
) -> None:
    key = make_key(engine, "clerk-1", "clerk")
    api = Client(app.test_client(), key)
    t0 = dt.datetime(2030, 5, 1, 9, 0, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(clock, "now", lambda: t0)
    assert api.get("/api/v1/orders").status_code == 200
    assert key_rows(engine)[-1]["last_used_at"] == t0
    monkeypatch.setattr(clock, "now", lambda: t0 + dt.timedelta(seconds=59))
    assert api.get("/api/v1/orders").status_code == 200
    assert key_rows(engine)[-1]["last_used_at"] == t0
    monkeypatch.setattr(clock, "now", lambda: t0 + dt.timedelta(seconds=61))
    assert api.get("/api/v1/orders").status_code == 200
    assert key_rows(engine)[-1]["last_used_at"] == t0 + dt.timedelta(seconds=61)


def test_create_revoke_and_rotate_leave_audit_rows(admin: Client, engine: Engine) -> None:
    a = create(admin, name="a", role="clerk")
    b = create(admin, name="b", role="accountant")
    admin.ok("post", f"/api/v1/api-keys/{a['id']}/revoke")
    admin.ok("post", f"/api/v1/api-keys/{b['id']}/rotate", {"grace_minutes": 5}, status=201)
    with engine.connect() as c:
        rows = c.execute(text("SELECT action, object_id, actor FROM audit_log WHERE object_type = 'api_key' "
                              "AND actor <> 'test' ORDER BY id")).all()  # 'test': the fixture's keys
    assert [(r.action, r.object_id) for r in rows] == [
        ("api_key.created", a["id"]), ("api_key.created", b["id"]), ("api_key.revoked", a["id"]),
        ("api_key.rotated", b["id"])]
    assert {r.actor for r in rows} == {"api_key:admin"}


# -- who may ---------------------------------------------------------------------------

KEY_ROUTES = [("get", "/api/v1/api-keys", None), ("post", "/api/v1/api-keys", {"name": "n", "role": "admin"}),
              ("get", "/api/v1/api-keys/{id}", None), ("post", "/api/v1/api-keys/{id}/revoke", None),
              ("post", "/api/v1/api-keys/{id}/rotate", {})]


@pytest.mark.parametrize("role", ["webshop", "webshop_b", "clerk", "accountant"])
@pytest.mark.parametrize(("method", "path", "body"), KEY_ROUTES,
                         ids=[f"{m}-{p.rsplit('/', 1)[-1]}" for m, p, _ in KEY_ROUTES])
def test_only_administrators_manage_keys(
    app: Any, keys: dict[str, str], engine: Engine, role: str, method: str, path: str, body: Any,
) -> None:
    target = key_rows(engine)[0]["id"]
    api = Client(app.test_client(), keys[role])
    assert api.get("/api/v1/orders").status_code == 200  # its last use is written now, not below

    def state() -> Any:
        return key_rows(engine), audit_actions(engine)
    before = state()
    r = api.get(path.format(id=target)) if method == "get" else api.post(path.format(id=target), body)
    assert_error(r, 403, "forbidden")
    assert state() == before


def test_the_service_refuses_non_administrators_too(engine: Engine) -> None:
    from o2c.domain.access import Principal
    from o2c.domain.errors import Forbidden
    from o2c.services.platform import apikeys
    from o2c.services.platform.uow import unit_of_work
    clerk = Principal("user", 1, "marta", "clerk")
    with pytest.raises(Forbidden), unit_of_work(engine, "test") as tx:
        apikeys.create_api_key(tx, "x", "admin", principal=clerk)
    with pytest.raises(Forbidden), unit_of_work(engine, "test") as tx:
        apikeys.list_api_keys(tx, clerk)
    assert key_rows(engine) == []


# -- command line ------------------------------------------------------------------------

@pytest.fixture
def cli(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("O2C_DATABASE_URL", db_url)
    runner = CliRunner()

    def run(*args: str) -> Any:
        result = runner.invoke(main, list(args), catch_exceptions=False)
        return result
    return run


def test_the_command_line_creates_lists_rotates_and_revokes(app: Any, cli: Any, engine: Engine) -> None:
    made = cli("create-api-key", "--name", "shop-c", "--role", "webshop", "--channel", "shop-c-eu",
               "--expires", "2099-12-31")
    assert made.exit_code == 0, made.output
    key = made.output.strip()
    assert key.startswith("o2c_")
    row = key_rows(engine)[-1]
    assert (row["name"], row["channel"], row["role"]) == ("shop-c", "shop-c-eu", "webshop")
    assert row["expires_at"] == dt.datetime(2099, 12, 31, tzinfo=dt.timezone.utc)
    assert Client(app.test_client(), key).get("/api/v1/orders").status_code == 200

    default = cli("create-api-key", "--name", "shop-d", "--role", "webshop")
    assert default.exit_code == 0 and key_rows(engine)[-1]["channel"] == "shop-d"

    listed = cli("api-keys", "list")
    assert listed.exit_code == 0, listed.output
    head, *lines = listed.output.splitlines()
    assert head.split() == ["id", "name", "channel", "role", "prefix", "status", "created", "last", "used",
                            "expires", "revoked"]
    first = lines[0].split()
    assert first[:6] == [str(row["id"]), "shop-c", "shop-c-eu", "webshop", row["prefix"], "active"]
    assert "2099-12-31" in lines[0]

    rotated = cli("api-keys", "rotate", str(row["id"]), "--grace-minutes", "10")
    assert rotated.exit_code == 0, rotated.output
    new_key = rotated.output.splitlines()[0]
    assert new_key.startswith("o2c_") and new_key != key
    assert key_rows(engine)[-1]["channel"] == "shop-c-eu"
    assert Client(app.test_client(), key).get("/api/v1/orders").status_code == 200  # grace period
    assert Client(app.test_client(), new_key).get("/api/v1/orders").status_code == 200

    revoked = cli("api-keys", "revoke", str(row["id"]))
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    assert_error(Client(app.test_client(), key).get("/api/v1/orders"), 401, "unauthorized")
    assert Client(app.test_client(), new_key).get("/api/v1/orders").status_code == 200
    again = cli("api-keys", "revoke", str(row["id"]))
    assert again.exit_code == 1 and "revoked already" in again.output
    missing = cli("api-keys", "rotate", "999999")
    assert missing.exit_code == 1 and "not found" in missing.output
    assert "revoked" in [l.split()[5] for l in cli("api-keys").output.splitlines()[1:]]
    assert audit_actions(engine) == ["api_key.created", "api_key.created", "api_key.rotated", "api_key.revoked"]


def test_the_command_line_refuses_bad_input(cli: Any, engine: Engine) -> None:
    assert cli("create-api-key", "--name", "x", "--role", "webshop", "--expires", "31/12/2099").exit_code == 2
    past = cli("create-api-key", "--name", "x", "--role", "webshop", "--expires", "2001-01-01")
    assert past.exit_code == 1 and "future" in past.output
    assert cli("api-keys", "rotate", "1", "--grace-minutes", "-5").exit_code == 2
    assert key_rows(engine) == []
