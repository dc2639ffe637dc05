"""One request and its answer: the exchange that routes, picks a target, forwards, retries or fails.

The exchange's fields and phases are declared in lifecycle.py (with the table of which phase may
follow which); its request half is request.py, its answer half response.py. This module is the
part between: choosing a target, connecting, sending the head, and deciding what a failure means.

Rules of this module:
- the request head sent to a backend is rebuilt from parsed, validated lines; framing headers
  (Content-Length or chunked) are the gateway's own; hop-by-hop headers and those the client's
  `Connection` names never pass, in either direction;
- a retry happens only when no byte reached the client (`answering` before RELAYING): on another
  target after a failed connect (any method: nothing was sent), and once for an idempotent request
  without a body when a reused connection dies unanswered or `requestTimeout` passes;
- once response bytes reached the client, a failure ends the client connection abruptly, so a
  truncated answer never looks complete.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from probegate.i18n import Lang
from probegate.proxy import wire, words
from probegate.proxy.lifecycle import CONNECTING, DONE, RECEIVED, RELAYING, SENT
from probegate.proxy.response import ResponseSide
from probegate.proxy.rewriting import forwarded_head
from probegate.proxy.tables import Upstream, rewrite_path
from probegate.proxy.upstream import BackendConnection, ConnectError, ConnectionPool

# A C static when compiled (`time.monotonic()` would look the attribute up on every call).
_monotonic: Final = time.monotonic


class Exchange(ResponseSide):
    __slots__ = ()

    # ------------------------------------------------------------------ choosing a target

    def start(self) -> None:
        """This exchange reached the head of the client's queue: answer it."""
        proxy = self.proxy
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
        proxy = self.proxy
        backend = info.backend
        cookie = self._affinity_cookie(backend.cookie) if backend.cookie is not None else None
        upstream = proxy.balancer.pick(backend, cookie, self.tried)
        if upstream is None:
            why = proxy.no_target_reason(backend, self.tried)
            self.error_info = why
            proxy.failed += 1
            lang = words.language(self.lines)
            body = why if lang is Lang.EN else proxy.no_target_reason(backend, self.tried, lang)
            self._answer(502, body + "\n", keep=self._may_keep())
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
        self.answering = CONNECTING
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

    async def _connect(self, pool: ConnectionPool) -> None:
        connector = self.proxy.connector
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
        if self.client.closing or self.answering is DONE:
            pool.give_back(connection, self.proxy.now)
            return
        self._attach(connection)

    def _connect_failed(self, upstream: Upstream, reason: str, detail: str) -> None:
        self._live_failure(upstream, "connect-error")
        self.tried = (*self.tried, (upstream, f"{reason} ({detail})"))
        self._pick()  # nothing reached the backend: any method may go elsewhere

    def _attach(self, connection: BackendConnection) -> None:
        self.backend = connection
        connection.exchange = self
        self.answering = SENT
        self.parser = None  # chosen by the answer's first read (response.py)
        upstream = self.upstream
        assert upstream is not None
        head = self._forward_head(upstream)
        if self.pending:  # body bytes that came while no connection was ready: one write
            head = b"".join([head, *self.pending])
            self.pending = None
            self.pending_size = 0
            self.client.resume_reading_for(wire.PAUSE_BUFFER)
        transport = connection.transport
        assert transport is not None
        transport.write(head)
        self.sent_at = _monotonic()
        self.deadline = self.proxy.now + self.timeout
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
        # `%` on bytes operands compiles to one allocation and copies (CPyBytes_Build), where
        # `join` takes a buffer of each part; the request's header lines are joined first
        lines = self.lines
        if self.chunked or self.length is not None or self.te_trailers or self.wants_tunnel:
            lines = [*lines, *self._framing_lines()]
        if self.xff is None:
            forwarded = client.forwarded  # X-Forwarded-For/-Proto/-Port, made per connection
        else:
            forwarded = (
                b"X-Forwarded-For: %s, %s\r\nX-Forwarded-Proto: %s\r\nX-Forwarded-Port: %s\r\n"
                % (self.xff, client.peer_text, client.scheme, client.port_text)
            )
        head = b"%s %s HTTP/1.1\r\nHost: %s\r\n%s%s%sX-AppGW-Trace-Id: %s\r\n\r\n" % (
            self.method,
            path,
            host,
            b"".join(lines),
            forwarded,
            b"X-Original-Host: %s\r\n" % original if original is not None else b"",
            self.trace,
        )
        return head if self.rewritten is None else forwarded_head(self, head)

    def _framing_lines(self) -> list[bytes]:
        """The request's own framing and upgrade lines, when it has a body or asks for one."""
        lines = []
        if self.chunked:
            lines.append(b"Transfer-Encoding: chunked\r\n")
        elif self.length is not None:
            lines.append(b"Content-Length: %d\r\n" % self.length)
        if self.te_trailers:
            lines.append(b"TE: trailers\r\n")
        if self.wants_tunnel:
            assert self.upgrade is not None
            lines.append(b"Connection: upgrade\r\nUpgrade: %s\r\n" % self.upgrade)
        return lines

    # ------------------------------------------------------------------ failures

    def _retry_allowed(self) -> bool:
        return (
            not self.retried
            and self.answering < RELAYING
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
            tried = (*self.tried, (upstream, why))
            if self.proxy.balancer.pick(self.info.backend, None, tried) is None:
                return False
            self.tried = tried
        self.retried = True
        self._drop_backend()
        self.answering = CONNECTING
        self._pick()
        return True

    def _live_failure(self, upstream: Upstream, kind: str) -> None:
        """A failure live traffic counts against the target (passiveHealth), if enabled."""
        backend = self.info.backend if self.info is not None else None
        if backend is not None and backend.passive is not None:
            self.proxy.evidence.failed(upstream.key, backend.passive, kind)

    def backend_lost(self, connection: BackendConnection) -> None:
        if connection is not self.backend or self.answering is DONE:
            return
        self.backend = None
        if self.answering < RELAYING:
            if self.upstream is not None:
                self._live_failure(self.upstream, "reset")
            why = "the backend closed the connection before answering"
            # A reused connection may have been closed by the backend while idle: any routable
            # target, on a fresh connection. A fresh one died with the request on it (a crash,
            # a kill): another target only, as nginx's proxy_next_upstream does by default.
            if self.retry(why, elsewhere=not self.reused):
                return
            self.fail(502, f"{why}\n")
            return
        if self.resp_length is None and not self.resp_chunked and self.status != 101:
            # a close-delimited body ends here
            if self.rechunk:
                self.out.append(wire.LAST_CHUNK)
            self._complete()
            return
        self.flush()
        self.answering = DONE
        self.client.abort()  # truncated: the client must not take it for a whole answer

    def timed_out_reading(self, what: str) -> None:
        """The client stopped sending the head or the body in time: 408 and close."""
        self._drop_backend()
        if self.answering >= RELAYING:
            self.client.abort()
            return
        self.rejected = (408, f"{what} not received in time")
        self.answering = DONE
        client = self.client
        if client.transport is not None:
            client.transport.write(self._own_answer(408, "", (), close=True))
        self._count_local(408)
        client.close()

    def sweep(self, now: float) -> None:
        """Backend deadline: `requestTimeout` without a byte from the backend, counted once the
        request was sent whole. A client too slow to read its answer pauses the backend; that
        silence is the client's, bounded by the body timeout (then the connection is cut)."""
        if self.backend is None or self.answering is DONE:
            return
        client = self.client
        if client.write_paused:
            if now - client.write_paused_at > self.proxy.body_timeout:
                self._drop_backend()
                self.answering = DONE
                client.abort()
                return
            self.deadline = now + self.timeout
            return
        if self.reading is not RECEIVED:
            self.deadline = now + self.timeout  # still uploading: the client's timeouts apply
            return
        if now < self.deadline:
            return
        seconds = self.timeout
        if self.upstream is not None:
            self._live_failure(self.upstream, "timeout")
        if self.retry(f"no response within requestTimeout {seconds:g} s", elsewhere=True):
            return
        self.fail(504, f"the backend did not answer within requestTimeout ({seconds:g} s)\n")
