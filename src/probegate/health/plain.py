"""A plain-HTTP probe of an IP member, driven by loop callbacks: connect, one write, reads.

Rules of this module:
- no task, no coroutine, no transport and no stream per probe: a non-blocking socket, the loop's
  writer and reader callbacks, one timer for the deadline and httptools for the answer. This is
  the probe of most targets, thousands a second on one core (the transport path cost ~30 µs more
  per probe, measured with bench/probe_scale.py);
- the phases, timings, reasons and details are the transport path's own (`attempt.py`): one
  deadline of `timeout`, counted from when a connect permit is held (the wait for a permit is
  the gateway's queue, not the backend's slowness); the permit is held for the connect only;
- `done` gets the observation exactly once, from a loop callback, never from inside `start`;
  after `cancel` it is never called;
- every exception inside a callback is converted here (an unexpected one becomes a failure
  carrying its text), so a probe always ends and always closes its socket.

Lifecycle: start → (waiting for a permit) → connecting → sending/reading → over. Every path to
`over` goes through `_end`, which closes the socket, the timer and the permit.
"""

from __future__ import annotations

import _socket
import asyncio
import errno
import os
from collections.abc import Callable
from typing import Final

from probegate.config.effective import EffectiveProbe
from probegate.config.plan import AddressKind, Protocol, server_address
from probegate.health.attempt import (
    Attempt,
    connect_failure,
    request_bytes,
    settle,
    timed_out,
    unexpected,
)
from probegate.health.capacity import Capacity
from probegate.health.connection import ResponseReader
from probegate.health.evaluate import Outcome, evaluate
from probegate.health.observation import Observation, Phase

READ_CHUNK: Final = 64 * 1024
# The C socket type, not `socket.socket`: that class's constructor and close() are Python code
# on every probe; a probe needs none of what it adds (file objects, timeouts, reference counts).
_NONBLOCKING_STREAM: Final = _socket.SOCK_STREAM | _socket.SOCK_NONBLOCK
_AF_INET: Final = _socket.AF_INET
_AF_INET6: Final = _socket.AF_INET6
_SOL_SOCKET: Final = _socket.SOL_SOCKET
_SO_ERROR: Final = _socket.SO_ERROR
_HTTP: Final = Protocol.HTTP  # enum members read per probe: see `codes.SUCCESS`
_IP_ADDRESS: Final = AddressKind.IP


def applies(probe: EffectiveProbe) -> bool:
    """Plain HTTP to a member given as an IP address: nothing to resolve and no TLS."""
    # `member.kind`, not the `is_ip` property: an interpreted call on every probe
    return probe.protocol.value is _HTTP and probe.target.member.kind is _IP_ADDRESS


def deliver(
    probe: EffectiveProbe, done: Callable[[Outcome | Exception], object], observation: Observation
) -> None:
    """A plain probe's end: no certificate to judge, so straight to its result (compiled, where
    the prober's general path would run four interpreted calls per probe)."""
    try:
        outcome = Outcome(observation, None, evaluate(observation, probe, None))
    except Exception as exc:
        done(exc)
        return
    done(outcome)


class PlainProbe(ResponseReader):
    def __init__(
        self,
        probe: EffectiveProbe,
        capacity: Capacity | None,
        done: Callable[[Observation], object],
        *,
        wall_clock: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        super().__init__(probe)
        self.attempt = Attempt(probe, wall_clock(), monotonic, Phase.CONNECT)
        self._loop = asyncio.get_running_loop()
        self._capacity = capacity
        self._done = done
        self._sock: _socket.socket | None = None
        self._fd = -1
        self._timer: asyncio.TimerHandle | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._permit = False  # holds a connect permit
        self._writing = False
        self._unsent = b""
        self._starting = False
        self._over = False

    # ---------------------------------------------------------------- lifecycle

    def start(self) -> None:
        capacity = self._capacity
        if capacity is not None and not capacity.try_take():
            self._waiter = capacity.wait()
            self._waiter.add_done_callback(self._permitted)
            return
        self._permit = capacity is not None
        self._starting = True
        try:
            self._connect()
        except Exception as exc:
            self._unexpected(exc)
        finally:
            self._starting = False

    def cancel(self) -> None:
        """Stop without an observation (the prober is stopping)."""
        if self._over:
            return
        self._over = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
        self._close()

    def _end(self) -> None:
        """Close everything and hand the observation over, once."""
        if self._over:
            return
        self._over = True
        self._close()
        observation = self.attempt.observation()
        if self._starting:
            self._loop.call_soon(self._done, observation)
        else:
            self._done(observation)

    def _close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._release_permit()
        sock = self._sock
        if sock is not None:
            self._sock = None
            self._loop.remove_reader(self._fd)
            if self._writing:
                self._loop.remove_writer(self._fd)
            sock.close()
        self.release_parser()

    def _release_permit(self) -> None:
        if self._permit:
            self._permit = False
            assert self._capacity is not None
            self._capacity.release()

    # ---------------------------------------------------------------- connect

    def _permitted(self, waiter: asyncio.Future[None]) -> None:
        self._waiter = None
        if waiter.cancelled():
            return
        self._permit = True
        if self._over:  # cancelled after the permit was handed over: pass it on
            self._release_permit()
            return
        try:
            self._connect()
        except Exception as exc:
            self._unexpected(exc)

    def _connect(self) -> None:
        attempt, loop = self.attempt, self._loop
        attempt.enter(Phase.CONNECT)  # timed from when a permit was free
        probe = attempt.probe
        self._timer = loop.call_at(loop.time() + probe.timeout.value, self._expired)
        address, port = probe.target.member.address, probe.port.value
        family = _AF_INET6 if ":" in address else _AF_INET
        try:
            sock = _socket.socket(family, _NONBLOCKING_STREAM)
        except OSError as exc:
            self._connect_failed(exc)
            return
        self._sock, self._fd = sock, sock.fileno()
        try:
            code = sock.connect_ex((address, port))
        except OSError as exc:
            self._connect_failed(exc)
            return
        if code == errno.EINPROGRESS:
            self._writing = True
            loop.add_writer(self._fd, self._writable)
        elif code == 0:
            self._connected()
        else:
            self._connect_failed(OSError(code, os.strerror(code)))

    def _writable(self) -> None:
        try:
            if self.attempt.phase is not Phase.CONNECT:
                self._send()
                return
            assert self._sock is not None
            code = self._sock.getsockopt(_SOL_SOCKET, _SO_ERROR)
            if code:
                self._connect_failed(OSError(code, os.strerror(code)))
            else:
                self._connected()
        except Exception as exc:
            self._unexpected(exc)

    def _connect_failed(self, error: OSError) -> None:
        failure, words = connect_failure(error)
        self.attempt.fail(failure, words)
        self._end()

    def _connected(self) -> None:
        attempt = self.attempt
        probe = attempt.probe
        target, port = probe.target, probe.port.value
        # the target's own key text when it names this address (one string, not one per probe)
        shown = target.key.server if port == target.port else None
        attempt.connected_to = shown or server_address(target.member.address, port)
        attempt.done()
        self._release_permit()
        attempt.enter(Phase.RESPONSE)
        self._loop.add_reader(self._fd, self._readable)
        self._unsent = request_bytes(probe)
        self._send()

    # ---------------------------------------------------------------- request and response

    def _send(self) -> None:
        assert self._sock is not None
        try:
            sent = self._sock.send(self._unsent)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError as exc:  # the backend closed (or reset) before taking the request
            self.lost = exc
            self._response_over()
            return
        self._unsent = self._unsent[sent:]
        if self._unsent and not self._writing:
            self._writing = True
            self._loop.add_writer(self._fd, self._writable)
        elif not self._unsent and self._writing:
            self._writing = False
            self._loop.remove_writer(self._fd)

    def _readable(self) -> None:
        try:
            assert self._sock is not None
            try:
                data = self._sock.recv(READ_CHUNK)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                self.lost = exc
                self._response_over()
                return
            if not data:  # the backend closed: whatever arrived is all there is
                self._response_over()
                return
            self.feed(data)
            if self.done_reading:
                self._response_over()
        except Exception as exc:
            self._unexpected(exc)

    def _response_over(self) -> None:
        self.done_reading = True
        settle(self.attempt, self)
        self._end()

    def _expired(self) -> None:
        self._timer = None
        try:
            timed_out(self.attempt, self)
        except Exception as exc:
            unexpected(self.attempt, exc)
        self._end()

    def _unexpected(self, exc: Exception) -> None:
        if self._over:
            raise exc  # a fault after the end: the loop's handler logs it
        unexpected(self.attempt, exc)
        self._end()


async def observe(
    probe: EffectiveProbe,
    capacity: Capacity | None,
    *,
    wall_clock: Callable[[], float],
    monotonic: Callable[[], float],
) -> Observation:
    """The awaitable form, for callers that run probes as coroutines (on-demand, one-shot)."""
    ended: asyncio.Future[Observation] = asyncio.get_running_loop().create_future()
    plain = PlainProbe(
        probe, capacity, ended.set_result, wall_clock=wall_clock, monotonic=monotonic
    )
    plain.start()
    try:
        return await ended
    finally:
        plain.cancel()  # nothing once it has ended; stops it when the caller was cancelled
