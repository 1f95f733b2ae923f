"""Webhooks never reach this machine, the private network or the cloud's
metadata service. At subscription (API POST and PATCH, the back-office form)
an IP literal that is not public — in any notation — and the local names are
refused with 422; at delivery the host is resolved once, every address is
checked, and the connection goes to exactly the address that was checked."""
from __future__ import annotations

import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from o2c import create_app, outbound
from o2c.config import Config
from o2c.db import models as m
from o2c.domain import netaddr
from o2c.ops import InsecureConfiguration
from o2c.outbound import Outbound
from o2c.worker import Worker
from tests.conftest import Client, make_key
from tests.receiver import Receiver
from tests.web.conftest import Web

W = m.Webhook.__table__

#: (URL, the address it means or None for a name) — every spelling of a
#: non-public target the issue listed, and more.
REFUSED = [
    ("http://127.0.0.1/hooks", "127.0.0.1"),
    ("http://127.0.0.1.:8080/hooks", "127.0.0.1"),  # a trailing dot
    ("http://[::1]/hooks", "::1"),
    ("http://localhost/hooks", None),
    ("http://LOCALHOST./hooks", None),
    ("https://api.localhost:8443/hooks", None),
    ("http://169.254.169.254/latest/meta-data/", "169.254.169.254"),
    ("http://0x7f000001/hooks", "127.0.0.1"),  # hex, one part
    ("http://0X7F000001/hooks", "127.0.0.1"),
    ("http://2130706433/hooks", "127.0.0.1"),  # decimal, one part
    ("http://017700000001/hooks", "127.0.0.1"),  # octal, one part
    ("http://0177.0.0.1/hooks", "127.0.0.1"),  # octal part
    ("http://0x7f.0.0.1/hooks", "127.0.0.1"),  # hex part
    ("http://127.1/hooks", "127.0.0.1"),  # short form a.b
    ("http://127.0.1/hooks", "127.0.0.1"),  # short form a.b.c
    ("http://0x7f.1/hooks", "127.0.0.1"),
    ("http://0xa9fea9fe/latest/meta-data/", "169.254.169.254"),
    ("http://2852039166/latest/meta-data/", "169.254.169.254"),
    ("http://10.0.0.1/hooks", "10.0.0.1"),
    ("http://172.16.5.4/hooks", "172.16.5.4"),
    ("http://192.168.1.1/hooks", "192.168.1.1"),
    ("http://100.64.0.1/hooks", "100.64.0.1"),  # carrier-grade NAT
    ("http://100.100.100.200/latest/meta-data/", "100.100.100.200"),  # a cloud's metadata
    ("http://192.0.0.192/opc/v1/instance/", "192.0.0.192"),  # another cloud's metadata
    ("http://0.0.0.0/hooks", "0.0.0.0"),
    ("http://0/hooks", "0.0.0.0"),
    ("http://224.0.0.1/hooks", "224.0.0.1"),  # multicast
    ("http://255.255.255.255/hooks", "255.255.255.255"),
    ("http://240.0.0.1/hooks", "240.0.0.1"),  # reserved
    ("http://198.18.0.1/hooks", "198.18.0.1"),  # benchmarking
    ("http://[::ffff:127.0.0.1]/hooks", "::ffff:7f00:1"),  # IPv4-mapped IPv6
    ("http://[::ffff:7f00:1]/hooks", "::ffff:7f00:1"),
    ("http://[::ffff:a9fe:a9fe]/hooks", "::ffff:a9fe:a9fe"),
    ("http://[0:0:0:0:0:ffff:127.0.0.1]/hooks", "::ffff:7f00:1"),
    ("http://[64:ff9b::7f00:1]/hooks", "64:ff9b::7f00:1"),  # NAT64 of loopback
    ("http://[2002:7f00:1::]/hooks", "2002:7f00:1::"),  # 6to4 of loopback
    ("http://[::]/hooks", "::"),
    ("http://[::127.0.0.1]/hooks", "::7f00:1"),  # IPv4-compatible (deprecated)
    ("http://[fd00::1]/hooks", "fd00::1"),
    ("http://[fd00:ec2::254]/latest/meta-data/", "fd00:ec2::254"),  # a cloud's IPv6 metadata
    ("http://[fe80::1%25eth0]/hooks", "fe80::1"),
    ("http://[fec0::1]/hooks", "fec0::1"),
    ("http://[ff02::1]/hooks", "ff02::1"),
    ("http://１２７.０.０.１/hooks", "127.0.0.1"),  # full-width digits: IDNA folds them
    ("http://127。0。0。1/hooks", "127.0.0.1"),  # ideographic full stops
    ("http://metadata.google.internal/computeMetadata/v1/", None),
    ("http://printer.local/hooks", None),
]
NOT_HOSTS = ["http://1.2.3.999/hooks", "http://127.0.0.09/hooks", "http://1.2.3.4.5/hooks", "http://example.123/"]
ACCEPTED = ["https://hooks.example.com/o2c", "http://8.8.8.8/hooks", "https://[2606:4700::1111]/hooks",
            "http://[::ffff:8.8.8.8]/hooks", "https://shop.example:8443/hooks?x=1", "https://1e100.net/"]


@pytest.fixture
def production(db_url: str) -> Iterator[Any]:
    """The app as production runs it (O2C_ENV=production)."""
    app = create_app(Config(DATABASE_URL=db_url, ENV="production", SECRET_KEY="a-long-production-secret-key-0123"))
    yield app
    app.extensions["o2c.engine"].dispose()


@pytest.fixture
def prod_admin(production: Any) -> Client:
    return Client(production.test_client(), make_key(production.extensions["o2c.engine"], "admin", "admin"))


def webhook_count(engine: Engine) -> int:
    with engine.connect() as c:
        return c.execute(select(func.count()).select_from(W)).scalar_one()


def assert_refused(r: Any, url: str) -> None:
    assert r.status_code == 422, (url, r.status_code, r.get_json())
    err = r.get_json()["error"]
    assert err["code"] == "validation_error" and set(err["details"]["fields"]) == {"url"}, err
    assert "secret" not in r.get_json()


# -- the notations ------------------------------------------------------------------------

@pytest.mark.parametrize("url, means", REFUSED)
def test_every_notation_of_a_non_public_address_is_read_as_that_address(url: str, means: str | None) -> None:
    from urllib.parse import urlsplit
    host = urlsplit(url).hostname or ""
    assert netaddr.host_refusal(host) is not None, url
    literal = netaddr.ip_literal(host)
    assert (None if literal is None else str(literal)) == means
    if literal is not None:
        assert netaddr.refusal(literal) is not None


@pytest.mark.parametrize("url", ACCEPTED)
def test_public_addresses_and_names_pass(url: str) -> None:
    from urllib.parse import urlsplit
    assert netaddr.host_refusal(urlsplit(url).hostname or "") is None


def test_the_parser_agrees_with_the_c_library_on_every_ipv4_notation() -> None:
    """inet_aton is what the resolver (and so the delivery) reads: the same address."""
    for url, means in REFUSED:
        host = url.split("/")[2].rsplit(":", 1)[0] if "[" not in url else ""
        if means and ":" not in means and host.isascii() and not host.endswith("."):
            assert socket.inet_ntoa(socket.inet_aton(host)) == means, host


# -- at subscription ----------------------------------------------------------------------

@pytest.mark.parametrize("url", [u for u, _ in REFUSED] + NOT_HOSTS)
def test_production_refuses_a_non_public_target_when_subscribing(
    url: str, production: Any, prod_admin: Client,
) -> None:
    engine = production.extensions["o2c.engine"]
    assert_refused(prod_admin.post("/api/v1/webhooks", {"url": url}), url)
    assert webhook_count(engine) == 0  # nothing written, no secret handed out
    ok = prod_admin.ok("post", "/api/v1/webhooks", {"url": "https://hooks.example.com/o2c"}, status=201)
    assert_refused(prod_admin.patch(f"/api/v1/webhooks/{ok['id']}", {"url": url}), url)
    assert prod_admin.ok("get", f"/api/v1/webhooks/{ok['id']}")["url"] == "https://hooks.example.com/o2c"


@pytest.mark.parametrize("url", ACCEPTED)
def test_production_accepts_public_targets(url: str, prod_admin: Client) -> None:
    hook = prod_admin.ok("post", "/api/v1/webhooks", {"url": url}, status=201)
    assert hook["url"] == url and hook["secret"]
    assert prod_admin.ok("patch", f"/api/v1/webhooks/{hook['id']}", {"url": url})["url"] == url


def test_a_webshop_key_is_held_to_the_same_rule(production: Any) -> None:
    shop = Client(production.test_client(), make_key(production.extensions["o2c.engine"], "shop-a", "webshop"))
    assert_refused(shop.post("/api/v1/webhooks", {"url": "http://2130706433:8080/"}), "decimal")
    assert shop.post("/api/v1/webhooks", {"url": "https://shop-a.example/hooks"}).status_code == 201


def test_development_and_tests_may_subscribe_loopback_receivers_unless_switched_off(app: Any, admin: Client) -> None:
    assert admin.post("/api/v1/webhooks", {"url": "http://127.0.0.1:9/hooks"}).status_code == 201
    assert_refused(admin.post("/api/v1/webhooks", {"url": "http://1.2.3.999/hooks"}), "never a host")
    app.config["O2C"].WEBHOOK_ALLOW_PRIVATE = False
    assert_refused(admin.post("/api/v1/webhooks", {"url": "http://0177.0.0.1:9/hooks"}), "octal")


def test_the_back_office_form_refuses_a_non_public_target(app: Any, admin_web: Web, engine: Engine) -> None:
    app.config["O2C"].WEBHOOK_ALLOW_PRIVATE = False  # as in production
    for url in ("http://0x7f000001/hooks", "http://[::ffff:169.254.169.254]/", "http://intranet.localhost/"):
        token = admin_web.form_token("/webhooks")
        r = admin_web.post("/webhooks", {"url": url, "event_types": ["*"], "form_token": token})
        assert r.status_code == 422, url
        assert "not a public address" in r.text or "names this machine" in r.text
        assert 'id="f-url-error"' in r.text and f'value="{url}"' in r.text
    assert webhook_count(engine) == 0
    r = admin_web.post("/webhooks", {"url": "https://hooks.example.com/o2c", "event_types": ["*"],
                                     "form_token": admin_web.form_token("/webhooks")})
    assert r.status_code == 303 and webhook_count(engine) == 1


# -- the switch ---------------------------------------------------------------------------

def test_private_targets_are_off_in_production_whatever_the_switch_says(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/p.sqlite3"
    assert Config(DATABASE_URL=url, ENV="testing").webhook_allow_private is True
    assert Config(DATABASE_URL=url, ENV="development").webhook_allow_private is True
    assert Config(DATABASE_URL=url, ENV="testing", WEBHOOK_ALLOW_PRIVATE=False).webhook_allow_private is False
    for env in ("production", "staging", ""):
        assert Config(DATABASE_URL=url, ENV=env).webhook_allow_private is False
        assert Config(DATABASE_URL=url, ENV=env, WEBHOOK_ALLOW_PRIVATE=True).webhook_allow_private is False
    with pytest.raises(InsecureConfiguration, match="O2C_WEBHOOK_ALLOW_PRIVATE"):
        create_app(Config(DATABASE_URL=url, ENV="production", SECRET_KEY="a-long-production-secret-key-0123",
                          WEBHOOK_ALLOW_PRIVATE=True))
    from sqlalchemy import create_engine
    worker = Worker(create_engine(url), Config(DATABASE_URL=url, ENV="production", WEBHOOK_ALLOW_PRIVATE=True))
    assert worker.outbound.allow_private is False


# -- at delivery --------------------------------------------------------------------------

class Spy:
    """The outbound seam watched: every lookup, every socket opened, and any
    other name resolution in the process (there must be none)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, answers: list[list[str]]):
        self.answers = answers
        self.lookups: list[str] = []
        self.connects: list[tuple[str, int]] = []
        self.other_lookups: list[str] = []
        real_getaddrinfo = socket.getaddrinfo
        real_open = outbound.open_socket

        def resolve(host: str, port: int) -> list[str]:
            self.lookups.append(host)
            return self.answers[min(len(self.lookups), len(self.answers)) - 1]

        def open_socket(address: str, port: int, timeout: float | None) -> socket.socket:
            self.connects.append((address, port))
            return real_open("127.0.0.1", port, timeout)  # the test's receiver stands in for the address

        def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
            if host not in ("127.0.0.1",):
                self.other_lookups.append(host)
            return real_getaddrinfo(host, *args, **kw)

        monkeypatch.setattr(outbound, "resolve", resolve)
        monkeypatch.setattr(outbound, "open_socket", open_socket)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.stop()


@pytest.mark.parametrize("answer", [["10.0.0.7"], ["127.0.0.1"], ["169.254.169.254"], ["::1"],
                                    ["93.184.216.34", "192.168.0.10"], ["::ffff:127.0.0.1"]])
def test_a_name_that_resolves_to_a_private_address_is_never_connected_to(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver, answer: list[str],
) -> None:
    spy = Spy(monkeypatch, [answer])
    result = Outbound(timeout_s=2).post(f"http://hooks.example.com:{receiver.port}/o2c", b"{}", {})
    assert result.status is None and "non-public address" in (result.error or ""), result
    assert spy.lookups == ["hooks.example.com"]
    assert spy.connects == [] and receiver.all() == []


def test_the_connection_goes_to_the_checked_address_and_the_name_is_not_looked_up_again(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver,
) -> None:
    """DNS rebinding: the name answers a public address to the check and
    loopback to any later lookup. The connection goes to the public one (the
    receiver stands in for it), named as the URL names it; the next delivery
    looks up again, gets loopback, and is refused without connecting."""
    spy = Spy(monkeypatch, [["93.184.216.34"], ["127.0.0.1"]])
    out = Outbound(timeout_s=2)
    try:
        first = out.post(f"http://hooks.example.com:{receiver.port}/o2c", b'{"n":1}', {"X-Test": "1"})
        assert first.status == 200, first
        assert spy.lookups == ["hooks.example.com"]
        assert spy.connects == [("93.184.216.34", receiver.port)]
        assert spy.other_lookups == []  # nothing else resolved the name behind the check's back
        (got,) = receiver.accepted()
        assert got.headers["Host"] == f"hooks.example.com:{receiver.port}" and got.body == b'{"n":1}'
        second = out.post(f"http://hooks.example.com:{receiver.port}/o2c", b'{"n":2}', {})
        assert second.status is None and "non-public address 127.0.0.1" in (second.error or "")
        assert spy.lookups == ["hooks.example.com"] * 2  # no verdict kept between deliveries
        assert spy.connects == [("93.184.216.34", receiver.port)] and len(receiver.all()) == 1
    finally:
        out.close()


def test_a_kept_alive_connection_is_reused_only_while_the_name_points_to_the_same_checked_addresses(
    monkeypatch: pytest.MonkeyPatch, receiver: Receiver,
) -> None:
    spy = Spy(monkeypatch, [["93.184.216.34"], ["93.184.216.34"], ["198.41.0.4"]])
    out = Outbound(timeout_s=2)
    try:
        for n in range(3):
            assert out.post(f"http://hooks.example.com:{receiver.port}/o2c", b"{}", {}).status == 200
        assert spy.connects == [("93.184.216.34", receiver.port), ("198.41.0.4", receiver.port)]
        assert len(spy.lookups) == 3 and len(receiver.accepted()) == 3
    finally:
        out.close()


def test_loopback_receivers_in_tests_go_through_the_same_single_lookup(
    receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The switch on (development, tests): the check is skipped, not the
    pinning — the connection still goes to the looked-up address."""
    spy = Spy(monkeypatch, [["127.0.0.1"]])
    out = Outbound(timeout_s=2, allow_private=True)
    try:
        assert out.post(f"http://receiver.test:{receiver.port}/o2c", b"{}", {}).status == 200
        assert spy.connects == [("127.0.0.1", receiver.port)] and spy.lookups == ["receiver.test"]
        assert receiver.accepted()[0].headers["Host"] == f"receiver.test:{receiver.port}"
    finally:
        out.close()


def test_an_ip_literal_in_any_notation_is_checked_as_the_address_it_means() -> None:
    out = Outbound(timeout_s=1)
    for url in ("http://0x7f000001:9/", "http://2130706433:9/", "http://0177.0.0.1:9/", "http://127.1:9/",
                "http://[::ffff:127.0.0.1]:9/", "http://0xa9fea9fe/"):
        result = out.post(url, b"{}", {})
        assert result.status is None and "non-public address" in (result.error or ""), (url, result)
    assert outbound.resolve("0x7f.1", 80) == ["127.0.0.1"]


def test_a_worker_in_production_mode_refuses_a_loopback_target_stored_earlier(
    engine: Engine, admin: Client, shop: dict[str, Any], db_url: str, receiver: Receiver,
) -> None:
    """A subscription made while private targets were allowed (or before the
    rule) is not delivered once they are not: the attempt log says why."""
    from tests.conftest import order
    from tests.services.test_webhooks import work
    hook = admin.ok("post", "/api/v1/webhooks", {"url": receiver.url, "event_types": ["order.created"]}, status=201)
    assert order(admin, "C-ROSSI", [("RETRO-CLOCK", 1)]).status_code == 201
    config = Config(DATABASE_URL=db_url, ENV="testing", WEBHOOK_ALLOW_PRIVATE=False, WEBHOOK_RETRY_BASE_S=60)
    path = f"/api/v1/webhooks/{hook['id']}/deliveries"
    def tried() -> bool:
        items = admin.ok("get", path)["items"]
        return bool(items) and items[0]["attempts"] >= 1
    work(engine, config, tried, timeout=10)
    d = admin.ok("get", path)["items"][0]
    assert d["status"] == "pending" and "non-public address 127.0.0.1" in d["last_error"]
    assert receiver.all() == []


# -- TLS: the name is verified, the checked address is connected to -------------------------

def _certificate(tmp_path: Path, name: str) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    assert openssl, "the openssl command-line tool is needed to make a test certificate"
    cert, key = tmp_path / f"{name}.crt", tmp_path / f"{name}.key"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
                    "-addext", f"subjectAltName=DNS:{name}", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


def test_https_sends_sni_and_verifies_the_certificate_for_the_name_not_the_address(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    cert, key = _certificate(tmp_path, "hooks.o2c.test")
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(cert, key)
    sni: list[str | None] = []
    server.sni_callback = lambda sock, name, ctx: sni.append(name)  # type: ignore[assignment,misc,return-value]
    r = Receiver(tls=server).start()
    client = ssl.create_default_context(cafile=str(cert))
    try:
        spy = Spy(monkeypatch, [["127.0.0.1"]])
        out = Outbound(timeout_s=3, allow_private=True, ssl_context=client)
        ok = out.post(f"https://hooks.o2c.test:{r.port}/o2c", b"{}", {})
        out.close()
        assert ok.status == 200, ok
        assert sni == ["hooks.o2c.test"] and spy.connects == [("127.0.0.1", r.port)]
        assert r.accepted()[0].headers["Host"] == f"hooks.o2c.test:{r.port}"
        # The same server under another name: the certificate does not match it, nothing is sent.
        spy.answers = [["127.0.0.1"]]
        out = Outbound(timeout_s=3, allow_private=True, ssl_context=client)
        wrong = out.post(f"https://other.o2c.test:{r.port}/o2c", b"{}", {})
        out.close()
        assert wrong.status is None and "certificate verify failed" in (wrong.error or ""), wrong
        assert len(r.all()) == 1
    finally:
        r.stop()
