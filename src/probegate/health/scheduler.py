"""When each target is probed: first probes spread over 2 s, then every interval with jitter.

Rules of this module:
- one timer heap for all targets, one task per probe in flight, a cap on probes in flight;
- a target is never probed twice at once: its next probe is scheduled when the current one ends;
- v1 re-probes a failing target quickly until the threshold decides (`transitions.next_delay`);
- lateness (actual start − due time) is recorded for the scale benchmark;
- the clock and the random source are injected so tests do not wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import random
import time
from collections import deque
from collections.abc import Callable

from probegate.config.plan import TargetKey
from probegate.health import transitions
from probegate.health.prober import Prober
from probegate.state.store import HealthStore

FIRST_PROBE_WINDOW = 2.0
JITTER = 0.10
DEFAULT_IN_FLIGHT = 1024
SWEEP_SECONDS = 1.0
LATENESS_SAMPLES = 100_000


class Scheduler:
    def __init__(
        self,
        store: HealthStore,
        prober: Prober,
        *,
        in_flight: int = DEFAULT_IN_FLIGHT,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
    ) -> None:
        self.store = store
        self.prober = prober
        self._monotonic = monotonic
        self._rng = rng or random.Random()
        self._slots = asyncio.Semaphore(in_flight)
        self._heap: list[tuple[float, int, TargetKey]] = []
        self._seq = 0
        self._running: set[TargetKey] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.lateness: deque[float] = deque(maxlen=LATENESS_SAMPLES)
        self.completed = 0
        self.schedule_all()

    def schedule_all(self) -> None:
        """(Re)build the timer heap: every target's first probe within the first-probe window."""
        now = self._monotonic()
        keys = [p.target.key for p in self.store.probes]
        self._heap = []
        for i, key in enumerate(keys):
            spread = FIRST_PROBE_WINDOW * (i + self._rng.random()) / max(len(keys), 1)
            self._push(now + spread, key)
        self._wake.set()

    def pending(self) -> list[tuple[float, TargetKey]]:
        """The timer heap in due order (for tests and the scale benchmark)."""
        return [(due, key) for due, _, key in sorted(self._heap)]

    def reload(self) -> None:
        """After `store.reload`: targets that kept their record keep their rhythm; new ones start."""
        self.schedule_all()

    async def run(self) -> None:
        next_sweep = self._monotonic() + SWEEP_SECONDS
        while True:
            now = self._monotonic()
            self._start_due(now)
            if now >= next_sweep:
                self.store.sweep()
                next_sweep = now + SWEEP_SECONDS
            wait = min(next_sweep, self._heap[0][0] if self._heap else next_sweep) - now
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=max(wait, 0.0))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _start_due(self, now: float) -> None:
        while self._heap and self._heap[0][0] <= now:
            due, _, key = heapq.heappop(self._heap)
            if key in self._running or self.store.probe_of(key) is None:
                continue
            self.lateness.append(now - due)
            self._running.add(key)
            task = asyncio.get_running_loop().create_task(self._probe(key, now))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _probe(self, key: TargetKey, started: float) -> None:
        try:
            probe = self.store.probe_of(key)
            if probe is None:
                return
            async with self._slots:
                outcome = await self.prober.probe(probe)
            self.store.record(key, outcome.result)
            self.completed += 1
        finally:
            self._running.discard(key)
        self._schedule_next(key, started)

    def _schedule_next(self, key: TargetKey, started: float) -> None:
        probe, record = self.store.probe_of(key), self.store.record_of(key)
        if probe is None or record is None:
            return
        delay = transitions.next_delay(
            record, self.store.tier, probe.interval.value, probe.unhealthy_threshold.value
        )
        jittered = delay * (1 + self._rng.uniform(-JITTER, JITTER))
        self._push(max(started + jittered, self._monotonic()), key)
        self._wake.set()

    def _push(self, due: float, key: TargetKey) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, key))
