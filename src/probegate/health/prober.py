"""One probe from start to verdict: run the phases, judge the certificate, evaluate.

Rules of this module:
- the async edge of the health core: `runner` and `plain` do the I/O, `tlscheck` and `evaluate`
  (pure) decide; this module only wires them and never raises for a backend's fault;
- two forms of one probe: `probe` (a coroutine, for on-demand and one-shot probes) and `start`
  (callbacks, for the scheduler: `done` gets the outcome, or the exception of a fault of ours;
  plain HTTP probes then run without any task);
- trust material (system store, uploaded roots) is prepared once, not per probe.
"""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Callable
from typing import Protocol

from probegate.config.effective import EffectiveProbe, TlsMode
from probegate.health import plain, runner
from probegate.health.capacity import Capacity
from probegate.health.codes import Reason
from probegate.health.evaluate import Outcome, evaluate, now_utc
from probegate.health.observation import Observation
from probegate.health.tlscheck import CertVerdict, SystemStore, check_chain, trust_policy
from probegate.resolver import Resolver

DEFAULT_CONNECT_LIMIT = 256
DEFAULT_WARN_DAYS = 14


Done = Callable[[Outcome | Exception], object]


class Cancellable(Protocol):
    def cancel(self) -> object: ...


class AsyncProber:
    """A prober whose probes are coroutines: `start` runs one in a task."""

    async def probe(self, probe: EffectiveProbe) -> Outcome:
        raise NotImplementedError

    def start(self, probe: EffectiveProbe, done: Done) -> Cancellable:
        """Start one probe; `done` gets its outcome (not once it is cancelled)."""
        task = asyncio.get_running_loop().create_task(self.probe(probe))
        task.add_done_callback(functools.partial(_deliver, done))
        return task


def _deliver(done: Done, task: asyncio.Task[Outcome]) -> None:
    if task.cancelled():
        return
    error = task.exception()
    if error is None:
        done(task.result())
    elif isinstance(error, Exception):
        done(error)
    else:
        raise error  # KeyboardInterrupt, SystemExit: not ours to hide


class Prober(AsyncProber):
    def __init__(
        self,
        resolver: Resolver,
        *,
        connect_limit: int = DEFAULT_CONNECT_LIMIT,
        warn_days: int = DEFAULT_WARN_DAYS,
        system_store: SystemStore | None = None,
        wall_clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolver = resolver
        self.warn_days = warn_days
        self._connects = Capacity(connect_limit)
        self._system_store = system_store
        self._wall_clock = wall_clock
        self._monotonic = monotonic

    async def probe(self, probe: EffectiveProbe, *, capped: bool = True) -> Outcome:
        """One probe. `capped=False` leaves out the shared connect cap: for callers that bound
        their own concurrency (on-demand probes have their own budget, so that no number of
        them can take the connect permits scheduled probes need)."""
        observation = await runner.run_probe(
            probe,
            self.resolver,
            connect_capacity=self._connects if capped else None,
            wall_clock=self._wall_clock,
            monotonic=self._monotonic,
        )
        return self._judge(observation, probe)

    def start(self, probe: EffectiveProbe, done: Done) -> Cancellable:
        if not plain.applies(probe):
            return super().start(probe, done)
        observed = functools.partial(plain.deliver, probe, done)
        one = plain.PlainProbe(
            probe,
            self._connects,
            observed,
            wall_clock=self._wall_clock,
            monotonic=self._monotonic,
        )
        one.start()
        return one

    def _judge(self, observation: Observation, probe: EffectiveProbe) -> Outcome:
        try:
            certificate = self.judge_certificate(observation, probe)
        except Exception as exc:
            certificate = unreadable(exc)
        return Outcome(observation, certificate, evaluate(observation, probe, certificate))

    def judge_certificate(
        self, observation: Observation, probe: EffectiveProbe
    ) -> CertVerdict | None:
        tls = observation.tls
        if tls is None or not tls.chain or probe.tls.value is TlsMode.NONE:
            return None
        return check_chain(
            tls.chain,
            trust_policy(probe),
            now_utc(observation.started_at),
            warn_days=self.warn_days,
            system_store=self._system_store_for(probe),
        )

    def _system_store_for(self, probe: EffectiveProbe) -> SystemStore | None:
        if probe.tls.value is not TlsMode.SYSTEM_STORE:
            return None
        if self._system_store is None:
            self._system_store = SystemStore()
        return self._system_store


def unreadable(exc: Exception) -> CertVerdict:
    """The verdict when the presented chain could not be judged at all."""
    facts = {
        "openssl_code": "none",
        "openssl_error": f"the chain could not be read: {exc}",
        "depth": "?",
    }
    return CertVerdict(Reason.CERTIFICATE_VERIFICATION_FAILED, facts, ())
