"""Backends built to misbehave: real servers on loopback for integration, scenario tests and the demo.

Rules of this module:
- loopback only: every server binds 127.0.0.x (or ::1) on port 0 and reads the port back;
- each server is a context manager running its own event loop in a daemon thread, so a test's
  own `asyncio.run(...)` (or uvloop), or the demo's gateway, never shares a loop with the backend
  it probes;
- each class misbehaves one way, and only that way; what it saw (connections, requests, TLS
  server names) is recorded for the test to assert;
- stopping is prompt and clean: pending delays are cancelled, open connections aborted, nothing
  left for a ResourceWarning (the test suite turns warnings into errors);
- nothing here imports the gateway: the servers misbehave independently of the code they test.

The toolkit (servers that speak HTTP here; connection-level faults in `probegate.demo.faults`):

| class / helper      | behaviour                                                              |
|---------------------|------------------------------------------------------------------------|
| `HttpBackend`       | answers `status` with `body` and `headers`, optionally after `delay` s |
| `EndlessBody`       | answers 200 and streams body bytes until the client goes away          |
| `TlsBackend`        | `HttpBackend` over TLS presenting a given chain; records the SNI seen  |
| `faults.CloseOnAccept`   | closes (or resets, `reset=True`) each connection right after accept |
| `faults.RawBytes`   | sends fixed bytes (`GARBAGE`, `PARTIAL_HEAD`, `HTTP2_SETTINGS`), closes |
| `faults.Silent`     | accepts and never answers (handshake or response timeouts)            |
| `faults.FullAcceptQueue` | listening socket whose accept queue is full: connects time out    |
| `faults.closed_port()`   | a port on which nothing listens (connects are refused)            |

A plain `HttpBackend` answers anything that is not HTTP with a 400 and closes, as real servers
do; that is what a TLS client meets on "plain HTTP on a TLS port".
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from types import TracebackType
from typing import Any, Self, TypeVar

import httptools

T = TypeVar("T")

START_TIMEOUT = 5.0  # seconds a backend may take to start or stop before the test fails


# Ports a listener may be given when its configuration needs a number: below Linux's ephemeral
# range (32768-60999), so that no port-0 bind or outgoing connection of this or another process
# can be handed the same port between choosing it and binding it.
LISTENER_PORTS = range(20000, 32000)


# Its own generator: a test framework that seeds the global one (Hypothesis does, per example)
# would otherwise replay the same ports; and the ports handed out already, so two calls in a row
# never give the same one before it is bound (a listener and an admin port in one file).
_CHOOSER = random.Random()
_HANDED: set[int] = set()


def unused_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on now, outside the ephemeral range (see LISTENER_PORTS), and not
    one this process was handed before (until every port has been)."""
    if len(_HANDED) >= len(LISTENER_PORTS) // 2:
        _HANDED.clear()
    start = _CHOOSER.randrange(len(LISTENER_PORTS))
    for offset in range(len(LISTENER_PORTS)):
        port = LISTENER_PORTS[(start + offset) % len(LISTENER_PORTS)]
        if port in _HANDED:
            continue
        _HANDED.add(port)
        with socket.socket(family(host), socket.SOCK_STREAM) as probe:
            try:
                probe.bind((host, port))
            except OSError:
                continue
        return port
    raise OSError(f"no unused port on {host} in {LISTENER_PORTS}")


def wait_until(predicate: Callable[[], bool], timeout: float = 5.0, what: str = "") -> None:
    """Poll `predicate` until it holds; fail after `timeout` seconds (never a bare sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what or predicate}")
        time.sleep(0.005)


def shown(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


# -------------------------------------------------------------------- the event-loop thread


class LoopThread:
    """An event loop in a daemon thread; `call` runs a coroutine there and waits for it."""

    def __init__(self, name: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.errors: list[dict[str, Any]] = []  # what the loop would have logged
        self.loop.set_exception_handler(lambda _loop, context: self.errors.append(context))
        self._thread = threading.Thread(target=self.loop.run_forever, name=name, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = START_TIMEOUT) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(START_TIMEOUT)
        self.loop.close()


# -------------------------------------------------------------------- the base server


class Served:
    """Anything that starts and stops, used as `with Thing() as thing:` (stopped on the way out,
    whatever happened inside)."""

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()


class Backend(Served):
    """A TCP server on `host`:0 (port read back) whose `serve` misbehaves as the subclass says.

    The port is bound when the object is made, so it can go into a configuration before the
    server starts; use it as a context manager (`with HttpBackend() as backend:`), which starts
    it and always stops it, closing the socket and the loop."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.connections = 0  # accepted connections (TLS: handshakes completed)
        self._sock = socket.socket(family(host), socket.SOCK_STREAM)
        # so that a server can come back on the port it had (its old connections in TIME_WAIT
        # inherit the option, and only then do they not block the new bind)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.port: int = self._sock.getsockname()[1]
        self._thread = LoopThread(f"backend-{self.address}")  # its loop is closed by stop()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._tasks: set[asyncio.Task[Any]] = set()

    @property
    def address(self) -> str:
        """'127.0.0.1:port' or '[::1]:port', as probe observations name it."""
        return shown(self.host, self.port)

    def ssl_context(self) -> ssl.SSLContext | None:
        return None

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        raise NotImplementedError

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> Self:
        self._sock.listen(128)
        self._thread.start()
        self._thread.call(self._open())
        return self

    def stop(self) -> None:
        """Stop serving (a second call does nothing: a test may kill a backend mid-test)."""
        if self._sock.fileno() == -1:
            return
        try:
            self._thread.call(self._close())
        finally:
            self._thread.stop()
            self._sock.close()

    async def _open(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, sock=self._sock, ssl=self.ssl_context()
        )

    async def _close(self) -> None:
        """Abort first: a handler blocked on a client that stopped reading must not hold us."""
        if self._server is not None:
            self._server.close()
        for writer in self._writers:
            writer.transport.abort()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            await self.serve(reader, writer)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError):
            pass  # the probe hung up first: normal for a misbehaving backend's client
        finally:
            self._tasks.discard(task)
            await _close_writer(writer)
            self._writers.discard(writer)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    if writer.transport.is_closing():
        return
    writer.close()
    with contextlib.suppress(ConnectionError, ssl.SSLError, asyncio.CancelledError):
        await writer.wait_closed()


# -------------------------------------------------------------------- HTTP backends


@dataclass(frozen=True, slots=True)
class SeenRequest:
    """A request head as a backend received it."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class _RequestHead:
    """httptools callbacks collecting one request head."""

    def __init__(self) -> None:
        self.path = b""
        self.headers: list[tuple[str, str]] = []
        self.complete = False

    def on_url(self, url: bytes) -> None:
        self.path += url

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.complete = True


async def read_request(reader: asyncio.StreamReader) -> SeenRequest | None:
    """The request head, or None when the bytes are not HTTP (the caller answers 400)."""
    head = _RequestHead()
    parser = httptools.HttpRequestParser(head)
    while not head.complete:
        data = await reader.read(65536)
        if not data:
            raise asyncio.IncompleteReadError(b"", None)
        try:
            parser.feed_data(data)
        except httptools.HttpParserError:
            return None
    method = parser.get_method().decode("ascii")
    return SeenRequest(method, head.path.decode("latin-1"), tuple(head.headers))


def response_head(status: int, reason: str, headers: Sequence[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason}", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class HttpBackend(Backend):
    """Answers every request with `status`, `body` and `headers` (after `delay` seconds), then
    closes. Anything that is not HTTP gets a 400, as nginx would answer a TLS ClientHello."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"ok",
        *,
        headers: Sequence[tuple[str, str]] = (),
        reason: str | None = None,
        delay: float = 0.0,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.status, self.body, self.headers = status, body, tuple(headers)
        self.reason = reason if reason is not None else _phrase(status)
        self.delay = delay
        self.requests: list[SeenRequest] = []
        self.not_http = 0  # connections that sent something other than an HTTP request

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request = await read_request(reader)
        if request is None:
            self.not_http += 1
            writer.write(response_head(400, "Bad Request", [("Connection", "close")]))
            await writer.drain()
            return
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        await self.respond(writer)

    async def respond(self, writer: asyncio.StreamWriter) -> None:
        fixed = [("Content-Length", str(len(self.body))), ("Connection", "close")]
        writer.write(response_head(self.status, self.reason, [*fixed, *self.headers]) + self.body)
        await writer.drain()


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class EndlessBody(HttpBackend):
    """Answers 200 with no length and streams `chunk` forever: only a read cap ends the read."""

    def __init__(self, chunk: bytes = b"x" * 16384, *, host: str = "127.0.0.1") -> None:
        super().__init__(200, b"", host=host)
        self.chunk = chunk
        self.sent = 0

    async def respond(self, writer: asyncio.StreamWriter) -> None:
        writer.write(response_head(200, "OK", [("Content-Type", "text/plain")]))
        while True:
            writer.write(self.chunk)
            self.sent += len(self.chunk)
            await writer.drain()


class TlsBackend(HttpBackend):
    """`HttpBackend` over TLS presenting `chain` (PEM certificates) exactly in the given order.

    OpenSSL sends the certificate whose key is `key` first and the others after it, in file order
    (checked: [intermediate, leaf] with the intermediate's key is sent as [intermediate, leaf]).
    So to present "intermediate first", pass the intermediate's key. `ciphers` (an OpenSSL cipher
    string) limits the server to TLS 1.2 with those ciphers: TLS 1.3 suites cannot be restricted
    that way, so a cipher mismatch needs TLS 1.2. `server_names` records the SNI of each
    handshake (None: the client sent none)."""

    def __init__(
        self,
        chain: Sequence[bytes],
        key: bytes,
        status: int = 200,
        body: bytes = b"ok",
        *,
        ciphers: str | None = None,
        host: str = "127.0.0.1",
    ) -> None:
        self._context = _server_context(chain, key)  # first: a bad chain must not leak a socket
        if ciphers is not None:
            self._context.maximum_version = ssl.TLSVersion.TLSv1_2
            self._context.set_ciphers(ciphers)
        self._context.sni_callback = self._saw_name
        super().__init__(status, body, host=host)
        self.server_names: list[str | None] = []

    def ssl_context(self) -> ssl.SSLContext:
        return self._context

    def _saw_name(self, _obj: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        self.server_names.append(name)


def _server_context(chain: Sequence[bytes], key: bytes) -> ssl.SSLContext:
    """load_cert_chain reads files: the chain is written in the given order, the key beside it."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        cert_file, key_file = os.path.join(folder, "chain.pem"), os.path.join(folder, "key.pem")
        with open(cert_file, "wb") as out:
            out.write(b"".join(_pem_line_end(pem) for pem in chain))
        with open(key_file, "wb") as out:
            out.write(key)
        context.load_cert_chain(cert_file, key_file)
    return context


def _pem_line_end(pem: bytes) -> bytes:
    return pem if pem.endswith(b"\n") else pem + b"\n"
