"""The request's half of an exchange: its head checked and routed, its body relayed or held.

Rules of this module:
- nothing reaches a backend before the whole head was validated and routed; a head the gateway
  refuses sets `rejected` (the answer comes in order, from `Exchange.start`);
- `head_complete` has a fast path for the common request (one Host, HTTP/1.1, a plain
  origin-form path, no framing or expectation games); it must accept only what the full checks
  (`_check_and_route`) accept, with the same result: tests/unit/test_fast_path.py holds it to that;
- the body goes straight to the attached backend connection, or is held in `pending` (bounded by
  pausing the client's reads) while none is attached; chunked bodies are re-chunked by the
  gateway, so the framing the backend sees is always the gateway's own;
- `reading` moves HEAD → BODY → RECEIVED here (the table is in lifecycle.py).
"""

from __future__ import annotations

from typing import Final

from probegate.proxy import wire
from probegate.proxy.lifecycle import BODY, DONE, RECEIVED, RELAYING, SENT, ExchangeBase
from probegate.proxy.rewriting import rewrite_request
from probegate.proxy.routing import Route, redirect_location

BUFFER_LIMIT: Final = 256 * 1024  # request body bytes held while no backend connection is attached
_PLAIN_CONNECTION: Final = frozenset({b"keep-alive", b"close", b"Keep-Alive", b"Close"})


class RequestSide(ExchangeBase):
    __slots__ = ()

    # ------------------------------------------------------------------ the head

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
        elif name == b"proxy-connection":
            self.proxy_connection = True  # dropped, but it can keep an HTTP/1.0 request alive
        elif name == b"te":
            self.te_trailers = b"trailers" in wire.connection_tokens(value)
        # other hop-by-hop headers and the gateway's own X- headers are dropped

    def reject(self, status: int, reason: str) -> None:
        if self.rejected is None:
            self.rejected = (status, reason)

    def head_complete(self, method: bytes, version: str, keep_alive: bool) -> None:
        self.reading = BODY
        self.method = method
        self.version = version
        self.keep_alive = keep_alive
        length = self.length
        if length or self.te_count:
            self.body_started_at_head = True
        if self.rejected is not None:
            return
        url = self.url
        # The fast path: one Host, HTTP/1.1, a plain origin-form path, no framing or expectation
        # games. Anything else gets the full checks below.
        if (
            self.host_count == 1
            and version == "1.1"
            and not self.te_count
            and self.expect is None
            and (self.connection is None or self.connection in _PLAIN_CONNECTION)
            and url[:1] == b"/"
            and method != b"CONNECT"  # llhttp takes `CONNECT / HTTP/1.1`: the full checks refuse it
            and (length is None or length <= self.proxy.max_body)
        ):
            path, mark, query = url.partition(b"?")
            if wire.plain_path(path):
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
        if self.length is not None and self.length > self.proxy.max_body:
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
        tables = self.proxy.tables
        host = self.authority if self.authority is not None else self.host
        path = b"/" if self.path == b"*" else self.path
        if host == client.route_host and tables is client.route_tables:
            entry = client.route_entry  # keep-alive clients send the same Host every time
        else:
            entry = tables.routes.entry(client.local_port, client.local_ip, host)
            client.route_host, client.route_tables, client.route_entry = host, tables, entry
            client.route_last = None  # it belongs to route_tables
        route = entry if entry is None or isinstance(entry, Route) else entry.select(path)
        if route is None:
            self.local = (404, "no listener or rule matches this host\n", ())
            return
        info = client.route_info
        if route is not client.route_last or info is None:
            info = client.route_info = tables.by_route[id(route)]
            client.route_last = route
        if info.rewrite is not None:  # the only cost of rewrites to a request without a set
            assert entry is not None
            rerouted = rewrite_request(self, info, entry, tables)
            if rerouted is None:
                return  # a rewrite loop: answered 500
            info = rerouted
        if info.redirect is not None:
            location = redirect_location(
                info.redirect, client.scheme.decode(), host, self.path, self.query
            )
            header = ((b"Location", location.encode("utf-8", "surrogateescape")),)
            self.local = (info.redirect.status, "", header)
            return
        self.info = info

    # ------------------------------------------------------------------ the body

    def body(self, data: bytes) -> None:
        self.body_started = True
        self.body_size += len(data)
        if self.body_size > self.proxy.max_body:
            self._too_large()
            return
        if self.answering is DONE or self.rejected is not None:
            return  # the answer did not wait for this body; the connection closes after it
        framed = wire.chunk(data) if self.chunked else data
        backend = self.backend
        if self.answering >= SENT and backend is not None and backend.transport is not None:
            backend.transport.write(framed)
            return
        if self.pending is None:
            self.pending = []
        self.pending.append(framed)
        self.pending_size += len(framed)
        if self.pending_size > BUFFER_LIMIT:
            self.client.pause_reading_for(wire.PAUSE_BUFFER)

    def body_end(self) -> None:
        self.reading = RECEIVED
        if self.answering is DONE or self.rejected is not None:
            return
        if self.chunked:
            backend = self.backend
            if self.answering >= SENT and backend is not None and backend.transport is not None:
                backend.transport.write(wire.LAST_CHUNK)
            elif self.pending is None:
                self.pending = [wire.LAST_CHUNK]
            else:
                self.pending.append(wire.LAST_CHUNK)

    def reject_body(self, reason: str) -> None:
        """The body broke its framing: if the answer has not begun, 400; else cut the connection."""
        self.reading = RECEIVED
        if self.answering >= RELAYING:
            self.client.abort()
            self._drop_backend()
        else:
            self._drop_backend()
            self.rejected = (400, reason)
            if self.client.queue and self.client.queue[0] is self:
                self._answer(400, keep=False)

    def _too_large(self) -> None:
        self.reading = RECEIVED
        self._drop_backend()
        if self.answering >= RELAYING:
            self.client.abort()
            return
        self.rejected = (413, "request body over the limit")
        if self.client.queue and self.client.queue[0] is self:
            self._answer(413, keep=False)
