"""One client connection: httptools parses requests, each becomes an `Exchange`, answered in order.

Rules of this module:
- no Task, Future or timer per request: parser callbacks fill the exchange being parsed; the
  exchange at the head of the queue is the one being answered (pipelined ones wait, bounded by
  pausing reads); timeouts are deadlines checked by the proxy's sweep;
- the parser callbacks are the hot path and run long on purpose (one call per header, no helpers);
- a malformed request is answered (400/414/431/501/505) in order, then the connection closes; no
  byte of it is forwarded;
- reading is paused for several reasons at once (a slow backend, a full pipeline, an upgrade in
  progress); each reason is one bit, and reading resumes when none is left;
- per-connection state lives here, per-request state in the exchange (lifecycle.py): the
  connection asks an exchange only how far it got (`reading`, `answering`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

import httptools

from probegate.proxy import wire
from probegate.proxy.context import ProxyContext
from probegate.proxy.exchange import Exchange
from probegate.proxy.lifecycle import DONE, HEAD, RECEIVED, ExchangeBase
from probegate.proxy.link import ClientLink
from probegate.proxy.response import TUNNEL_BACKEND_DONE, TUNNEL_CLIENT_DONE
from probegate.proxy.wire import PAUSE_PIPELINE, PAUSE_UPGRADE

# A C static when compiled (`time.monotonic()` would look the attribute up on every call).
_monotonic: Final = time.monotonic

log = logging.getLogger("probegate.proxy")
_FORWARDED: Final = b"X-Forwarded-For: %s\r\nX-Forwarded-Proto: %s\r\nX-Forwarded-Port: %s\r\n"


class _Stop(Exception):
    """Raised inside a parser callback to stop parsing (the reason is on the connection)."""


class ClientConnection(ClientLink[Exchange]):
    __slots__ = (
        "deadline",
        "eof",
        "head_size",
        "header_count",
        "held",
        "parser",
        "parsing",
        "pauses",
        "proxy",
        "tunnel",
        "tunnel_done",
        "tunnelled",
    )

    def __init__(self, proxy: ProxyContext, scheme: bytes) -> None:
        super().__init__(scheme)  # the fields an exchange reads: proxy/link.py
        self.proxy = proxy
        self.parser = httptools.HttpRequestParser(self)
        self.parsing: Exchange | None = None
        self.head_size = 0
        self.header_count = 0
        self.deadline = 0.0  # when the connection gives up waiting for the client
        self.pauses = 0
        self.tunnel: asyncio.Transport | None = None  # after a 101: bytes go straight there
        self.tunnel_done = 0  # which sides of the tunnel have finished sending
        self.tunnelled: ExchangeBase | None = None  # the upgraded request: logged when it ends
        self.held = b""  # bytes after an Upgrade request, held until the backend answers
        self.eof = False  # the client half-closed: close after its last answer

    # ------------------------------------------------------------------ connection events

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's transports are not asyncio.Transport subclasses
        peer = transport.get_extra_info("peername")
        local = transport.get_extra_info("sockname")
        if peer:
            self.peer_ip, self.peer_port = peer[0], peer[1]
            shown = f"[{peer[0]}]" if ":" in peer[0] else peer[0]
            self.peer_text = f"{shown}:{peer[1]}".encode("ascii")
        if local:
            self.local_ip, self.local_port = local[0], local[1]
            self.port_text = str(local[1]).encode("ascii")
        self.forwarded = _FORWARDED % (self.peer_text, self.scheme, self.port_text)
        proxy = self.proxy
        self.deadline = proxy.now + proxy.keep_alive_timeout
        if not proxy.admit(self):
            self.closing = True
            busy = wire.answer(503, "the gateway is at its connection limit\n", close=True)
            transport.write(busy)  # type: ignore[attr-defined]
            transport.close()

    def data_received(self, data: bytes) -> None:
        if self.tunnel is not None:
            self.tunnel.write(data)
            if self.tunnelled is not None:
                self.tunnelled.body_size += len(data)
            return
        if self.closing:
            return
        if self.pauses & PAUSE_UPGRADE:
            self.held += data
            return
        if self.parsing is None and wire.spaced_request_line(data):
            self._spaced_request_line()
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade as exc:
            self._upgraded(data[exc.args[0] :] if exc.args else b"")
        except httptools.HttpParserError as exc:
            self._malformed(exc)
            return
        if self.parsing is not None and self.parsing.reading is HEAD:
            self._head_budget(len(data))

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        self.closing = True
        self.proxy.forget(self)
        for exchange in self.queue:
            exchange.client_gone()
        self.queue.clear()
        if self.parsing is not None:
            self.parsing.client_gone()
            self.parsing = None
        if self.tunnel is not None:
            self.tunnel.close()
        if self.tunnelled is not None:
            # A WebSocket (or other upgraded) session is one access-log entry: status 101,
            # the bytes of both ways, the whole session's duration.
            tunnelled, self.tunnelled = self.tunnelled, None
            self.proxy.count_done(tunnelled, 101, tunnelled.info, tunnelled.started)

    def eof_received(self) -> bool | None:
        # A half-closed client may still read its answers: keep the transport open while
        # requests are outstanding (the connection closes after the last one).
        if self.tunnel is not None:
            return self.tunnel_ended(TUNNEL_CLIENT_DONE)
        parsing = self.parsing
        if parsing is not None and parsing.reading is HEAD:
            parsing.client_gone()
            self.parsing = None
        elif parsing is not None and parsing.reading is not RECEIVED:
            parsing.client_gone()
            self.abort()
            return None
        if self.queue:
            self.eof = True
            return True
        return None

    def pause_writing(self) -> None:
        self.write_paused = True
        self.write_paused_at = self.proxy.now
        if self.tunnel is not None:
            self.tunnel.pause_reading()
        elif self.queue:
            self.queue[0].client_paused()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self.tunnel is not None:
            self.tunnel.resume_reading()
        elif self.queue:
            self.queue[0].client_resumed()

    def pause_reading_for(self, reason: int) -> None:
        if not self.pauses and self.transport is not None and not self.closing:
            self.transport.pause_reading()
        self.pauses |= reason

    def resume_reading_for(self, reason: int) -> None:
        if not self.pauses & reason:
            return
        self.pauses &= ~reason
        if not self.pauses and self.transport is not None and not self.closing:
            self.transport.resume_reading()

    # ------------------------------------------------------------------ parser callbacks

    def on_message_begin(self) -> None:
        proxy = self.proxy
        self.parsing = exchange = Exchange(self, proxy)
        exchange.started = _monotonic()  # the duration histogram and the access log
        self.head_size = 0
        self.header_count = 0
        self.deadline = proxy.now + proxy.header_timeout

    def on_url(self, url: bytes) -> None:
        exchange = self.parsing
        assert exchange is not None
        so_far = exchange.url  # mostly empty: llhttp gives a whole target in one piece
        url = exchange.url = so_far + url if so_far else url
        if len(url) > wire.MAX_HEAD:
            exchange.reject(414, "request line over 32 KiB")
            raise _Stop

    def on_header(self, name: bytes, value: bytes) -> None:
        exchange = self.parsing
        assert exchange is not None
        self.head_size += len(name) + len(value) + 4
        self.header_count += 1
        if self.head_size > wire.MAX_HEAD or self.header_count > wire.MAX_HEADERS:
            exchange.reject(431, "header block over 32 KiB or 100 lines")
            raise _Stop
        if name == b"Host":  # every request has one, and mostly spelled so: no lower() for it
            exchange.special(b"host", value)
        elif lowered := wire.named(_SPECIAL_NAMES, name):
            exchange.special(lowered, value)
            if exchange.rejected is not None:
                raise _Stop
        else:
            lines = exchange.lines  # appends: native list operations in the compiled build
            lines.append(name)
            lines.append(b": ")
            lines.append(value)
            lines.append(b"\r\n")

    def on_headers_complete(self) -> None:
        exchange = self.parsing
        assert exchange is not None
        parser = self.parser
        exchange.head_size = self.head_size
        keep_alive = parser.should_keep_alive()
        # llhttp keeps an HTTP/1.0 request alive only when a Connection or Proxy-Connection header
        # says keep-alive: with neither, a request kept alive is HTTP/1.1. httptools builds the
        # version text with str.format (a tenth of the request's own work), so it is asked only
        # when the answer is not already known.
        if keep_alive and exchange.connection is None and not exchange.proxy_connection:
            version = "1.1"
        else:
            version = parser.get_http_version()
        exchange.head_complete(parser.get_method(), version, keep_alive)
        proxy = self.proxy
        self.deadline = proxy.now + proxy.body_timeout
        self.queue.append(exchange)
        if len(self.queue) == 1:
            exchange.start()
        else:
            self.pause_reading_for(PAUSE_PIPELINE)
        if exchange.rejected is not None:
            raise _Stop  # nothing after a malformed head is read; the answer closes

    def on_body(self, body: bytes) -> None:
        exchange = self.parsing
        assert exchange is not None
        self.deadline = self.proxy.now + self.proxy.body_timeout
        exchange.body(body)

    def on_message_complete(self) -> None:
        exchange = self.parsing
        assert exchange is not None
        self.parsing = None
        exchange.body_end()

    # ------------------------------------------------------------------ answering in order

    def finished(self, exchange: ExchangeBase, keep_alive: bool) -> None:
        """The exchange at the head of the queue has written its whole answer."""
        if self.queue and self.queue[0] is exchange:
            self.queue.popleft()
        exchange.parser = None  # the backend connection's, which may serve the next request
        if not keep_alive or self.closing or self.last or (self.eof and not self.queue):
            self.close()
            return
        if self.pauses & PAUSE_UPGRADE and self.tunnel is None:
            self._upgrade_refused()
            return
        if self.queue:
            self.queue[0].start()
            if len(self.queue) <= 1:
                self.resume_reading_for(PAUSE_PIPELINE)
            return
        self.resume_reading_for(PAUSE_PIPELINE)
        if self.parsing is None:
            self.deadline = self.proxy.now + self.proxy.keep_alive_timeout

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        self.closing = True

    def abort(self) -> None:
        """End the connection abruptly: the client must see a truncated answer, not a short one."""
        self.closing = True
        if self.transport is not None:
            self.transport.abort()

    def wind_down(self) -> None:
        """The gateway is stopping: close now if idle, else after the answer in progress."""
        self.last = True
        if not self.queue and self.parsing is None:
            self.close()

    def sweep(self, now: float) -> None:
        """Called about twice a second: client and backend deadlines."""
        if self.queue:
            self.queue[0].sweep(now)
        if now < self.deadline or self.closing or self.tunnel is not None:
            return
        parsing = self.parsing
        if parsing is None and not self.queue:
            self.close()  # idle keep-alive connection
        elif parsing is not None and parsing.reading is HEAD:
            self._timed_out(parsing, "request headers")
        elif (
            parsing is not None and parsing.reading is not RECEIVED and parsing.body_started_at_head
        ):
            self._timed_out(parsing, "request body")

    def _timed_out(self, exchange: Exchange, what: str) -> None:
        if exchange in self.queue and exchange is not self.queue[0]:
            exchange.client_gone()
            self.abort()
            return
        exchange.timed_out_reading(what)

    # ------------------------------------------------------------------ malformed input

    def _malformed(self, exc: Exception) -> None:
        exchange = self.parsing
        if exchange is None:  # bytes between requests that do not start one
            exchange = Exchange(self, self.proxy)
        cause = exc.__context__
        if isinstance(exc, httptools.HttpParserCallbackError) and not isinstance(cause, _Stop):
            # a fault of the gateway itself, raised inside a parser callback
            log.error("request handling failed", exc_info=cause)
            exchange.reject(500, "internal error")
        if exchange.rejected is None:
            if exchange.reading is not HEAD:
                exchange.reject_body(f"malformed request body: {exc}")
            else:
                status = 414 if isinstance(exc, httptools.HttpParserInvalidURLError) else 400
                if status == 414 and len(exchange.url) <= wire.MAX_HEAD:
                    status = 400
                exchange.reject(status, f"malformed request: {exc}")
        self.parsing = None
        self.closing_after_queue(exchange)

    def closing_after_queue(self, exchange: Exchange) -> None:
        """Stop reading; answer `exchange` after those before it, then close."""
        self.pause_reading_for(PAUSE_PIPELINE)
        if exchange not in self.queue and exchange.answering is not DONE:
            self.queue.append(exchange)
            if len(self.queue) == 1:
                exchange.start()

    def _spaced_request_line(self) -> None:
        """A read starts with a request line with repeated spaces (wire.spaced_request_line;
        checked where a request line starts a read, the usual case): 400, then close."""
        exchange = Exchange(self, self.proxy)
        exchange.reject(400, "request line with repeated spaces")
        self.closing_after_queue(exchange)

    def _head_budget(self, received: int) -> None:
        """A head still incomplete after this read: cap what the parser buffers for it."""
        self.head_size += received
        exchange = self.parsing
        if self.head_size > 2 * wire.MAX_HEAD and exchange is not None:
            status = 414 if self.header_count == 0 else 431
            exchange.reject(status, "request head too large")
            self.parsing = None
            self.closing_after_queue(exchange)

    def _upgraded(self, rest: bytes) -> None:
        """llhttp stopped after an Upgrade (or CONNECT) head."""
        exchange = self.queue[-1] if self.queue else None
        if exchange is None or exchange.rejected is not None:
            self.pause_reading_for(PAUSE_PIPELINE)
        elif not exchange.wants_tunnel:
            # an Upgrade we do not tunnel (h2c, HTTP/1.0): an ordinary request; parse on
            self.parser = httptools.HttpRequestParser(self)
            if rest:
                self.data_received(rest)
        else:
            self.held = rest
            self.pause_reading_for(PAUSE_UPGRADE)

    def _upgrade_refused(self) -> None:
        """The backend answered an Upgrade request without 101: HTTP goes on. The parser stopped
        at the upgrade, so a fresh one takes the bytes held since."""
        self.parser = httptools.HttpRequestParser(self)
        held, self.held = self.held, b""
        self.pauses &= ~PAUSE_UPGRADE
        if held:
            self.data_received(held)
        if not self.pauses and self.transport is not None and not self.closing:
            self.transport.resume_reading()

    def tunnel_ended(self, side: int) -> bool | None:
        """One side of a tunnel finished sending: half-close the other; when both have, close
        both (returning None lets the transport that saw the EOF close itself)."""
        self.tunnel_done |= side
        tunnel = self.tunnel
        assert tunnel is not None
        assert self.transport is not None
        if self.tunnel_done == TUNNEL_CLIENT_DONE | TUNNEL_BACKEND_DONE:
            tunnel.close()
            self.close()
            return None
        other = tunnel if side == TUNNEL_CLIENT_DONE else self.transport
        if other.can_write_eof():
            other.write_eof()
            return True
        return None

    def start_tunnel(self, backend: asyncio.Transport, exchange: ExchangeBase) -> None:
        self.tunnel = backend
        self.tunnelled = exchange
        self.deadline = float("inf")
        held, self.held = self.held, b""
        if held:
            backend.write(held)
        self.resume_reading_for(PAUSE_UPGRADE | PAUSE_PIPELINE)


_READ: Final = frozenset({b"host", b"content-length", b"expect", b"x-forwarded-for", b"cookie"})
# the headers Exchange.special sees, arranged for wire.named (found without lowering a name)
_SPECIAL: Final = wire.HOP_BY_HOP | wire.OWN_REQUEST_HEADERS | _READ
_SPECIAL_NAMES: Final = wire.name_table(_SPECIAL)
