"""What one probe has seen so far, and how each way a phase ends is put into words.

Rules of this module:
- shared by both probe paths (`plain.py`, callbacks; `runner.py`, coroutines), so that they
  cannot disagree on a phase's timing, reason or detail;
- the phase reached is the last one entered; `fail` closes its timing; MATCH is never timed;
- no sockets and no waiting here: the paths do the I/O and call in.
"""

from __future__ import annotations

import errno
import functools
from collections.abc import Callable

import probegate
from probegate.config.effective import EffectiveProbe
from probegate.health.connection import ResponseReader
from probegate.health.observation import (
    Failure,
    HttpFacts,
    Observation,
    Phase,
    Resolution,
    TlsFacts,
)

USER_AGENT = f"probegate-probe/{probegate.__version__}"

_UNREACHABLE = {errno.EHOSTUNREACH: "host unreachable", errno.ENETUNREACH: "network unreachable"}


class Attempt:
    """What the probe has seen so far (mutable while it runs); `observation()` freezes it."""

    def __init__(
        self,
        probe: EffectiveProbe,
        started_at: float,  # wall clock
        monotonic: Callable[[], float],
        phase: Phase,
    ) -> None:
        self.probe = probe
        self.started_at = started_at
        self.monotonic = monotonic
        self.phase = phase
        self.start = self.mark = monotonic()  # `mark`: when the current phase began
        self.failure: Failure | None = None
        self.detail = ""
        self.timings: dict[Phase, float] = {}
        self.resolution: Resolution | None = None
        self.connected_to: str | None = None
        self.tls: TlsFacts | None = None
        self.http: HttpFacts | None = None

    def enter(self, phase: Phase) -> None:
        self.phase = phase
        self.mark = self.monotonic()

    def done(self) -> float:
        """Close the current phase's timing; returns its milliseconds."""
        elapsed = (self.monotonic() - self.mark) * 1000
        self.timings[self.phase] = elapsed
        return elapsed

    def fail(self, failure: Failure, detail: str) -> None:
        if self.phase not in self.timings and self.phase is not Phase.MATCH:
            self.done()
        self.failure, self.detail = failure, detail

    def observation(self) -> Observation:
        return Observation(
            started_at=self.started_at,
            phase=self.phase,
            failure=self.failure,
            detail=self.detail,
            timings_ms=self.timings,
            duration_ms=(self.monotonic() - self.start) * 1000,
            resolution=self.resolution,
            connected_to=self.connected_to,
            tls=self.tls,
            http=self.http,
        )


def failure_for_unexpected(phase: Phase) -> Failure:
    """An unexpected exception is reported against the phase it happened in."""
    return {
        Phase.RESOLVE: Failure.DNS_ERROR,
        Phase.CONNECT: Failure.CONNECT_UNREACHABLE,
        Phase.TLS: Failure.TLS_HANDSHAKE,
    }.get(phase, Failure.RESPONSE_MALFORMED)


def unexpected(attempt: Attempt, exc: Exception) -> None:
    """A gateway bug must not look like a backend outage: the failure carries its text."""
    attempt.fail(failure_for_unexpected(attempt.phase), f"unexpected {type(exc).__name__}: {exc}")


def connect_failure(error: OSError) -> tuple[Failure, str]:
    if isinstance(error, ConnectionRefusedError):
        return Failure.CONNECT_REFUSED, "refused"
    if isinstance(error, ConnectionResetError):
        return Failure.CONNECT_RESET, "reset"
    if isinstance(error, TimeoutError):  # the kernel gave up (ETIMEDOUT) before our deadline
        return Failure.CONNECT_TIMEOUT, "timed out (the operating system gave up)"
    words = _UNREACHABLE.get(error.errno or 0)
    if words is not None:
        return Failure.CONNECT_UNREACHABLE, words
    return Failure.CONNECT_UNREACHABLE, (error.strerror or str(error)).lower()


def closed_words(exc: BaseException, when: str) -> str:
    if isinstance(exc, ConnectionResetError):
        return f"reset by the backend {when}"
    return f"closed by the backend {when}"


def request_bytes(probe: EffectiveProbe) -> bytes:
    """The probe's GET, sent in one write."""
    return _request(probe.path.value, probe.host.value, probe.headers.value)


@functools.lru_cache(maxsize=1 << 14)
def _request(path: str, host: str, headers: tuple[tuple[str, str], ...]) -> bytes:
    """Built once per distinct request, not once per probe (the same bytes every interval)."""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    extra = "".join(f"{name}: {value}\r\n" for name, value in headers)
    names = {name.lower() for name, _ in headers}
    agent = "" if "user-agent" in names else f"User-Agent: {USER_AGENT}\r\n"
    accept = "" if "accept" in names else "Accept: */*\r\n"
    return (
        f"GET {path} HTTP/1.1\r\nHost: {host}\r\n{agent}{accept}{extra}Connection: close\r\n\r\n"
    ).encode("latin-1")


def settle(attempt: Attempt, reader: ResponseReader) -> None:
    """The response phase ended (head, body, close or garbage): record what it was."""
    elapsed = attempt.done()
    if reader.error is not None:
        attempt.fail(Failure.RESPONSE_MALFORMED, reader.error)
    elif not reader.head_done:
        words = closed_words(reader.lost or EOFError(), "before the response head")
        attempt.fail(
            Failure.RESPONSE_CLOSED, f"{words} ({reader.received} bytes after {elapsed:.0f} ms)"
        )
    else:
        attempt.http = reader.facts()
        attempt.enter(Phase.MATCH)


def timed_out(attempt: Attempt, reader: ResponseReader) -> None:
    """The deadline passed: the phase it interrupted names the failure."""
    elapsed = attempt.done()
    if attempt.phase is Phase.CONNECT:
        attempt.fail(Failure.CONNECT_TIMEOUT, f"timed out after {elapsed:.0f} ms")
    elif attempt.phase is Phase.TLS:
        attempt.fail(Failure.TLS_TIMEOUT, f"TLS handshake not complete after {elapsed:.0f} ms")
    elif reader.head_done:
        attempt.http = reader.facts()
        attempt.fail(Failure.RESPONSE_TIMEOUT, f"body incomplete after {elapsed:.0f} ms")
    else:
        attempt.fail(Failure.RESPONSE_TIMEOUT, f"no response head within {elapsed:.0f} ms")
