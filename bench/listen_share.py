#!/usr/bin/env python3
"""What a worker's death costs the clients: one listening socket inherited by every worker (what
probegate does) against a socket per worker with SO_REUSEPORT.

    .venv/bin/python bench/listen_share.py          # 5 rounds each way

Two worker processes answer one small HTTP response per connection, each taking 2 ms per
request (a busy data path), so connections wait in the accept queue. 64 client threads open a new
connection per request; 0.3 s in, worker 1 is killed with SIGKILL. With a shared socket the
queue belongs to the socket, which the parent and the other worker still hold: only what worker
1 had accepted is lost. With SO_REUSEPORT the kernel gave worker 1 its own queue: every
connection waiting in it is reset. Reported: failed connections per round, and how the
requests were shared between the two workers before the kill. Loopback only.
"""

from __future__ import annotations

import os
import signal
import socket
import statistics
import threading
import time
from collections import Counter

CLIENTS = 64
WORK = 0.002
KILL_AFTER = 0.3
RUN = 1.0
ROUNDS = 5


def serve(sock: socket.socket, name: bytes) -> None:
    while True:
        conn, _ = sock.accept()
        try:
            conn.recv(1024)
            time.sleep(WORK)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n" + name
            )
        except OSError:
            pass
        conn.close()


def start_worker(name: bytes, sock: socket.socket | None, port: int) -> int:
    pid = os.fork()
    if pid != 0:
        return pid
    try:
        if sock is None:  # SO_REUSEPORT: a socket, and its queue, of its own
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(("127.0.0.1", port))
            sock.listen(4096)
        serve(sock, name)
    finally:
        os._exit(0)


def one_round(shared: bool) -> tuple[int, Counter[str]]:
    probe = socket.socket()
    probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    listening = None
    if shared:
        probe.listen(4096)
        listening = probe
    pids = [start_worker(b"1", listening, port), start_worker(b"2", listening, port)]
    if not shared:
        time.sleep(0.2)  # both have bound their own sockets
        probe.close()
    else:
        time.sleep(0.05)
    failures = 0
    answers: Counter[str] = Counter()
    lock = threading.Lock()
    stop = time.monotonic() + RUN
    killed = threading.Event()

    def client() -> None:
        nonlocal failures
        while time.monotonic() < stop:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=3) as conn:
                    conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                    data = conn.recv(1024)
                if not data.endswith((b"1", b"2")):
                    raise OSError("no answer")
                with lock:
                    if not killed.is_set():
                        answers[data[-1:].decode()] += 1
            except OSError:
                with lock:
                    failures += 1

    threads = [threading.Thread(target=client) for _ in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(KILL_AFTER)
    with lock:
        killed.set()
    os.kill(pids[0], signal.SIGKILL)
    for thread in threads:
        thread.join()
    os.kill(pids[1], signal.SIGKILL)
    for pid in pids:
        os.waitpid(pid, 0)
    if listening is not None:
        listening.close()
    return failures, answers


def main() -> None:
    for shared in (True, False):
        name = "inherited socket" if shared else "SO_REUSEPORT"
        rounds = [one_round(shared) for _ in range(ROUNDS)]
        failed = [f for f, _ in rounds]
        shares = [a["1"] / max(1, a["1"] + a["2"]) for _, a in rounds]
        print(f"{name:>17}: failed connections per round {failed} (median "
              f"{statistics.median(failed)}); worker 1's share before the kill "
              f"{min(shares):.0%}–{max(shares):.0%}")  # fmt: skip


if __name__ == "__main__":
    main()
