"""Malformed and borderline HTTP/1.1 input over real sockets: reliability.md section 1.5.

Each request-side case sends exact bytes to a running gateway and asserts three things:
- the statuses answered, in order (the row's "Expected" column; where it allows a choice, what
  probegate answers: 400 for most, 501 for a Transfer-Encoding other than exactly `chunked`, 505
  for a version other than 1.0/1.1, 405/400 for CONNECT, 414/431/413 for the size limits);
- whether the gateway closed the connection after them (a follow-up request on the same
  connection is answered, or the connection ends: no timer decides);
- the bytes the backend received: nothing for a rejected request, exactly one canonical request
  (the gateway's own framing, hop-by-hop headers gone) for an accepted one. A sentinel request on
  a fresh connection, answered by the backend, marks the point by which anything forwarded has
  arrived; every byte the backend received since the case began must then be accounted for by a
  complete request or a health probe.

Rows 15-17 and 27 (chunked) break the body after a valid head. The gateway streams bodies (SPEC
section 7), so with a warm backend connection the validated head, and the valid chunks before the
error, are already forwarded when the error is parsed; those cases accept such a prefix (the
gateway's own re-framed bytes, never the offending ones, never a last chunk) and require that
the backend never sees a complete request and that the connection carrying it is not reused.

The response-side rows (backend answers with broken framing, extra bytes, bodiless statuses) use
a scripted backend of their own; row 28 (`Expect: 100-continue`) and row 30 (Upgrade) need a
conversation and have their own tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import pytest
from typing_extensions import override

from probegate.demo.backends import wait_until
from probegate.demo.faults import GARBAGE
from tests.integration.proxykit import (
    RecordingBackend,
    Reply,
    RunningGateway,
    Seen,
    answer,
    config,
    free_port,
)

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

LIMIT = 1024 * 1024  # limits.maxRequestBodySizeInMb = 1 on the gateways of this module

GET = b"GET / HTTP/1.1\r\nHost: x\r\n"
POST = b"POST / HTTP/1.1\r\nHost: x\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"
CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"  # as forwarded
FOLLOW_UP = b"GET /again HTTP/1.1\r\nHost: x\r\n\r\n"  # same connection, after the case
SENTINEL = b"GET /sentinel HTTP/1.1\r\nHost: x\r\n\r\n"  # fresh connection, after the case
HARNESS_TARGETS = ("/again", "/sentinel")


# ====================================================================== the request-side table


@dataclass(frozen=True)
class Forwarded:
    """What the backend must receive for an accepted request (besides the gateway's headers)."""

    start: bytes  # the request line and the Host line, exactly
    body: bytes = b""
    chunked: bool = False  # framed `Transfer-Encoding: chunked` (else Content-Length if a body)
    present: tuple[tuple[str, str], ...] = ()  # (name, value): exactly one such line
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    data: bytes  # sent in one write
    statuses: tuple[int, ...]
    closed: bool
    forwarded: tuple[Forwarded, ...] = ()
    streamed: bytes | None = None  # body error after a valid head: the head it may have streamed


def bad(case_id: str, data: bytes, status: int = 400, *, streamed: bool = False) -> object:
    """Rejected: one answer from the gateway, the connection closed, nothing forwarded (a body
    error, `streamed`: at most the gateway's own head and chunks, never a complete request)."""
    head = CHUNKED_HEAD if streamed else None
    return pytest.param(Case(data, (status,), closed=True, streamed=head), id=case_id)


def ok(
    case_id: str,
    data: bytes,
    forwarded: Forwarded,
    *,
    closed: bool = False,
) -> object:
    """Accepted: the backend's 200, one canonical request forwarded."""
    return pytest.param(Case(data, (200,), closed, (forwarded,)), id=case_id)


def _chunks(total: int, size: int = 65536) -> bytes:
    out = b""
    while total > 0:
        piece = min(size, total)
        out += b"%x\r\n%s\r\n" % (piece, b"c" * piece)
        total -= piece
    return out


_HOP = ("connection", "keep-alive", "proxy-connection", "upgrade", "trailer")
_MANY = b"".join(b"X-%d: v\r\n" % i for i in range(99))  # with Host: 100 header lines
_BIG_LINES = b"".join(b"X-%d: %s\r\n" % (i, b"a" * 1000) for i in range(40))  # 40 KB in 40 lines

REQUEST_CASES = [
    # 1: CL + TE
    bad(
        "row01-cl-then-te",
        POST + b"Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    bad(
        "row01-te-then-cl",
        POST + b"Transfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n0\r\n\r\n",
    ),
    # 2: conflicting Content-Length
    bad("row02-two-differing", POST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
    bad("row02-list-differing", POST + b"Content-Length: 5, 10\r\n\r\nhello"),
    # 3: identical duplicates (probegate: 400 rather than collapsing)
    bad("row03-identical-twice", POST + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\na"),
    bad("row03-list-identical", POST + b"Content-Length: 1, 1\r\n\r\na"),
    # 4: invalid Content-Length values
    bad("row04-plus", POST + b"Content-Length: +1\r\n\r\na"),
    bad("row04-hex", POST + b"Content-Length: 0x1\r\n\r\na"),
    bad("row04-minus", POST + b"Content-Length: -1\r\n\r\na"),
    bad("row04-leading-zero", POST + b"Content-Length: 010\r\n\r\n0123456789"),
    bad("row04-empty", POST + b"Content-Length: \r\n\r\n"),
    bad("row04-inner-space", POST + b"Content-Length: 1 2\r\n\r\na"),
    bad("row04-suffix", POST + b"Content-Length: 1Z\r\n\r\na"),
    bad("row04-2pow64", POST + b"Content-Length: 18446744073709551616\r\n\r\na"),
    # 5, 6: Transfer-Encoding other than exactly chunked
    bad("row05-identity", POST + b"Transfer-Encoding: identity\r\n\r\n", 501),
    bad(
        "row05-chunked-identity", POST + b"Transfer-Encoding: chunked, identity\r\n\r\n"
    ),  # parser: 400
    bad("row05-xchunked", POST + b"Transfer-Encoding: xchunked\r\n\r\n0\r\n\r\n", 501),
    bad("row05-comma-chunked", POST + b"Transfer-Encoding: ,chunked\r\n\r\n0\r\n\r\n", 501),
    bad("row05-gzip", POST + b"Transfer-Encoding: gzip\r\n\r\n", 501),
    bad("row06-gzip-chunked", POST + b"Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
    # 7: Transfer-Encoding twice
    bad(
        "row07-te-twice",
        POST + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    bad("row07-chunked-chunked", POST + b"Transfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n"),
    # 8: Transfer-Encoding on HTTP/1.0 (probegate: 400)
    bad(
        "row08-te-http10",
        b"POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    ),
    # 9: whitespace before the colon
    bad("row09-te-space-colon", POST + b"Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n"),
    bad("row09-cl-space-colon", POST + b"Content-Length : 1\r\n\r\na"),
    bad("row09-cl-tab-colon", POST + b"Content-Length\t: 1\r\n\r\na"),
    # 10: whitespace before the first header line
    bad("row10-space-first-line", b"GET / HTTP/1.1\r\n Host: x\r\n\r\n"),
    bad("row10-tab-first-line", b"GET / HTTP/1.1\r\n\tX: y\r\nHost: x\r\n\r\n"),
    # 11: obs-fold
    bad("row11-obs-fold-space", GET + b"X: a\r\n b\r\n\r\n"),
    bad("row11-obs-fold-tab", GET + b"X: a\r\n\tb\r\n\r\n"),
    # 12: bare LF, bare CR
    bad("row12-bare-lf-everywhere", b"GET / HTTP/1.1\nHost: x\n\n"),
    bad("row12-bare-lf-in-headers", b"GET / HTTP/1.1\r\nHost: x\nX: y\r\n\r\n"),
    bad("row12-bare-cr-before-name", GET + b"\rX: y\r\n\r\n"),
    bad("row12-bare-cr-request-line", b"GET / HTTP/1.1\rHost: x\r\n\r\n"),
    # 13: NUL, CR, LF, and odd bytes around the Transfer-Encoding value
    bad("row13-nul-in-value", GET + b"X: a\x00b\r\n\r\n"),
    bad("row13-cr-in-value", GET + b"X: a\rb\r\n\r\n"),
    bad("row13-lf-in-value", GET + b"X: a\nb\r\n\r\n"),
    bad("row13-vt-before-te", POST + b"Transfer-Encoding: \x0bchunked\r\n\r\n0\r\n\r\n"),
    bad("row13-vt-after-te", POST + b"Transfer-Encoding: chunked\x0b\r\n\r\n0\r\n\r\n"),
    bad("row13-a0-before-te", POST + b"Transfer-Encoding: \xa0chunked\r\n\r\n0\r\n\r\n"),
    bad("row13-85-after-te", POST + b"Transfer-Encoding: chunked\x85\r\n\r\n0\r\n\r\n"),
    bad("row13-ff-before-te", POST + b"Transfer-Encoding: \xffchunked\r\n\r\n0\r\n\r\n"),
    # 14: invalid header names
    bad("row14-space-in-name", GET + b"X Y: z\r\n\r\n"),
    bad("row14-empty-name", GET + b": z\r\n\r\n"),
    bad("row14-non-ascii-name", GET + b"X\xffY: z\r\n\r\n"),
    bad("row14-separator-in-name", GET + b"X@Y: z\r\n\r\n"),
    bad("row14-no-colon", GET + b"NoColon\r\n\r\n"),
    # 15: invalid chunk sizes (after a valid head: the head may be streamed)
    bad("row15-size-0x", CHUNKED + b"0x1\r\na\r\n0\r\n\r\n", streamed=True),
    bad("row15-size-underscore", CHUNKED + b"1_0\r\n0123456789abcdef\r\n0\r\n\r\n", streamed=True),
    bad("row15-size-minus", CHUNKED + b"-1\r\na\r\n0\r\n\r\n", streamed=True),
    bad("row15-size-empty", CHUNKED + b"\r\na\r\n0\r\n\r\n", streamed=True),
    bad("row15-size-leading-space", CHUNKED + b" 1\r\na\r\n0\r\n\r\n", streamed=True),
    bad("row15-size-17-digits", CHUNKED + b"10000000000000000\r\na\r\n0\r\n\r\n", streamed=True),
    # Leading zeros are allowed by the grammar (chunk-size = 1*HEXDIG) and cannot overflow; the
    # value is what llhttp checks, and the gateway re-chunks, so the backend never sees them.
    ok(
        "row15-size-17-digits-zeros",
        CHUNKED + b"00000000000000001\r\na\r\n0\r\n\r\n",
        Forwarded(POST, body=b"a", chunked=True),
    ),
    # 16: chunk framing
    bad("row16-data-longer-than-size", CHUNKED + b"1\r\nab\r\n0\r\n\r\n", streamed=True),
    bad("row16-no-crlf-after-data", CHUNKED + b"1\r\na0\r\n\r\n", streamed=True),
    bad("row16-bare-lf-after-size", CHUNKED + b"1\na\r\n0\r\n\r\n", streamed=True),
    bad("row16-bare-lf-after-data", CHUNKED + b"1\r\na\n0\r\n\r\n", streamed=True),
    bad("row16-cr-in-extension", CHUNKED + b"1;a=\rb\r\na\r\n0\r\n\r\n", streamed=True),
    # 17: invalid trailer lines
    bad("row17-trailer-no-colon", CHUNKED + b"1\r\na\r\n0\r\nbad trailer\r\n\r\n", streamed=True),
    bad("row17-trailer-space-colon", CHUNKED + b"1\r\na\r\n0\r\nX : y\r\n\r\n", streamed=True),
    bad("row17-trailer-obs-fold", CHUNKED + b"1\r\na\r\n0\r\nX: y\r\n z\r\n\r\n", streamed=True),
    # 18: HTTP/1.1 without Host
    bad("row18-no-host", b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n"),
    # 19: Host count and syntax
    bad("row19-two-hosts", b"GET / HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
    bad("row19-two-identical-hosts", b"GET / HTTP/1.1\r\nHost: x\r\nHost: x\r\n\r\n"),
    bad("row19-host-dot", b"GET / HTTP/1.1\r\nHost: .\r\n\r\n"),
    bad("row19-host-port-too-big", b"GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n"),
    bad("row19-host-two-ports", b"GET / HTTP/1.1\r\nHost: a:1:2\r\n\r\n"),
    bad("row19-host-slash", b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"),
    bad("row19-host-userinfo", b"GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"),
    # 20: absolute-form: the URI's authority wins, forwarded in origin-form
    ok(
        "row20-absolute-form",
        b"GET http://a/x HTTP/1.1\r\nHost: b\r\n\r\n",
        Forwarded(b"GET /x HTTP/1.1\r\nHost: a\r\n", present=(("x-original-host", "a"),)),
    ),
    ok(
        "row20-absolute-form-no-path",
        b"GET http://a HTTP/1.1\r\nHost: b\r\n\r\n",
        Forwarded(b"GET / HTTP/1.1\r\nHost: a\r\n"),
    ),
    ok(
        "row20-absolute-form-port-query",
        b"GET http://a:8080/x?q=1 HTTP/1.1\r\nHost: b\r\n\r\n",
        Forwarded(b"GET /x?q=1 HTTP/1.1\r\nHost: a:8080\r\n"),
    ),
    # 21: request-target forms
    bad("row21-get-asterisk", b"GET * HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row21-options-asterisk-path", b"OPTIONS */x HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row21-get-authority", b"GET host:80 HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row21-get-bare-word", b"GET admin HTTP/1.1\r\nHost: x\r\n\r\n"),
    ok(
        "row21-options-asterisk-ok",
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        Forwarded(b"OPTIONS * HTTP/1.1\r\nHost: x\r\n"),
    ),
    # 22: CONNECT (no tunnelling)
    bad("row22-connect-host-port", b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n", 405),
    bad("row22-connect-no-port", b"CONNECT a HTTP/1.1\r\nHost: a\r\n\r\n"),
    bad("row22-connect-origin-form", b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n"),
    # 23: bad versions (1.32, 1.01: 400 from the parser; 2.0: 505)
    bad("row23-version-1.32", b"GET / HTTP/1.32\r\nHost: x\r\n\r\n"),
    bad("row23-version-1.01", b"GET / HTTP/1.01\r\nHost: x\r\n\r\n"),
    bad("row23-version-2.0", b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
    # 24: request-line separators and bytes in the target
    bad("row24-double-space-after-method", b"GET  / HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row24-double-space-before-version", b"GET /  HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row24-tab-separator", b"GET\t/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row24-lf-separator", b"GET\n/ HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row24-space-in-target", b"GET /a b HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row24-ctl-in-target", b"GET /a\x01b HTTP/1.1\r\nHost: x\r\n\r\n"),
    bad("row24-del-in-target", b"GET /a\x7fb HTTP/1.1\r\nHost: x\r\n\r\n"),
    # 25: header block limits (32 KiB, 100 lines)
    bad("row25-one-header-over-32k", GET + b"X: " + b"a" * 33000 + b"\r\n\r\n", 431),
    bad("row25-many-headers-over-32k", GET + _BIG_LINES + b"\r\n", 431),
    bad("row25-101-lines", GET + _MANY + b"Y: v\r\n\r\n", 431),
    ok(
        "row25-100-lines-ok",
        GET + _MANY + b"\r\n",
        Forwarded(b"GET / HTTP/1.1\r\nHost: x\r\nX-0: v\r\n", present=(("x-98", "v"),)),
    ),
    ok(
        "row25-30k-header-ok",
        GET + b"X: " + b"a" * 30000 + b"\r\n\r\n",
        Forwarded(b"GET / HTTP/1.1\r\nHost: x\r\n", present=(("x", "a" * 30000),)),
    ),
    # 26: request line limit (32 KiB)
    bad(
        "row26-request-line-over-32k",
        b"GET /" + b"a" * 33000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        414,
    ),
    ok(
        "row26-30k-target-ok",
        b"GET /" + b"a" * 30000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
        Forwarded(b"GET /" + b"a" * 30000 + b" HTTP/1.1\r\nHost: x\r\n"),
    ),
    # 27: body over the limit (1 MiB): by Content-Length before any body byte, or chunked
    bad("row27-content-length-over", POST + b"Content-Length: %d\r\n\r\n" % (LIMIT + 1), 413),
    bad("row27-chunked-over", CHUNKED + _chunks(LIMIT + 1) + b"0\r\n\r\n", 413, streamed=True),
    ok(
        "row27-content-length-at-limit-ok",
        POST + b"Content-Length: %d\r\n\r\n" % LIMIT + b"b" * LIMIT,
        Forwarded(b"POST / HTTP/1.1\r\nHost: x\r\n", body=b"b" * LIMIT),
    ),
    # 28: expectations (the interactive 100-continue case is test_expect_100_continue)
    bad("row28-expect-unknown", GET + b"Expect: foo\r\n\r\n", 417),
    bad(
        "row28-expect-over-limit",
        POST + b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (LIMIT + 1),
        413,
    ),
    ok(
        "row28-expect-http10-no-100",
        b"POST / HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi",
        Forwarded(b"POST / HTTP/1.1\r\nHost: x\r\n", body=b"hi", absent=("expect",)),
        closed=True,
    ),
    # 29: hop-by-hop headers
    ok(
        "row29-hop-by-hop-close",
        GET
        + b"Connection: close, X-Secret\r\nX-Secret: s\r\nKeep-Alive: 5\r\n"
        + b"Proxy-Connection: keep-alive\r\nTE: trailers, gzip\r\nUpgrade: foo\r\n"
        + b"Trailer: X-T\r\nProxy-Authorization: Basic eDp5\r\nX-Kept: k\r\n\r\n",
        Forwarded(
            GET,
            present=(("te", "trailers"), ("x-kept", "k")),
            absent=("x-secret", "proxy-authorization"),
        ),
        closed=True,
    ),
    ok(
        "row29-hop-by-hop-chunked-reframed",
        POST
        + b"Connection: keep-alive, X-Secret\r\nX-Secret: s\r\nTE: gzip\r\n"
        + b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\nX-T: 1\r\n\r\n",
        Forwarded(POST, body=b"abcde", chunked=True, absent=("x-secret", "te", "x-t")),
    ),
    ok(
        "row29-named-x-forwarded-kept",
        GET
        + b"Connection: X-Forwarded-Proto, X-Forwarded-Port\r\nX-Forwarded-Proto: https\r\n\r\n",
        Forwarded(GET),
    ),
    # 30: Upgrade that must not tunnel (the tunnelling cases are test_websocket_*)
    ok(
        "row30-upgrade-without-connection-upgrade",
        GET + b"Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
        Forwarded(GET),
    ),
    ok(
        "row30-upgrade-h2c-ignored",
        GET
        + b"Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n",
        Forwarded(GET, absent=("http2-settings",)),
    ),
    # 31: a valid request, then garbage on the same connection
    pytest.param(
        Case(GET + b"\r\n\x00garbage\r\n\r\n", (200, 400), True, (Forwarded(GET),)),
        id="row31-garbage-after-valid",
    ),
    pytest.param(
        Case(
            GET + b"\r\n" + POST + b"Content-Length: 1\r\nContent-Length: 2\r\n\r\nab",
            (200, 400),
            True,
            (Forwarded(GET),),
        ),
        id="row31-malformed-second-request",
    ),
    pytest.param(
        Case(
            POST + b"Content-Length: 2\r\n\r\nhi\x01junk\r\n\r\n",
            (200, 400),
            True,
            (Forwarded(POST, body=b"hi"),),
        ),
        id="row31-junk-after-body",
    ),
    # 32: GET with a body: forwarded with its Content-Length
    ok(
        "row32-get-with-body",
        GET + b"Content-Length: 10\r\n\r\n0123456789",
        Forwarded(GET, body=b"0123456789"),
    ),
]


# ====================================================================== a client that reads exactly


class Client:
    """A blocking loopback client reading answers one at a time, with exact HTTP/1.1 framing, so a
    stray byte after an answer shows up as the start of the next one."""

    def __init__(self, port: int, timeout: float = 5.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buffer = b""
        self.received = b""  # everything read, for messages
        self.eof = False  # the gateway closed or reset the connection
        self.stalled = False  # nothing arrived within the timeout

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        """Send; a gateway that already answered and closed may refuse the rest (read on)."""
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.sock.sendall(data)

    def request(self, data: bytes, *, bodiless: bool = False) -> Reply | None:
        self.send(data)
        return self.reply(bodiless=bodiless)

    def _fill(self) -> bool:
        if self.eof or self.stalled:
            return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ConnectionAbortedError):
            chunk = b""
        except TimeoutError:
            self.stalled = True
            return False
        if not chunk:
            self.eof = True
            return False
        self.buffer += chunk
        self.received += chunk
        return True

    def _until(self, marker: bytes) -> bytes | None:
        while marker not in self.buffer:
            if not self._fill():
                return None
        found, _, self.buffer = self.buffer.partition(marker)
        return found + marker

    def take(self, size: int) -> bytes | None:
        while len(self.buffer) < size:
            if not self._fill():
                return None
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found

    def reply(self, *, bodiless: bool = False) -> Reply | None:
        """The next answer, or None if the connection ended (or stalled) before its head."""
        head = self._until(b"\r\n\r\n")
        if head is None:
            return None
        lines = head[:-4].split(b"\r\n")
        first = re.fullmatch(rb"HTTP/1\.1 (\d{3}) [^\r\n]*", lines[0])
        assert first is not None, f"not a status line: {lines[0]!r}"
        headers = []
        for line in lines[1:]:
            name, colon, value = line.partition(b": ")
            assert colon, f"not a header line from the gateway: {line!r}"
            headers.append((name.decode("latin-1"), value.decode("latin-1")))
        status = int(first.group(1))
        found = Reply(status, headers, b"")
        if bodiless or status < 200 or status in (204, 304):
            return found
        body = self._body(found)
        if body is None:
            return Reply(status, headers, b"", complete=False)
        found.body = body
        return found

    def _body(self, head: Reply) -> bytes | None:
        if head.header("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line = self._until(b"\r\n")
                if size_line is None:
                    return None
                size = int(size_line[:-2], 16)
                data = self.take(size + 2)
                if data is None or data[-2:] != b"\r\n":
                    return None
                if size == 0:
                    return body
                body += data[:-2]
        length = head.header("content-length")
        if length is not None:
            return self.take(int(length))
        while self._fill():
            pass
        body, self.buffer = self.buffer, b""
        return body


@dataclass
class Outcome:
    replies: list[Reply]
    closed: bool
    received: bytes


def talk(port: int, data: bytes, count: int) -> Outcome:
    """Send the case, read `count` answers, then learn whether the connection is still usable:
    a follow-up request is answered (open) or the connection ends (closed)."""
    with Client(port) as client:
        client.send(data)
        replies: list[Reply] = []
        while len(replies) < count:
            found = client.reply()
            if found is None:
                break
            replies.append(found)
        closed = client.eof
        if not closed and len(replies) == count:
            follow = client.request(FOLLOW_UP)
            closed = follow is None and client.eof
            if follow is not None:
                assert follow.status == 200, f"the follow-up got {follow.status}"
        return Outcome(replies, closed, client.received)


def settled(backend: RecordingBackend) -> int:
    """Where the next case's bytes start in `backend.raw`, once the last case's are all in: a
    request the gateway cut (a body over the limit) may still be arriving on its connection,
    so wait until no connection holds part of a request and nothing more has come for 50 ms."""
    wait_until(lambda: not backend.incomplete, 10, "the last case's cut request to end")
    last = [len(backend.raw), time.monotonic()]  # size, when it last changed

    def quiet() -> bool:
        size, now = len(backend.raw), time.monotonic()
        if size != last[0]:
            last[:] = [size, now]
        return now - last[1] >= 0.05 and not backend.incomplete

    wait_until(quiet, 10, "the backend to stop receiving")
    return int(last[0])


def sentinel(port: int) -> None:
    """A valid request on a fresh connection, answered by the backend: whatever the gateway
    forwarded for the case before it has reached the backend by now."""
    with Client(port) as client:
        found = client.request(SENTINEL)
    assert found is not None
    assert found.status == 200


# ====================================================================== what the backend received

_PROBE = re.compile(rb"GET /health HTTP/1\.1\r\n(?:[^\r\n]+\r\n)*\r\n")
_CANONICAL_LINE = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+: [^\r\n\x00]*")
_TRACE = re.compile(r"[0-9a-f]{32}")


def unaccounted(backend: RecordingBackend, mark: int) -> bytes:
    """Bytes the backend received since `mark` that are neither a probe nor a complete request."""
    rest = _PROBE.sub(b"", bytes(backend.raw[mark:]))
    for seen in backend.requests:
        assert seen.raw in rest, f"recorded request not in the raw stream: {seen.raw!r}"
        rest = rest.replace(seen.raw, b"", 1)
    return rest


def check_forwarded(seen: Seen, want: Forwarded, port: int) -> None:
    """One forwarded request: canonical lines, the gateway's own headers once, its own framing."""
    head = seen.raw.partition(b"\r\n\r\n")[0]
    assert seen.raw.startswith(want.start), seen.raw[:300]
    for line in head.split(b"\r\n")[1:]:
        assert _CANONICAL_LINE.fullmatch(line), f"non-canonical line forwarded: {line!r}"
    assert len(seen.all("host")) == 1
    xff = seen.all("x-forwarded-for")
    assert len(xff) == 1
    assert re.search(r"(^|, )127\.0\.0\.1:\d+$", xff[0]), xff
    assert seen.all("x-forwarded-proto") == ["http"]
    assert seen.all("x-forwarded-port") == [str(port)]
    trace = seen.all("x-appgw-trace-id")
    assert len(trace) == 1
    assert _TRACE.fullmatch(trace[0])
    for name in _HOP:
        assert not seen.all(name), f"hop-by-hop {name} forwarded: {head!r}"
    assert seen.all("te") in ([], ["trailers"])
    if want.chunked:
        assert seen.all("transfer-encoding") == ["chunked"]
        assert not seen.all("content-length")
    else:
        assert not seen.all("transfer-encoding")
        expected = [str(len(want.body))] if want.body else []
        assert seen.all("content-length") == expected
    assert seen.body == want.body
    for name, value in want.present:
        assert seen.all(name) == [value], f"{name}: {seen.all(name)}"
    for name in want.absent:
        assert not seen.all(name), f"{name} forwarded: {head!r}"


def check_streamed(leftover: bytes, start: bytes) -> None:
    """What a body error may leave at the backend: nothing, or the gateway's own head followed by
    well-formed non-final chunks (the connection cut somewhere in them)."""
    if not leftover:
        return
    assert leftover.startswith(start), leftover[:300]
    head, end, body = leftover.partition(b"\r\n\r\n")
    assert end, f"a truncated head reached the backend: {head!r}"
    assert re.search(rb"\r\nX-AppGW-Trace-Id: [0-9a-f]{32}$", head), head
    while body:
        size_line, crlf, rest = body.partition(b"\r\n")
        if not crlf:
            assert re.fullmatch(rb"[0-9a-f]*", size_line), body[:100]
            return
        assert re.fullmatch(rb"[0-9a-f]+", size_line), f"not the gateway's chunk: {body[:100]!r}"
        size = int(size_line, 16)
        assert size > 0, "a last chunk reached the backend: the request was complete"
        if len(rest) < size + 2:
            return  # cut inside the chunk
        assert rest[size : size + 2] == b"\r\n", body[:100]
        body = rest[size + 2 :]


# ====================================================================== the module's gateway


@dataclass
class Front:
    port: int
    backend: RecordingBackend


WEBSOCKET_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def _upgrades(backend: RecordingBackend, seen: Seen) -> bytes | None:
    """`/ws/101` accepts the upgrade and greets; every other target gets the default answers."""
    if seen.target == "/ws/101":
        return (
            b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Accept: %s\r\n\r\nserver-hello" % WEBSOCKET_ACCEPT.encode()
        )
    return None


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Front]:
    with RecordingBackend("b", handler=_upgrades) as backend:
        port = free_port()
        document = config(
            port, {"web": [backend]}, extra={"limits": {"maxRequestBodySizeInMb": LIMIT >> 20}}
        )
        with RunningGateway(tmp_path_factory.mktemp("strictness"), document) as gw:
            gw.wait_routable("web", 1)
            yield Front(port, backend)


# ====================================================================== request side


@pytest.mark.parametrize("case", REQUEST_CASES)
def test_request(front: Front, case: Case) -> None:
    backend = front.backend
    mark = settled(backend)
    backend.requests.clear()

    outcome = talk(front.port, case.data, len(case.statuses))
    sentinel(front.port)

    assert [r.status for r in outcome.replies] == list(case.statuses), outcome.received[:500]
    assert outcome.closed is case.closed, "closed" if outcome.closed else "kept open"
    if case.closed:
        assert outcome.replies[-1].header("connection") == "close"
    seen = [s for s in backend.requests if s.target not in HARNESS_TARGETS]
    assert len(seen) == len(case.forwarded), [s.raw[:300] for s in seen]
    for got, want in zip(seen, case.forwarded, strict=True):
        check_forwarded(got, want, front.port)
    leftover = unaccounted(backend, mark)
    if case.streamed is None:
        assert leftover == b"", f"the backend received more: {leftover[:300]!r}"
    else:
        check_streamed(leftover, case.streamed)


def test_row28_expect_100_continue_answered_once(front: Front) -> None:
    """The gateway sends one 100 Continue once it can forward, then relays the final answer; the
    backend gets the body with the gateway's Content-Length and no Expect."""
    backend = front.backend
    backend.requests.clear()
    mark = len(backend.raw)
    with Client(front.port) as client:
        client.send(POST + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        interim = client.reply()
        final = client.request(b"hello")
        received = client.received
    sentinel(front.port)

    assert interim is not None
    assert interim.status == 100
    assert final is not None
    assert final.status == 200
    assert received.count(b" 100 ") == 1
    seen = [s for s in backend.requests if s.target not in HARNESS_TARGETS]
    assert len(seen) == 1
    check_forwarded(seen[0], Forwarded(POST, body=b"hello", absent=("expect",)), front.port)
    assert unaccounted(backend, mark) == b""


UPGRADE = (
    b"Connection: Upgrade\r\nUpgrade: websocket\r\n"
    b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


def test_row30_websocket_tunnels_after_101_with_pipelined_bytes(front: Front) -> None:
    backend = front.backend
    mark = len(backend.raw)
    request = b"GET /ws/101 HTTP/1.1\r\nHost: x\r\n" + UPGRADE
    with Client(front.port) as client:
        client.send(request + b"client-hello")  # pipelined right behind the request
        switched = client.reply()
        greeting = client.take(len(b"server-hello"))
        cut = client.eof  # the gateway ended the connection instead of tunnelling
        client.sock.shutdown(socket.SHUT_WR)  # the backend sees EOF, closes, and so do we
        while client.reply() is not None:
            pass
        closed = client.eof

    assert switched is not None
    assert switched.status == 101
    assert switched.header("upgrade") == "websocket"
    assert (switched.header("connection") or "").lower() == "upgrade"
    assert switched.header("sec-websocket-accept") == WEBSOCKET_ACCEPT
    assert greeting == b"server-hello", f"no tunnel after the 101 (connection ended: {cut})"
    assert closed
    stream = _PROBE.sub(b"", bytes(backend.raw[mark:]))
    head, _, after = stream.partition(b"\r\n\r\n")
    assert head.startswith(b"GET /ws/101 HTTP/1.1\r\nHost: x\r\n")
    assert b"\r\nConnection: upgrade\r\nUpgrade: websocket\r\n" in head
    assert after == b"client-hello"


def test_row30_upgrade_answered_without_101_stays_http(front: Front) -> None:
    backend = front.backend
    backend.requests.clear()
    with Client(front.port) as client:
        refused = client.request(b"GET /ws/200 HTTP/1.1\r\nHost: x\r\n" + UPGRADE)
        follow = client.request(FOLLOW_UP)
    assert refused is not None
    assert refused.status == 200
    assert refused.header("upgrade") is None
    assert follow is not None, "the connection did not go on as HTTP after a non-101 answer"
    assert follow.status == 200
    assert [s.target for s in backend.requests] == ["/ws/200", "/again"]


# ====================================================================== response side

_CONNECTION: ContextVar[int] = ContextVar("backend_connection", default=0)


class ScriptedBackend(RecordingBackend):
    """Answers `/r/<id>` with the raw bytes scripted for it; remembers which backend connection
    carried each request, to tell a reused connection from a fresh one."""

    def __init__(self, scripts: dict[str, bytes]) -> None:
        super().__init__("scripted", handler=self._script)
        self.scripts = scripts
        self.carried: dict[str, int] = {}  # target -> connection number (the last one)
        self._opened = 0

    @override
    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._opened += 1
        _CONNECTION.set(self._opened)  # this connection's task has its own context
        await super().serve(reader, writer)

    def _script(self, _backend: RecordingBackend, seen: Seen) -> bytes | None:
        self.carried[seen.target] = _CONNECTION.get()
        return self.scripts.get(seen.target.removeprefix("/r/"))


@dataclass(frozen=True)
class Script:
    sent: bytes  # what the backend answers
    statuses: tuple[int, ...]  # what the client gets (interim answers first)
    body: bytes | None = b""  # the client's final body (None: not checked)
    method: bytes = b"GET"
    fresh_after: bool | None = True  # next request on a new backend connection (None: either)
    present: tuple[tuple[str, str], ...] = ()
    absent: tuple[str, ...] = ()


def _resp(status_line: bytes, *lines: bytes, body: bytes = b"") -> bytes:
    return b"\r\n".join([status_line, *lines]) + b"\r\n\r\n" + body


OK = b"HTTP/1.1 200 OK"
RESPONSE_CASES = {
    # a well-behaved answer: the connection is reused (shows the reuse detection works)
    "resp-control-reused": Script(answer(200, b"ok"), (200,), b"ok", fresh_after=False),
    # broken framing from the backend: 502, the connection discarded
    "resp-cl-two-differing": Script(
        _resp(OK, b"Content-Length: 2", b"Content-Length: 3", body=b"abc"), (502,), None
    ),
    "resp-cl-two-identical": Script(
        _resp(OK, b"Content-Length: 2", b"Content-Length: 2", body=b"ab"), (502,), None
    ),
    "resp-cl-list": Script(_resp(OK, b"Content-Length: 2, 2", body=b"ab"), (502,), None),
    "resp-cl-plus": Script(_resp(OK, b"Content-Length: +2", body=b"ab"), (502,), None),
    "resp-cl-minus": Script(_resp(OK, b"Content-Length: -1", body=b"ab"), (502,), None),
    "resp-cl-suffix": Script(_resp(OK, b"Content-Length: 2x", body=b"ab"), (502,), None),
    "resp-te-gzip": Script(_resp(OK, b"Transfer-Encoding: gzip", body=b"abc"), (502,), None),
    "resp-te-identity": Script(
        _resp(OK, b"Transfer-Encoding: identity", body=b"abc"), (502,), None
    ),
    "resp-te-twice": Script(
        _resp(
            OK,
            b"Transfer-Encoding: chunked",
            b"Transfer-Encoding: chunked",
            body=b"2\r\nab\r\n0\r\n\r\n",
        ),
        (502,),
        None,
    ),
    "resp-cl-and-te": Script(
        _resp(
            OK, b"Content-Length: 3", b"Transfer-Encoding: chunked", body=b"2\r\nab\r\n0\r\n\r\n"
        ),
        (502,),
        None,
    ),
    "resp-garbage": Script(GARBAGE, (502,), None),
    "resp-bad-status-line": Script(
        _resp(b"HTTP/1.1 2x0 OK", b"Content-Length: 2", body=b"ab"), (502,), None
    ),
    # bytes after a complete answer: dropped, the connection not reused
    "resp-extra-junk": Script(answer(200, b"ok") + b"JUNK", (200,), b"ok"),
    "resp-extra-response": Script(answer(200, b"ok") + answer(200, b"evil"), (200,), b"ok"),
    # bodiless answers
    "resp-head": Script(
        _resp(OK, b"Content-Length: 5"),
        (200,),
        method=b"HEAD",
        fresh_after=None,
        present=(("content-length", "5"),),
    ),
    "resp-head-with-body": Script(
        _resp(OK, b"Content-Length: 5", body=b"hello"), (200,), method=b"HEAD"
    ),
    "resp-204": Script(
        _resp(b"HTTP/1.1 204 No Content", b"X-A: 1"),
        (204,),
        fresh_after=False,
        absent=("content-length", "transfer-encoding"),
    ),
    "resp-204-with-body": Script(_resp(b"HTTP/1.1 204 No Content", body=b"oops"), (204,)),
    "resp-304": Script(
        _resp(b"HTTP/1.1 304 Not Modified", b"Content-Length: 10", b'ETag: "e"'),
        (304,),
        fresh_after=False,
        absent=("transfer-encoding",),
    ),
    "resp-304-with-body": Script(
        _resp(b"HTTP/1.1 304 Not Modified", b'ETag: "e"', body=b"oops"), (304,)
    ),
    # 1xx relayed correctly: 103 passes, an unasked 100 does not
    "resp-103-relayed": Script(
        _resp(b"HTTP/1.1 103 Early Hints", b"Link: </s.css>") + answer(200, b"ok"),
        (103, 200),
        b"ok",
        fresh_after=False,
    ),
    "resp-100-unasked-dropped": Script(
        _resp(b"HTTP/1.1 100 Continue") + answer(200, b"ok"), (200,), b"ok", fresh_after=False
    ),
    # row 29 on responses: hop-by-hop and Connection-named headers removed
    "row29-response-hop-by-hop": Script(
        _resp(
            OK,
            b"Content-Length: 2",
            b"Connection: X-Internal",
            b"X-Internal: 1",
            b"Keep-Alive: timeout=5",
            b"Proxy-Connection: keep-alive",
            b"Upgrade: h2c",
            b"Trailer: X-T",
            b"X-Kept: k",
            body=b"ok",
        ),
        (200,),
        b"ok",
        fresh_after=False,
        present=(("x-kept", "k"),),
        absent=("x-internal", "keep-alive", "proxy-connection", "upgrade", "trailer"),
    ),
}


@dataclass
class Scripted:
    port: int
    backend: ScriptedBackend


@pytest.fixture(scope="module")
def scripted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scripted]:
    scripts = {name: script.sent for name, script in RESPONSE_CASES.items()}
    with ScriptedBackend(scripts) as backend, RecordingBackend("health") as health:
        port = free_port()
        document = config(port, {"web": [backend]})
        document["probes"][0]["port"] = health.port  # probes elsewhere: only traffic here
        with RunningGateway(tmp_path_factory.mktemp("responses"), document) as gw:
            gw.wait_routable("web", 1)
            yield Scripted(port, backend)


@pytest.mark.parametrize("name", list(RESPONSE_CASES))
def test_response(scripted: Scripted, name: str) -> None:
    script = RESPONSE_CASES[name]
    target = f"/r/{name}"
    request = script.method + b" " + target.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    with Client(scripted.port) as client:
        client.send(request)
        replies: list[Reply] = []
        while not replies or replies[-1].status < 200:
            found = client.reply(bodiless=script.method == b"HEAD")
            if found is None:
                break
            replies.append(found)
        # the same client connection goes on; a byte the gateway let through would be read as
        # the start of this answer
        follow = None if client.eof else client.request(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")
    if follow is None and script.statuses[-1] == 502:
        with Client(scripted.port) as fresh:  # closing the client after a 502 is allowed
            follow = fresh.request(b"GET /plain HTTP/1.1\r\nHost: x\r\n\r\n")

    assert [r.status for r in replies] == list(script.statuses)
    final = replies[-1]
    if script.body is not None:
        assert final.body == script.body
    for header, value in script.present:
        assert final.header(header) == value
    for header in script.absent:
        assert final.header(header) is None, f"{header} relayed"
    assert follow is not None, "no answer to the next request on the connection"
    assert (follow.status, follow.body) == (200, b"scripted"), follow
    carried = scripted.backend.carried
    if script.fresh_after:
        assert carried["/plain"] != carried[target], "the backend connection was reused"
    elif script.fresh_after is not None:
        assert carried["/plain"] == carried[target], "a clean connection was not reused"
