"""One worker process: the data path (`Proxy`) on listening sockets the supervisor bound, routed
by the route groups the supervisor's health store publishes.

Rules of this module:
- everything comes over the control channel, in order, and is handled in that order: the first
  message (plan, published routes, listening sockets), then route groups, reloads, drains,
  scrapes; a reload is adopted before the routes published after it;
- the request path reads `WorkerHealth.routes`, one attribute replaced as a whole when a message
  brings changed groups: no lock, no system call;
- it keeps nothing the supervisor must recover: passive-health ejections are asked of the
  supervisor's store, counters are read by the supervisor's scrapes;
- SIGTERM, a `stop` message or the channel closing (the supervisor is gone) drain it: listeners
  close, in-flight requests get `limits.stop_timeout` seconds.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import signal
import socket
import time
from collections.abc import Mapping
from types import MappingProxyType

from probegate import metrics
from probegate.config.plan import GatewayPlan, Target, TargetKey
from probegate.proxy.listeners import Endpoint
from probegate.proxy.server import Proxy
from probegate.resolver import Resolver
from probegate.runtime import GcFreezer, run_loop
from probegate.state.snapshot import GroupKey, RouteGroup
from probegate.workers.channel import Channel

log = logging.getLogger("probegate.worker")


class WorkerHealth:
    """The store's published routes as this worker holds them (`HealthSource` for the proxy)."""

    def __init__(self, channel: Channel) -> None:
        self.routes: Mapping[GroupKey, RouteGroup] = MappingProxyType({})
        self._channel = channel
        self._targets: dict[TargetKey, Target] = {}

    def use_plan(self, plan: GatewayPlan) -> None:
        self._targets = {t.key: t for t in plan.targets}

    def update(self, groups: Mapping[GroupKey, RouteGroup], whole: bool) -> None:
        routes = {} if whole else dict(self.routes)
        compared: dict[tuple[int, int], bool] = {}
        for key, group in groups.items():
            routes[key] = self._own(group, compared)
        self.routes = MappingProxyType(routes)

    def _own(self, group: RouteGroup, compared: dict[tuple[int, int], bool]) -> RouteGroup:
        """The same group naming this process's plan objects where they are equal (the balancer
        then finds each target's upstream by identity). A target of a previous plan (a reload's
        warm-up) stays as received: equal to nothing here, it resolves to a retired upstream."""
        mine = []
        for target in group.routable:
            known = self._targets.get(target.key)
            same = known is not None and _same(known, target, compared)
            mine.append(known if same and known is not None else target)
        return dataclasses.replace(group, routable=tuple(mine))

    def eject(self, key: TargetKey, facts: dict[str, str]) -> bool:
        """A run of live failures here: the supervisor's store decides (maxEjectionPercent)."""
        self._channel.send(("eject", key, facts))
        return False


_TARGET_FIELDS = tuple(f.name for f in dataclasses.fields(Target))


def _same(mine: Target, received: Target, compared: dict[tuple[int, int], bool]) -> bool:
    """`mine == received`, comparing each pool and settings object once per message: the targets
    of one pool share those objects in the pickle, and comparing a pool compares all its
    members (per target, a group of n members would cost n² comparisons)."""
    for name in _TARGET_FIELDS:
        a, b = getattr(mine, name), getattr(received, name)
        if a is b:
            continue
        if dataclasses.is_dataclass(a):
            pair = (id(a), id(b))
            equal = compared.get(pair)
            if equal is None:
                equal = compared[pair] = a == b
        else:
            equal = a == b
        if not equal:
            return False
    return True


class Worker:
    def __init__(self, control: socket.socket, slot: int) -> None:
        self.slot = slot
        self.channel = Channel(control, self._received, self._lost)
        self.health = WorkerHealth(self.channel)
        self.proxy: Proxy | None = None
        self._sockets: dict[Endpoint, socket.socket] = {}
        self._queue: asyncio.Queue[tuple[object, list[socket.socket]]] = asyncio.Queue()
        self._busy = True  # a message is being handled (the first one is awaited)
        self.stopping = asyncio.Event()

    def _received(self, message: object, socks: list[socket.socket]) -> None:
        routes = isinstance(message, tuple) and message[0] == "routes"
        if routes and not self._busy and self._queue.empty():
            assert isinstance(message, tuple)
            self.health.update(message[1], message[2])  # at once: nothing is ahead of it
            return
        self._queue.put_nowait((message, socks))

    def _lost(self) -> None:
        self.stopping.set()

    def _socket_for(self, endpoint: Endpoint) -> socket.socket:
        sock = self._sockets.pop(endpoint, None)
        if sock is None:
            raise OSError(f"the supervisor sent no socket for {endpoint.url}")
        return sock

    def _take_sockets(self, endpoints: list[Endpoint], socks: list[socket.socket]) -> None:
        for endpoint, sock in zip(endpoints, socks, strict=True):
            old = self._sockets.pop(endpoint, None)
            if old is not None:
                old.close()
            self._sockets[endpoint] = sock

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        self.channel.start(loop)
        loop.add_signal_handler(signal.SIGTERM, self.stopping.set)
        for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGUSR1):
            loop.add_signal_handler(sig, lambda: None)  # the supervisor decides; it tells us
        freezer = GcFreezer(loop).start()
        handler = loop.create_task(self._handle_all())
        await self.stopping.wait()
        handler.cancel()
        if self.proxy is not None:
            await self.proxy.stop()
        freezer.stop()
        self.channel.send(("stopped", self.slot))
        await self.channel.drain(1.0)
        self.channel.close()

    async def _handle_all(self) -> None:
        while True:
            self._busy = False
            message, socks = await self._queue.get()
            self._busy = True
            try:
                await self._handle(message, socks)
            except Exception:  # one failed message must not end the worker
                log.exception("worker %d: a message from the supervisor failed", self.slot)

    async def _handle(self, message: object, socks: list[socket.socket]) -> None:
        assert isinstance(message, tuple)
        kind = message[0]
        if kind == "start":
            _, plan, routes, endpoints = message
            self._take_sockets(endpoints, socks)
            self.health.use_plan(plan)
            self.health.update(routes, True)
            self.proxy = Proxy(
                plan, self.health, Resolver(plan.dns_servers), listen=self._socket_for
            )
            await self.proxy.start()
            self.channel.send(("ready", self.slot))
        elif kind == "routes":
            self.health.update(message[1], message[2])
        elif kind == "reload":
            _, ask, plan, endpoints = message
            self._take_sockets(endpoints, socks)
            self.channel.send(("done", ask, await self._reload(plan)))
        elif kind == "release":
            _, ask, endpoints = message
            if self.proxy is not None:
                self.proxy.release(endpoints)
            self.channel.send(("done", ask, None))
        elif kind == "drain" and self.proxy is not None:
            self.proxy.drain(message[1], message[2])
        elif kind == "stats":
            self.channel.send(("done", message[1], self._stats()))
        elif kind == "reopen" and self.proxy is not None and self.proxy.access is not None:
            self.proxy.access.reopen()
        elif kind == "stop":
            self.stopping.set()

    async def _reload(self, plan: GatewayPlan) -> str | None:
        proxy = self.proxy
        if proxy is None:
            return "the worker had not started"
        if plan.dns_servers != proxy.plan.dns_servers:
            known = proxy.connector.resolver.resolved_names()
            proxy.connector.resolver = Resolver(plan.dns_servers, resolved_before=known)
        try:
            await proxy.reload(plan)
        except OSError as exc:
            return f"worker {self.slot}: cannot listen: {exc.strerror or exc}"
        self.health.use_plan(plan)
        for sock in self._sockets.values():  # handed over for a bind the reload did not need
            sock.close()
        self._sockets.clear()
        return None

    def _stats(self) -> metrics.Traffic:
        assert self.proxy is not None
        return metrics.traffic_of(self.proxy, cpu=time.process_time())


def worker_main(control: socket.socket, slot: int) -> None:
    """The worker process's whole life (after the launcher forked it)."""
    worker = Worker(control, slot)
    run_loop(worker.run())
