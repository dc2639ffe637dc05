"""One proxied request's lifecycle: its fields, its two phases, and the ways an exchange ends.

An exchange has two sides that progress at once (a body may still be uploading while the answer
streams back), so it keeps one phase per side, as h11 keeps one state per role. Everything that
moves a phase is in lifecycle.py, request.py, response.py and exchange.py, and follows these tables.

`reading`: how far the client's request has been read (client.py feeds it)

    phase     follows         moves on when                        fields it fills
    HEAD      (new)           the head is complete → BODY          url, lines, host, host_count,
                                                                   length, te_*, connection,
                                                                   proxy_connection, upgrade,
                                                                   expect, xff, cookies,
                                                                   head_size, rejected
    BODY      HEAD            the body ended, broke its framing,   method, version, keep_alive,
                              went over the limit → RECEIVED       path, query, authority, info,
                                                                   local, chunked, wants_tunnel,
                                                                   body_size, body_started,
                                                                   pending, pending_size
    RECEIVED  BODY            (final)                              -

`answering`: how far its answer has got (at most one exchange per connection is past WAITING)

    phase       follows                     moves on when                         fields it fills
    WAITING     (new)                       its turn comes (start): a pooled      -
                                            connection → SENT, a new one →
                                            CONNECTING; a local answer → DONE
    CONNECTING  WAITING, SENT, INTERIM,     connected → SENT; connect failed →    trace, timeout,
                CONNECTING                  CONNECTING (the next target), or      upstream, pool,
                                            DONE (502)                            connecting, tried,
                                                                                  retried, set_cookie
    SENT        WAITING, CONNECTING,        a 1xx head → INTERIM; the final head  backend, parser,
                INTERIM                     → RELAYING; a retry → CONNECTING;     reused, deadline,
                                            502/504 → DONE                        sent_at, head_data,
                                                                                  continue_sent
    INTERIM     SENT                        the 1xx ended → SENT; a retry →       resp_lines (reset
                                            CONNECTING; 502/504 → DONE            when it ends)
    RELAYING    SENT                        the answer ended, or was cut → DONE   status, latency,
                                                                                  out, sent_bytes,
                                                                                  resp_*, rechunk,
                                                                                  close_after
    DONE        any                         (final: nothing more is written for   release, poisoned,
                                            it; a 101 made it a tunnel)           error_info

A retry (back to CONNECTING) is allowed only before RELAYING: once a response byte reached the
client, a failure cuts the connection instead. `answering >= RELAYING` is "the client has seen
(or will never see) this answer's head", the test every failure path makes.

Not phases, and so booleans: `retried` (the one retry a request may have is spent), and facts
decided once that shape the bytes rather than the progress: `chunked`, `te_trailers`,
`wants_tunnel`, `body_started`, `body_started_at_head`, `continue_sent` (the request's), and
`resp_chunked`, `rechunk` (re-encode the body as chunked), `close_after` (an HTTP/1.0 client's
body ends with the connection), `poisoned` (the backend sent more than one answer: its connection
is never reused) for the answer.

Rules of this module:
- every field is declared here, once: the hot ones are slots set in `__init__`; the rest are
  class-level defaults that an instance overrides in its `__dict__` only when a request needs
  them (a plain GET writes none, so it allocates no `__dict__`: see commit 3ecb9bd);
- phases are compared through the module-level names below (`DONE`, not `AnswerPhase.DONE`:
  an enum attribute read costs ten times a global on the hot path);
- an exchange ends through `_answer` (a local answer), `fail` (the backend failed it),
  `client_gone`, or the answer's `_complete` (response.py); each sets `answering = DONE` once.
"""

from __future__ import annotations

import asyncio
from enum import IntEnum
from typing import Any, Final

import httptools

from probegate.config.errorpages import CONTENT_TYPE
from probegate.proxy import wire
from probegate.proxy.context import ProxyContext
from probegate.proxy.link import ClientLink
from probegate.proxy.rewrite import Rewritten
from probegate.proxy.tables import RouteInfo, Upstream
from probegate.proxy.upstream import BackendConnection, Carried, ConnectionPool


class RequestPhase(IntEnum):
    HEAD = 0
    BODY = 1
    RECEIVED = 2


class AnswerPhase(IntEnum):
    WAITING = 0
    CONNECTING = 1
    SENT = 2
    INTERIM = 3
    RELAYING = 4
    DONE = 5


# Final: the compiled build keeps each in a C static instead of a module dictionary.
HEAD: Final = RequestPhase.HEAD
BODY: Final = RequestPhase.BODY
RECEIVED: Final = RequestPhase.RECEIVED
WAITING: Final = AnswerPhase.WAITING
CONNECTING: Final = AnswerPhase.CONNECTING
SENT: Final = AnswerPhase.SENT
INTERIM: Final = AnswerPhase.INTERIM
RELAYING: Final = AnswerPhase.RELAYING
DONE: Final = AnswerPhase.DONE

# The tables above as data (the tests check every transition a run makes against them).
READING_NEXT: Final[dict[RequestPhase, frozenset[RequestPhase]]] = {
    HEAD: frozenset({BODY}),
    BODY: frozenset({RECEIVED}),
    RECEIVED: frozenset(),
}
ANSWERING_NEXT: Final[dict[AnswerPhase, frozenset[AnswerPhase]]] = {
    WAITING: frozenset({CONNECTING, SENT, DONE}),
    CONNECTING: frozenset({CONNECTING, SENT, DONE}),
    SENT: frozenset({INTERIM, RELAYING, CONNECTING, DONE}),
    INTERIM: frozenset({SENT, CONNECTING, DONE}),
    RELAYING: frozenset({DONE}),
    DONE: frozenset(),
}


class ExchangeBase(Carried):
    """The state of one exchange, and how it ends; `Exchange` (exchange.py) is the whole."""

    __slots__ = (
        "__dict__",  # for the rarely used fields below, created only when one is written
        "answering",
        "backend",
        "client",
        "deadline",
        "head_data",
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
        "proxy",
        "query",
        "reading",
        "rejected",
        "release",
        "resp_connection",
        "resp_length",
        "resp_lines",
        "reused",
        "sent_at",
        "sent_bytes",
        "started",
        "status",
        "timeout",
        "trace",
        "upstream",
        "url",
        "version",
    )

    # the request's rarely used fields
    te_value: bytes | None = None
    te_count = 0
    chunked = False
    connection: bytes | None = None
    proxy_connection = False  # the request had a Proxy-Connection header (dropped)
    upgrade: bytes | None = None
    expect: bytes | None = None
    xff: bytes | None = None
    cookies: list[bytes] | None = None
    te_trailers = False
    body_started = False
    body_started_at_head = False  # the head announced a body (Content-Length or chunked)
    body_size = 0
    authority: bytes | None = None  # from an absolute-form target
    wants_tunnel = False
    pending: list[bytes] | None = None  # body held while no backend connection is attached
    pending_size = 0
    # the answer's rarely used fields
    local: tuple[int, str, tuple[tuple[bytes, bytes], ...]] | None = None  # status, body, headers
    connecting: asyncio.Task[None] | None = None
    tried: tuple[tuple[Upstream, str], ...] = ()  # the targets that failed it, and why
    retried = False
    continue_sent = False
    set_cookie: bytes | None = None
    resp_chunked = False
    resp_te: bytes | None = None  # the response's Transfer-Encoding, when it has one
    resp_upgrade: bytes | None = None
    rechunk = False
    close_after = False
    poisoned = False
    error_info = ""  # why the gateway answered itself, for the access log
    rewritten: Rewritten | None = None  # set only when the route has a rewrite set (rewriting.py)

    # The connection carries `Exchange`s (the whole, exchange.py): `Any` here, as this base
    # class cannot name its own subclass; the compiled build erases the parameter anyway.
    def __init__(self, client: ClientLink[Any], proxy: ProxyContext) -> None:
        self.client = client
        self.proxy = proxy
        self.reading = HEAD
        self.answering = WAITING
        self.started = 0.0  # monotonic: when the request's first byte was parsed (client.py)
        self.url = b""
        self.lines: list[bytes] = []  # header lines forwarded as parsed: name, ": ", value, CRLF
        self.host: bytes | None = None
        self.host_count = 0
        self.length: int | None = None
        self.rejected: tuple[int, str] | None = None  # answered by the gateway: status, reason
        self.head_size = 0  # bytes of header lines received
        self.method = b""
        self.version = "1.1"
        self.keep_alive = True
        self.path = b"/"
        self.query: bytes | None = None
        self.info: RouteInfo | None = None
        self.upstream: Upstream | None = None
        self.pool: ConnectionPool | None = None
        self.backend: BackendConnection | None = None
        self.reused = False
        self.trace = b""
        self.timeout = 0.0  # requestTimeout of the settings
        self.deadline = 0.0  # coarse clock: the backend must have said something by then
        self.sent_at = 0.0  # monotonic: the request head went to the backend
        # the backend connection's parser for this answer, chosen by its first read; the bytes
        # of the answer's head until it is whole, when it is read from its bytes (response.py)
        self.parser: httptools.HttpResponseParser | None = None
        self.head_data: bytes | bytearray | None = None
        self.status = 0
        self.latency = 0.0  # seconds from sending the head to the response head
        self.resp_lines: list[bytes] = []
        self.resp_length: bytes | None = None
        self.resp_connection: bytes | None = None
        self.out: list[bytes] = []  # answer bytes gathered during one backend read
        self.sent_bytes = 0
        self.release: BackendConnection | None = None  # to pool once the read is parsed

    # ------------------------------------------------------------------ how an exchange ends

    def _may_keep(self) -> bool:
        """A local answer keeps the connection only if no request body is left unread."""
        return self.keep_alive and (self.reading is RECEIVED or not self.body_started_at_head)

    def _answer(
        self,
        status: int,
        body: str = "",
        headers: tuple[tuple[bytes, bytes], ...] = (),
        *,
        keep: bool,
    ) -> None:
        """An answer the gateway makes itself; `Connection: close` when the connection ends."""
        if self.answering is DONE:
            return
        self.answering = DONE
        client = self.client
        if client.transport is not None and not client.closing:
            client.transport.write(self._own_answer(status, body, headers, close=not keep))
        self._count_local(status)
        client.finished(self, keep)

    def _own_answer(
        self, status: int, body: str, headers: tuple[tuple[bytes, bytes], ...], *, close: bool
    ) -> bytes:
        """The gateway's own answer: its custom error page for that status if one is configured
        (the route's listener's, else the port's), else the plain text answer."""
        head_only = self.method == b"HEAD"  # a HEAD answer never carries a body
        tables = self.proxy.tables
        if status >= 400 and tables.has_pages:
            info = self.info
            pages = (
                info.route.listener.error_pages
                if info is not None
                else tables.pages.get(self.client.local_port, {})
            )
            found = pages.get(status)
            if found is not None:
                rejected = self.rejected[1] if self.rejected is not None else ""
                reason = self.error_info or rejected or body or f"{status}"
                return wire.page(
                    status, found.body, CONTENT_TYPE, reason, close=close, headers=headers,
                    head_only=head_only,
                )  # fmt: skip
        return wire.answer(status, body, close=close, headers=headers, head_only=head_only)

    def _count_local(self, status: int) -> None:
        if not self.error_info and self.rejected is not None:
            self.error_info = self.rejected[1]
        self.proxy.count_done(self, status, self.info, self.started)

    def fail(self, status: int, body: str) -> None:
        """The backend failed this request. Before any response byte: an answer; after: a cut."""
        self._drop_backend()
        self.error_info = body.strip()
        self.proxy.failed += 1
        if self.answering is RELAYING:
            self.answering = DONE  # nothing more of the backend's answer is relayed
            self.flush()
            self.client.abort()
            return
        self._answer(status, body, keep=self._may_keep())

    def flush(self) -> None:
        out = self.out
        if not out:
            return
        n = len(out)  # a head and a body, most often: `%` compiles to one allocation and copies
        data = out[0] if n == 1 else b"%s%s" % (out[0], out[1]) if n == 2 else b"".join(out)
        out.clear()
        transport = self.client.transport
        if transport is not None and not self.client.closing:
            transport.write(data)

    def backend_writable(self, writable: bool) -> None:
        """The backend connection's send buffer: while it is full, the client's reads wait."""
        if writable:
            self.client.resume_reading_for(wire.PAUSE_BACKEND)
        else:
            self.client.pause_reading_for(wire.PAUSE_BACKEND)

    def _drop_backend(self) -> None:
        connection, self.backend = self.backend, None
        if connection is not None:
            connection.close()
        task, self.connecting = self.connecting, None
        if task is not None:
            task.cancel()

    def client_gone(self) -> None:
        self.answering = DONE
        self._drop_backend()
        self.parser = None
