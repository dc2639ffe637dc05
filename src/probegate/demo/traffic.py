"""A few requests through the demo's listener: healthy pools answer, broken pools 502 by name.

Rules: plain asyncio streams to a loopback listener (no HTTP client stack, no proxy settings from
the environment: the demo never sends a packet off loopback); one request per connection; every
failure is an answer to show, never an exception.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import httptools

TIMEOUT = 5.0
BODY_SHOWN = 160  # characters of each answer shown


@dataclass(frozen=True, slots=True)
class Answer:
    path: str
    status: int | None  # None: no HTTP answer at all
    body: str  # the first line of the body, or what went wrong


class _Response:
    def __init__(self) -> None:
        self.body = bytearray()
        self.done = False

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.done = True


async def get(host: str, port: int, path: str) -> Answer:
    try:
        async with asyncio.timeout(TIMEOUT):
            return await _get(host, port, path)
    except (OSError, TimeoutError, httptools.HttpParserError) as exc:
        return Answer(path, None, f"{type(exc).__name__}: {exc}")


async def _get(host: str, port: int, path: str) -> Answer:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        head = f"GET {path} HTTP/1.1\r\nHost: demo.probegate.test\r\nConnection: close\r\n\r\n"
        writer.write(head.encode("ascii"))
        response = _Response()
        parser = httptools.HttpResponseParser(response)
        while not response.done and (data := await reader.read(65536)):
            parser.feed_data(data)
        text = bytes(response.body).decode("utf-8", "replace").strip()
        first = text.splitlines()[0] if text else ""
        return Answer(path, parser.get_status_code(), first[:BODY_SHOWN])
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def get_all(host: str, port: int, paths: tuple[str, ...]) -> list[Answer]:
    return [await get(host, port, path) for path in paths]
