"""A Prometheus-style histogram the data path can feed for the price of a short scan and two adds.

Rules: counts are per bucket (not cumulative) so `observe` touches one slot; the scrape makes them
cumulative. No locks: the proxy's event loop is the only writer, the scrape reads in that loop.
"""

from __future__ import annotations

from typing import Final

# Seconds: from a cache hit on loopback to a slow backend at its default 20 s requestTimeout.
# A list made once, not a tuple display: the compiled build inlines a Final tuple of literals
# where it is used, which in `observe` would build it (and box its 14 floats) on every call.
_BOUNDS: Final[list[float]] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0
]  # fmt: skip
BUCKETS: Final = tuple(_BOUNDS)


class Histogram:
    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(BUCKETS) + 1)  # the last slot is above every bound (+Inf only)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        # The bucket bisect_left would find, by a scan from the smallest bound: most requests end
        # in the first one or two, and the compiled loop compares unboxed floats (the bisect
        # module's call cost ten times as much, argument parsing and rich comparisons included).
        slot = 0
        for bound in _BOUNDS:
            if seconds <= bound:
                break
            slot += 1
        self.counts[slot] += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        """(`le`, count of observations ≤ le) for every bound and `+Inf`, as the format wants."""
        running, out = 0, []
        for bound, count in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += count
            out.append((bound, float(running)))
        return out
