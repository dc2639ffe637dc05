"""Process-wide settings of a running gateway.

Why: the gateway keeps hundreds of thousands of long-lived objects (the plan, 50 results of
history per target). CPython's oldest-generation collection walks all of them and stopped the
event loop for 50-140 ms at 5,000 targets (measured with `gc.callbacks`), which showed as late
probes. Freezing once a second moves survivors out of the collector's scans; reference counting
still frees them when history drops them. The young generations are collected just before each
freeze: a cycle that became garbage since the last collection (an exception's traceback, a
protocol and its parser) would otherwise be frozen with the survivors and never freed — measured
at ~4,700 objects a second at 2,000 probes/s, a leak that grew RSS for as long as the gateway ran.
"""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import Coroutine
from typing import Any

FREEZE_EVERY = 1.0


class GcFreezer:
    """Freezes the collector's survivors now and every `every` seconds, until stopped."""

    def __init__(self, loop: asyncio.AbstractEventLoop, every: float = FREEZE_EVERY) -> None:
        self._loop = loop
        self._every = every
        self._timer: asyncio.TimerHandle | None = None

    def start(self) -> GcFreezer:
        gc.collect()  # walks only what is not frozen yet: about a second's survivors
        gc.freeze()
        self._timer = self._loop.call_later(self._every, self.start)
        return self

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        gc.unfreeze()


def run_loop(main: Coroutine[Any, Any, None]) -> None:
    """Run `main` on uvloop (asyncio's own loop where uvloop is missing)."""
    try:
        import uvloop  # noqa: PLC0415 - optional speed-up of the event loop
    except ImportError:  # pragma: no cover - uvloop is a dependency on every supported platform
        asyncio.run(main)
        return
    uvloop.run(main)


def usable_cpus() -> int:
    """The CPUs this process may run on (`workers: auto`)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1
