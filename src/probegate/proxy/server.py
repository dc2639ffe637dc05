"""The proxy: listeners, the current tables, backend pools, one coarse timer, reload and stop.

Rules of this module:
- one periodic tick (every `TICK` seconds) refreshes the coarse clock `now`, checks every
  connection's deadlines and expires idle backend connections: no timer per request;
- a reload swaps the tables in one assignment; requests already routed finish on what they
  chose; members that left get no new requests, and keep their affinity-pinned clients until
  their settings' `drainTimeoutInSec`; listening sockets that stay are never closed;
- stop: listeners close, idle connections close, in-flight requests get `limits.stop_timeout`
  seconds to finish (their answers carry `Connection: close`), the rest are cut.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
import ssl
import tempfile
import time
from binascii import hexlify
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from probegate.config.plan import FrontendCertificate, GatewayPlan, Listener, Protocol, TargetKey
from probegate.health.codes import State
from probegate.resolver import Resolver
from probegate.histogram import Histogram
from probegate.proxy.accesslog import AccessLog
from probegate.proxy.balancer import Balancer, HealthSource
from probegate.proxy.client import ClientConnection
from probegate.proxy.listen import TlsSniffingServer
from probegate.proxy.routing import host_key
from probegate.proxy.tables import BackendPlan, Tables, Upstream, compile_tables
from probegate.proxy.upstream import Connector, Pool
from probegate.state.snapshot import GroupKey, RouteGroup

if TYPE_CHECKING:
    from probegate.proxy.exchange import Exchange

log = logging.getLogger("probegate.proxy")

TICK = 0.25
TLS_HANDSHAKE_TIMEOUT = 10.0  # a client that opens TLS and stalls is dropped (asyncio: 60 s)
# After its close_notify the gateway waits this long for the client's before dropping the
# connection (asyncio's 30 s default kept closed connections, and a stopping loop, waiting).
TLS_SHUTDOWN_TIMEOUT = 1.0
BACKLOG = 4096


@dataclass(frozen=True, slots=True)
class Endpoint:
    address: str
    port: int
    tls: bool

    @property
    def url(self) -> str:
        shown = f"[{self.address}]" if ":" in self.address else self.address
        return f"{'https' if self.tls else 'http'}://{shown}:{self.port}"


class Proxy:
    def __init__(
        self,
        plan: GatewayPlan,
        health: HealthSource,
        resolver: Resolver,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self.now = monotonic()
        self.limits = plan.limits
        self.max_body = plan.limits.max_body or 1 << 62  # bytes; "no limit" as a huge number
        self.tables: Tables = compile_tables(plan)
        self.balancer = Balancer(health, monotonic)
        self.connector = Connector(resolver)
        self.pools: dict[TargetKey, Pool] = {}
        self.retired: list[tuple[Pool, float]] = []
        self.connections: set[ClientConnection] = set()
        self.stopping = False
        self._servers: dict[Endpoint, asyncio.Server | TlsSniffingServer] = {}
        self._certs: dict[Endpoint, _SniChooser] = {}
        self._plan = plan
        self._tick: asyncio.TimerHandle | None = None
        self._trace_prefix = os.urandom(8).hex().encode("ascii")
        self._trace_count = 0
        self.responses: dict[str, list[int]] = {}  # listener → answers per status class
        # (listener, pool, settings) → request durations; pool and settings empty for own answers
        self.durations: dict[tuple[str, str, str], Histogram] = {}
        self.failed = 0  # requests the gateway failed (502/504, cut answers)
        self.access = AccessLog(plan.access_log.path) if plan.access_log.enabled else None
        self.header_timeout = plan.limits.header_timeout
        self.body_timeout = plan.limits.body_timeout

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> list[Endpoint]:
        """Bind every listener; raise OSError (the caller reports it) if one cannot bind."""
        for endpoint, listeners in _endpoints(self._plan.listeners).items():
            await self._bind(endpoint, listeners)
        loop = asyncio.get_running_loop()
        self._tick = loop.call_later(TICK, self._on_tick)
        return list(self._servers)

    async def _bind(self, endpoint: Endpoint, listeners: list[Listener]) -> None:
        context = None
        if endpoint.tls:
            chooser = _SniChooser(listeners)
            self._certs[endpoint] = chooser
            context = chooser.default
        scheme = b"https" if endpoint.tls else b"http"
        loop = asyncio.get_running_loop()
        sock = socket.create_server(
            (endpoint.address, endpoint.port),
            family=socket.AF_INET6 if ":" in endpoint.address else socket.AF_INET,
            backlog=BACKLOG,
            dualstack_ipv6=False,
        )
        if context is not None:
            # HTTPS: our own accept loop, which answers plain HTTP with a 400 (listen.py).
            self._servers[endpoint] = TlsSniffingServer(
                loop,
                sock,
                lambda: ClientConnection(self, scheme),
                context,
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

    def _unbind(self, endpoint: Endpoint) -> None:
        self._servers.pop(endpoint).close()
        self._certs.pop(endpoint, None)

    async def reload(self, plan: GatewayPlan) -> None:
        """Adopt a new plan (already validated); old requests finish on what they chose."""
        wanted = _endpoints(plan.listeners)
        leaving = [e for e in self._servers if e not in wanted]
        adding = [e for e in wanted if e not in self._servers]
        # A socket that leaves while another takes its port (Http → Https, or 127.0.0.1 → 0.0.0.0)
        # must close first, or the new bind fails; every other old socket stays until the new
        # ones are bound, so a failed bind leaves the running listeners as they were.
        ports = {e.port for e in adding}
        first = [e for e in leaving if e.port in ports]
        for endpoint in first:
            self._unbind(endpoint)
        added: list[Endpoint] = []
        try:
            for endpoint in adding:
                await self._bind(endpoint, wanted[endpoint])
                added.append(endpoint)
        except OSError:
            for endpoint in added:
                self._unbind(endpoint)
            for endpoint in first:  # put back what was closed for the port
                with contextlib.suppress(OSError):
                    await self._bind(endpoint, _endpoints(self._plan.listeners)[endpoint])
            raise
        for endpoint in leaving:
            if endpoint in self._servers:
                self._unbind(endpoint)
        for endpoint, listeners in wanted.items():
            if endpoint.tls and endpoint not in added:
                self._certs[endpoint].update(listeners)
        old = self.tables
        self.tables = compile_tables(plan)
        if plan.access_log != self._plan.access_log:
            if self.access is not None:
                self.access.close()
            self.access = AccessLog(plan.access_log.path) if plan.access_log.enabled else None
        self.limits = plan.limits
        self.max_body = plan.limits.max_body or 1 << 62
        self.header_timeout = plan.limits.header_timeout
        self.body_timeout = plan.limits.body_timeout
        self._plan = plan
        self._retire(old)

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
            connection.last = True
            if not connection.queue and connection.parsing is None:
                connection.close()
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

    # ------------------------------------------------------------------ called by connections

    def admit(self, connection: ClientConnection) -> bool:
        if len(self.connections) >= self.limits.max_connections or self.stopping:
            return False
        self.connections.add(connection)
        return True

    def forget(self, connection: ClientConnection) -> None:
        self.connections.discard(connection)

    def next_trace(self) -> bytes:
        """32 hex digits: a random per-process prefix and a counter (unique, and cheap)."""
        self._trace_count += 1
        return self._trace_prefix + hexlify(self._trace_count.to_bytes(8, "big"))

    def pool_for(self, upstream: Upstream) -> Pool:
        """The pool of a target. After a reload the upstream object is new: an equal one keeps
        its warm connections; a changed one (port, TLS, trust) starts a fresh pool, and the old
        one closes its idle connections and takes no busy one back."""
        pool = self.pools.get(upstream.key)
        if pool is not None and pool.upstream == upstream:
            pool.upstream = upstream
            return pool
        if pool is not None:
            pool.retired = True
            pool.close_idle()
        pool = self.pools[upstream.key] = Pool(upstream)
        return pool

    def no_target_reason(self, backend: BackendPlan, tried: Sequence[tuple[Upstream, str]]) -> str:
        """The body of a 502: the pool, and why none of its servers could take the request."""
        pool = backend.pool
        if backend.member_count == 0:
            return f"pool '{pool}' has no servers"
        if tried:
            failures = "; ".join(f"{u.key.server}: {why}" for u, why in tried)
            return f"no server of pool '{pool}' could take the request: {failures}"
        group = self.balancer.health.routes.get(backend.group)
        total = group.total if group is not None else backend.member_count
        servers = "the server" if total == 1 else f"all {total} servers"
        verb = "is" if total == 1 else "are"
        undecided = group is not None and any(
            u.state is not State.UNHEALTHY for u in group.unrouted
        )
        if group is not None and undecided:
            return f"{servers} of pool '{pool}' {verb} not routable: {_unrouted(group)}"
        reasons = ", ".join(r.value for r in group.failing_reasons) if group else ""
        return f"{servers} of pool '{pool}' {verb} unhealthy: {reasons or 'unknown'}"

    def count_local(self, exchange: Exchange, status: int) -> None:
        if not exchange.error_info and exchange.rejected is not None:
            exchange.error_info = exchange.rejected[1]
        self.count_done(exchange, status)

    def count_done(self, exchange: Exchange, status: int) -> None:
        """Responses per listener and status class (index 1-5; 0: anything else)."""
        info = exchange.info
        name = info.route.listener.name if info is not None else ""
        counts = self.responses.get(name)
        if counts is None:
            counts = self.responses[name] = [0] * 6
        counts[status // 100 if status < 600 else 0] += 1
        backend = info.backend if info is not None else None
        labels = (name, backend.pool, backend.settings) if backend is not None else (name, "", "")
        histogram = self.durations.get(labels)
        if histogram is None:
            histogram = self.durations[labels] = Histogram()
        if exchange.started:
            histogram.observe(time.monotonic() - exchange.started)
        if self.access is not None:
            self.access.add(access_entry(exchange, status))


def _unrouted(group: RouteGroup) -> str:
    """`1 unknown (tcp-connect-error, 1 of 3 failures), 2 unhealthy (tcp-connect-error)`: a
    server not yet decided is named with its latest failing reason, never called unhealthy."""
    counts: dict[tuple[str, str], int] = {}
    for u in group.unrouted:
        detail = u.reason.value
        if u.state is State.UNKNOWN and u.failures:
            detail += f", {u.failures} of {max(u.threshold, 1)} failures"
        counts[(u.state.value.lower(), detail)] = counts.get((u.state.value.lower(), detail), 0) + 1
    return ", ".join(f"{n} {state} ({detail})" for (state, detail), n in counts.items())


def _group(upstream: Upstream) -> GroupKey:
    return GroupKey(upstream.key.pool, upstream.key.settings)


def _endpoints(listeners: tuple[Listener, ...]) -> dict[Endpoint, list[Listener]]:
    """One socket per (address, port); a port with an any-address listener binds only that."""
    found: dict[Endpoint, list[Listener]] = {}
    by_port: dict[int, list[Listener]] = {}
    for listener in listeners:
        by_port.setdefault(listener.port, []).append(listener)
    for port, items in by_port.items():
        tls = items[0].protocol is Protocol.HTTPS
        anys = {_address(x) for x in items if ipaddress.ip_address(x.bind_address).is_unspecified}
        for listener in items:
            address = _address(listener)
            family_any = "::" if ":" in address else "0.0.0.0"
            chosen = family_any if family_any in anys else address
            found.setdefault(Endpoint(chosen, port, tls), []).append(listener)
    return found


def _address(listener: Listener) -> str:
    return ipaddress.ip_address(listener.bind_address).compressed


class _SniChooser:
    """TLS contexts of the HTTPS listeners sharing one socket, chosen by the client's SNI."""

    def __init__(self, listeners: list[Listener]) -> None:
        self.default = _server_context(None)
        self.default.sni_callback = self._choose
        self.update(listeners)

    def update(self, listeners: list[Listener]) -> None:
        contexts = {id(x.certificate): x.certificate for x in listeners if x.certificate}
        built = {key: _server_context(cert) for key, cert in contexts.items()}
        exact: dict[str, ssl.SSLContext] = {}
        wild: list[tuple[str, ssl.SSLContext]] = []
        fallback: ssl.SSLContext | None = None
        for listener in listeners:
            if listener.certificate is None:
                continue
            context = built[id(listener.certificate)]
            if not listener.host_names and fallback is None:
                fallback = context
            for name in listener.host_names:
                if name.startswith("*."):
                    wild.append((name[1:], context))
                else:
                    exact.setdefault(name, context)
        self._exact, self._wild = exact, wild
        self._fallback = fallback or next(iter(built.values()), None)
        if self._fallback is not None:
            _load_into(self.default, _first_cert(listeners))

    def _choose(self, sock: ssl.SSLObject, name: str | None, _: ssl.SSLContext) -> None:
        chosen = None
        key = host_key(name) if name else None
        if key is not None:
            chosen = self._exact.get(key)
            if chosen is None:
                chosen = next(
                    (c for s, c in self._wild if key.endswith(s) and len(key) > len(s)), None
                )
        chosen = chosen or self._fallback
        if chosen is not None:
            sock.context = chosen


def _first_cert(listeners: list[Listener]) -> FrontendCertificate | None:
    basic = [x.certificate for x in listeners if x.certificate and not x.host_names]
    every = [x.certificate for x in listeners if x.certificate]
    found = basic or every
    return found[0] if found else None


def _server_context(cert: FrontendCertificate | None) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["http/1.1"])
    if cert is not None:
        _load_into(context, cert)
    return context


def _load_into(context: ssl.SSLContext, cert: FrontendCertificate | None) -> None:
    """`load_cert_chain` reads files only: the PEM goes through a private temporary folder."""
    if cert is None:
        return
    with tempfile.TemporaryDirectory(prefix="probegate-") as folder:
        chain, key = Path(folder, "chain.pem"), Path(folder, "key.pem")
        chain.write_bytes(cert.chain_pem)
        key.touch(mode=0o600)
        key.write_bytes(cert.key_pem)
        context.load_cert_chain(chain, key)


def access_entry(exchange: Exchange, status: int) -> tuple[object, ...]:
    """The values of one access-log line, in `accesslog.FIELDS` order (formatted elsewhere)."""
    client = exchange.client
    info = exchange.info
    upstream = exchange.upstream
    backend = info.backend if info is not None else None
    now = time.monotonic()
    received = len(exchange.url) + exchange.head_size + exchange.body_size
    return (
        time.time(),
        info.route.listener.name if info is not None else "",
        info.route.rule if info is not None else "",
        backend.pool if backend is not None else "",
        backend.settings if backend is not None else "",
        client.peer_ip,
        client.peer_port,
        exchange.method,
        exchange.path,
        exchange.url,
        f"HTTP/{exchange.version}",
        status,
        received,
        exchange.sent_bytes,
        round(now - exchange.started, 6) if exchange.started else 0.0,
        client.scheme == b"https",
        upstream.key.server if upstream is not None and exchange.status else "",
        exchange.status or "",
        round(exchange.latency, 6),
        exchange.host or b"",
        exchange.authority or exchange.host or b"",
        exchange.trace,
        exchange.error_info,
    )
