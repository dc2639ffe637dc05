"""Live traffic as health evidence (passiveHealth): runs of failures per target, and ejection.

Rules of this module:
- the data path calls `failed` when a request to a target failed in a way the settings count
  (connect-error, reset, timeout, 5xx, gateway-errors) and `passed` when it got an answer that
  counts as good; nothing is called for backends whose settings do not enable passiveHealth;
- a run of `consecutive` counted failures in a row asks the health store to eject the target;
  the store decides (it may refuse, to keep maxEjectionPercent) and says so on every surface;
- cost: `passed` is one dict look-up, and only for targets with a run in progress.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final, Protocol

from probegate.config.plan import Passive, TargetKey

# How a run reads in the ejection's message: "5 connection resets in a row on live traffic".
_WORDS: Final = {
    "connect-error": ("failed connect", "failed connects"),
    "reset": ("connection reset", "connection resets"),
    "timeout": ("request timeout", "request timeouts"),
    "5xx": ("5xx answer", "5xx answers"),
    "gateway-errors": ("502/503/504 answer", "502/503/504 answers"),
}


class Ejector(Protocol):
    def eject(self, key: TargetKey, facts: dict[str, str]) -> bool: ...


@dataclass(slots=True)
class _Run:
    first: float  # wall clock of the first failure of the run
    last: float = 0.0
    kinds: Counter[str] = field(default_factory=Counter)

    @property
    def count(self) -> int:
        return sum(self.kinds.values())


class LiveEvidence:
    def __init__(self, health: Ejector, wall_clock: Callable[[], float] = time.time) -> None:
        self.health = health
        self._clock = wall_clock
        self._runs: dict[TargetKey, _Run] = {}

    def failed(self, key: TargetKey, passive: Passive, kind: str) -> None:
        if kind not in passive.failures:
            return
        now = self._clock()
        run = self._runs.get(key)
        if run is None:
            run = self._runs[key] = _Run(now)
        run.kinds[kind] += 1
        run.last = now
        if run.count >= passive.consecutive:
            del self._runs[key]
            self.health.eject(key, facts(run))

    def failed_status(self, key: TargetKey, passive: Passive, status: int) -> None:
        """An answer with this status: a counted failure, or the end of a run."""
        if status in (502, 503, 504) and "gateway-errors" in passive.failures:
            self.failed(key, passive, "gateway-errors")
        elif status >= 500 and "5xx" in passive.failures:
            self.failed(key, passive, "5xx")
        elif key in self._runs:
            del self._runs[key]

    def passed(self, key: TargetKey) -> None:
        if key in self._runs:
            del self._runs[key]


def facts(run: _Run) -> dict[str, str]:
    """What an ejection's message names: the run in words, and its parts."""
    return {
        "what": describe(run),
        "count": str(run.count),
        "kinds": ", ".join(kind for kind, _ in run.kinds.most_common()),
        "first": _clock(run.first),
        "last": _clock(run.last),
    }


def describe(run: _Run) -> str:
    """`5 connection resets in a row on live traffic, 12:03:01–12:03:04` (UTC)."""
    parts = []
    for kind, count in run.kinds.most_common():
        one, many = _WORDS.get(kind, (kind, kind))
        parts.append(f"{count} {one if count == 1 else many}")
    when = f"{_clock(run.first)}–{_clock(run.last)} UTC"
    return f"{' and '.join(parts)} in a row on live traffic, {when}"


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.gmtime(epoch))
