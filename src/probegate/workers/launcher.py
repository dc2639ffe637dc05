"""The launcher: a small process, forked from `probegate run` before it starts any thread or event
loop, that forks worker processes when the supervisor asks (docs/decisions.md, "Workers").

Why: a worker must be running again within a second of dying. Spawning a fresh interpreter
(`python -m …`) imports probegate in ~1 s on this machine, more under load; forking the
supervisor itself copies a running uvloop loop (its epoll descriptor is shared with the parent)
and threads mid-flight. A fork of this process is a fork of a quiet, single-threaded program that
has already imported everything: a worker serves ~50 ms after the request.

Rules of this module:
- the launcher holds no listening socket and no state: the supervisor sends the worker's end of
  its control channel with each request, the worker receives everything else over it;
- it answers each request with the new worker's pid, reports each child's exit, and reaps;
- it ends when the supervisor's end closes (the supervisor stopped or died); the workers then
  see their own channels close and drain.
"""

from __future__ import annotations

import array
import contextlib
import os
import pickle
import select
import signal
import socket
import struct
import sys
from collections.abc import Callable

from probegate.workers.channel import HEADER

REAP_EVERY = 0.1  # seconds between checks for exited workers

WorkerMain = Callable[[socket.socket, int], None]


def fork_launcher(worker_main: WorkerMain) -> tuple[socket.socket, int]:
    """Fork the launcher now (call before any thread starts); return the supervisor's end of
    its socket, and its pid."""
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    sys.stdout.flush()  # nothing buffered here is written again by the launcher or a worker
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the launcher
        ours.close()
        code = 0
        try:
            serve(theirs, worker_main)
        except BaseException:  # a launcher never returns into the supervisor's code
            code = 1
        os._exit(code)
    theirs.close()
    return ours, pid


def serve(sock: socket.socket, worker_main: WorkerMain) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the group: the supervisor stops
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGUSR1, signal.SIG_IGN)
    children: dict[int, int] = {}  # pid → worker slot
    inbox = bytearray()
    fds: list[int] = []
    while True:
        _reap(sock, children)
        ready, _, _ = select.select([sock], [], [], REAP_EVERY)
        if not ready:
            continue
        space = socket.CMSG_SPACE(16 * array.array("i").itemsize)
        data, ancillary, _, _ = sock.recvmsg(65536, space)
        for level, kind, body in ancillary:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                got = array.array("i")
                got.frombytes(body[: len(body) - len(body) % got.itemsize])
                fds.extend(got)
        if not data:
            return  # the supervisor is gone
        inbox += data
        while len(inbox) >= HEADER.size:
            length, count = HEADER.unpack_from(inbox)
            if len(inbox) < HEADER.size + length:
                break
            slot = pickle.loads(bytes(inbox[HEADER.size : HEADER.size + length]))
            del inbox[: HEADER.size + length]
            mine, fds = fds[:count], fds[count:]
            pid = _fork_worker(sock, mine[0], slot, worker_main)
            for fd in mine:
                os.close(fd)
            children[pid] = slot
            _send(sock, ("forked", slot, pid))


def _fork_worker(launcher: socket.socket, control: int, slot: int, worker_main: WorkerMain) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    code = 0
    try:
        launcher.close()
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        worker_main(socket.socket(fileno=control), slot)
    except BaseException:  # the worker logged what it could; its exit code says
        code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
    os._exit(code)


def _reap(sock: socket.socket, children: dict[int, int]) -> None:
    while children:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        slot = children.pop(pid, None)
        if slot is not None:
            _send(sock, ("exited", slot, pid, _describe(status)))


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _send(sock: socket.socket, message: object) -> None:
    payload = pickle.dumps(message)
    with contextlib.suppress(OSError):
        sock.sendall(struct.pack("!II", len(payload), 0) + payload)
