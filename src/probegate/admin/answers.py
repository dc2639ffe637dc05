"""The admin API's own answers: JSON with the headers every answer carries, and its errors.

Rules of this module:
- an error is `{"error": {"code", "message"}}`; the message is written for the operator and never
  carries exception text (a fault of ours is logged, not shown);
- every answer says `X-Content-Type-Options: nosniff` (a browser must not read JSON as a page)
  and `Cache-Control: no-store` (health documents and metrics are live, and may be private).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from starlette.responses import JSONResponse

SAFE_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
)


def answer(
    content: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        content, status_code=status, headers={**dict(SAFE_HEADERS), **(headers or {})}
    )


def error(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return answer({"error": {"code": code, "message": message}}, status, headers)


class Refused(Exception):
    """A request the API answers with an error; raised where the problem is found."""

    def __init__(
        self, status: int, code: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})

    def response(self) -> JSONResponse:
        return error(self.status, self.code, self.message, self.headers)
