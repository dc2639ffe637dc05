"""The admin API's HTTP/1.1 connections: uvicorn's h11 protocol, with a JSON answer to what it
cannot parse, like every other answer of the API.

Why h11 rather than httptools here: llhttp refuses a method it does not know while parsing, so
`FOO / HTTP/1.1` never reached the app and got uvicorn's plain-text 400; h11 accepts any method
token, so the app answers it 405 with `Allow`, in JSON. A request neither can parse (a bad
request line, a bad header, a method that is not a token) gets the JSON 400 below. The admin API
is not a hot path: h11's speed is plenty for it.
"""

from __future__ import annotations

import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

from probegate.admin.answers import SAFE_HEADERS

BAD_REQUEST = json.dumps(
    {
        "error": {
            "code": "BadRequest",
            "message": "the request is not valid HTTP/1.1: check its request line "
            "(METHOD /path HTTP/1.1) and its header lines",
        }
    }
).encode()


class AdminHttp(H11Protocol):
    def send_400_response(self, msg: str) -> None:  # noqa: ARG002 - uvicorn's words, not ours
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(BAD_REQUEST)).encode()),
            *((name.encode(), value.encode()) for name, value in SAFE_HEADERS),
            (b"connection", b"close"),
        ]
        for event in (
            h11.Response(status_code=400, headers=headers, reason=b"Bad Request"),
            h11.Data(data=BAD_REQUEST),
            h11.EndOfMessage(),
        ):
            self.transport.write(self.conn.send(event) or b"")
        self.transport.close()
