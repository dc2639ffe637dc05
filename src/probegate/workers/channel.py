"""The control channel between the supervisor and one worker: a Unix stream socket pair.

Rules of this module:
- a message is a length-prefixed pickle (both ends are this program, started by the supervisor:
  nothing else can write to the pair); descriptors (listening sockets) travel with a message as
  SCM_RIGHTS, attached to its first bytes, and are handed to the receiver with it;
- neither side ever blocks on the other: the socket is non-blocking, driven by the event loop's
  reader and writer callbacks; what cannot be written now waits in order;
- the end of the stream (the other process is gone) is reported once, to `on_close`.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import os
import pickle
import socket
import struct
from collections import deque
from collections.abc import Callable, Iterable, Sequence

HEADER = struct.Struct("!II")  # payload length, number of descriptors that come with it
MAX_FDS = 253  # per message (the kernel's SCM_MAX_FD)
READ_SIZE = 1 << 18

Handler = Callable[[object, list[socket.socket]], None]


class Channel:
    def __init__(self, sock: socket.socket, on_message: Handler, on_close: Callable[[], None]):
        self._sock = sock
        self._on_message = on_message
        self._on_close = on_close
        self._loop: asyncio.AbstractEventLoop | None = None
        self._inbox = bytearray()
        self._fds: deque[int] = deque()  # received, not yet claimed by a message
        self._outbox: deque[tuple[memoryview, list[int], bool]] = deque()
        self._writing = False
        self.closed = False

    def start(self, loop: asyncio.AbstractEventLoop) -> Channel:
        self._loop = loop
        self._sock.setblocking(False)
        loop.add_reader(self._sock.fileno(), self._readable)
        return self

    def send(self, message: object, fds: Sequence[int] = (), *, give: bool = False) -> None:
        """Queue one message with descriptors: the caller's, which stay open here, or with
        `give` this channel's, closed once sent."""
        if self.closed:
            if give:
                _close_all(fds)
            return
        payload = pickle.dumps(message, pickle.HIGHEST_PROTOCOL)
        data = memoryview(HEADER.pack(len(payload), len(fds)) + payload)
        self._outbox.append((data, list(fds), give))
        if not self._writing:
            self._writable()

    def _writable(self) -> None:
        while self._outbox:
            data, fds, give = self._outbox[0]
            try:
                if fds:
                    rights = [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))]
                    sent = self._sock.sendmsg([data], rights)
                else:
                    sent = self._sock.send(data)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                self._lost()
                return
            if give:
                _close_all(fds)
            if sent == len(data):
                self._outbox.popleft()
            else:  # the descriptors went with the first bytes
                self._outbox[0] = (data[sent:], [], False)
        want = bool(self._outbox)
        if want != self._writing and self._loop is not None and not self.closed:
            if want:
                self._loop.add_writer(self._sock.fileno(), self._writable)
            else:
                self._loop.remove_writer(self._sock.fileno())
            self._writing = want

    def _readable(self) -> None:
        space = socket.CMSG_SPACE(MAX_FDS * array.array("i").itemsize)
        try:
            data, ancillary, _, _ = self._sock.recvmsg(READ_SIZE, space)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        for level, kind, body in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(body[: len(body) - len(body) % fds.itemsize])
                self._fds.extend(fds)
        if not data:
            self._lost()
            return
        self._inbox += data
        while len(self._inbox) >= HEADER.size:
            length, count = HEADER.unpack_from(self._inbox)
            if len(self._inbox) < HEADER.size + length:
                break
            payload = bytes(self._inbox[HEADER.size : HEADER.size + length])
            del self._inbox[: HEADER.size + length]
            socks = [socket.socket(fileno=self._fds.popleft()) for _ in range(count)]
            self._on_message(pickle.loads(payload), socks)

    def _lost(self) -> None:
        if self.closed:
            return
        self.close()
        self._on_close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._loop is not None:
            with contextlib.suppress(ValueError, OSError):
                self._loop.remove_reader(self._sock.fileno())
            if self._writing:
                with contextlib.suppress(ValueError, OSError):
                    self._loop.remove_writer(self._sock.fileno())
        self._sock.close()
        _close_all(self._fds)
        self._fds.clear()
        for _, fds, give in self._outbox:
            if give:
                _close_all(fds)
        self._outbox.clear()

    async def drain(self, timeout: float) -> None:
        """Wait (at most `timeout` seconds) until every queued message is written."""
        deadline = asyncio.get_running_loop().time() + timeout
        while self._outbox and not self.closed and asyncio.get_running_loop().time() < deadline:
            await asyncio.sleep(0.01)


def _close_all(fds: Iterable[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            os.close(fd)
