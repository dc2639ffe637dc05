"""The accept loop of HTTPS listeners: tell a TLS client from plain HTTP before the handshake.

Why not `loop.create_server(ssl=...)`: a plain-HTTP request on a TLS port fails the handshake
inside the event loop's TLS transport, which closes the connection without a word; curl shows
"empty reply" and the operator is left guessing. Here the listener accepts itself, peeks at the
first byte (a TLS handshake record starts with 0x16), and either hands the socket to the loop's
TLS transport (`connect_accepted_socket`, the same code path `create_server` uses) or answers
400 saying that plain HTTP reached an HTTPS port, as nginx does.

Rules of this module:
- never block: the listening socket and every accepted one are non-blocking, driven by readers;
- a client that connects and sends nothing is dropped after the handshake timeout;
- running out of descriptors pauses accepting for a second instead of spinning.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import ssl
from collections.abc import Callable

from probegate.proxy import wire

log = logging.getLogger("probegate.proxy")

TLS_RECORD_HANDSHAKE = 0x16
ACCEPT_BATCH = 64  # connections accepted per readiness event before the loop does other work
OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}
PLAIN_ON_TLS = wire.answer(
    400, "a plain HTTP request reached an HTTPS port: send it with https://\n", close=True
)


class TlsSniffingServer:
    """An HTTPS listening socket; `close` and `wait_closed` as `asyncio.Server` has them."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        factory: Callable[[], asyncio.Protocol],
        context: ssl.SSLContext,
        *,
        handshake_timeout: float,
        shutdown_timeout: float,
    ) -> None:
        self._loop = loop
        self._sock = sock
        self._factory = factory
        self._context = context
        self._handshake_timeout = handshake_timeout
        self._shutdown_timeout = shutdown_timeout
        self._waiting: dict[socket.socket, asyncio.TimerHandle] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self._sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno in OUT_OF_RESOURCES:
                    log.warning("cannot accept connections: %s; retrying in 1 s", exc.strerror)
                    self._loop.remove_reader(self._sock.fileno())
                    self._loop.call_later(1.0, self._resume_accepting)
                return  # anything else (a connection reset while queued) concerns one client
            conn.setblocking(False)
            timer = self._loop.call_later(self._handshake_timeout, self._drop, conn)
            self._waiting[conn] = timer
            self._loop.add_reader(conn.fileno(), self._sniff, conn)

    def _resume_accepting(self) -> None:
        if not self._closed:
            self._loop.add_reader(self._sock.fileno(), self._accept)

    def _sniff(self, conn: socket.socket) -> None:
        try:
            first = conn.recv(1, socket.MSG_PEEK)
        except (BlockingIOError, InterruptedError):
            return  # woken without data: keep waiting
        except OSError:
            self._drop(conn)
            return
        self._forget(conn)
        if not first:
            conn.close()  # closed before saying anything
        elif first[0] == TLS_RECORD_HANDSHAKE:
            task = self._loop.create_task(self._start_tls(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        else:
            _refuse_plain(conn)

    async def _start_tls(self, conn: socket.socket) -> None:
        try:
            await self._loop.connect_accepted_socket(
                self._factory,
                conn,
                ssl=self._context,
                ssl_handshake_timeout=self._handshake_timeout,
                ssl_shutdown_timeout=self._shutdown_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, asyncio.CancelledError):
            conn.close()  # a failed handshake concerns that client only

    def _forget(self, conn: socket.socket) -> None:
        timer = self._waiting.pop(conn, None)
        if timer is not None:
            timer.cancel()
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(conn.fileno())

    def _drop(self, conn: socket.socket) -> None:
        self._forget(conn)
        conn.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ValueError, OSError):
            self._loop.remove_reader(self._sock.fileno())
        self._sock.close()
        for conn in list(self._waiting):
            self._drop(conn)

    async def wait_closed(self) -> None:
        """The listening socket closes at once; connections already handed over live on."""
        return


def _refuse_plain(conn: socket.socket) -> None:
    """Read what the client sent (so the close is a FIN, not a reset that could discard the
    answer before the client reads it), answer 400 and close."""
    with contextlib.suppress(OSError):
        conn.recv(65536)
        conn.send(PLAIN_ON_TLS)
        conn.shutdown(socket.SHUT_WR)
    conn.close()
