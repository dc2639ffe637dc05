"""Connection-level faults on loopback: servers that break the connection, not the HTTP answer.

Rules of this module: as `probegate.demo.backends` (loopback only, port 0 read back, one event
loop thread per server, prompt and clean stops); each class misbehaves one way only.

| class / helper      | behaviour                                                              |
|---------------------|------------------------------------------------------------------------|
| `CloseOnAccept`     | closes (or resets, `reset=True`) each connection right after accept    |
| `RawBytes`          | sends fixed bytes (`GARBAGE`, `PARTIAL_HEAD`, `HTTP2_SETTINGS`), closes |
| `Silent`            | accepts and never answers (handshake or response timeouts)            |
| `FullAcceptQueue`   | listening socket whose accept queue is full: connects time out         |
| `closed_port()`     | a port on which nothing listens (connects are refused)                 |

Accept-queue finding (Linux 6.x loopback, `tcp_syncookies=1`, `tcp_abort_on_overflow=0`): with
`listen(backlog)` the queue holds `backlog + 1` established connections; once that many are
connected and never accepted, the kernel drops every further SYN (syncookies do not apply to a
full *accept* queue), so a client connect hangs in SYN_SENT and times out; measured: 4 of 4
connects hit a 1 s client timeout. `FullAcceptQueue` fills the queue and checks it is full.
"""

from __future__ import annotations

import asyncio
import errno
import os
import select
import socket
import struct
from typing import Self

from probegate.demo.backends import START_TIMEOUT, Backend, Served, family, read_request, shown

GARBAGE = b"\x00\x17garbage \xff\xfe not HTTP at all\r\n\r\n"
PARTIAL_HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/pl"
# What an HTTP/2-only server sends first: an empty SETTINGS frame.
HTTP2_SETTINGS = b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def closed_port(host: str = "127.0.0.1") -> int:
    """A port on `host` where nothing listens: bound, then closed (connects are refused)."""
    with socket.socket(family(host), socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
    return port


class CloseOnAccept(Backend):
    """Closes each connection right after accept; `reset=True` sends a RST instead of a FIN.

    A client may see that reset while its connect completes (ECONNRESET from connect) or on its
    first read: which one is a race the kernel decides, not this server."""

    def __init__(self, *, reset: bool = False, host: str = "127.0.0.1") -> None:
        super().__init__(host)
        self.reset = reset

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:  # noqa: ARG002
        if self.reset:
            reset(writer)


class RawBytes(Backend):
    """Sends `data` (after reading the request, unless `wait_for_request=False`), then closes;
    with `reset=True` it resets instead, and with `hold_open=True` it keeps the connection open
    until the client closes it.

    `GARBAGE` is not HTTP at all, `PARTIAL_HEAD` stops inside the head, `HTTP2_SETTINGS` is what
    an HTTP/2-only server speaks first; a complete head with a short body and `hold_open` is a
    body that never completes; `RawBytes(b"", reset=True)` resets right after the request."""

    def __init__(
        self,
        data: bytes,
        *,
        wait_for_request: bool = True,
        hold_open: bool = False,
        reset: bool = False,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(host)
        self.data = data
        self.wait_for_request = wait_for_request
        self.hold_open = hold_open
        self.reset = reset

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.wait_for_request:
            await read_request(reader)
        writer.write(self.data)
        await writer.drain()
        if self.reset:
            reset(writer)
        elif self.hold_open:
            await _until_closed(reader)


def reset(writer: asyncio.StreamWriter) -> None:
    """Drop the connection with a RST (SO_LINGER 0), not a FIN."""
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    writer.transport.abort()


class Silent(Backend):
    """Accepts and never says a word: the client's handshake or request waits for its timeout."""

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:  # noqa: ARG002
        await _until_closed(reader)


async def _until_closed(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass  # whatever the client sends is ignored


# -------------------------------------------------------------------- a full accept queue


class FullAcceptQueue(Served):
    """A listening socket that never accepts, with its accept queue filled: further connects hang
    in SYN_SENT (the kernel drops their SYNs) until the client's timeout. See the module header."""

    def __init__(self, host: str = "127.0.0.1", backlog: int = 0) -> None:
        self.host = host
        self.backlog = backlog
        self._listener = socket.socket(family(host), socket.SOCK_STREAM)
        self._listener.bind((host, 0))
        self.port: int = self._listener.getsockname()[1]
        self._fillers: list[socket.socket] = []

    @property
    def address(self) -> str:
        return shown(self.host, self.port)

    def start(self) -> Self:
        try:
            self._listener.listen(self.backlog)
            for _ in range(self.backlog + 1):  # Linux queues backlog + 1 established connections
                filler = socket.socket(family(self.host), socket.SOCK_STREAM)
                self._fillers.append(filler)
                filler.settimeout(START_TIMEOUT)
                filler.connect((self.host, self.port))
            self._check_full()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        for filler in self._fillers:
            filler.close()
        self._listener.close()

    def _check_full(self) -> None:
        """One more connect must stay pending for a while: the queue really is full."""
        with socket.socket(family(self.host), socket.SOCK_STREAM) as extra:
            extra.setblocking(False)
            code = extra.connect_ex((self.host, self.port))
            assert code == errno.EINPROGRESS, f"unexpected connect result {os.strerror(code)}"
            _, writable, _ = select.select([], [extra], [], 0.2)
            assert not writable, "the accept queue is not full: connects would not time out"
