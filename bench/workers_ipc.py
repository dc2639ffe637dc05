#!/usr/bin/env python3
"""How a published route group reaches a worker: a message over a socket pair per worker (what
probegate does) against shared memory with a sequence counter that the worker polls.

    .venv/bin/python bench/workers_ipc.py            # 500 publications, 5 ms apart, each way

One supervisor and one worker process (forked before any event loop, as the launcher is). The
supervisor publishes a changed group (a `RouteGroup` of 10 targets from a real plan, pickled)
every 5 ms; the worker applies it to a local attribute, as `WorkerHealth` does. Reported per way:
the delay from publication to applied (median, p99, max), and the worker's CPU while nothing is
published for 5 s (what waiting costs). Shared memory: a seqlock in an anonymous shared mapping
(odd while written), read by a 1 ms loop timer in the worker, since a read on the request path
would put a shared-memory read and an unpickle where one attribute read is now. Loopback only.
"""

from __future__ import annotations

import asyncio
import mmap
import os
import pickle
import socket
import statistics
import struct
import time
from pathlib import Path
from typing import Any

from probegate.config.compile import compile_plan
from probegate.config.load import load_document
from probegate.runtime import run_loop
from probegate.state.snapshot import GroupKey, RouteGroup
from probegate.workers.channel import Channel

COUNT = 500
EVERY = 0.005
IDLE = 5.0
POLL = 0.001
SIZE = 1 << 20
HEAD = struct.Struct("!QQI")  # sequence, publication time (ns), payload length


def group() -> dict[GroupKey, RouteGroup]:
    members = [{"ipAddress": f"127.0.2.{i}"} for i in range(1, 11)]
    document: dict[str, Any] = {
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [{"name": "web", "backendAddresses": members}],
        "backendHttpSettingsCollection": [{"name": "http", "port": 8081, "protocol": "Http"}],
        "requestRoutingRules": [
            {"name": "all", "ruleType": "Basic", "priority": 1, "httpListener": "front",
             "backendAddressPool": "web", "backendHttpSettings": "http"}
        ],
    }  # fmt: skip
    plan = compile_plan(load_document(document, "bench", Path.cwd()))
    return {GroupKey("web", "http"): RouteGroup(plan.targets, len(plan.targets), ())}


def report(name: str, delays: list[float], idle_cpu: float, size: int) -> None:
    delays.sort()
    p99 = delays[int(len(delays) * 0.99) - 1]
    print(f"{name:>14}: {len(delays)} publications of {size} bytes; delay median "
          f"{statistics.median(delays) * 1e6:.0f} µs, p99 {p99 * 1e6:.0f} µs, max "
          f"{delays[-1] * 1e6:.0f} µs; worker CPU while idle {idle_cpu * 100 / IDLE:.2f} %")  # fmt: skip


# ---------------------------------------------------------------------- a socket pair


def pipe_worker(sock: socket.socket) -> None:
    async def main() -> None:
        done = asyncio.Event()
        delays: list[float] = []
        routes: dict[object, object] = {}

        def received(message: object, _: list[socket.socket]) -> None:
            nonlocal routes
            assert isinstance(message, tuple)
            if message[0] == "end":
                done.set()
                return
            _, stamp, groups = message
            routes = {**routes, **groups}  # one new mapping, as WorkerHealth.update
            delays.append((time.monotonic_ns() - stamp) / 1e9)

        channel = Channel(sock, received, done.set).start(asyncio.get_running_loop())
        await done.wait()
        idle0 = time.process_time()
        await asyncio.sleep(IDLE)
        channel.send(("delays", delays, time.process_time() - idle0))
        await channel.drain(5)

    run_loop(main())


def pipe_way(groups: dict[GroupKey, RouteGroup]) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    pid = os.fork()
    if pid == 0:
        ours.close()
        pipe_worker(theirs)
        os._exit(0)
    theirs.close()

    async def main() -> None:
        answer: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        channel = Channel(ours, lambda m, _: answer.set_result(m), lambda: None)  # type: ignore[arg-type]
        channel.start(asyncio.get_running_loop())
        for _ in range(COUNT):
            channel.send(("routes", time.monotonic_ns(), groups))
            await asyncio.sleep(EVERY)
        channel.send(("end",))
        _, delays, idle = await answer
        report("socket pair", delays, idle, len(pickle.dumps(groups)))
        channel.close()

    run_loop(main())
    os.waitpid(pid, 0)


# ---------------------------------------------------------------------- shared memory


def shm_worker(area: mmap.mmap, results: socket.socket) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        delays: list[float] = []
        routes: dict[object, object] = {}
        seen = 0
        finished = asyncio.Event()

        def poll() -> None:
            nonlocal seen, routes
            sequence, stamp, length = HEAD.unpack_from(area, 0)
            if sequence != seen and sequence % 2 == 0:
                payload = bytes(area[HEAD.size : HEAD.size + length])
                again = HEAD.unpack_from(area, 0)[0]
                if again == sequence:  # not overwritten while read
                    seen = sequence
                    if length == 0:
                        finished.set()
                    else:
                        routes = {**routes, **pickle.loads(payload)}
                        delays.append((time.monotonic_ns() - stamp) / 1e9)
            loop.call_later(POLL, poll)

        poll()
        await finished.wait()
        idle0 = time.process_time()
        await asyncio.sleep(IDLE)
        results.sendall(pickle.dumps((delays, time.process_time() - idle0)))
        results.close()

    run_loop(main())


def shm_way(groups: dict[GroupKey, RouteGroup]) -> None:
    area = mmap.mmap(-1, SIZE, flags=mmap.MAP_SHARED)
    ours, theirs = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        ours.close()
        shm_worker(area, theirs)
        os._exit(0)
    theirs.close()
    payload = pickle.dumps(groups)
    sequence = 0

    def publish(data: bytes, stamp: int) -> None:
        nonlocal sequence
        sequence += 1  # odd: being written
        HEAD.pack_into(area, 0, sequence, stamp, len(data))
        area[HEAD.size : HEAD.size + len(data)] = data
        sequence += 1
        HEAD.pack_into(area, 0, sequence, stamp, len(data))

    for _ in range(COUNT):
        publish(pickle.dumps(groups), time.monotonic_ns())
        time.sleep(EVERY)
    publish(b"", time.monotonic_ns())
    chunks = []
    while chunk := ours.recv(1 << 20):
        chunks.append(chunk)
    delays, idle = pickle.loads(b"".join(chunks))
    report("shared memory", delays, idle, len(payload))
    os.waitpid(pid, 0)


if __name__ == "__main__":
    groups = group()
    pipe_way(groups)
    shm_way(groups)
