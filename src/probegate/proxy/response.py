"""The answer's half of an exchange: httptools parses the backend's response, the client gets it.

Rules of this module:
- the response head is rebuilt: its header lines are forwarded as the backend wrote them, minus
  hop-by-hop headers and those the backend's `Connection` names; framing is the gateway's own
  (the backend's Content-Length kept, chunked re-encoded, a close-delimited body chunked for
  HTTP/1.1 clients);
- a final answer's head is read from its bytes once llhttp has accepted it whole (no callback
  per header); a 1xx, a rewrite or a first read too short to show the status code go through
  the connection's `fields` parser, one `on_header` per line;
- framing errors (bad or repeated Content-Length, a Transfer-Encoding other than one `chunked`,
  garbage) are 502 before any byte reached the client and a cut connection after; the backend
  connection is pooled only once the read that ended the answer is parsed whole, and never after
  a surprise;
- interim answers: 100 is dropped (the gateway sends its own), others go to HTTP/1.1 clients;
  101 starts a tunnel only for a request that asked for one;
- the parser callbacks are the hot path and run long on purpose; output is collected in `out`
  and written once per backend read;
- `answering` moves SENT → INTERIM → SENT, SENT → RELAYING → DONE here (the table is in
  lifecycle.py); every callback after DONE is ignored (the parser may go on with the rest of a
  read after the answer ended or failed).
"""

from __future__ import annotations

import asyncio
import logging
import time
from http import HTTPStatus
from typing import Any, Final

import httptools

from probegate.config.plan import Passive
from probegate.proxy import wire
from probegate.proxy.lifecycle import DONE, INTERIM, RECEIVED, RELAYING, SENT, ExchangeBase
from probegate.proxy.link import ClientLink
from probegate.proxy.request import RequestSide
from probegate.proxy.rewriting import rewrite_response
from probegate.proxy.upstream import BackendConnection

# A C static when compiled (`time.monotonic()` would look the attribute up on every call).
_monotonic: Final = time.monotonic

log = logging.getLogger("probegate.proxy")

# A head read from its bytes is kept until it is whole: at most this much of it (nginx's
# proxy_buffer_size is 4-8 KiB; past it, "upstream sent too big header" and a 502 there too).
MAX_HEAD_READ: Final = 65536
# A read up to this size is split into lines whole (the body's lines too); a larger one is cut
# at the head's end first.
_SPLIT_WHOLE: Final = 1024
TUNNEL_CLIENT_DONE: Final = 1
TUNNEL_BACKEND_DONE: Final = 2
# Status lines with the standard phrase (the backend's own phrase is not kept: RFC 9112 lets a
# client ignore it, and one callback less per response is measurable).
_STATUS_LINES: Final = {
    int(status): b"HTTP/1.1 %d %s\r\n" % (status, status.phrase.encode("ascii"))
    for status in HTTPStatus
}
_DROPPED: Final = wire.HOP_BY_HOP | {b"content-length"}


_DROPPED_NAMES: Final = wire.name_table(_DROPPED)
_COOKIE: Final = (
    b"Set-Cookie: %s=%s; Path=/\r\nSet-Cookie: %sCORS=%s; Path=/; SameSite=None; Secure\r\n"
)


class ResponseSide(RequestSide):
    __slots__ = ()

    # ------------------------------------------------------------------ backend events

    def backend_data(self, data: bytes) -> None:
        parser = self.parser
        if parser is None:  # the answer's first read chooses how its head is read
            connection = self.backend
            assert connection is not None
            if self.rewritten is None and wire.final_status_line(data):
                parser = connection.parser
                self.head_data = data
            else:
                parser = connection.fields_parser()
            assert parser is not None
            self.parser = parser
        elif (pending := self.head_data) is not None:  # a head read from its bytes, not whole yet
            if isinstance(pending, bytes):  # grown in place from here: linear, even a byte a read
                pending = self.head_data = bytearray(pending)
            if len(pending) + len(data) > MAX_HEAD_READ:
                self._backend_broken("the backend's response head is longer than 64 KiB")
                return
            pending += data
        self.deadline = self.proxy.now + self.timeout
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade as upgrade:
            self.flush()
            self._tunnel(data[upgrade.args[0] :] if upgrade.args else b"")
            return
        except httptools.HttpParserError as exc:
            if isinstance(exc, httptools.HttpParserCallbackError):
                log.error("response handling failed", exc_info=exc.__context__)
            if self.answering is not DONE:
                self._backend_broken(f"the backend sent an invalid response: {exc}")
                return
            self.poisoned = True  # bytes after the answer that are not a response
        self.flush()
        release = self.release
        if release is not None:  # the answer ended in this read: pool the connection only now,
            self.release = None  # once it is known that nothing followed the answer
            pool = self.pool
            if self.poisoned or pool is None:
                release.close()
            else:
                pool.give_back(release, self.proxy.now)

    def _backend_broken(self, why: str) -> None:
        self.fail(502, f"{why}\n")

    def client_paused(self) -> None:
        if self.backend is not None:
            self.backend.pause_reading()

    def client_resumed(self) -> None:
        if self.backend is not None:
            self.backend.resume_reading()

    # ------------------------------------------------------------------ parser callbacks

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header line, from the `fields` parser (a head not read from its bytes)."""
        if self.answering is DONE:
            return
        lowered = wire.named(_DROPPED_NAMES, name)
        if lowered:
            self._framing_header(lowered, value)
            return
        lines = self.resp_lines  # appends: native list operations in the compiled build
        lines.append(name)
        lines.append(b": ")
        lines.append(value)
        lines.append(b"\r\n")

    def _framing_header(self, lowered: bytes, value: bytes) -> None:
        """A header the gateway does not forward as it is: framing and hop-by-hop."""
        if lowered == b"content-length":
            self.resp_length = value
        elif lowered == b"transfer-encoding":
            # llhttp frames a response by any coding list ending in chunked, and by the
            # connection's end otherwise; the gateway accepts exactly one `chunked`
            self.resp_te = value if self.resp_te is None else self.resp_te + b",," + value
            self.resp_chunked = True
        elif lowered == b"connection":
            conn = self.resp_connection
            self.resp_connection = value if conn is None else conn + b"," + value
        elif lowered == b"upgrade":
            self.resp_upgrade = value

    def _read_head(self, data: bytes) -> None:
        """The header lines of the head at the start of `data` (llhttp has accepted it), in
        one pass that calls no method per line: each stretch of lines with no framing or
        hop-by-hop header among them goes to `resp_lines` as one slice of `data` (CRLFs
        included), where the per-header callback puts (name, ": ", value, CRLF) quadruples."""
        if len(data) > _SPLIT_WHOLE:  # a large read: find the head's end before splitting
            data = data[: data.find(b"\r\n\r\n") + 2]
        lines = data.split(b"\r\n")  # the head's lines, a blank one, maybe some of the body
        kept = self.resp_lines
        pos = start = len(lines[0]) + 2  # where the line being looked at starts in `data`
        for i in range(1, len(lines)):
            line = lines[i]
            size = len(line)
            if not size:
                break  # the blank line that ends the head
            name = wire.named(_DROPPED_NAMES, line)
            if name:
                if pos > start:
                    kept.append(data[start:pos])
                j = len(name) + 1
                while j < size and (line[j] == 32 or line[j] == 9):  # the value's leading OWS
                    j += 1
                self._framing_header(name, line[j:])
                start = pos + size + 2
            pos += size + 2
        if pos > start:
            kept.append(data[start:pos])

    def _live_status(self, passive: Passive, status: int) -> None:
        """Live traffic as health evidence (passiveHealth): this answer's status counts."""
        if self.upstream is not None:
            self.proxy.evidence.failed_status(self.upstream.key, passive, status)

    def on_headers_complete(self) -> None:  # noqa: PLR0915 - the hot path, one piece on purpose
        if self.answering is DONE:
            return
        parser = self.parser
        assert parser is not None
        pending = self.head_data
        data = None
        if pending is not None:
            self.head_data = None
            data = pending if isinstance(pending, bytes) else bytes(pending)  # over several reads
            self._read_head(data)
        status = parser.get_status_code()
        if status < 200 and status != 101:
            self._interim(status)
            return
        if status == 101 and not self.wants_tunnel:
            self._backend_broken("the backend switched protocols unasked")
            return
        if self.resp_te is not None and self.resp_te.strip(b" \t").lower() != b"chunked":
            self._backend_broken("the backend framed its answer with an unsupported coding")
            return
        self.status = status
        if self.rewritten is not None:
            rewrite_response(self, status)
        info = self.info
        if info is not None and info.backend is not None and info.backend.passive is not None:
            self._live_status(info.backend.passive, status)
        connection = self.resp_connection
        lines = self.resp_lines
        if connection is not None and not _plain_connection(connection):
            # it may name other headers to drop; without_named reads quadruples
            lines = wire.without_named(
                lines if data is None else wire.quadruples(lines),
                wire.connection_tokens(connection),
            )
        length = self.resp_length
        if length is not None and not self.resp_chunked and status != 101:
            framing = b"Content-Length: %s\r\n" % length  # the common case, inline
        else:
            framing = b"".join(self._framing(status))
        cookie = b""
        if self.set_cookie is not None:
            info = self.info
            assert info is not None
            assert info.backend is not None
            name = info.backend.cookie
            cookie = _COOKIE % (name, self.set_cookie, name, self.set_cookie)
        close = b""
        if status != 101:
            if (
                not self.keep_alive
                or self.close_after
                or self.reading is not RECEIVED
                or self.client.last
            ):
                close = b"Connection: close\r\n"
            elif self.version == "1.0":
                close = b"Connection: keep-alive\r\n"
        # `%` on bytes operands compiles to one allocation and copies; `join` only for the lines
        joined = b"%s%s%s%s%s\r\n" % (
            _STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status,
            b"".join(lines),
            framing,
            cookie,
            close,
        )
        self.out.append(joined)
        self.sent_bytes = len(joined)
        self.answering = RELAYING
        self.latency = latency = _monotonic() - self.sent_at
        pool = self.pool
        assert pool is not None
        pool.statuses[status // 100 if status < 600 else 0] += 1
        pool.latency_sum += latency
        pool.latency_count += 1
        if self.method == b"HEAD" and status != 101:
            # httptools cannot be told a HEAD response has no body: it ends here, and this
            # connection is not reused (the parser would wait for Content-Length bytes)
            self.resp_length = None
            self._complete(reusable=False)

    def _framing(self, status: int) -> list[bytes]:
        if status == 101:
            return [b"Connection: upgrade\r\nUpgrade: ", self.resp_upgrade or b"", b"\r\n"]
        if self.method == b"HEAD" or status in {204, 304}:
            if self.resp_length is not None and status != 204:
                return [b"Content-Length: ", self.resp_length, b"\r\n"]
            return []
        if self.resp_length is not None and not self.resp_chunked:
            return [b"Content-Length: ", self.resp_length, b"\r\n"]
        if self.version == "1.1":
            self.rechunk = True
            return [b"Transfer-Encoding: chunked\r\n"]
        self.close_after = True  # HTTP/1.0 client: the body ends when the connection does
        return []

    def _interim(self, status: int) -> None:
        if status != 100 and self.version == "1.1":
            line = _STATUS_LINES.get(status) or b"HTTP/1.1 %d Unknown\r\n" % status
            head = [line, *self.resp_lines, b"\r\n"]
            self.out.append(b"".join(head))
        self.answering = INTERIM
        self.resp_lines = []
        self.resp_length = None
        self.resp_connection = None

    def on_body(self, body: bytes) -> None:
        if self.answering is DONE:
            return
        self.sent_bytes += len(body)
        self.out.append(wire.chunk(body) if self.rechunk else body)

    def on_message_begin(self) -> None:
        if self.answering is DONE:
            self.poisoned = True  # a second answer to one request: never reuse this connection

    def on_message_complete(self) -> None:
        answering = self.answering
        if answering is DONE or self.status == 101:
            return  # 101: the tunnel starts when httptools stops at the upgrade
        if answering is INTERIM:
            self.answering = SENT
            return
        if self.rechunk:
            self.out.append(wire.LAST_CHUNK)
        self._complete()

    # ------------------------------------------------------------------ the end of an answer

    def _complete(self, *, reusable: bool = True) -> None:
        self.answering = DONE
        self.flush()
        connection, self.backend = self.backend, None
        parser = self.parser
        received = self.reading is RECEIVED
        if connection is not None:
            # connection.exchange stays set: the rest of this read is still parsed for this
            # exchange (a second answer poisons the connection); pooling or closing clears it
            keep = reusable and received and parser is not None and parser.should_keep_alive()
            if keep and self.pool is not None:
                self.release = connection  # pooled by backend_data once this read is parsed
            else:
                connection.close()
        self.proxy.count_done(self, self.status, self.info, self.started)
        self.client.finished(self, self.keep_alive and not self.close_after and received)

    def _tunnel(self, rest: bytes) -> None:
        """The backend accepted the Upgrade: from here on, bytes flow both ways unparsed."""
        connection = self.backend
        client = self.client
        if connection is None or connection.transport is None or client.transport is None:
            client.abort()
            return
        self.answering = DONE
        connection.exchange = None
        connection.parser = None  # the tunnel reads from here on; the parser's cycle is broken
        connection.pool.forget(connection)
        tunnel = _Tunnel(client, connection, self)
        connection.transport.set_protocol(tunnel)
        if rest:
            client.transport.write(rest)
            self.sent_bytes += len(rest)
        client.start_tunnel(connection.transport, self)
        if connection.paused:
            connection.transport.resume_reading()


class _Tunnel(asyncio.Protocol):
    """The backend side of an upgraded connection: bytes to the client, close follows close."""

    def __init__(
        self,
        client: ClientLink[Any],
        connection: BackendConnection,
        exchange: ExchangeBase,
    ) -> None:
        assert client.transport is not None
        self.client = client
        self.to_client = client.transport
        self.connection = connection
        self.exchange = exchange  # counts the bytes sent to the client, for the access log

    def data_received(self, data: bytes) -> None:
        self.to_client.write(data)
        self.exchange.sent_bytes += len(data)

    def eof_received(self) -> bool | None:
        """The backend finished sending: pass the half-close on; once both sides have
        finished, the tunnel is over."""
        return self.client.tunnel_ended(TUNNEL_BACKEND_DONE)

    def connection_lost(self, exc: Exception | None) -> None:  # noqa: ARG002
        self.connection.closed = True
        self.client.close()

    def pause_writing(self) -> None:
        self.to_client.pause_reading()

    def resume_writing(self) -> None:
        self.to_client.resume_reading()


def _plain_connection(value: bytes) -> bool:
    """`Connection: keep-alive` or `close`, which name no other header."""
    if value in (b"keep-alive", b"close"):  # compiled: two comparisons
        return True
    n = len(value)
    return (n == 10 and wire.lower_equals(value, b"keep-alive")) or (
        n == 5 and wire.lower_equals(value, b"close")
    )
