"""The proxy: listeners, the current tables, backend pools, one coarse timer, reload and stop.

Rules of this module:
- one periodic tick (every `TICK` seconds) refreshes the coarse clock `now`, checks every
  connection's deadlines and expires idle backend connections: no timer per request;
- start and reload take a plan the same way: `plan_listeners` (listeners.py) decides the socket
  work, `_listen` does it, `adopt` (context.py) takes the data-path settings;
- a reload swaps the tables in one assignment; requests already routed finish on what they
  chose; members that left get no new requests, and keep their affinity-pinned clients until
  their settings' `drainTimeoutInSec`; listening sockets that stay are never closed;
- stop: listeners close, idle connections close, in-flight requests get `limits.stop_timeout`
  seconds to finish (their answers carry `Connection: close`), the rest are cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections.abc import Callable, Mapping
from typing import Final

from probegate.config.plan import GatewayPlan, Listener, TargetKey
from probegate.proxy.balancer import HealthSource
from probegate.proxy.client import ClientConnection
from probegate.proxy.context import ProxyContext
from probegate.proxy.listen import TlsSniffingServer
from probegate.proxy.listeners import Endpoint, ListenerChanges, endpoints, plan_listeners
from probegate.proxy.mutual import MutualTlsConnection
from probegate.proxy.sni import SniChooser
from probegate.proxy.tables import Tables, Upstream
from probegate.resolver import Resolver
from probegate.state.snapshot import GroupKey

log = logging.getLogger("probegate.proxy")

TICK: Final = 0.25
TLS_HANDSHAKE_TIMEOUT: Final = 10.0  # a client that opens TLS and stalls is dropped (asyncio: 60 s)
# After its close_notify the gateway waits this long for the client's before dropping the
# connection (asyncio's 30 s default kept closed connections, and a stopping loop, waiting).
TLS_SHUTDOWN_TIMEOUT: Final = 1.0
BACKLOG: Final = 4096


class Proxy(ProxyContext):
    def __init__(
        self,
        plan: GatewayPlan,
        health: HealthSource,
        resolver: Resolver,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        listen: Callable[[Endpoint], socket.socket] | None = None,
    ) -> None:
        super().__init__(plan, health, resolver, monotonic=monotonic)
        # Where listening sockets come from: bound here, or (a worker process) handed over by
        # the supervisor, which bound them (probegate/workers).
        self._listen_socket = listen or listening_socket
        self._servers: dict[Endpoint, asyncio.Server | TlsSniffingServer] = {}
        self._certs: dict[Endpoint, SniChooser] = {}
        self._tick: asyncio.TimerHandle | None = None

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> list[Endpoint]:
        """Bind every listener; raise OSError (the caller reports it) if one cannot bind."""
        wanted = endpoints(self.plan.listeners)
        await self._listen(plan_listeners((), wanted), wanted, {})
        loop = asyncio.get_running_loop()
        self._tick = loop.call_later(TICK, self._on_tick)
        return list(self._servers)

    async def reload(self, plan: GatewayPlan) -> ListenerChanges:
        """Adopt a new plan (already validated); old requests finish on what they chose.
        Returns the socket work done (for the reload's report)."""
        wanted = endpoints(plan.listeners)
        changes = plan_listeners(self._servers, wanted)
        await self._listen(changes, wanted, endpoints(self.plan.listeners))
        old = self.tables
        self.adopt(plan)
        self._retire(old)
        return changes

    async def _listen(
        self,
        changes: ListenerChanges,
        wanted: Mapping[Endpoint, list[Listener]],
        running: Mapping[Endpoint, list[Listener]],
    ) -> None:
        """Do the socket work `plan_listeners` decided; on a failed bind, undo it and raise."""
        for endpoint in changes.close_first:
            self._unbind(endpoint)
        added: list[Endpoint] = []
        try:
            for endpoint in changes.bind:
                await self._bind(endpoint, wanted[endpoint])
                added.append(endpoint)
        except OSError:
            for endpoint in added:
                self._unbind(endpoint)
            for endpoint in changes.close_first:  # put back what was closed for the port
                with contextlib.suppress(OSError):
                    await self._bind(endpoint, running[endpoint])
            raise
        for endpoint in changes.close_after:
            self._unbind(endpoint)
        for endpoint in changes.certificates:
            self._certs[endpoint].update(wanted[endpoint])

    def _tls_connection(self, chooser: SniChooser, scheme: bytes) -> ClientConnection:
        """Mutual TLS has a connection of its own (proxy/mutual.py); the others pay nothing."""
        if chooser.client_auth is None:
            return ClientConnection(self, scheme)
        return MutualTlsConnection(self, scheme, lambda: chooser.client_auth)

    async def _bind(self, endpoint: Endpoint, listeners: list[Listener]) -> None:
        chooser = SniChooser(listeners) if endpoint.tls else None
        if chooser is not None:
            self._certs[endpoint] = chooser
        scheme = b"https" if endpoint.tls else b"http"
        loop = asyncio.get_running_loop()
        sock = self._listen_socket(endpoint)
        if chooser is not None:
            # HTTPS: our own accept loop, which answers plain HTTP with a 400 (listen.py).
            tls = chooser
            self._servers[endpoint] = TlsSniffingServer(
                loop,
                sock,
                lambda: self._tls_connection(tls, scheme),
                chooser.default,
                handshake_timeout=TLS_HANDSHAKE_TIMEOUT,
                shutdown_timeout=TLS_SHUTDOWN_TIMEOUT,
            )
            return
        try:
            server = await loop.create_server(
                lambda: ClientConnection(self, scheme), sock=sock, backlog=BACKLOG
            )
        except BaseException:
            sock.close()
            raise
        sock.detach()  # the loop owns the descriptor now: closing it here would close it twice
        self._servers[endpoint] = server

    def release(self, leaving: list[Endpoint]) -> None:
        """Close these listening sockets now (a worker, before the supervisor binds their port
        for another protocol or address); a reload then binds what the plan wants there."""
        for endpoint in leaving:
            if endpoint in self._servers:
                self._unbind(endpoint)

    def _unbind(self, endpoint: Endpoint) -> None:
        self._servers.pop(endpoint).close()
        self._certs.pop(endpoint, None)

    def _retire(self, old: Tables) -> None:
        now = self._monotonic()
        removed: list[tuple[Upstream, float]] = []
        self._keep_previous(old)
        for key, upstream in old.upstreams.items():
            if key in self.tables.upstreams:
                continue
            backend = old.backends.get(_group(upstream))
            grace = backend.drain_timeout if backend and backend.drain_timeout else 0.0
            if grace:
                removed.append((upstream, now + grace))
            pool = self.pools.pop(key, None)
            if pool is not None:
                pool.retired = True
                pool.close_idle()
        self.balancer.drain(removed)

    def _keep_previous(self, old: Tables) -> None:
        """Keep the upstreams a reload retires (removed, or moved to another port or protocol)
        for the store's group warm-up, which may keep serving on them until a new target passes;
        forget those no published group names any more, and their connection pools."""
        served = {t for group in self.balancer.health.routes.values() for t in group.routable}
        previous = {t: u for t, u in self.balancer.previous.items() if t in served}
        for key, upstream in old.upstreams.items():
            current = self.tables.upstreams.get(key)
            if current is None or current.target != upstream.target:
                previous[upstream.target] = upstream
        self.balancer.previous = previous
        kept = {u.key for u in previous.values()}
        for key in [k for k in self.pools if k not in self.tables.upstreams and k not in kept]:
            pool = self.pools.pop(key)
            pool.retired = True
            pool.close_idle()

    def drain(self, keys: list[TargetKey], drained: bool) -> None:
        """Members drained through the admin API (the store takes them out of rotation): their
        affinity-pinned clients stay until their settings' `drainTimeoutInSec`, if enabled."""
        if not drained:
            self.balancer.undrain(keys)
            return
        now = self._monotonic()
        pinned: list[tuple[Upstream, float]] = []
        for key in keys:
            upstream = self.tables.upstreams.get(key)
            backend = self.tables.backends.get(GroupKey(key.pool, key.settings))
            if upstream is not None and backend is not None and backend.drain_timeout:
                pinned.append((upstream, now + backend.drain_timeout))
        self.balancer.drain(pinned)

    async def stop(self) -> None:
        self.stopping = True
        for server in self._servers.values():
            server.close()
        for connection in list(self.connections):
            connection.wind_down()
        if self.connections:
            log.info("stop: waiting for %d connections to finish", len(self.connections))
        deadline = self._monotonic() + self.limits.stop_timeout
        while self.connections and self._monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.connections:
            log.warning("stop: cutting %d connections still busy", len(self.connections))
        for connection in list(self.connections):
            connection.abort()
        for pool in self.pools.values():
            pool.close_idle()
        if self._tick is not None:
            self._tick.cancel()
        for server in self._servers.values():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait_closed(), 1.0)
        if self.access is not None:
            self.access.close()

    # ------------------------------------------------------------------ the tick

    def _on_tick(self) -> None:
        now = self.now = self._monotonic()
        try:
            for connection in list(self.connections):
                connection.sweep(now)
            for pool in self.pools.values():
                pool.expire(now)
            if self.access is not None:
                self.access.flush()
        except Exception:  # a fault in one sweep must not stop the clock
            log.exception("proxy tick failed")
        self._tick = asyncio.get_running_loop().call_later(TICK, self._on_tick)


def listening_socket(endpoint: Endpoint) -> socket.socket:
    """A bound, listening socket for an endpoint (OSError if the address cannot be taken)."""
    return socket.create_server(
        (endpoint.address, endpoint.port),
        family=socket.AF_INET6 if ":" in endpoint.address else socket.AF_INET,
        backlog=BACKLOG,
        dualstack_ipv6=False,
    )


def _group(upstream: Upstream) -> GroupKey:
    return GroupKey(upstream.key.pool, upstream.key.settings)
