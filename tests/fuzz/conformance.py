"""Drive every operation of the OpenAPI document with Schemathesis, valid
and invalid data alike, and count the failures of each of its checks.

Each generated request is sent once; every check then judges the one answer
on its own, so a request that breaks two rules counts once in each class."""
from __future__ import annotations

import re
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import CHECKS, load_all_checks

#: Checks that judge a sequence of requests (a resource created, then
#: deleted, then read) or a second, unauthorised caller: they need the
#: stateful runner and say nothing about a single answer.
SEQUENCE_CHECKS = {"use_after_free", "ensure_resource_availability", "object_level_authorization"}


def all_checks() -> list[Any]:
    load_all_checks()
    return [c for c in CHECKS.get_all() if callable(c) and c.__name__ not in SEQUENCE_CHECKS]


@dataclass
class Outcome:
    calls: int = 0
    operations: int = 0
    seconds: float = 0.0
    failures: Counter[str] = field(default_factory=Counter)
    #: failures explained by :data:`EXCUSES`, per check and reason
    excused: Counter[str] = field(default_factory=Counter)
    #: one sample message per (check, operation), to say what went wrong
    samples: dict[tuple[str, str], str] = field(default_factory=dict)

    def report(self) -> str:
        lines = [f"{self.operations} operations, {self.calls} calls, {self.seconds:.0f} s"]
        lines += [f"  {name}: {count}" for name, count in sorted(self.failures.items())]
        lines += [f"  excused {name}: {count}" for name, count in sorted(self.excused.items())]
        return "\n".join(lines)


#: Refusals of schema-valid data that depend on the database's state or on
#: a rule between two fields, which no schema can state: a reference to a
#: record that does not exist or is inactive, thresholds that must increase, two invoices
#: that must differ, a query parameter that needs another. Matched on the
#: field messages of a 422.
STATE_DEPENDENT = re.compile(
    r"^(No customer with id|No customer with this (id|code)|No customer matches|Unknown SKU|"
    r"Product ['“][^'”]*['”] is not active|No invoice|A moment in the future|The [A-Za-z ]+ role needs an? |"
    r"Unknown invoice|Pick two different invoices|Must differ from|Dunning thresholds are three increasing|"
    r"Three increasing|Required with|[A-Z]{3} is not enabled|[A-Z]{3} amounts have|"
    r"EUR is the functional currency|The EUR price is|"
    # rules no schema states: the country and IBAN registers, e-mail syntax, one of two fields, an order of dates,
    # a customer's stored address, and what a key inside a free-form object (a CSV mapping) may be
    r"Unknown country|Not a valid IBAN|“[^”]*” is not an e-mail address|Give allocations or a customer_id|"
    r"A payment_id stands alone|Payment [A-Z]+-\d+-\d+ (is of|was not booked)|"
    r"Give exactly one of|“[^”]*” is before “|No address to send to|Control characters are not allowed|"
    r"Length must be|Must be today or later|Today or earlier|Overlaps the validity)")
#: Operations whose body is a file: what the schema admits is any bytes, and
#: only reading the file can say it is not a bank statement.
FILE_BODIES = {"/api/v1/bank/statements"}


def _field_messages(details: Any) -> list[str]:
    if isinstance(details, str):
        return [details]
    if isinstance(details, list):
        return [m for d in details for m in _field_messages(d)]
    if isinstance(details, dict):
        return [m for d in details.values() for m in _field_messages(d)]
    return []


def excuse(check: str, case: Any, response: Any) -> str | None:
    """Why a failure is not the document's or the server's fault, or None."""
    if check == "positive_data_acceptance" and response.status_code == 422:
        try:
            messages = _field_messages(response.json()["error"]["details"].get("fields", {}))
        except (ValueError, KeyError, AttributeError):
            return None
        if messages and all(STATE_DEPENDENT.match(m) for m in messages):
            return "state or a rule between fields"
        if case.operation.path in FILE_BODIES:
            return "a file's content"
    return None


def _excerpt(response: Any) -> str:
    try:
        return response.text[:300]
    except UnicodeDecodeError:
        return repr(response.content[:60])


KEY_OPERATIONS = "/api/v1/api-keys"


def run(app: Any, key: str, examples: int, modes: tuple[GenerationMode, ...] = (
        GenerationMode.POSITIVE, GenerationMode.NEGATIVE), fresh_key: Callable[[], str] | None = None) -> Outcome:
    """Drive every operation with ``key``; the API key operations go last and,
    with ``fresh_key``, each call uses a key of its own (a generated revoke
    may hit any key, the caller's own included)."""
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", app)
    operations = sorted((result.ok() for result in schema.get_all_operations()),
                        key=lambda op: op.path.startswith(KEY_OPERATIONS))
    checks = all_checks()
    outcome = Outcome(operations=len(operations))
    started = time.monotonic()
    for op in operations:
        for mode in modes:
            @given(case=op.as_strategy(generation_mode=mode))
            @settings(max_examples=examples, deadline=None, database=None,
                      suppress_health_check=list(HealthCheck), derandomize=True)
            def drive(case: Any) -> None:
                outcome.calls += 1
                if mode is GenerationMode.POSITIVE and case.query and "cursor" in case.query:
                    # A cursor is a token the server hands out (next_cursor),
                    # not data a client makes up: no generated one is valid.
                    del case.query["cursor"]
                if mode is GenerationMode.POSITIVE and "Idempotency-Key" in (case.headers or {}):
                    # A key names one request: generated keys repeat across
                    # different requests, which the server rightly refuses.
                    case.headers["Idempotency-Key"] = uuid.uuid4().hex
                own = fresh_key is not None and case.operation.path.startswith(KEY_OPERATIONS)
                auth = {"Authorization": f"Bearer {fresh_key() if own else key}"}
                response = case.call(headers=auth)
                for check in checks:
                    try:
                        case.validate_response(response, checks=[check], headers=auth)
                    except (AssertionError, BaseExceptionGroup) as exc:  # a Failure, or a group of them
                        reason = excuse(check.__name__, case, response)
                        if reason:
                            outcome.excused[f"{check.__name__} ({reason})"] += 1
                            continue
                        outcome.failures[check.__name__] += 1
                        outcome.samples.setdefault(
                            (check.__name__, op.label),
                            f"{case.method} {case.formatted_path} query={case.query} body={case.body!r:.300}"
                            f" -> {response.status_code} {_excerpt(response)}\n{str(exc)[:600]}")
            drive()
    outcome.seconds = time.monotonic() - started
    return outcome
