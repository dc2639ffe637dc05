"""Backend connections and their keep-alive pools, one pool per target.

Rules of this module:
- a connection carries one request at a time; it returns to its pool only when the response ended
  cleanly, the request was sent whole, and nothing surprising happened (the exchange decides);
- pools are LIFO (the most recently used connection is the warmest) and expire idle connections
  after `IDLE_EXPIRY`, shorter than the idle timeout of common backends (Node, uvicorn: 5 s), so
  the gateway closes first instead of racing the backend's close;
- a connection closed by the peer leaves its pool at once (`connection_lost`), so a request never
  takes a connection known to be dead; the remaining race is covered by the exchange's retry;
- live TLS connects the way the probes do: same SNI, and the presented chain judged by the same
  trust policy (verdicts cached per chain), so Healthy and connectable mean the same thing.
"""

from __future__ import annotations

import _ssl
import asyncio
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import ClassVar, Final

import httptools

from probegate.health.codes import Reason
from probegate.health.tlscheck import check_chain
from probegate.proxy.tables import Upstream
from probegate.resolver import Resolver

IDLE_EXPIRY: Final = 4.0  # seconds an unused backend connection is kept
MAX_IDLE_PER_TARGET: Final = 256
CONNECT_TIMEOUT: Final = 10.0


class Carried:
    """What a backend connection needs of the exchange it carries (lifecycle.ExchangeBase is the
    one kind, response.py implements the answer's callbacks): its reads, the parser's callbacks,
    the connection's end. A base class, not a Protocol, so that the compiled build calls these
    directly: they run for every response, once per header."""

    __slots__ = ()

    def backend_data(self, data: bytes) -> None:
        raise NotImplementedError

    def backend_lost(self, connection: BackendConnection) -> None:
        raise NotImplementedError

    def backend_writable(self, writable: bool) -> None:
        """The connection's send buffer filled (False) or drained (True)."""
        raise NotImplementedError

    def on_message_begin(self) -> None:
        raise NotImplementedError

    def on_header(self, name: bytes, value: bytes) -> None:
        raise NotImplementedError

    def on_headers_complete(self) -> None:
        raise NotImplementedError

    def on_body(self, body: bytes) -> None:
        raise NotImplementedError

    def on_message_complete(self) -> None:
        raise NotImplementedError


class BackendConnection(asyncio.Protocol):
    """One connection to a target. It owns the response parsers: the answers on a connection
    follow one another, so one parser reads them all (httptools looks up its callbacks when it
    makes a parser, a tenth of a small request's work when it was made per request); its callbacks
    pass each event to the exchange the connection carries.

    Two parsers, both llhttp, which validates every byte either way: `parser` has no header
    callback, for a final answer (the exchange keeps the head's bytes and reads its lines in one
    pass once llhttp has accepted it, response.py); `fields` (made when first needed) calls back
    once per header, for the others: a 1xx, a rewrite, a first read too short to show the
    status code."""

    __slots__ = (
        "closed", "exchange", "fields", "idle_since", "parser", "paused", "pool", "transport",
    )  # fmt: skip

    # A callback httptools finds as None is not called: the status text, chunk boundaries, and
    # (on this parser) the header lines.
    on_status: ClassVar[None] = None
    on_chunk_header: ClassVar[None] = None
    on_chunk_complete: ClassVar[None] = None
    on_header: ClassVar[None] = None

    def __init__(self, pool: ConnectionPool) -> None:
        self.transport: asyncio.Transport | None = None
        # Set while a request is on the connection, and cleared only once the read that ended
        # its answer is parsed whole (by the pool, or by `close`): bytes after the answer in that
        # read still reach the exchange, which refuses to pool a connection that sent them.
        self.exchange: Carried | None = None
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.fields: httptools.HttpResponseParser | None = None
        self.pool = pool
        self.idle_since = 0.0
        self.closed = False
        self.paused = False  # reading paused because the client is slow

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None:  # bytes while idle: the backend broke framing; never reuse it
            self.close()
            return
        exchange.backend_data(data)

    def eof_received(self) -> bool | None:
        return None  # close; the exchange learns it in connection_lost

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        self.closed = True
        self.parser = self.fields = None  # they hold this connection's callbacks: break the cycle
        self.pool.forget(self)
        exchange, self.exchange = self.exchange, None
        if exchange is not None:
            exchange.backend_lost(self)

    def pause_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.backend_writable(False)

    def resume_writing(self) -> None:
        if self.exchange is not None:
            self.exchange.backend_writable(True)

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.on_message_begin()

    def fields_parser(self) -> httptools.HttpResponseParser:
        """The parser that calls back once per header line (made on first use)."""
        fields = self.fields
        if fields is None:
            fields = self.fields = httptools.HttpResponseParser(_FieldReader(self))
        return fields

    def on_headers_complete(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.on_body(body)

    def on_message_complete(self) -> None:
        exchange = self.exchange
        if exchange is not None:
            exchange.on_message_complete()

    def pause_reading(self) -> None:
        if not self.paused and self.transport is not None and not self.closed:
            self.paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.paused and self.transport is not None and not self.closed:
            self.paused = False
            self.transport.resume_reading()

    def close(self) -> None:
        """Discard: never pooled again."""
        self.exchange = None
        self.parser = self.fields = None
        if not self.closed and self.transport is not None:
            self.closed = True
            self.transport.abort()
        self.pool.forget(self)


class _FieldReader:
    """The callbacks of a connection's `fields` parser: the same events as the connection's own,
    and each header line."""

    __slots__ = ("connection",)

    on_status: ClassVar[None] = None
    on_chunk_header: ClassVar[None] = None
    on_chunk_complete: ClassVar[None] = None

    def __init__(self, connection: BackendConnection) -> None:
        self.connection = connection

    def on_message_begin(self) -> None:
        self.connection.on_message_begin()

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange = self.connection.exchange
        if exchange is not None:
            exchange.on_header(name, value)

    def on_headers_complete(self) -> None:
        self.connection.on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self.connection.on_body(body)

    def on_message_complete(self) -> None:
        self.connection.on_message_complete()


class ConnectError(Exception):
    """A new backend connection could not be made; `reason` is the health code it matches."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


class ConnectionPool:
    """Idle keep-alive connections of one target (not the plan's address pool: that is
    `config.plan.AddressPool`)."""

    __slots__ = ("idle", "latency_count", "latency_sum", "retired", "statuses", "upstream")

    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream
        self.idle: list[BackendConnection] = []
        self.retired = False  # the target left the plan: finish in-flight work, pool nothing
        self.statuses = [0] * 6  # backend answers per status class (index 1-5; 0: other)
        self.latency_sum = 0.0  # seconds from request head sent to response head, summed
        self.latency_count = 0

    def give_back(self, connection: BackendConnection, now: float) -> None:
        if self.retired or connection.closed or len(self.idle) >= MAX_IDLE_PER_TARGET:
            connection.close()
            return
        connection.exchange = None
        connection.idle_since = now
        connection.resume_reading()
        self.idle.append(connection)

    def forget(self, connection: BackendConnection) -> None:
        if connection in self.idle:
            self.idle.remove(connection)

    def expire(self, now: float) -> None:
        """Close connections idle too long (oldest first: they sit at the bottom)."""
        idle = self.idle
        while idle and now - idle[0].idle_since > IDLE_EXPIRY:
            idle.pop(0).close()

    def close_idle(self) -> None:
        while self.idle:
            self.idle.pop().close()


class Connector:
    """Opens new backend connections: resolves FQDN members, connects, secures, judges the chain."""

    def __init__(self, resolver: Resolver, wall_clock: Callable[[], float] = time.time) -> None:
        self.resolver = resolver
        self.connect_seconds = 0.0  # time spent making new backend connections, summed
        self.connects = 0
        self._wall_clock = wall_clock
        self._verdicts: dict[tuple[object, tuple[bytes, ...]], Reason] = {}
        self._context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        self._context.check_hostname = False
        self._context.verify_mode = ssl.CERT_NONE  # judged below, as the probes judge it

    async def connect(self, pool: ConnectionPool) -> BackendConnection:
        upstream = pool.upstream
        loop = asyncio.get_running_loop()
        addresses = await self._addresses(upstream)
        last: OSError | None = None
        for address in addresses:
            started = time.monotonic()
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT):
                    _, protocol = await loop.create_connection(
                        lambda: BackendConnection(pool), address, upstream.port
                    )
            except TimeoutError:
                last = TimeoutError(f"connect to {address}:{upstream.port} timed out")
                continue
            except OSError as exc:
                last = exc
                continue
            if upstream.tls:
                await self._secure(protocol, upstream)
            self.connect_seconds += time.monotonic() - started
            self.connects += 1
            return protocol
        raise ConnectError(Reason.TCP_CONNECT_ERROR, _words(last))

    async def _addresses(self, upstream: Upstream) -> tuple[str, ...]:
        if upstream.is_ip:
            return (upstream.address,)
        resolved = await self.resolver.resolve(upstream.address)
        addresses = resolved.resolution.addresses
        if not addresses:
            raise ConnectError(Reason.DNS_RESOLUTION_ERROR, f"{upstream.address} did not resolve")
        return tuple(addresses)

    async def _secure(self, protocol: BackendConnection, upstream: Upstream) -> None:
        loop = asyncio.get_running_loop()
        raw = protocol.transport
        assert raw is not None
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT):
                secured = await loop.start_tls(
                    raw, protocol, self._context, server_hostname=upstream.sni
                )
        except (OSError, ssl.SSLError, TimeoutError) as exc:
            raw.abort()
            raise ConnectError(Reason.TLS_HANDSHAKE_ERROR, f"TLS handshake failed: {exc}") from exc
        if secured is None:
            raise ConnectError(Reason.TLS_HANDSHAKE_ERROR, "closed during the TLS handshake")
        protocol.transport = secured
        reason = self._judge(secured, upstream)
        if reason is not Reason.SUCCESS:
            secured.abort()
            raise ConnectError(reason, f"the backend certificate failed: {reason.value}")

    def _judge(self, transport: asyncio.BaseTransport, upstream: Upstream) -> Reason:
        if upstream.policy is None:
            return Reason.SUCCESS
        ssl_object = transport.get_extra_info("ssl_object")
        chain = ssl_object._sslobj.get_unverified_chain() or []
        ders = tuple(cert.public_bytes(_ssl.ENCODING_DER) for cert in chain)
        key = (upstream.policy, ders)
        found = self._verdicts.get(key)
        if found is None:
            now = datetime.fromtimestamp(self._wall_clock(), UTC)
            found = check_chain(ders, upstream.policy, now).reason
            if len(self._verdicts) > 1024:
                self._verdicts.clear()
            self._verdicts[key] = found
        return found


def _words(error: OSError | None) -> str:
    if error is None:
        return "no address to connect to"
    if isinstance(error, ConnectionRefusedError):
        return "connection refused"
    return error.strerror or str(error)
