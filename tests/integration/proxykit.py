"""A running gateway in a thread, a recording keep-alive backend, and a raw HTTP client.

Rules of this module:
- loopback only; every port is bound to 0 and read back (listener ports are reserved by binding
  port 0 and releasing it just before the gateway binds it);
- the gateway runs in its own thread and event loop (uvloop), as `probegate run` does, so tests
  can use blocking sockets against it;
- `RecordingBackend` keeps the exact bytes of every request it received (head and body), so a test
  can assert what crossed the gateway, not what a client library made of it;
- `send_raw` reads answers with httptools and returns as soon as the expected number arrived or
  the gateway closed, so malformed-request tests never wait on a timer.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httptools
import uvloop
from typing_extensions import override

from probegate.app import Gateway
from probegate.demo.backends import Backend, Served, unused_port, wait_until
from probegate.state.snapshot import GroupKey

HEALTH_PATH = "/health"


def free_port(host: str = "127.0.0.1") -> int:
    return unused_port(host)


# -------------------------------------------------------------------- the recording backend


@dataclass
class Seen:
    """One request as the backend received it: raw bytes and the parse of them."""

    raw: bytes
    method: str
    target: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)

    def all(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]


class _Parse:
    def __init__(self) -> None:
        self.done: list[Seen] = []
        self.url = b""
        self.headers: list[tuple[str, str]] = []
        self.body = b""

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        seen = Seen(b"", "", self.url.decode("latin-1"), self.headers, self.body)
        self.done.append(seen)
        self.url, self.headers, self.body = b"", [], b""


Handler = Callable[["RecordingBackend", Seen], "bytes | None"]


def answer(
    status: int = 200, body: bytes = b"", headers: tuple[tuple[str, str], ...] = ()
) -> bytes:
    lines = [
        f"HTTP/1.1 {status} X",
        f"Content-Length: {len(body)}",
        *(f"{k}: {v}" for k, v in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class RecordingBackend(Backend):
    """A keep-alive HTTP/1.1 server that records every request (raw bytes included).

    Answers: `/health` → 200 (not recorded); `/status/N` → N; `/slow/S` → 200 after S seconds;
    `/echo` → the request body; anything else → 200 with body `name`. A custom `handler` may
    return the whole answer as bytes (or None to use the defaults)."""

    def __init__(
        self,
        name: str = "b",
        *,
        handler: Handler | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        super().__init__(host, port)
        self.name = name
        self.handler = handler
        self.requests: list[Seen] = []
        self.raw = bytearray()  # everything received on every connection, in arrival order
        self.probes = 0
        self.incomplete: set[int] = set()  # connections holding part of a request

    @override
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve(reader, writer)
        finally:
            self.incomplete.discard(id(writer))

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        parse = _Parse()
        parser = httptools.HttpRequestParser(parse)
        start = 0
        buffer = b""
        while True:
            data = await reader.read(65536)
            if not data:
                return
            self.incomplete.add(id(writer))
            self.raw += data
            buffer += data
            try:
                parser.feed_data(data)
            except httptools.HttpParserUpgrade:
                pass
            except httptools.HttpParserError:
                writer.write(answer(400, b"backend: bad request", (("Connection", "close"),)))
                await writer.drain()
                return
            for seen in parse.done:
                seen.method = parser.get_method().decode("ascii")
                end = _message_end(buffer, start, seen)
                seen.raw, start = buffer[start:end], end
                if seen.target == HEALTH_PATH:
                    self.probes += 1
                    writer.write(answer(200, b"healthy"))
                    continue
                self.requests.append(seen)
                await self.respond(seen, writer)
            parse.done.clear()
            if start == len(buffer):
                self.incomplete.discard(id(writer))
            await writer.drain()

    async def respond(self, seen: Seen, writer: asyncio.StreamWriter) -> None:
        if self.handler is not None:
            made = self.handler(self, seen)
            if made is not None:
                writer.write(made)
                return
        target = seen.target
        if target.startswith("/status/"):
            writer.write(answer(int(target.split("/")[2]), b"status"))
        elif target.startswith("/slow/"):
            await asyncio.sleep(float(target.split("/")[2]))
            writer.write(answer(200, b"slow " + self.name.encode()))
        elif target.startswith("/echo"):
            writer.write(answer(200, seen.body))
        else:
            writer.write(answer(200, self.name.encode(), (("X-Backend", self.name),)))


def _message_end(buffer: bytes, start: int, seen: Seen) -> int:
    """Where a parsed message ends in the raw buffer (head end plus its body length)."""
    head_end = buffer.index(b"\r\n\r\n", start) + 4
    if seen.header("transfer-encoding"):
        return buffer.index(b"0\r\n\r\n", head_end) + 5
    return head_end + len(seen.body)


# -------------------------------------------------------------------- config


def config(
    port: int,
    pools: dict[str, list[Backend]],
    *,
    settings: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    rules: list[dict[str, Any]] | None = None,
    listeners: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A gateway with one listener (or `listeners`), one settings item probing `/health` every
    second, a pool per entry of `pools`, and a basic rule to the first pool (or `rules`)."""
    first = next(iter(pools))
    item = {"name": "s", "port": 80, "protocol": "Http", "probe": "p", "requestTimeout": 5}
    item.update(settings or {})
    document: dict[str, Any] = {
        "httpListeners": listeners or [{"name": "front", "port": port, "protocol": "Http"}],
        "backendAddressPools": [
            {
                "name": name,
                "backendAddresses": [{"ipAddress": b.host, "port": b.port} for b in members],
            }
            for name, members in pools.items()
        ],
        "backendHttpSettingsCollection": [item],
        "probes": [
            {
                "name": "p",
                "protocol": "Http",
                "host": "probe.test",
                "path": HEALTH_PATH,
                "interval": 1,
                "timeout": 1,
                "unhealthyThreshold": 1,
            }
        ],
        "requestRoutingRules": rules
        or [
            {
                "name": "r",
                "ruleType": "Basic",
                "priority": 10,
                "httpListener": "front",
                "backendAddressPool": first,
                "backendHttpSettings": "s",
            }
        ],
        "admin": {"port": 0},
    }
    document.update(extra or {})
    return document


# -------------------------------------------------------------------- the gateway


class RunningGateway(Served):
    """`probegate run` in a thread: start with a config dict, stop on exit."""

    def __init__(self, folder: Path, document: dict[str, Any]) -> None:
        self.path = folder / "gateway.json"
        self.write(document)
        self.port: int = document["httpListeners"][0]["port"]
        self._ready = threading.Event()
        self._done = threading.Event()
        self._error: BaseException | None = None
        self.gateway: Gateway | None = None
        self.admin_url: str | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(target=self._run, name="gateway", daemon=True)

    def write(self, document: dict[str, Any]) -> None:
        self.path.write_text(json.dumps(document, indent=1))

    def _run(self) -> None:
        async def main() -> None:
            self.loop = asyncio.get_running_loop()
            self.gateway = Gateway(self.path)

            def ready(url: str) -> None:
                self.admin_url = url
                self._ready.set()

            await self.gateway.serve(ready)

        try:
            uvloop.run(main())
        except BaseException as exc:
            self._error = exc
        finally:
            self._done.set()
            self._ready.set()

    def start(self) -> Self:
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self.loop is not None and self.gateway is not None and not self._done.is_set():
            self.loop.call_soon_threadsafe(self.gateway.stopping.set)
        self._thread.join(30)

    def call(self, coro: Any, timeout: float = 15) -> Any:
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def reload(self, document: dict[str, Any] | None = None) -> list[str]:
        if document is not None:
            self.write(document)
        assert self.gateway is not None
        problems: list[str] = self.call(self.gateway.reload())
        return problems

    def routable(self, pool: str, settings: str = "s") -> int:
        assert self.gateway is not None
        group = self.gateway.store.routes.get(GroupKey(pool, settings))
        return len(group.routable) if group else 0

    def wait_routable(
        self, pool: str, count: int, settings: str = "s", timeout: float = 10
    ) -> None:
        wait_until(
            lambda: self.routable(pool, settings) == count,
            timeout,
            f"{count} routable servers in pool {pool}",
        )


# -------------------------------------------------------------------- a raw client


@dataclass
class Reply:
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    complete: bool = True

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class _ReplyParse:
    replies: list[Reply] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytearray = field(default_factory=bytearray)
    status: int = 0
    parser: Any = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.replies.append(Reply(self.status, self.headers, bytes(self.body)))
        self.headers, self.body = [], bytearray()


@dataclass
class Conversation:
    replies: list[Reply]
    closed: bool  # the gateway closed the connection
    raw: bytes


def send_raw(
    port: int,
    data: bytes | list[bytes],
    *,
    replies: int = 1,
    timeout: float = 10.0,
    host: str = "127.0.0.1",
    head_only: bool = False,
    wait_close: bool = True,
) -> Conversation:
    """Send bytes (a list: sent one piece after another), read until `replies` answers arrived
    or the gateway closed; `closed` tells whether it closed within a short grace after that."""
    parse = _ReplyParse()
    parser = httptools.HttpResponseParser(parse)
    parse.parser = parser
    raw = bytearray()
    closed = False
    with socket.create_connection((host, port), timeout=timeout) as sock:
        for piece in data if isinstance(data, list) else [data]:
            sock.sendall(piece)
        deadline = time.monotonic() + timeout
        while len(parse.replies) < replies and time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except (ConnectionResetError, TimeoutError):
                closed = True
                break
            if not chunk:
                closed = True
                break
            raw += chunk
            if head_only and b"\r\n\r\n" in raw:
                status = int(raw[9:12])
                return Conversation([Reply(status, [], b"")], closed, bytes(raw))
            try:
                parser.feed_data(chunk)
            except httptools.HttpParserError:
                break
        if not closed and wait_close:
            closed = _closes_soon(sock)
    if len(parse.replies) < replies and parse.status:
        parse.replies.append(Reply(parse.status, parse.headers, bytes(parse.body), complete=False))
    return Conversation(parse.replies, closed, bytes(raw))


def _closes_soon(sock: socket.socket, grace: float = 0.5) -> bool:
    sock.settimeout(grace)
    try:
        return sock.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def get(port: int, path: str = "/", host: str = "app.test", headers: str = "") -> Reply:
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode("latin-1")
    found = send_raw(port, request, wait_close=False)
    assert found.replies, f"no answer to GET {path}: {found.raw!r}"
    return found.replies[0]
