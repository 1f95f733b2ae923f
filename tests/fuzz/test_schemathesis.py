"""Hostile input generated from the OpenAPI document: every operation, with
an admin key, valid and invalid data, judged by every Schemathesis check that
looks at one answer. No answer may be a server error or break the schema
declared for it; data valid per the schema must be accepted and invalid data
refused (Schemathesis' ST201/ST202), apart from what :func:`conformance.excuse`
explains (state the schema cannot know, or another pending change)."""
from __future__ import annotations

import os
from typing import Any

import pytest

from tests.conftest import customer, make_key, product
from tests.fuzz import conformance

#: Examples per operation and mode: about two minutes per database on two cores.
EXAMPLES = int(os.environ.get("O2C_FUZZ_EXAMPLES", "8"))


@pytest.mark.slow
def test_no_operation_fails_breaks_its_schema_or_misjudges_its_input(app: Any, admin: Any) -> None:
    # Something to find: a customer, a product with stock, an order.
    c = customer(admin, "C-FUZZ")
    product(admin, "FUZZ-1", "9.90", stock=50, cost="3.00")
    admin.post("/api/v1/orders", {"customer": {"id": c["id"]}, "lines": [{"sku": "FUZZ-1", "quantity": 1}],
                                   "confirm": True})
    engine = app.extensions["o2c.engine"]
    fresh = iter(range(1, 1_000_000))
    # The API key operations go last, each call with a key of its own: a
    # generated revoke or rotate may hit any key, the fuzzer's own included.
    outcome = conformance.run(app, admin.key, EXAMPLES,
                              fresh_key=lambda: make_key(engine, f"fuzz-{next(fresh)}", "admin"))
    print("schemathesis:", outcome.report())
    assert outcome.operations >= 70
    assert outcome.calls >= outcome.operations * 2 * min(EXAMPLES, 5)
    assert not outcome.failures, outcome.report() + "\n\n" + "\n\n".join(
        f"{check} | {op}\n{sample}" for (check, op), sample in sorted(outcome.samples.items())
        if check in outcome.failures)
