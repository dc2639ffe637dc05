"""The response side of one probe (httptools callbacks), and the `asyncio.Protocol` that feeds it
on the transport path (TLS, DNS members).

Rules of this module:
- it only collects: bytes in, the response head (and the body when it is judged), and when the
  wait is over; it decides nothing about health;
- reads are bounded: the head and the body each stop at `READ_CAP` bytes;
- the callbacks run on every chunk of every probe, so they stay inline and allocate little.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar, cast

import httptools

from probegate.config.effective import EffectiveProbe
from probegate.config.plan import Protocol
from probegate.health.observation import HttpFacts

READ_CAP = 64 * 1024  # bytes of response head, and of body, a probe reads at most
EXCERPT_BYTES = 48  # bytes of a malformed response quoted in the detail


def excerpt(data: bytes) -> str:
    """The first bytes as one printable, quoted line, for a detail."""
    shown = data[:EXCERPT_BYTES]
    text = "".join(chr(b) if 32 <= b < 127 else "." for b in shown)
    return repr(text + ("…" if len(data) > EXCERPT_BYTES else ""))


class ResponseReader:
    """The response side of one probe: bytes in, httptools callbacks, bounded reads. It decides
    nothing and does no I/O: `feed` takes what arrived, `done_reading` says the wait is over
    (head complete, body read or capped, garbage, or the connection lost)."""

    # httptools looks up every callback when it makes a parser (one per probe); a missing one
    # costs an AttributeError, one found as None is simply not called.
    on_message_begin: ClassVar[None] = None
    on_chunk_header: ClassVar[None] = None
    on_chunk_complete: ClassVar[None] = None

    def __init__(self, probe: EffectiveProbe) -> None:
        self.want_body = probe.match.value.body is not None
        self.parser: httptools.HttpResponseParser | None = httptools.HttpResponseParser(self)
        self.first = b""  # the first bytes of the response, quoted when they are not HTTP
        self.received = 0
        self.status = 0
        self.reason = bytearray()
        self.headers: list[tuple[str, str]] = []
        self.body = bytearray()
        self.truncated = False
        self.head_done = False
        self.done_reading = False
        self.error: str | None = None
        self.lost: BaseException | None = None
        self.finished: asyncio.Future[None] | None = None  # resolved when reading is over

    def feed(self, data: bytes) -> None:
        parser = self.parser
        if parser is None or self.done_reading:
            return
        if len(self.first) < EXCERPT_BYTES:
            self.first += data[: EXCERPT_BYTES - len(self.first)]
        self.received += len(data)
        try:
            parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.finish()  # a 101/upgrade head is still a complete head
        except httptools.HttpParserError as exc:
            self.error = f"not HTTP/1.x ({exc}): {excerpt(self.first)}"
            self.finish()
            return
        if not self.head_done and self.received > READ_CAP:
            self.error = f"response head larger than {READ_CAP} bytes: {excerpt(self.first)}"
            self.finish()

    def finish(self) -> None:
        """The wait is over (head complete, body read or capped, garbage, or lost)."""
        self.done_reading = True
        finished = self.finished
        if finished is not None and not finished.done():
            finished.set_result(None)

    def release_parser(self) -> None:
        """Drop the parser, which holds this reader's callbacks: no cycle is left for the
        collector (at thousands of probes a second, cycles are what it spends its time on)."""
        self.parser = None

    # ---------------------------------------------------------------- httptools callbacks

    def on_status(self, status: bytes) -> None:
        self.reason += status

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.decode("latin-1"), value.decode("latin-1")))

    def on_headers_complete(self) -> None:
        assert self.parser is not None
        status = self.parser.get_status_code()
        if 100 <= status < 200 and status != 101:  # interim (100 Continue): the real head follows
            self.reason.clear()
            self.headers.clear()
            return
        self.status = status
        self.head_done = True
        if not self.want_body:
            self.finish()

    def on_body(self, body: bytes) -> None:
        room = READ_CAP - len(self.body)
        if len(body) > room:
            self.truncated = True
            body = body[:room]
        self.body += body
        if self.truncated and self.want_body:
            self.finish()

    def on_message_complete(self) -> None:
        if self.head_done:
            self.finish()

    def facts(self) -> HttpFacts:
        return HttpFacts(
            status=self.status,
            reason=self.reason.decode("latin-1"),
            headers=tuple(self.headers),
            body=bytes(self.body),
            body_truncated=self.truncated,
        )


class ProbeConnection(asyncio.Protocol):
    """One probe connection over an asyncio transport (TLS, and members found through DNS): a
    `ResponseReader` fed by `data_received`, and one future that ends the runner's wait. The
    reader is held, not inherited: the compiled build has no multiple inheritance."""

    def __init__(self, probe: EffectiveProbe) -> None:
        self.reader = ResponseReader(probe)
        self.finished: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.reader.finished = self.finished
        self.tls_pending = probe.protocol.value is Protocol.HTTPS
        self.transport: asyncio.Transport | None = None
        self.raw: asyncio.Transport | None = None  # the TCP transport under TLS
        self.early = b""  # bytes that arrived before the TLS handshake

    # ---------------------------------------------------------------- transport side

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # a TCP transport; uvloop's does not subclass asyncio.Transport, hence the cast
        self.transport = self.raw = cast(asyncio.Transport, transport)

    def secured(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.tls_pending = False

    def send(self, request: bytes) -> None:
        assert self.transport is not None
        self.transport.write(request)

    def data_received(self, data: bytes) -> None:
        if self.finished.done():
            return
        if self.tls_pending:
            self.early += data[: READ_CAP - len(self.early)]
            return
        self.reader.feed(data)

    def eof_received(self) -> bool | None:
        return None  # let the transport close; connection_lost ends the wait

    def connection_lost(self, exc: Exception | None) -> None:
        self.reader.lost = exc
        self.reader.finish()

    def close(self, *, clean: bool) -> None:
        """Close after a complete plain exchange; abort otherwise (and always under TLS, whose
        polite shutdown would wait on the backend's close_notify)."""
        for transport in (self.transport, self.raw):
            if transport is None or transport.is_closing():
                continue
            if clean and transport is self.raw and self.transport is self.raw:
                transport.close()
            else:
                transport.abort()
        self.reader.release_parser()
