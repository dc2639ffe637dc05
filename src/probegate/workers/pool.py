"""The supervisor's side of the workers: listening sockets, worker processes, what they are told.

Rules of this module:
- the supervisor binds every listening socket and keeps its own copy: a worker that dies takes
  no queued connection with it (the others, and its replacement, accept them);
- a worker is forked by the launcher (launcher.py) and gets everything over its control channel:
  the plan, the published routes and the sockets, in one first message;
- the store publishes each changed route group (`HealthStore.on_publish`), sent to every worker
  in the order it happened; a reload's plan goes before the routes the reload publishes;
- a worker that dies is replaced in its slot at once (its restarts are counted); one retired by
  a reload, or at stop, drains first;
- every wait on a worker is bounded: a stuck worker delays an answer, it never hangs one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

from probegate.config.plan import GatewayPlan, TargetKey
from probegate.errors import ProbegateError
from probegate.metrics import Traffic, WorkerRow
from probegate.proxy.listeners import Endpoint, ListenerChanges, endpoints, plan_listeners
from probegate.proxy.server import listening_socket
from probegate.runtime import usable_cpus
from probegate.state.snapshot import GroupKey, RouteGroup
from probegate.state.store import HealthStore
from probegate.workers.channel import Channel

log = logging.getLogger("probegate.workers")

START_TIMEOUT = 30.0  # seconds for the first workers to be ready
ASK_TIMEOUT = 5.0  # seconds a worker has to answer a reload or a scrape
RETRY = 1.0  # seconds before replacing a worker that died before it served
STOP_MARGIN = 5.0  # seconds beyond the drain timeout before a stopping worker is killed


def worker_count(given: int | None) -> int:
    return given if given is not None else usable_cpus()


@dataclass(slots=True, eq=False)
class _Worker:
    slot: int
    channel: Channel
    started: float  # monotonic: when it was asked for
    ready: asyncio.Future[None]
    pid: int | None = None
    state: str = "starting"
    restarts: int = 0
    cpu: float | None = None
    asks: set[int] = field(default_factory=set)


class _Asked(NamedTuple):
    worker: _Worker
    ask: int
    answer: asyncio.Future[object]


class Launcher:
    """The supervisor's end of the launcher's socket."""

    def __init__(self, sock: socket.socket, pid: int) -> None:
        self.pid = pid
        self._sock = sock
        self.channel: Channel | None = None
        self.on_forked: Callable[[int, int], None] = _nothing
        self.on_exited: Callable[[int, int, str], None] = _nothing

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.channel = Channel(self._sock, self._received, self._lost).start(loop)

    def fork(self, slot: int) -> socket.socket:
        """Ask for a worker in this slot; returns the supervisor's end of its control channel."""
        assert self.channel is not None
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        self.channel.send(slot, [theirs.detach()], give=True)
        return ours

    def _received(self, message: object, _: list[socket.socket]) -> None:
        assert isinstance(message, tuple)
        if message[0] == "forked":
            self.on_forked(message[1], message[2])
        elif message[0] == "exited":
            self.on_exited(message[1], message[2], message[3])

    def _lost(self) -> None:
        log.error("the worker launcher (pid %d) is gone: dead workers cannot be replaced", self.pid)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
        else:
            self._sock.close()
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)


class WorkerPool:
    """The data path as N worker processes (what `Proxy` is in one process)."""

    def __init__(
        self,
        plan: GatewayPlan,
        count: int,
        launcher: Launcher,
        store: HealthStore,
        on_eject: Callable[[TargetKey, dict[str, str]], object],
    ) -> None:
        self.plan = plan
        self.count = count
        self._launcher = launcher
        self._store = store
        self._on_eject = on_eject
        self._sockets: dict[Endpoint, socket.socket] = {}
        self.workers: dict[int, _Worker] = {}
        self._retiring: set[_Worker] = set()
        self._asks: dict[int, asyncio.Future[object]] = {}
        self._next_ask = 0
        self.stopping = False
        self._pending: tuple[list[_Asked], int, list[Endpoint]] | None = None
        self._drained: set[TargetKey] = set()  # drained through the admin API, for new workers
        launcher.on_forked = self._forked
        launcher.on_exited = self._exited
        store.on_publish = self.publish

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> list[Endpoint]:
        """Bind every listener, start the workers and wait until each serves."""
        self._launcher.start(asyncio.get_running_loop())
        try:
            for endpoint in endpoints(self.plan.listeners):
                self._sockets[endpoint] = listening_socket(endpoint)
        except OSError:
            self._close_sockets(list(self._sockets))
            raise
        for slot in range(1, self.count + 1):
            self._spawn(slot, 0)
        ready = [w.ready for w in self.workers.values()]
        done, _ = await asyncio.wait(ready, timeout=START_TIMEOUT)
        if len(done) < len(ready) or any(f.exception() for f in done):
            raise ProbegateError("the worker processes did not start (see the log above)")
        log.info("%d workers serving", len(self.workers))
        return list(self._sockets)

    def _spawn(self, slot: int, restarts: int) -> _Worker:
        ours = self._launcher.fork(slot)
        loop = asyncio.get_running_loop()
        holder: list[_Worker] = []
        channel = Channel(
            ours,
            lambda message, _: self._received(holder[0], message),
            lambda: self._lost(holder[0]),
        )
        worker = _Worker(slot, channel, time.monotonic(), loop.create_future(), restarts=restarts)
        holder.append(worker)
        channel.start(loop)
        self.workers[slot] = worker
        order = list(self._sockets)
        start = ("start", self.plan, dict(self._store.routes), order)
        worker.channel.send(start, [self._sockets[e].fileno() for e in order])
        if self._drained:  # a replacement pins drained members' clients as the others do
            worker.channel.send(("drain", sorted(self._drained), True))
        return worker

    def _forked(self, slot: int, pid: int) -> None:
        worker = self.workers.get(slot)
        if worker is not None and worker.pid is None:
            worker.pid = pid

    def _exited(self, slot: int, pid: int, how: str) -> None:
        if not self.stopping and how != "exit code 0":
            log.warning("worker %d (pid %d) ended: %s", slot, pid, how)

    def _received(self, worker: _Worker, message: object) -> None:
        assert isinstance(message, tuple)
        kind = message[0]
        if kind == "ready":
            if worker.state == "starting":
                worker.state = "running"
            took = (time.monotonic() - worker.started) * 1000
            if worker.restarts:
                log.info(
                    "worker %d replaced (pid %s), serving after %.0f ms",
                    worker.slot,
                    worker.pid,
                    took,
                )
            if not worker.ready.done():
                worker.ready.set_result(None)
        elif kind == "done":
            worker.asks.discard(message[1])
            future = self._asks.pop(message[1], None)
            if future is not None and not future.done():
                future.set_result(message[2])
        elif kind == "eject":
            self._on_eject(message[1], message[2])

    def _lost(self, worker: _Worker) -> None:
        """A worker's channel closed: it stopped (retired, or the gateway stops) or it died."""
        for ask in worker.asks:
            future = self._asks.pop(ask, None)
            if future is not None and not future.done():
                future.set_result(None)
        if not worker.ready.done():
            worker.ready.set_exception(ProbegateError(f"worker {worker.slot} ended at start"))
            worker.ready.exception()  # retrieved here: start() reports it in its own words
        self._retiring.discard(worker)
        if self.workers.get(worker.slot) is not worker:
            return
        if self.stopping or worker.state == "draining":
            del self.workers[worker.slot]
            return
        if worker.state == "starting":  # it died before serving: do not fork in a tight loop
            log.error(
                "worker %d ended before it served; trying again in %.0f s", worker.slot, RETRY
            )
            asyncio.get_running_loop().call_later(RETRY, self._replace, worker)
            return
        log.warning(
            "worker %d (pid %s) died; replacing it (its requests in flight failed)",
            worker.slot,
            worker.pid,
        )
        self._replace(worker)

    def _replace(self, worker: _Worker) -> None:
        if not self.stopping and self.workers.get(worker.slot) is worker:
            self._spawn(worker.slot, worker.restarts + 1)

    async def reload(self, plan: GatewayPlan, count: int) -> ListenerChanges:
        """Bind what the new plan adds and hand it to every worker (raise OSError, with nothing
        changed, if a socket cannot be bound). `settle` then waits for the workers' answers."""
        wanted = endpoints(plan.listeners)
        changes = plan_listeners(self._sockets, wanted)
        if changes.close_first:  # their port is wanted by another socket: every copy closes
            release = list(changes.close_first)
            await self._collect(self._ask_all(lambda ask: ("release", ask, release)))
            self._close_sockets(changes.close_first)
        added: dict[Endpoint, socket.socket] = {}
        try:
            for endpoint in changes.bind:
                added[endpoint] = listening_socket(endpoint)
        except OSError:
            for sock in added.values():
                sock.close()
            for endpoint in changes.close_first:  # put back what was closed for the port
                with contextlib.suppress(OSError):
                    self._sockets[endpoint] = listening_socket(endpoint)
            if changes.close_first:
                self._hand(self.plan, list(changes.close_first))
            raise
        self._sockets.update(added)
        self.plan = plan
        self._pending = (self._hand(plan, list(added)), count, list(changes.close_after))
        return changes

    def _hand(self, plan: GatewayPlan, added: list[Endpoint]) -> list[_Asked]:
        fds = [self._sockets[e].fileno() for e in added]
        return self._ask_all(lambda ask: ("reload", ask, plan, added), fds)

    async def settle(self) -> list[str]:
        """After the store published the reload's routes: wait for the workers' answers to the
        reload, add or retire workers, close the sockets the plan left. Returns the problems."""
        if self._pending is None:
            return []
        asked, count, leaving = self._pending
        self._pending = None
        answers = await self._collect(asked)
        self._resize(count, leaving)
        return [str(a) for _, a in answers if a is not None]

    def _resize(self, count: int, leaving: list[Endpoint]) -> None:
        self.count = count
        for slot in range(1, count + 1):
            if slot not in self.workers:
                self._spawn(slot, 0)
        for slot in [s for s in self.workers if s > count]:
            worker = self.workers.pop(slot)
            self._retire(worker)
        if self._retiring:
            log.info("%d workers retiring (they drain first)", len(self._retiring))
        # A socket the plan no longer wants closes once every worker adopted the plan.
        self._close_sockets([e for e in leaving if e in self._sockets])

    def _retire(self, worker: _Worker) -> None:
        worker.state = "draining"
        self._retiring.add(worker)
        worker.channel.send(("stop",))

    def drain(self, keys: list[TargetKey], drained: bool) -> None:
        for key in keys:
            if drained:
                self._drained.add(key)
            else:
                self._drained.discard(key)
        for worker in self.workers.values():
            worker.channel.send(("drain", keys, drained))

    def reopen_logs(self) -> None:
        for worker in self.workers.values():
            worker.channel.send(("reopen",))

    def publish(self, groups: Mapping[GroupKey, RouteGroup], whole: bool) -> None:
        if not groups and not whole:
            return
        message = ("routes", dict(groups), whole)
        for worker in self.workers.values():
            worker.channel.send(message)

    async def stop(self) -> None:
        """Every worker drains (listeners close, in-flight requests get the drain timeout)."""
        self.stopping = True
        self._close_sockets(list(self._sockets))
        everyone = [*self.workers.values(), *self._retiring]
        for worker in everyone:
            worker.state = "draining"
            worker.channel.send(("stop",))
        deadline = time.monotonic() + self.plan.limits.stop_timeout + STOP_MARGIN
        while any(not w.channel.closed for w in everyone) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        for worker in everyone:
            if not worker.channel.closed and worker.pid is not None:
                log.warning("worker %d did not stop in time; killing it", worker.slot)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(worker.pid, signal.SIGKILL)
            worker.channel.close()
        self.workers.clear()
        self._launcher.close()

    # ------------------------------------------------------------------ asking

    def _ask_all(
        self, message: Callable[[int], object], fds: list[int] | None = None
    ) -> list[_Asked]:
        """Send a question to every worker now; `_collect` awaits the answers."""
        asked = []
        for worker in list(self.workers.values()):
            self._next_ask += 1
            ask = self._next_ask
            future: asyncio.Future[object] = asyncio.get_running_loop().create_future()
            self._asks[ask] = future
            worker.asks.add(ask)
            worker.channel.send(message(ask), fds or ())
            asked.append(_Asked(worker, ask, future))
        return asked

    async def _collect(self, asked: list[_Asked]) -> list[tuple[_Worker, object]]:
        """The answers, each worker's within one shared `ASK_TIMEOUT` (not one per worker)."""
        answers: list[tuple[_Worker, object]] = []
        deadline = time.monotonic() + ASK_TIMEOUT
        for worker, ask, future in asked:
            try:
                left = max(0.0, deadline - time.monotonic())
                answers.append((worker, await asyncio.wait_for(future, left)))
            except TimeoutError:
                self._asks.pop(ask, None)
                worker.asks.discard(ask)
                answers.append((worker, f"worker {worker.slot} did not answer in time"))
        return answers

    async def traffic(self) -> Traffic:
        """Every running worker's counters, summed (a worker that does not answer is left out)."""
        total = Traffic()
        for worker, answer in await self._collect(self._ask_all(lambda ask: ("stats", ask))):
            if isinstance(answer, Traffic):
                worker.cpu = answer.cpu
                total.add(answer)
        return total

    def rows(self) -> list[WorkerRow]:
        return [
            WorkerRow(w.slot, w.pid, w.state, w.restarts, w.cpu)
            for w in sorted([*self.workers.values(), *self._retiring], key=lambda w: w.slot)
        ]

    def _close_sockets(self, leaving: list[Endpoint] | tuple[Endpoint, ...]) -> None:
        for endpoint in leaving:
            sock = self._sockets.pop(endpoint, None)
            if sock is not None:
                sock.close()


def _nothing(*_: object) -> None:
    return
