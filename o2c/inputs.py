"""What a request must be before any view reads it.

A JSON API request body: JSON (a body of another media type is 415), UTF-8,
strictly valid (no ``NaN``, no lone surrogate, no number of thousands of
digits) and at most ``MAX_DEPTH`` levels deep. Anything else is a 400 in the
contract's error shape, never a crash further in (a deeply nested body would
exhaust the parser's recursion, a lone surrogate the database driver's
encoder).

Query parameters, form fields and path segments, on the API and the back
office alike: no control character, surrogate or noncharacter (PostgreSQL
refuses a NUL in any text, so a search for ``%00`` would be a 500). The API
answers 422 naming the parameter, a page 400. An API query parameter the
endpoint does not declare is refused the same way (as an unknown body field
is), not ignored.

Sizes: a request target over ``MAX_URI_BYTES`` is a 414, more than
``MAX_HEADER_FIELDS`` header fields or one over ``MAX_HEADER_FIELD_BYTES`` a
431, in the contract's shape on the API. These limits sit below gunicorn's
(o2c/serving.py), so it is the app that answers them, with a request id and
a line in the request log."""
from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, abort, current_app, g, request
from werkzeug.exceptions import RequestHeaderFieldsTooLarge, RequestURITooLarge

from o2c.api.errors import error_response
from o2c.domain.text import UNPRINTABLE

#: No request of the contract nests deeper than a handful of levels.
MAX_DEPTH = 32
#: The longest request target (path and query string, as sent) accepted.
MAX_URI_BYTES = 8000
#: The most header fields a request may have, and the longest one
#: (``name: value``).
MAX_HEADER_FIELDS = 100
MAX_HEADER_FIELD_BYTES = 8190
BODY_METHODS = ("POST", "PUT", "PATCH")


class BadBody(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise BadBody(f"{name} is not a JSON number.")


def _depth_within(data: Any, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)
    return True


def parse_strict(raw: bytes) -> Any:
    """The JSON value of ``raw``, or :class:`BadBody` saying what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadBody(f"The request body is not valid UTF-8 (byte {exc.start}).") from None
    try:
        data = json.loads(text, parse_constant=_refuse_constant)
    except RecursionError:
        raise BadBody(f"The request body nests deeper than {MAX_DEPTH} levels.") from None
    except BadBody:
        raise
    except ValueError as exc:  # JSONDecodeError, and integers too long to convert
        raise BadBody(f"The request body is not valid JSON: {str(exc).split(':')[0]}.") from None
    if not _depth_within(data, MAX_DEPTH):
        raise BadBody(f"The request body nests deeper than {MAX_DEPTH} levels.")
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise BadBody("The request body has a lone UTF-16 surrogate (\\ud800-\\udfff escape).") from None
    return data


def _is_api() -> bool:
    return request.path == "/api" or request.path.startswith("/api/")


def check_text() -> Response | None:
    """Refuse unprintable characters in query parameters, form fields and path segments."""
    bad: dict[str, list[str]] = {}
    sources = [("query", request.args.items(multi=True)), ("path", (request.view_args or {}).items())]
    if not _is_api() and request.method in BODY_METHODS:
        sources.append(("form", request.form.items(multi=True)))
    for _, pairs in sources:
        for name, value in pairs:
            if not isinstance(value, str):
                continue
            found = UNPRINTABLE.search(value) or UNPRINTABLE.search(name)
            if found:
                bad[UNPRINTABLE.sub("?", name)] = [f"Control characters are not allowed (U+{ord(found.group()):04X})."]
    if not bad:
        return None
    if _is_api():
        return error_response(422, "validation_error",
                              "The request has invalid fields: " + ", ".join(sorted(bad)) + ".", {"fields": bad})
    abort(400)


def _target_length() -> int:
    environ = request.environ
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is not None:
        return len(raw)
    query = environ.get("QUERY_STRING", "")
    return len(request.script_root) + len(environ.get("PATH_INFO", "")) + (len(query) + 1 if query else 0)


def check_size() -> None:
    """414 for a request target over the limit, 431 for too many or too
    long header fields (in the contract's shape on the API, by the error
    handlers). A view marked with a body limit of its own (a file upload)
    gets it here, before anything reads the body."""
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, "body_limit", None) or getattr(view, "raw_body", (None, None))[1]
    if limit:  # a view taking a file: its own limit instead of MAX_CONTENT_LENGTH
        request.max_content_length = getattr(current_app.config["O2C"], limit)
    if _target_length() > MAX_URI_BYTES:
        raise RequestURITooLarge(f"The request target is longer than {MAX_URI_BYTES} bytes.")
    fields = 0
    for name, value in request.environ.items():
        if name.startswith("HTTP_"):
            fields += 1
            if len(name) - 5 + 2 + len(value) > MAX_HEADER_FIELD_BYTES:
                raise RequestHeaderFieldsTooLarge(
                    f"The header {name[5:].replace('_', '-').title()} is longer than {MAX_HEADER_FIELD_BYTES} bytes.")
    if fields > MAX_HEADER_FIELDS:
        raise RequestHeaderFieldsTooLarge(f"The request has more than {MAX_HEADER_FIELDS} header fields.")


#: An ``Idempotency-Key``: 1 to this many printable ASCII characters.
MAX_IDEMPOTENCY_KEY = 255


def check_idempotency_key() -> Response | None:
    """A malformed ``Idempotency-Key`` is a 422 on the header, whatever the body."""
    key = request.headers.get("Idempotency-Key")
    if key is None or not _is_api() or (1 <= len(key) <= MAX_IDEMPOTENCY_KEY and key.isascii() and key.isprintable()):
        return None
    return error_response(422, "validation_error",
                          f"Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters.",
                          {"fields": {"Idempotency-Key": [f"1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters."]}})


def _declared_query(app: Flask) -> dict[str, frozenset[str]]:
    """The query parameters each API endpoint declares (its
    ``@blp.arguments(..., location="query")`` schemas; none if it has none)."""
    declared: dict[str, frozenset[str]] = {}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/"):
            continue
        view = app.view_functions[rule.endpoint]
        names: set[str] = set()
        for param in getattr(view, "_apidoc", {}).get("arguments", {}).get("parameters", []):
            if param.get("in") != "query":
                continue
            schema = param["schema"]
            schema = schema() if isinstance(schema, type) else schema
            names.update(f.data_key or n for n, f in schema.fields.items() if not f.dump_only)
        declared[rule.endpoint] = frozenset(names)
    return declared


def check_query_names() -> Response | None:
    """Refuse an API query parameter the endpoint does not declare."""
    if request.url_rule is None:
        return None
    declared = current_app.extensions["o2c.query_names"].get(request.url_rule.endpoint)
    if declared is None:
        return None
    unknown = sorted(set(request.args) - declared)
    if not unknown:
        return None
    fields = {UNPRINTABLE.sub("?", n): ["Unknown query parameter." + (
        f" This endpoint takes: {', '.join(sorted(declared))}." if declared else " This endpoint takes none.")]
        for n in unknown}
    return error_response(422, "validation_error",
                          "The request has invalid fields: " + ", ".join(sorted(fields)) + ".", {"fields": fields})


def raw_body(*media_types: str, limit: str) -> Any:
    """Mark a view that takes a file as its body (not JSON): of one of
    ``media_types``, at most ``config.O2C.<limit>`` bytes (instead of the
    general ``MAX_CONTENT_LENGTH``)."""
    def deco(fn: Any) -> Any:
        fn.raw_body = (media_types, limit)
        return fn
    return deco


def _raw_body_view() -> tuple[tuple[str, ...], str] | None:
    view = current_app.view_functions.get(request.endpoint or "")
    return getattr(view, "raw_body", None)


def check_body() -> Response | None:
    if request.method not in BODY_METHODS or not _is_api():
        return None
    raw_view = _raw_body_view()
    if raw_view is not None:
        types, limit_name = raw_view
        view = current_app.view_functions.get(request.endpoint or "")
        permission = getattr(view, "required_permission", None)
        principal = g.get("principal")
        if permission and principal is not None and not principal.can(permission):
            return None  # the view answers 403 before it reads the body
        limit = getattr(current_app.config["O2C"], limit_name)
        if request.content_length is not None and request.content_length > limit:
            return error_response(413, "payload_too_large",
                                  f"The file is larger than {limit} bytes, the most this endpoint takes.",
                                  {"limit_bytes": limit})
        if request.mimetype not in types:
            return error_response(415, "unsupported_media_type",
                                  "Send the file with Content-Type " + ", ".join(types) + ".",
                                  {"content_type": request.mimetype or None})
        return None
    if request.content_length == 0 or (request.content_length is None and not request.headers.get(
            "Transfer-Encoding")):
        return _nothing_to_change()  # no body: actions such as /confirm take none
    raw = request.get_data(cache=True)  # over MAX_CONTENT_LENGTH: 413, in the contract's shape
    if not raw:
        return _nothing_to_change()
    if not request.is_json:
        return error_response(415, "unsupported_media_type",
                              "Send the request body as JSON with Content-Type: application/json.",
                              {"content_type": request.mimetype or None})
    try:
        data = parse_strict(raw)
    except BadBody as exc:
        return error_response(400, "bad_request", str(exc))
    if data == {}:
        return _nothing_to_change()
    return None


def _nothing_to_change() -> Response | None:
    """A PATCH names what it changes: one without a body, or with ``{}``, is
    a mistake (the OpenAPI document says ``minProperties: 1``), not a no-op."""
    if request.method != "PATCH":
        return None
    view = current_app.view_functions.get(request.endpoint or "")
    permission = getattr(view, "required_permission", None)
    principal = g.get("principal")
    if permission and principal is not None and not principal.can(permission):
        return None  # the view answers 403: who may not change it learns nothing more
    return error_response(422, "validation_error", "Send the fields to change as a JSON object.",
                          {"fields": {"_body": ["At least one field to change."]}})


def init_app(app: Flask) -> None:
    """Register after authentication: an unauthorised request is refused
    before its body is read."""
    app.before_request(check_idempotency_key)
    app.before_request(check_body)
    app.before_request(check_text)
    app.extensions["o2c.query_names"] = _declared_query(app)
    app.before_request(check_query_names)
