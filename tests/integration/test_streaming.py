"""Bodies streamed both ways, backpressure, upgrades, 100-continue, client limits, broken backends.

Every test runs a gateway (in this process, as a thread) against real backends on loopback.
Memory is measured on this whole process, which holds the gateway, the backends and the test
client: the backends and the client hash what they receive and make what they send on demand, so
the growth of the process's resident high-water mark (`VmHWM`, reset through
`/proc/self/clear_refs`) is the gateway's buffering.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from http import HTTPStatus
from pathlib import Path
from typing import Any, Self

import httptools
import pytest
from typing_extensions import override
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.client import connect
from websockets.sync.server import ServerConnection, serve

from probegate.demo.backends import Backend, response_head, wait_until
from probegate.demo.faults import RawBytes
from tests.integration.proxykit import (
    HEALTH_PATH,
    RecordingBackend,
    Reply,
    RunningGateway,
    answer,
    config,
    free_port,
    get,
)

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

MiB = 1 << 20
BIG = 200 * MiB
MEMORY_BOUND = 64 * MiB  # what the gateway may grow by while 200 MiB pass through it
LIMITS = {
    "maxRequestBodySizeInMb": 1,
    "requestHeaderTimeoutInSec": 1,
    "requestBodyTimeoutInSec": 1,
    "keepAliveTimeoutInSec": 1,
}
TIMEOUT_BOUND = 5.0  # seconds: a 1 s client timeout must have fired well within this


# -------------------------------------------------------------------- the gateway


@contextmanager
def gateway(
    tmp_path: Path,
    ports: list[int],
    *,
    settings: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    probe_port: int | None = None,
) -> Iterator[RunningGateway]:
    """A gateway routing everything to the backends on `ports` (127.0.0.1), once every backend
    is routable. `probe_port` sends the health probes elsewhere."""
    port = free_port()
    document = config(
        port, {"web": []}, settings=settings, extra={"limits": limits} if limits else None
    )
    document["backendAddressPools"][0]["backendAddresses"] = [
        {"ipAddress": "127.0.0.1", "port": p} for p in ports
    ]
    if probe_port is not None:
        document["probes"][0]["port"] = probe_port
    with RunningGateway(tmp_path, document) as gw:
        gw.wait_routable("web", len(ports))
        yield gw


def open_connections(gw: RunningGateway) -> int:
    assert gw.gateway is not None
    return len(gw.gateway.proxy.connections)


# -------------------------------------------------------------------- memory and payloads


def _status(field: str) -> int:
    """A size line of /proc/self/status, in bytes."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


class Memory:
    """Resident memory of this process from now on: `growth` is the peak since then minus the
    start (writing 5 to clear_refs resets the high-water mark VmHWM to the current RSS)."""

    def __init__(self) -> None:
        gc.collect()
        Path("/proc/self/clear_refs").write_text("5")
        self.start = _status("VmRSS")

    @property
    def growth(self) -> int:
        return _status("VmHWM") - self.start


class Payload:
    """`total` bytes in chunks (1 MiB) made on demand, each numbered, hashed as they are made."""

    def __init__(self, total: int, chunk: int = MiB) -> None:
        self.total = total
        self.chunk = chunk
        self.hash = hashlib.sha256()
        self._seed = os.urandom(chunk)

    def __iter__(self) -> Iterator[bytes]:
        for index, start in enumerate(range(0, self.total, self.chunk)):
            size = min(self.chunk, self.total - start)
            chunk = index.to_bytes(8, "big") + self._seed[8:size]
            self.hash.update(chunk)
            yield chunk


# -------------------------------------------------------------------- a streaming backend


class _Requests:
    """httptools callbacks: each request's target, and the size and hash of its body."""

    def __init__(self) -> None:
        self.done: list[tuple[str, int, str]] = []
        self.url = b""
        self.size = 0
        self.hash = hashlib.sha256()

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_body(self, body: bytes) -> None:
        self.size += len(body)
        self.hash.update(body)

    def on_message_complete(self) -> None:
        self.done.append((self.url.decode("latin-1"), self.size, self.hash.hexdigest()))
        self.url, self.size, self.hash = b"", 0, hashlib.sha256()


class Bulk(Backend):
    """A keep-alive backend that keeps no body: a request body is counted and hashed, answered
    `<size> <sha256>`; `GET /bytes/N` streams N bytes with a Content-Length; `/health` → 200.

    While streaming, `sent` counts the bytes handed to the socket and `blocked_since` tells when
    the write now waiting for the socket to drain began (None: not waiting)."""

    def __init__(self) -> None:
        super().__init__()
        self.uploads: list[tuple[int, str]] = []
        self.stream: Payload | None = None
        self.sent = 0
        self.blocked_since: float | None = None

    def blocked_for(self) -> float:
        since = self.blocked_since
        return 0.0 if since is None else time.monotonic() - since

    @override
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        requests = _Requests()
        parser = httptools.HttpRequestParser(requests)
        while data := await reader.read(MiB):
            parser.feed_data(data)
            for target, size, digest in requests.done:
                if target == HEALTH_PATH:
                    writer.write(answer(200, b"healthy"))
                elif target.startswith("/bytes/"):
                    await self._send(writer, int(target.removeprefix("/bytes/")))
                else:
                    self.uploads.append((size, digest))
                    writer.write(answer(200, f"{size} {digest}".encode()))
            requests.done.clear()
            await writer.drain()

    async def _send(self, writer: asyncio.StreamWriter, total: int) -> None:
        self.stream = Payload(total)
        writer.write(response_head(200, "OK", [("Content-Length", str(total))]))
        for chunk in self.stream:
            writer.write(chunk)
            self.sent += len(chunk)
            self.blocked_since = time.monotonic()
            await writer.drain()
            self.blocked_since = None


# -------------------------------------------------------------------- a raw client


class _Answers:
    """httptools callbacks collecting the answers read on a `Client`."""

    def __init__(self, owner: Client) -> None:
        self.owner = owner
        self.replies: list[Reply] = []
        self.status = 0
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        self.status = self.owner.parser.get_status_code()

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.replies.append(Reply(self.status, self.headers, bytes(self.body)))
        self.status, self.headers, self.body = 0, [], bytearray()


class Client:
    """One blocking connection to the gateway; answers are read one at a time."""

    def __init__(
        self, port: int, *, receive_buffer: int | None = None, timeout: float = 10.0
    ) -> None:
        self.timeout = timeout  # for every read: an answer that does not come fails the test
        self.sock = socket.socket()
        if receive_buffer is not None:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self._answers = _Answers(self)
        self.parser = httptools.HttpResponseParser(self._answers)
        self.raw = bytearray()  # every byte the gateway sent that went through `reply`
        self.closed = False

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *_: object) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def send_until_refused(self, pieces: Iterator[bytes]) -> None:
        """Send while the gateway takes it; stop quietly when it closed or stopped reading."""
        try:
            for piece in pieces:
                self.sock.sendall(piece)
        except OSError:
            pass

    def reply(self) -> Reply:
        """The next answer; if the gateway closed in the middle of it, the part that came
        (`complete=False`)."""
        answers = self._answers
        while not answers.replies:
            data = self._recv(65536)
            if not data:
                assert answers.status, f"closed without an answer: {bytes(self.raw)!r}"
                body = bytes(answers.body)
                return Reply(answers.status, answers.headers, body, complete=False)
            self.raw += data
            self.parser.feed_data(data)
        return answers.replies.pop(0)

    def head(self) -> tuple[bytes, bytes]:
        """A response head read by hand (no parser): the head and the body bytes after it."""
        data = b""
        while b"\r\n\r\n" not in data:
            piece = self._recv(65536)
            assert piece, f"closed inside the head: {data!r}"
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        return head, rest

    def read_body(self, length: int, already: bytes = b"") -> tuple[int, str]:
        """Up to `length` body bytes (fewer if the gateway closes): their count and sha256."""
        digest = hashlib.sha256(already)
        count = len(already)
        buffer = memoryview(bytearray(MiB))
        while count < length:
            got = self.sock.recv_into(buffer, min(MiB, length - count))
            if not got:
                break
            digest.update(buffer[:got])
            count += got
        return count, digest.hexdigest()

    def closes_within(self, seconds: float) -> bool:
        """Whether the gateway closes the connection within `seconds` (nothing else may come)."""
        self.sock.settimeout(seconds)
        try:
            data = self._recv(65536)
        except TimeoutError:
            return False
        finally:
            self.sock.settimeout(self.timeout)
        assert not data, f"unexpected bytes on an idle connection: {data!r}"
        return True

    def _recv(self, size: int) -> bytes:
        try:
            data = self.sock.recv(size)
        except ConnectionResetError:
            data = b""
        if not data:
            self.closed = True
        return data


def paced(pieces: Iterable[bytes], seconds: float) -> Iterator[bytes]:
    """`pieces` at the pace of a slow client: the behaviour under test, not a wait for an event."""
    for index, piece in enumerate(pieces):
        if index:
            time.sleep(seconds)
        yield piece


def chunked(pieces: Iterator[bytes]) -> Iterator[bytes]:
    for piece in pieces:
        yield b"%x\r\n" % len(piece)
        yield piece
        yield b"\r\n"
    yield b"0\r\n\r\n"


# -------------------------------------------------------------------- 1. big bodies


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_a_200_mib_upload_streams_to_the_backend_in_bounded_memory(
    tmp_path: Path, framing: str
) -> None:
    payload = Payload(BIG)
    framed = chunked(iter(payload)) if framing == "chunked" else iter(payload)
    length = "Transfer-Encoding: chunked" if framing == "chunked" else f"Content-Length: {BIG}"
    settings = {"requestTimeout": 60}  # however slow the machine (and see the next test)
    with (
        Bulk() as backend,
        gateway(tmp_path, [backend.port], settings=settings) as gw,
        Client(gw.port) as client,
    ):
        memory = Memory()
        client.send(f"POST /upload HTTP/1.1\r\nHost: app.test\r\n{length}\r\n\r\n".encode())
        for piece in framed:
            client.send(piece)
        reply = client.reply()
        growth = memory.growth
    print(f"upload {framing}: memory growth {growth / MiB:.1f} MiB")
    assert reply.status == 200
    assert reply.body.decode() == f"{BIG} {payload.hash.hexdigest()}"
    assert backend.uploads == [(BIG, payload.hash.hexdigest())]
    assert growth < MEMORY_BOUND, f"the gateway grew by {growth / MiB:.1f} MiB"


def test_an_upload_slower_than_request_timeout_is_not_cut(tmp_path: Path) -> None:
    """`requestTimeout` is the backend's time to answer: it cannot run out while the client is
    still sending a body the backend is taking in (a 2 s upload against a 1 s timeout)."""
    payload = Payload(MiB, chunk=MiB // 4)
    with (
        Bulk() as backend,
        gateway(tmp_path, [backend.port], settings={"requestTimeout": 1}) as gw,
        Client(gw.port) as client,
    ):
        client.send(
            f"POST /upload HTTP/1.1\r\nHost: app.test\r\nContent-Length: {MiB}\r\n\r\n".encode()
        )
        client.send_until_refused(paced(payload, 0.5))
        reply = client.reply()
    assert reply.status == 200
    assert backend.uploads == [(payload.total, payload.hash.hexdigest())]


def test_a_200_mib_download_streams_to_the_client_in_bounded_memory(tmp_path: Path) -> None:
    with Bulk() as backend, gateway(tmp_path, [backend.port]) as gw, Client(gw.port) as client:
        memory = Memory()
        client.send(f"GET /bytes/{BIG} HTTP/1.1\r\nHost: app.test\r\n\r\n".encode())
        head, rest = client.head()
        count, digest = client.read_body(BIG, rest)
        growth = memory.growth
    print(f"download: memory growth {growth / MiB:.1f} MiB")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert f"\r\nContent-Length: {BIG}".encode() in head
    assert backend.stream is not None
    assert (count, digest) == (BIG, backend.stream.hash.hexdigest())
    assert growth < MEMORY_BOUND, f"the gateway grew by {growth / MiB:.1f} MiB"


# -------------------------------------------------------------------- 2. backpressure


def test_a_client_that_stops_reading_pauses_the_backend(tmp_path: Path) -> None:
    settings = {"requestTimeout": 60}  # the pause must not look like a silent backend
    with (
        Bulk() as backend,
        gateway(tmp_path, [backend.port], settings=settings) as gw,
        Client(gw.port, receive_buffer=256 * 1024) as client,
    ):
        memory = Memory()
        client.send(f"GET /bytes/{BIG} HTTP/1.1\r\nHost: app.test\r\n\r\n".encode())
        head, rest = client.head()  # then the client reads nothing for a while
        wait_until(lambda: backend.blocked_for() > 1.0, 20, "the backend's writes to block")
        paused_growth, paused_sent = memory.growth, backend.sent
        count, digest = client.read_body(BIG, rest)
    print(f"paused: backend sent {paused_sent / MiB:.0f} MiB, growth {paused_growth / MiB:.1f} MiB")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert paused_sent < BIG // 2, "the backend was not paused"
    assert paused_growth < MEMORY_BOUND, f"the gateway grew by {paused_growth / MiB:.1f} MiB"
    assert backend.stream is not None
    assert (count, digest) == (BIG, backend.stream.hash.hexdigest())


# -------------------------------------------------------------------- 3. WebSocket and Upgrade


@contextmanager
def websocket_echo(closed: list[int | None]) -> Iterator[int]:
    """A websockets echo server on loopback that also answers the probe's plain GET /health;
    the close code of each finished connection goes to `closed`. Yields its port."""

    def health(connection: ServerConnection, request: Request) -> Response | None:
        if request.path == HEALTH_PATH:
            return connection.respond(HTTPStatus.OK, "healthy\n")
        return None

    def echo(connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):  # a cut tunnel: its code (None) is recorded
            for message in connection:
                connection.send(message)
        closed.append(connection.close_code)

    server = serve(echo, "127.0.0.1", 0, process_request=health, max_size=4 * MiB, compression=None)
    thread = threading.Thread(target=server.serve_forever, name="ws-echo", daemon=True)
    thread.start()
    try:
        yield server.socket.getsockname()[1]
    finally:
        server.shutdown()
        thread.join(5)


def test_websocket_echo_through_the_gateway(tmp_path: Path) -> None:
    closed: list[int | None] = []
    blob = os.urandom(MiB)
    limits = {"drainTimeoutOnStopInSec": 1}  # a tunnel left open must not hold the stop 30 s
    with websocket_echo(closed) as ws_port, gateway(tmp_path, [ws_port], limits=limits) as gw:
        uri = f"ws://127.0.0.1:{gw.port}/chat"
        with connect(uri, max_size=4 * MiB, compression=None, proxy=None) as ws:
            for text in ("hello", "ünïcödé ✓", "", "x" * 70_000):
                ws.send(text)
                assert ws.recv(timeout=10) == text
            ws.send(blob)
            assert ws.recv(timeout=10) == blob
            ws.close()
        assert ws.close_code == 1000
        wait_until(lambda: bool(closed), 5, "the server to see the close")
        wait_until(lambda: open_connections(gw) == 0, 5, "the gateway to close the tunnel")
    assert closed == [1000]


def test_a_websocket_session_is_one_access_log_entry_and_one_count(tmp_path: Path) -> None:
    closed: list[int | None] = []
    log = tmp_path / "access.jsonl"
    with websocket_echo(closed) as ws_port:
        port = free_port()
        extra = {"accessLog": {"enabled": True, "path": str(log)}}
        document = config(port, {"web": []}, extra=extra)
        document["backendAddressPools"][0]["backendAddresses"] = [
            {"ipAddress": "127.0.0.1", "port": ws_port}
        ]
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 1)
            with connect(f"ws://127.0.0.1:{port}/chat", compression=None, proxy=None) as ws:
                ws.send("x" * 5000)
                assert ws.recv(timeout=10) == "x" * 5000
                ws.close()
            wait_until(lambda: open_connections(gw) == 0, 5, "the gateway to close the tunnel")
            assert gw.gateway is not None
            assert gw.gateway.proxy.responses["front"][1] == 1  # one 1xx answer: the 101
    (entry,) = [json.loads(line) for line in log.read_text().splitlines()]
    assert entry["httpStatus"] == 101
    assert entry["serverStatus"] == 101
    assert entry["requestUri"] == "/chat"
    assert entry["receivedBytes"] > 5000  # the handshake and the frames the client sent
    assert entry["sentBytes"] > 5000  # the 101 head and the echoed frames
    assert entry["timeTaken"] > 0


def test_an_upgrade_the_backend_answers_with_200_stays_http(tmp_path: Path) -> None:
    upgrade = (
        b"GET /ws HTTP/1.1\r\nHost: app.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    with (
        RecordingBackend("plain") as backend,
        gateway(tmp_path, [backend.port]) as gw,
        Client(gw.port, timeout=TIMEOUT_BOUND) as client,
    ):
        client.send(upgrade)
        first = client.reply()
        if first.header("connection") == "close":
            assert client.closes_within(TIMEOUT_BOUND)
        else:  # still HTTP/1.1 keep-alive: the next request is an ordinary one
            client.send(b"GET /next HTTP/1.1\r\nHost: app.test\r\n\r\n")
            second = client.reply()
            assert (second.status, second.body) == (200, b"plain")
    assert (first.status, first.body) == (200, b"plain")
    assert backend.requests[0].header("upgrade") == "websocket"


# -------------------------------------------------------------------- 4. Expect: 100-continue


def test_expect_100_continue_gets_100_then_the_backends_answer(tmp_path: Path) -> None:
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 11\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        interim = client.reply()
        client.send(b"hello world")
        final = client.reply()
    assert interim.status == 100
    assert (final.status, final.body) == (200, b"hello world")
    assert backend.requests[0].body == b"hello world"


def test_expect_100_continue_over_the_limit_is_413_without_100(tmp_path: Path) -> None:
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2097152\r\n"
            b"Expect: 100-continue\r\n\r\n"
        )
        reply = client.reply()
        assert client.closes_within(TIMEOUT_BOUND)
    assert reply.status == 413
    assert b"100 Continue" not in client.raw
    assert backend.requests == []


# -------------------------------------------------------------------- 5. limits and slow clients


def test_a_header_block_over_32_kib_is_431(tmp_path: Path) -> None:
    headers = b"".join(b"X-Filler-%d: %s\r\n" % (i, b"v" * 1000) for i in range(40))
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        client.send(b"GET / HTTP/1.1\r\nHost: app.test\r\n" + headers + b"\r\n")
        reply = client.reply()
        assert client.closes_within(TIMEOUT_BOUND)
    assert reply.status == 431
    assert backend.requests == []


def test_a_request_line_over_32_kib_is_414(tmp_path: Path) -> None:
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        client.send(b"GET /" + b"a" * 33_000 + b" HTTP/1.1\r\nHost: app.test\r\n\r\n")
        reply = client.reply()
        assert client.closes_within(TIMEOUT_BOUND)
    assert reply.status == 414
    assert backend.requests == []


def test_a_content_length_over_the_limit_is_413_before_the_body(tmp_path: Path) -> None:
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        client.send(b"POST / HTTP/1.1\r\nHost: app.test\r\nContent-Length: 1048577\r\n\r\n")
        reply = client.reply()  # no body byte was sent
        assert client.closes_within(TIMEOUT_BOUND)
    assert reply.status == 413
    assert reply.header("connection") == "close"
    assert b"POST" not in backend.raw


def test_a_chunked_body_over_the_limit_is_413(tmp_path: Path) -> None:
    pieces = chunked(iter([b"z" * 65536] * 40))  # 2.5 MiB against a 1 MiB limit
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        client.send(b"POST / HTTP/1.1\r\nHost: app.test\r\nTransfer-Encoding: chunked\r\n\r\n")
        client.send_until_refused(pieces)
        reply = client.reply()
        assert client.closes_within(TIMEOUT_BOUND)
    assert reply.status == 413
    assert backend.requests == []


def test_trickled_headers_get_408_and_other_clients_are_served(tmp_path: Path) -> None:
    stop = threading.Event()

    def trickle(sock: socket.socket) -> None:
        try:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: app.test\r\nX-Slow: ")
            while not stop.wait(0.2):  # one byte every 0.2 s: progress, but never a whole head
                sock.sendall(b"a")
        except OSError:
            pass  # the gateway closed the connection

    with (
        RecordingBackend("fast") as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as slow,
    ):
        started = time.monotonic()
        sender = threading.Thread(target=trickle, args=(slow.sock,))
        sender.start()
        try:
            other = get(gw.port)
            reply = slow.reply()
            took = time.monotonic() - started
            assert slow.closes_within(TIMEOUT_BOUND)
        finally:
            stop.set()
            sender.join(5)
    assert (other.status, other.body) == (200, b"fast")
    assert reply.status == 408
    assert took < TIMEOUT_BOUND


def test_a_stalled_body_gets_408(tmp_path: Path) -> None:
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        started = time.monotonic()
        client.send(
            b"POST /echo HTTP/1.1\r\nHost: app.test\r\nContent-Length: 100\r\n\r\n0123456789"
        )
        reply = client.reply()  # the other 90 bytes never come
        took = time.monotonic() - started
        assert client.closes_within(TIMEOUT_BOUND)
        other = get(gw.port)
    assert reply.status == 408
    assert took < TIMEOUT_BOUND
    assert other.status == 200
    assert all(seen.method != "POST" for seen in backend.requests)


def test_an_idle_keep_alive_connection_is_closed(tmp_path: Path) -> None:
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits=LIMITS) as gw,
        Client(gw.port) as client,
    ):
        for _ in range(2):  # the connection is kept alive between requests
            client.send(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
            assert client.reply().status == 200
        assert client.closes_within(TIMEOUT_BOUND)
        assert get(gw.port).status == 200


def test_the_sixth_connection_over_max_connections_gets_503(tmp_path: Path) -> None:
    with (
        RecordingBackend() as backend,
        gateway(tmp_path, [backend.port], limits={"maxConnections": 5}) as gw,
    ):
        held = [Client(gw.port) for _ in range(5)]
        try:
            for client in held:  # each is admitted and kept alive
                client.send(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
                assert client.reply().status == 200
            with Client(gw.port) as sixth:
                refused = sixth.reply()
                assert sixth.closes_within(TIMEOUT_BOUND)
            held.pop().sock.close()
            wait_until(lambda: _status_of_get(gw.port) == 200, 5, "a freed slot to be usable")
        finally:
            for client in held:
                client.sock.close()
    assert refused.status == 503
    assert refused.header("connection") == "close"


def _status_of_get(port: int) -> int:
    with Client(port) as client:
        client.send(b"GET / HTTP/1.1\r\nHost: app.test\r\nConnection: close\r\n\r\n")
        return client.reply().status


# -------------------------------------------------------------------- 6. broken backends


@pytest.mark.parametrize(
    "response",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"x" * 100,
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n64\r\n" + b"x" * 100 + b"\r\n",
    ],
    ids=["content-length", "chunked"],
)
def test_a_backend_dying_mid_response_gives_a_truncated_answer(
    tmp_path: Path, response: bytes
) -> None:
    with (
        RawBytes(response) as dying,
        RecordingBackend("health") as health,
        gateway(tmp_path, [dying.port], probe_port=health.port) as gw,
        Client(gw.port) as client,
    ):
        client.send(b"GET / HTTP/1.1\r\nHost: app.test\r\n\r\n")
        reply = client.reply()
    assert reply.status == 200
    assert not reply.complete
    assert reply.body == b"x" * 100
    assert client.closed
    assert not client.raw.endswith(b"0\r\n\r\n")
    assert dying.connections == 1  # never retried


def test_a_post_to_a_slow_backend_is_504_without_retry(tmp_path: Path) -> None:
    settings = {"requestTimeout": 1}
    with (
        RecordingBackend("a") as a,
        RecordingBackend("b") as b,
        gateway(tmp_path, [a.port, b.port], settings=settings) as gw,
        Client(gw.port) as client,
    ):
        started = time.monotonic()
        client.send(b"POST /slow/3 HTTP/1.1\r\nHost: app.test\r\nContent-Length: 2\r\n\r\nhi")
        reply = client.reply()
        took = time.monotonic() - started
    assert reply.status == 504
    assert took < TIMEOUT_BOUND
    assert [seen.body for seen in a.requests + b.requests] == [b"hi"]
