"""The OpenAPI document is complete enough to generate a client from and to
integrate against: every operation named, described, with its roles, headers,
errors and examples; the webhooks with their payloads and signature; a
documentation page served entirely by o2c."""
from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from jsonschema_path import SchemaPath
from openapi_schema_validator import OAS31Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from o2c.api.openapi import DOWNLOADS
from o2c.domain import signing
from o2c.domain.access import PERMISSIONS, ROLES
from o2c.domain.events import EVENT_TYPES
from tests.conftest import Client, customer, product

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture
def spec(app: Any) -> dict[str, Any]:
    r = app.test_client().get("/api/openapi.json")
    assert r.status_code == 200
    return r.get_json()


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(m, p, op) for p, item in spec["paths"].items() for m, op in item.items() if m in METHODS]


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> OAS31Validator:
    """A validator for ``schema`` that resolves ``#/components/...`` in ``spec``."""
    registry = Registry().with_resource("urn:o2c", Resource.from_contents(spec, default_specification=DRAFT202012))
    return OAS31Validator(_rebase(schema), registry=registry)


def _rebase(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: ("urn:o2c" + v if k == "$ref" and v.startswith("#/") else _rebase(v)) for k, v in node.items()}
    if isinstance(node, list):
        return [_rebase(v) for v in node]
    return node


def test_the_document_is_valid_openapi_3_1(spec: dict[str, Any]) -> None:
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on any violation of the OpenAPI 3.1 schema or duplicate operationId
    assert SchemaPath.from_dict(spec)


def test_every_operation_is_named_described_and_says_who_may_call_it(spec: dict[str, Any]) -> None:
    ops = operations(spec)
    assert len(ops) >= 70
    ids = [op.get("operationId") for _, _, op in ops]
    assert all(ids) and len(set(ids)) == len(ids)
    lacking = {}
    for method, path, op in ops:
        missing = [k for k in ("operationId", "summary", "description", "x-roles", "tags") if not op.get(k)]
        if op.get("summary") and ("\n" in op["summary"] or len(op["summary"]) > 160):
            missing.append("one-line summary")
        roles = op.get("x-roles") or []
        if not set(roles) <= set(ROLES) or "admin" not in roles:
            missing.append("roles")
        permission = op.get("x-permission")
        if permission and roles != [r for r in ROLES if permission in PERMISSIONS[r]]:
            missing.append("roles of the permission")
        if permission and permission not in op.get("description", ""):
            missing.append("permission in the description")
        if missing:
            lacking[f"{method.upper()} {path}"] = missing
    assert not lacking


def test_every_operation_lists_its_errors_with_their_codes(spec: dict[str, Any]) -> None:
    lacking = {}
    for method, path, op in operations(spec):
        responses = op["responses"]
        wanted = {"401", "422", "429"}
        if "{" in path:
            wanted.add("404")
        if len(op["x-roles"]) < len(ROLES):
            wanted.add("403")
        if method in ("post", "patch", "delete"):
            wanted |= {"404", "409"}
        if "requestBody" in op:
            wanted |= {"400", "415"}
        missing = sorted(s for s in wanted if s not in responses)
        for status, response in responses.items():
            if status.startswith(("4", "5")):
                codes = response.get("x-error-codes")
                examples = response.get("content", {}).get("application/json", {}).get("examples", {})
                if not codes or set(examples) != set(codes) or not all(c in response["description"] for c in codes):
                    missing.append(f"{status} codes")
        if "429" in responses and "Retry-After" not in responses["429"].get("headers", {}):
            missing.append("Retry-After")
        if missing:
            lacking[f"{method.upper()} {path}"] = missing
    assert not lacking
    create_order = spec["paths"]["/api/v1/orders"]["post"]["responses"]["409"]["x-error-codes"]
    assert {"out_of_stock", "credit_limit_exceeded"} <= set(create_order)


def test_every_post_takes_an_idempotency_key_and_every_answer_a_request_id(spec: dict[str, Any]) -> None:
    parameter = spec["components"]["parameters"]["Idempotency-Key"]
    assert parameter["in"] == "header" and parameter["schema"]["maxLength"] == 255
    lacking = []
    for method, path, op in operations(spec):
        refs = [p.get("$ref", "") for p in op.get("parameters", [])]
        if method == "post" and "#/components/parameters/Idempotency-Key" not in refs:
            lacking.append(f"{path}: Idempotency-Key")
        for status, response in op["responses"].items():
            if "X-Request-Id" not in response.get("headers", {}):
                lacking.append(f"{method} {path} {status}: X-Request-Id")
            if method == "post" and status.startswith("2") and "Idempotent-Replayed" not in response["headers"]:
                lacking.append(f"{method} {path} {status}: Idempotent-Replayed")
    assert not lacking


def test_every_json_body_has_an_example_that_its_schema_accepts(spec: dict[str, Any]) -> None:
    problems = {}
    checked = 0
    for method, path, op in operations(spec):
        bodies = [("request", op.get("requestBody", {}).get("content", {}).get("application/json"))]
        bodies += [(status, r.get("content", {}).get("application/json")) for status, r in op["responses"].items()]
        for where, media in bodies:
            if media is None or "schema" not in media:
                continue
            examples = [media["example"]] if "example" in media else [
                e["value"] for e in media.get("examples", {}).values()]
            if not examples:
                problems[f"{method} {path} {where}"] = "no example"
                continue
            for example in examples:
                errors = [e.message for e in validator(spec, media["schema"]).iter_errors(example)]
                checked += 1
                if errors:
                    problems[f"{method} {path} {where}"] = errors[:3]
    assert not problems
    assert checked > 300


def test_every_download_states_its_media_types(spec: dict[str, Any], app: Any) -> None:
    by_endpoint = {rule.endpoint: rule for rule in app.url_map.iter_rules()}
    for endpoint, types in DOWNLOADS.items():
        rule = by_endpoint[endpoint]
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        content = spec["paths"][path]["get"]["responses"]["200"]["content"]
        assert set(content) == set(types), endpoint
    undeclared = [f"{m} {p}" for m, p, op in operations(spec)
                  if not any(s.startswith("2") and (r.get("content") or s == "204") for s, r in op["responses"].items())]
    assert not undeclared


def test_the_roles_stated_are_the_roles_enforced(spec: dict[str, Any], admin: Client, shop: Client,
                                                 keys: dict[str, str], app: Any) -> None:
    """Every operation a webshop key may not call answers it 403, and every
    one it may call does not; the document and the server agree."""
    customer(admin, "C-ROLES")
    product(admin, "ROLE-1", "1.00")
    wrong = []
    for method, path, op in operations(spec):
        concrete = re.sub(r"\{sku\}", "ROLE-1", re.sub(r"\{[^}]+\}", "1", path))
        concrete = concrete.replace("/periods/1/", "/periods/2026-01/")
        body = {"json": {"probe": 1}} if method in ("post", "patch") else {}
        r = getattr(shop.c, method)(concrete, headers={"Authorization": f"Bearer {keys['webshop']}"}, **body)
        allowed = "webshop" in op["x-roles"]
        if allowed == (r.status_code == 403 and r.get_json()["error"]["code"] == "forbidden"):
            wrong.append(f"{method.upper()} {path}: {r.status_code}, document says allowed={allowed}")
    assert not wrong


def test_the_webhooks_describe_every_event_and_the_signature(spec: dict[str, Any]) -> None:
    assert set(spec["webhooks"]) == set(EVENT_TYPES)
    header = signing.signature_header(["whsec_x"], 1768469400, b"{}")
    for event_type, item in spec["webhooks"].items():
        op = item["post"]
        assert "O2C-Signature" in op["description"] and "HMAC-SHA256" in op["description"]
        signature = next(p for p in op["parameters"] if p["name"] == "O2C-Signature")
        assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", header)
        assert re.fullmatch(r"t=\d+,v1=[0-9a-f]+", signature["schema"]["example"])
        media = op["requestBody"]["content"]["application/json"]
        assert media["example"]["type"] == event_type
        errors = [e.message for e in validator(spec, media["schema"]).iter_errors(media["example"])]
        assert not errors, (event_type, errors)
        wrong_type = {**media["example"], "type": "order.nonsense"}
        assert list(validator(spec, media["schema"]).iter_errors(wrong_type))


def test_the_security_scheme_is_described(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["bearer"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
    assert "Authorization: Bearer" in scheme["description"] and all(r in scheme["description"] for r in ROLES)


def test_the_limits_in_the_document_are_the_limits_enforced(spec: dict[str, Any], admin: Client) -> None:
    schemas = spec["components"]["schemas"]
    quantity = schemas["OrderLineIn"]["properties"]["quantity"]
    assert (quantity["minimum"], quantity["maximum"]) == (1, 1_000_000)
    price = schemas["ProductIn"]["properties"]["unit_price"]
    rate = schemas["ProductIn"]["properties"]["vat_rate"]
    for value, valid in [("12.30", True), ("0", True), ("999999999999.99", True), ("12.3", True),
                         ("12.300", False), (" 12.30", False), ("1_000", False), ("１２", False), ("1e3", False),
                         ("0000000000001", False), ("-1.00", False), ("1000000000000", False)]:
        assert bool(re.search(price["pattern"], value)) is valid, value
        r = admin.post("/api/v1/products", {"sku": f"LIM-{abs(hash(value)) % 10**8}", "name": "Limit",
                                            "unit_price": value, "vat_rate": "0.22"})
        assert (r.status_code == 201) is valid, (value, r.get_json())
    for value, valid in [("0.22", True), ("0.2250", True), ("0", True), ("0.22500", False), (".22", False),
                         ("1", False), ("0.2 ", False)]:
        assert bool(re.search(rate["pattern"], value)) is valid, value
    # JSON and the document's "integer" do not tell 2 from 2.0: neither does the server.
    whole = admin.post("/api/v1/products", {"sku": "LIM-WHOLE", "name": "Whole", "unit_price": 12.0,
                                             "vat_rate": "0.22"})
    assert whole.status_code == 201 and whole.get_json()["unit_price"] == "12.00"
    receipt = admin.post("/api/v1/stock/receipts", {"sku": "LIM-WHOLE", "quantity": 2.0, "unit_cost": 3.0})
    assert receipt.status_code == 201, receipt.get_json()
    assert admin.post("/api/v1/stock/receipts", {"sku": "LIM-WHOLE", "quantity": 2.5, "unit_cost": "3.00"}) \
        .status_code == 422
    for value, valid in [(1, True), (1_000_000, True), (0, False), (1_000_001, False)]:
        body = {"customer": {"code": "C-LIM", "name": "Limit"}, "lines": [{"sku": "NOPE", "quantity": value}]}
        r = admin.post("/api/v1/orders", body)
        refused = r.status_code == 422 and "quantity" in str(r.get_json()["error"]["details"])
        assert refused is not valid, (value, r.get_json())
    assert Decimal(str(price["maximum"])) == Decimal("999999999999")


def test_a_patch_that_changes_nothing_is_refused(admin: Client, spec: dict[str, Any]) -> None:
    c = customer(admin, "C-PATCH")
    path = f"/api/v1/customers/{c['id']}"
    for r in (admin.c.patch(path, headers={"Authorization": f"Bearer {admin.key}"}), admin.patch(path, {})):
        assert r.status_code == 422 and r.get_json()["error"]["code"] == "validation_error"
    assert admin.ok("patch", path, {"name": "Rossi Nuovo"})["name"] == "Rossi Nuovo"
    for method, path, op in operations(spec):
        if method == "patch":
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
            assert spec["components"]["schemas"][ref.rsplit("/", 1)[1]]["minProperties"] == 1, path


def test_the_docs_page_is_served_entirely_by_o2c(app: Any) -> None:
    c = app.test_client()
    r = c.get("/api/docs")
    assert r.status_code == 200 and r.mimetype == "text/html"
    page = r.get_data(as_text=True)
    assert "<script>" not in page and "<style" not in page  # the CSP allows no inline code
    urls = re.findall(r'(?:src|href)="([^"]+)"', page)
    assets = [u for u in urls if u.endswith((".js", ".css", ".png"))]
    assert any(u.endswith("swagger-ui-bundle.js") for u in assets) and any(u.endswith(".css") for u in assets)
    for url in urls:
        assert url.startswith("/") and not url.startswith("//"), url  # same origin
        asset = c.get(url)
        assert asset.status_code == 200, url
        assert asset.mimetype in ("text/javascript", "text/css", "image/png", "application/json", "text/html"), url
    script = c.get("/api/docs/o2c-docs.js").get_data(as_text=True)
    assert '"/api/openapi.json"' in script and "SwaggerUIBundle(" in script
    assert "SwaggerUIBundle" in c.get("/api/docs/swagger-ui-bundle.js").get_data(as_text=True)[:2_000_000]
    assert c.get("/api/docs/oauth2-redirect.html").status_code == 404  # only the assets the page uses
    assert c.get("/api/docs/..%2F__init__.py").status_code == 404


def test_the_request_examples_work_one_after_the_other(spec: dict[str, Any], admin: Client) -> None:
    """The examples are what an integrator copies first: on a new database,
    sent in the order of a sale, the server accepts each of them."""
    def example(method: str, path: str) -> Any:
        return spec["paths"][path][method]["requestBody"]["content"]["application/json"]["example"]

    steps = [
        ("post", "/api/v1/customers", "/api/v1/customers", 201),
        ("patch", "/api/v1/customers/{customer_id}", "/api/v1/customers/1", 200),
        ("post", "/api/v1/products", "/api/v1/products", 201),
        ("patch", "/api/v1/products/{sku}", "/api/v1/products/CHAIR-OAK", 200),
        ("post", "/api/v1/stock/receipts", "/api/v1/stock/receipts", 201),
        ("post", "/api/v1/orders", "/api/v1/orders", 201),
        ("post", "/api/v1/orders/{order_id}/cancel", "/api/v1/orders/1/cancel", 200),
        ("post", "/api/v1/orders/{order_id}/shipments", "/api/v1/orders/1/shipments", 201),
        ("post", "/api/v1/shipments/{shipment_id}/ship", "/api/v1/shipments/1/ship", 200),
        ("post", "/api/v1/payments", "/api/v1/payments", 201),
        ("post", "/api/v1/webhooks", "/api/v1/webhooks", 201),
        ("patch", "/api/v1/webhooks/{webhook_id}", "/api/v1/webhooks/1", 200),
        ("post", "/api/v1/ledger/accounts", "/api/v1/ledger/accounts", 201),
        ("patch", "/api/v1/ledger/accounts/{code}", "/api/v1/ledger/accounts/4010", 200),
        ("post", "/api/v1/dunning/runs", "/api/v1/dunning/runs", 200),
    ]
    for method, template, path, status in steps:
        r = getattr(admin, method)(path, example(method, template))
        assert r.status_code == status, (method, path, r.get_json())
    # The events this sale emitted are what the webhooks document says they are.
    events = admin.ok("get", "/api/v1/events?limit=1000")["items"]
    assert {"order.created", "order.confirmed", "shipment.shipped", "invoice.issued", "payment.received"} <= {
        e["type"] for e in events}
    for event in events:
        schema = spec["webhooks"][event["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
        errors = [e.message for e in validator(spec, schema).iter_errors(event)]
        assert not errors, (event, errors)
