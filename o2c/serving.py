"""gunicorn's settings for ``o2c serve`` (``gunicorn -c python:o2c.serving``).

The app limits what a request may be (o2c/inputs.py: the request target, the
number and size of header fields) and answers 414/431 in the contract's
shape, with a request id and a request-log line. gunicorn's own limits are
set above the app's so that the app is the one that answers. What gunicorn
still refuses itself (a request line over its hard maximum, a header with a
control character or a bad name, a malformed request) is answered in the
same JSON error shape instead of gunicorn's HTML page.
"""
from __future__ import annotations

import json
import uuid
from typing import Any

from gunicorn import util

from o2c.api.errors import HTTP_CODES
from o2c.inputs import MAX_HEADER_FIELD_BYTES, MAX_HEADER_FIELDS, MAX_URI_BYTES

#: gunicorn's hard maximum for the request line (method, target, version);
#: the app's target limit leaves room for the method and version.
limit_request_line = 8190
limit_request_fields = 2 * MAX_HEADER_FIELDS
limit_request_field_size = 2 * MAX_HEADER_FIELD_BYTES

assert MAX_URI_BYTES + len("OPTIONS  HTTP/1.1") < limit_request_line


def json_error(sock: Any, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's ``util.write_error``, answering in the contract's error shape."""
    body = json.dumps({"error": {
        "code": HTTP_CODES.get(status_int, "bad_request" if 400 <= status_int < 500 else "internal_error"),
        "message": f"{reason}: {mesg}" if mesg else f"{reason}.",
        "details": {},
    }}).encode()
    head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nX-Request-Id: {uuid.uuid4().hex}\r\n"
            "X-Content-Type-Options: nosniff\r\n\r\n")
    util.write_nonblock(sock, head.encode("latin-1") + body)


util.write_error = json_error
