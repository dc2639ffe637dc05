"""Reading the JSON body of an admin request: capped in size, UTF-8, strict JSON, bounded depth.

Rules: every problem is a `Refused` (413 or 400) whose message is ours, never a parser's
exception text; nothing is read beyond MAX_BODY bytes.
"""

from __future__ import annotations

import json

from starlette.requests import Request

from probegate.admin.answers import Refused

MAX_BODY = 64 * 1024  # bytes; an on-demand request is a few hundred


def _not_json(constant: str) -> object:
    raise ValueError(constant)


async def read_json(request: Request) -> object:
    """The body as JSON, or Refused."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        raise _too_large()
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_BODY:
            raise _too_large()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise Refused(400, "InvalidJson", f"the body is not UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise Refused(400, "InvalidJson", "the body is empty; send a JSON object")
    try:
        return json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        where = f"line {exc.lineno}, column {exc.colno}"
        raise Refused(400, "InvalidJson", f"the body is not valid JSON ({where})") from None
    except ValueError:
        raise Refused(400, "InvalidJson", "NaN and Infinity are not JSON numbers") from None
    except RecursionError:
        raise Refused(400, "InvalidJson", "the body is nested too deeply") from None


def _too_large() -> Refused:
    return Refused(413, "BodyTooLarge", f"the body is larger than {MAX_BODY} bytes")
