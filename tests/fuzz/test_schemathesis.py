"""Hostile input generated from the OpenAPI document: every operation, with
an admin key; no answer may be a server error, and every answer must match
the schema the document declares for it."""
from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from tests.conftest import customer, make_key, product

EXAMPLES = 100
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@pytest.mark.slow
def test_no_operation_fails_or_breaks_its_schema(app: Any, admin: Any) -> None:
    # Something to find: a customer, a product with stock, an order.
    c = customer(admin, "C-FUZZ")
    product(admin, "FUZZ-1", "9.90", stock=50, cost="3.00")
    admin.post("/api/v1/orders", {"customer": {"id": c["id"]}, "lines": [{"sku": "FUZZ-1", "quantity": 1}],
                                   "confirm": True})
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    # The API key operations go last, each call with a key of its own: a
    # generated revoke or rotate may hit any key, the fuzzer's own included.
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: op.path.startswith("/api/v1/api-keys"))
    assert len(operations) >= 25
    engine = app.extensions["o2c.engine"]
    failures: dict[str, str] = {}
    calls = 0
    for op in operations:
        @given(case=op.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        def check(case: Any) -> None:
            nonlocal calls
            calls += 1
            key = make_key(engine, f"fuzz-{calls}", "admin") if case.operation.path.startswith("/api/v1/api-keys") \
                else admin.key
            case.headers = {**(case.headers or {}), "Authorization": f"Bearer {key}"}
            case.call_and_validate(checks=CHECKS)
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - collected and reported together
            failures[op.label] = str(exc)[:2000]
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
    print(f"schemathesis: {len(operations)} operations, {calls} calls")
    assert calls >= len(operations) * 5
