"""One request and its answer: route, pick a target, forward, relay the response, retry or fail.

Rules of this module:
- the request head sent to a backend is rebuilt from parsed, validated lines; framing headers
  (Content-Length or chunked) are the gateway's own; hop-by-hop headers and those the client's
  `Connection` names never pass, in either direction;
- nothing reaches a backend before the whole head was validated and routed;
- a retry happens only when no byte reached the client: on another target after a failed
  connect (any method: nothing was sent), and once for an idempotent request without a body
  when a reused connection dies unanswered or `requestTimeout` passes;
- once response bytes reached the client, a failure ends the client connection abruptly, so a
  truncated answer never looks complete;
- the answer's half (the response parser's callbacks, relaying, tunnels) is in `response.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

import httptools

from probegate.proxy import wire
from probegate.proxy.response import ResponseSide
from probegate.proxy.routing import Route, redirect_location
from probegate.proxy.tables import RouteInfo, Upstream, rewrite_path
from probegate.proxy.upstream import BackendConnection, ConnectError, Pool

if TYPE_CHECKING:
    from probegate.proxy.client import ClientConnection

log = logging.getLogger("probegate.proxy")

BUFFER_LIMIT = 256 * 1024  # request body bytes held while no backend connection is attached
_PLAIN_CONNECTION = frozenset({b"keep-alive", b"close", b"Keep-Alive", b"Close"})


class Exchange(ResponseSide):
    # Hot fields are slots set in __init__; rarely used ones are class-level defaults that an
    # instance overrides in its __dict__ (given by the ResponseSide base) only when a request
    # needs them (most never do).
    __slots__ = (
        "answered",
        "attached",
        "backend",
        "body_done",
        "client",
        "deadline",
        "head_done",
        "head_size",
        "host",
        "host_count",
        "info",
        "keep_alive",
        "latency",
        "length",
        "lines",
        "method",
        "out",
        "parser",
        "path",
        "pool",
        "query",
        "rejected",
        "release",
        "resp_connection",
        "resp_done",
        "resp_length",
        "resp_lines",
        "response_started",
        "reused",
        "sent_at",
        "sent_bytes",
        "status",
        "timeout",
        "trace",
        "upstream",
        "url",
        "version",
    )

    te_value: bytes | None = None
    te_count = 0
    chunked = False
    connection: bytes | None = None
    upgrade: bytes | None = None
    expect: bytes | None = None
    xff: bytes | None = None
    cookies: list[bytes] | None = None
    te_trailers = False
    body_started = False
    body_started_at_head = False
    body_size = 0
    authority: bytes | None = None
    wants_tunnel = False
    # an answer the gateway makes itself (404, redirect): status, body, extra headers
    local: tuple[int, str, tuple[tuple[bytes, bytes], ...]] | None = None
    connecting: asyncio.Task[None] | None = None
    pending: list[bytes] | None = None  # body held while no backend connection is attached
    pending_size = 0
    tried: list[tuple[Upstream, str]] = []  # noqa: RUF012 - replaced, never mutated in place
    retried = False
    continue_sent = False
    set_cookie: bytes | None = None
    resp_chunked = False
    resp_upgrade: bytes | None = None
    rechunk = False
    close_after = False
    interim = False
    started = 0.0  # monotonic: when the request's first byte was parsed
    error_info = ""  # why the gateway answered itself, for the access log
    poisoned = False  # the backend sent more than one answer: its connection is not reused
    resp_te: bytes | None = None  # the response's Transfer-Encoding, when it has one

    def __init__(self, client: ClientConnection) -> None:
        self.client = client
        self.url = b""
        self.lines: list[bytes] = []
        self.host: bytes | None = None
        self.host_count = 0
        self.length: int | None = None
        self.rejected: tuple[int, str] | None = None
        self.head_done = False
        self.body_done = False
        self.method = b""
        self.version = "1.1"
        self.keep_alive = True
        self.path = b"/"
        self.query: bytes | None = None
        self.info: RouteInfo | None = None
        self.upstream: Upstream | None = None
        self.pool: Pool | None = None
        self.backend: BackendConnection | None = None
        self.answered = False
        self.deadline = 0.0
        self.trace = b""
        self.parser: httptools.HttpResponseParser | None = None
        self.out: list[bytes] = []
        self.status = 0
        self.timeout = 0.0
        self.resp_lines: list[bytes] = []
        self.resp_length: bytes | None = None
        self.response_started = False
        self.resp_done = False
        self.attached = False
        self.reused = False
        self.resp_connection: bytes | None = None
        self.release: BackendConnection | None = None  # to pool once the read is parsed
        self.head_size = 0  # bytes of header lines received
        self.sent_at = 0.0  # monotonic: the request head went to the backend
        self.latency = 0.0  # seconds from sending the head to the response head
        self.sent_bytes = 0

    # ------------------------------------------------------------------ request head

    def special(self, name: bytes, value: bytes) -> None:
        """A header the gateway reads, replaces or drops (called from the client's on_header)."""
        if name == b"host":
            self.host = value
            self.host_count += 1
        elif name == b"cookie":
            self.lines += (b"Cookie", b": ", value, b"\r\n")
            if self.cookies is None:
                self.cookies = [value]
            else:
                self.cookies.append(value)
        elif name == b"connection":
            self.connection = value if self.connection is None else self.connection + b"," + value
        elif name == b"content-length":
            if len(value) > 1 and value[0] == 48:  # "010": llhttp reads it as 10; refuse
                self.reject(400, "Content-Length with a leading zero")
            self.length = int(value)  # llhttp checked the digits and refused duplicates
        elif name == b"transfer-encoding":
            self.te_value = value
            self.te_count += 1
        elif name == b"x-forwarded-for":
            self.xff = value if self.xff is None else self.xff + b", " + value
        elif name == b"upgrade":
            self.upgrade = value
        elif name == b"expect":
            self.expect = value
        elif name == b"te":
            self.te_trailers = b"trailers" in wire.connection_tokens(value)
        # other hop-by-hop headers and the gateway's own X- headers are dropped

    def reject(self, status: int, reason: str) -> None:
        if self.rejected is None:
            self.rejected = (status, reason)

    def reject_body(self, reason: str) -> None:
        """The body broke its framing: if the answer has not begun, 400; else cut the connection."""
        self.body_done = True
        if self.response_started or self.answered:
            self.client.abort()
            self._drop_backend()
        else:
            self._drop_backend()
            self.rejected = (400, reason)
            if self.client.queue and self.client.queue[0] is self:
                self._answer(400, keep=False)

    def head_complete(self, method: bytes, version: str, keep_alive: bool) -> None:
        self.head_done = True
        self.method = method
        self.version = version
        self.keep_alive = keep_alive
        length = self.length
        if length or self.te_count:
            self.body_started_at_head = True
        if self.rejected is not None:
            return
        url = self.url
        # The common request takes this path: one Host, HTTP/1.1, a plain origin-form path, no
        # framing or expectation games. Anything else gets the full checks below.
        if (
            self.host_count == 1
            and version == "1.1"
            and not self.te_count
            and self.expect is None
            and (self.connection is None or self.connection in _PLAIN_CONNECTION)
            and url[:1] == b"/"
            and (length is None or length <= self.client.proxy.max_body)
        ):
            path, mark, query = url.partition(b"?")
            if b"%" not in path and b"/." not in path:
                client = self.client
                if self.host != client.checked_host:
                    try:
                        wire.check_host(self.host)  # type: ignore[arg-type]
                    except wire.Reject as problem:
                        self.rejected = (problem.status, problem.reason)
                        return
                    client.checked_host = self.host
                self.path = path
                if mark:
                    self.query = query
                self._route()
                return
        try:
            self._check_and_route()
        except wire.Reject as problem:
            self.rejected = (problem.status, problem.reason)

    def _check_and_route(self) -> None:
        wire.check_version(self.version)
        method = self.method
        if method == b"CONNECT":
            status = 405 if b":" in self.url and self.url[:1] != b"/" else 400
            raise wire.Reject(status, "CONNECT is not served")
        if self.te_count:
            if self.te_count > 1:
                raise wire.Reject(400, "Transfer-Encoding given twice")
            assert self.te_value is not None
            wire.check_transfer_encoding(self.te_value, self.version)
            self.chunked = True
        self.authority, path, self.query = wire.split_target(method, self.url)
        if self.host_count > 1:
            raise wire.Reject(400, "more than one Host header")
        if self.host is not None:
            wire.check_host(self.host)
        elif self.version == "1.1":
            raise wire.Reject(400, "HTTP/1.1 request without Host")
        self.path = path if path == b"*" else wire.normalise_path(path)
        self._check_expect()
        if self.length is not None and self.length > self.client.proxy.max_body:
            raise wire.Reject(413, "request body over the limit")
        if self.connection is not None:
            self._connection_options(wire.connection_tokens(self.connection))
        self._route()

    def _check_expect(self) -> None:
        if self.expect is None:
            return
        if self.expect.strip(b" \t").lower() != b"100-continue":
            raise wire.Reject(417, "unsupported expectation")
        if self.version == "1.0":
            self.expect = None  # no 100 Continue for HTTP/1.0 (RFC 9110 10.1.1)

    def _connection_options(self, tokens: list[bytes]) -> None:
        self.lines = wire.without_named(self.lines, tokens)
        upgrade = self.upgrade
        if (
            upgrade is not None
            and b"upgrade" in tokens
            and self.version == "1.1"
            and upgrade.strip().lower() != b"h2c"
            and not self.body_started_at_head
        ):
            self.wants_tunnel = True

    def _route(self) -> None:
        client = self.client
        proxy = client.proxy
        tables = proxy.tables
        host = self.authority if self.authority is not None else self.host
        path = b"/" if self.path == b"*" else self.path
        if host == client.route_host and tables is client.route_tables:
            entry = client.route_entry  # keep-alive clients send the same Host every time
        else:
            entry = tables.routes.entry(client.local_port, client.local_ip, host)
            client.route_host, client.route_tables, client.route_entry = host, tables, entry
        route = entry if entry is None or isinstance(entry, Route) else entry.select(path)
        if route is None:
            self.local = (404, "no listener or rule matches this host\n", ())
            return
        info = tables.by_route[id(route)]
        if info.redirect is not None:
            location = redirect_location(
                info.redirect, client.scheme.decode(), host, self.path, self.query
            )
            header = ((b"Location", location.encode("utf-8", "surrogateescape")),)
            self.local = (info.redirect.status, "", header)
            return
        self.info = info

    # ------------------------------------------------------------------ request body

    def body(self, data: bytes) -> None:
        self.body_started = True
        self.body_size += len(data)
        if self.body_size > self.client.proxy.max_body:
            self._too_large()
            return
        if self.answered or self.rejected is not None:
            return  # the answer did not wait for this body; the connection closes after it
        framed = wire.chunk(data) if self.chunked else data
        backend = self.backend
        if self.attached and backend is not None and backend.transport is not None:
            backend.transport.write(framed)
            return
        if self.pending is None:
            self.pending = []
        self.pending.append(framed)
        self.pending_size += len(framed)
        if self.pending_size > BUFFER_LIMIT:
            self.client.pause_reading_for(wire.PAUSE_BUFFER)

    def body_end(self) -> None:
        self.body_done = True
        if self.answered or self.rejected is not None:
            return
        if self.chunked:
            backend = self.backend
            if self.attached and backend is not None and backend.transport is not None:
                backend.transport.write(wire.LAST_CHUNK)
            elif self.pending is None:
                self.pending = [wire.LAST_CHUNK]
            else:
                self.pending.append(wire.LAST_CHUNK)
        if self.resp_done:  # the backend answered before the body ended
            self._drop_backend()

    def _too_large(self) -> None:
        self.body_done = True
        self._drop_backend()
        if self.response_started or self.answered:
            self.client.abort()
            return
        self.rejected = (413, "request body over the limit")
        if self.client.queue and self.client.queue[0] is self:
            self._answer(413, keep=False)

    # ------------------------------------------------------------------ choosing a target

    def start(self) -> None:
        """This exchange reached the head of the client's queue: answer it."""
        client = self.client
        proxy = client.proxy
        if self.rejected is not None:
            status, _ = self.rejected
            self._answer(status, keep=False)
            return
        if self.local is not None:
            status, body, headers = self.local
            self._answer(status, body, headers, keep=self._may_keep())
            return
        info = self.info
        assert info is not None
        assert info.backend is not None
        self.trace = proxy.next_trace()
        self.timeout = info.backend.timeout
        self._pick()

    def _pick(self) -> None:
        info = self.info
        assert info is not None
        assert info.backend is not None
        proxy = self.client.proxy
        backend = info.backend
        cookie = self._affinity_cookie(backend.cookie) if backend.cookie is not None else None
        upstream = proxy.balancer.pick(backend, cookie, self.tried)
        if upstream is None:
            why = proxy.no_target_reason(backend, self.tried)
            self.error_info = why
            proxy.failed += 1
            self._answer(502, why + "\n", keep=self._may_keep())
            return
        if backend.cookie is not None and cookie != upstream.affinity:
            self.set_cookie = upstream.affinity
        self.upstream = upstream
        pool = proxy.pools.get(upstream.key)
        if pool is None or pool.upstream is not upstream:
            pool = proxy.pool_for(upstream)
        self.pool = pool
        if not self.retried:  # a retry takes a fresh connection
            idle = pool.idle
            while idle:  # the most recently used connection first (LIFO)
                connection = idle.pop()
                if not connection.closed:
                    self.reused = True
                    self._attach(connection)
                    return
        self.connecting = asyncio.get_running_loop().create_task(self._connect(pool))

    def _affinity_cookie(self, name: bytes) -> bytes | None:
        if not self.cookies:
            return None
        prefix = name + b"="
        for header in self.cookies:
            for part in header.split(b";"):
                pair = part.strip(b" ")
                if pair.startswith(prefix):
                    return pair[len(prefix) :]
        return None

    async def _connect(self, pool: Pool) -> None:
        connector = self.client.proxy.connector
        try:
            connection = await connector.connect(pool)
        except ConnectError as failure:
            self.connecting = None
            if not self.client.closing:
                self._connect_failed(pool.upstream, failure.reason.value, failure.detail)
            return
        except asyncio.CancelledError:
            return
        self.connecting = None
        if self.client.closing or self.answered:
            pool.give_back(connection, self.client.proxy.now)
            return
        self._attach(connection)

    def _connect_failed(self, upstream: Upstream, reason: str, detail: str) -> None:
        self.tried = [*self.tried, (upstream, f"{reason} ({detail})")]
        self._pick()  # nothing reached the backend: any method may go elsewhere

    def _attach(self, connection: BackendConnection) -> None:
        self.backend = connection
        connection.exchange = self
        self.attached = True
        self.parser = httptools.HttpResponseParser(self)
        upstream = self.upstream
        assert upstream is not None
        parts = [self._forward_head(upstream)]
        if self.pending:
            parts += self.pending
            self.pending = None
            self.pending_size = 0
            self.client.resume_reading_for(wire.PAUSE_BUFFER)
        transport = connection.transport
        assert transport is not None
        transport.write(b"".join(parts) if len(parts) > 1 else parts[0])
        self.sent_at = time.monotonic()
        self.deadline = self.client.proxy.now + self.timeout
        if self.expect is not None and not self.body_started and not self.continue_sent:
            self.continue_sent = True
            self.client.transport.write(wire.CONTINUE)  # type: ignore[union-attr]
        if self.client.write_paused:
            connection.pause_reading()

    def _forward_head(self, upstream: Upstream) -> bytes:
        info = self.info
        assert info is not None
        assert info.backend is not None
        backend = info.backend
        client = self.client
        path = rewrite_path(info, self.path) if backend.path is not None else self.path
        if self.query is not None:
            path = path + b"?" + self.query
        original = self.authority if self.authority is not None else self.host
        if backend.host is not None:
            host = backend.host
        elif backend.host_from_member:
            host = upstream.address.encode("idna")
        elif original:
            host = original
        else:  # an HTTP/1.0 request without Host: name the server it goes to
            host = upstream.target.key.server.encode("idna")
        parts = [self.method, b" ", path, b" HTTP/1.1\r\nHost: ", host, b"\r\n", *self.lines]
        if self.chunked:
            parts.append(b"Transfer-Encoding: chunked\r\n")
        elif self.length is not None:
            parts.append(b"Content-Length: %d\r\n" % self.length)
        if self.te_trailers:
            parts.append(b"TE: trailers\r\n")
        if self.wants_tunnel:
            assert self.upgrade is not None
            parts += (b"Connection: upgrade\r\nUpgrade: ", self.upgrade, b"\r\n")
        if self.xff is None:
            parts.append(client.forwarded)  # X-Forwarded-For/-Proto/-Port, made per connection
        else:
            xff = self.xff + b", " + client.peer_text
            parts += (b"X-Forwarded-For: ", xff, b"\r\nX-Forwarded-Proto: ", client.scheme)
            parts += (b"\r\nX-Forwarded-Port: ", client.port_text, b"\r\n")
        if original is not None:
            parts += (b"X-Original-Host: ", original, b"\r\n")
        parts += (b"X-AppGW-Trace-Id: ", self.trace, b"\r\n\r\n")
        return b"".join(parts)

    # ------------------------------------------------------------------ local answers, failures

    def _may_keep(self) -> bool:
        """A local answer keeps the connection only if no request body is left unread."""
        return self.keep_alive and (self.body_done or not self.body_started_at_head)

    def _answer(
        self,
        status: int,
        body: str = "",
        headers: tuple[tuple[bytes, bytes], ...] = (),
        *,
        keep: bool,
    ) -> None:
        """An answer the gateway makes itself; `Connection: close` when the connection ends."""
        if self.answered:
            return
        self.answered = True
        client = self.client
        if client.transport is not None and not client.closing:
            head_only = self.method == b"HEAD"  # a HEAD answer never carries a body
            answer = wire.answer(status, body, close=not keep, headers=headers, head_only=head_only)
            client.transport.write(answer)
        client.proxy.count_local(self, status)
        client.finished(self, keep)

    def fail(self, status: int, body: str) -> None:
        """The backend failed this request. Before any response byte: an answer; after: a cut."""
        self._drop_backend()
        self.resp_done = True  # nothing more of the backend's answer is relayed
        self.error_info = body.strip()
        self.client.proxy.failed += 1
        if self.response_started:
            self.flush()
            self.client.abort()
            self.answered = True
            return
        self._answer(status, body, keep=self._may_keep())

    def _retry_allowed(self) -> bool:
        return (
            not self.retried
            and not self.response_started
            and self.method in wire.IDEMPOTENT
            and not self.body_started_at_head
            and not self.wants_tunnel
        )

    def retry(self, why: str, *, elsewhere: bool) -> bool:
        """Send the request again if that is safe: on another target (`elsewhere`), or on a
        fresh connection to any routable target (a reused connection that died unanswered)."""
        if not self._retry_allowed():
            return False
        upstream = self.upstream
        if elsewhere and upstream is not None:
            assert self.info is not None
            assert self.info.backend is not None
            tried = [*self.tried, (upstream, why)]
            if self.client.proxy.balancer.pick(self.info.backend, None, tried) is None:
                return False
            self.tried = tried
        self.retried = True
        self._drop_backend()
        self.attached = False
        self._pick()
        return True

    def _drop_backend(self) -> None:
        connection, self.backend = self.backend, None
        if connection is not None:
            connection.close()
        task, self.connecting = self.connecting, None
        if task is not None:
            task.cancel()

    def client_gone(self) -> None:
        self.answered = True
        self._drop_backend()
        self.parser = None

    def timed_out_reading(self, what: str) -> None:
        """The client stopped sending the head or the body in time: 408 and close."""
        self._drop_backend()
        if self.response_started or self.answered:
            self.client.abort()
            return
        self.rejected = (408, f"{what} not received in time")
        self.answered = True
        client = self.client
        if client.transport is not None:
            client.transport.write(wire.answer(408, close=True))
        client.proxy.count_local(self, 408)
        client.close()

    def sweep(self, now: float) -> None:
        """Backend deadline: `requestTimeout` without a byte from the backend, counted once the
        request was sent whole. A client too slow to read its answer pauses the backend; that
        silence is the client's, bounded by the body timeout (then the connection is cut)."""
        if self.backend is None or self.resp_done:
            return
        client = self.client
        if client.write_paused:
            if now - client.write_paused_at > client.proxy.limits.body_timeout:
                self._drop_backend()
                self.answered = True
                client.abort()
                return
            self.deadline = now + self.timeout
            return
        if not self.body_done:
            self.deadline = now + self.timeout  # still uploading: the client's timeouts apply
            return
        if now < self.deadline:
            return
        seconds = self.timeout
        if self.retry(f"no response within requestTimeout {seconds:g} s", elsewhere=True):
            return
        self.fail(504, f"the backend did not answer within requestTimeout ({seconds:g} s)\n")
