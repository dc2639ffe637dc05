"""What every client connection and exchange shares: the plan's tables, pools, counters, clock.

`Proxy` (server.py) is a `ProxyContext` that also owns the listening sockets, the tick, reload
and stop; connections and exchanges see only this half, so they never import the server.

Rules of this module:
- `adopt` is the one place a plan's data-path settings are taken, at start and on every reload:
  the tables are swapped in one assignment (requests already routed finish on what they chose);
- the limits a request reads on the hot path are copied to attributes once per plan, and read
  under one name each: `max_body`, `header_timeout`, `body_timeout`, `keep_alive_timeout`;
  the others (`max_connections`, `stop_timeout`) through `limits`;
- counters are plain integers and lists the data path bumps; metrics read them when scraped;
- nothing here awaits.
"""

from __future__ import annotations

import os
import time
from binascii import hexlify
from collections.abc import Callable, Sequence
from typing import Final

from probegate.config.plan import GatewayPlan, TargetKey
from probegate.config.process import Limits
from probegate.health.codes import State
from probegate.histogram import Histogram
from probegate.i18n import Lang
from probegate.proxy import words
from probegate.proxy.accesslog import AccessLog, access_entry
from probegate.proxy.balancer import Balancer, HealthSource
from probegate.proxy.contracts import Logged, Served
from probegate.proxy.evidence import LiveEvidence
from probegate.proxy.tables import BackendPlan, RouteInfo, Tables, Upstream, compile_tables
from probegate.proxy.upstream import ConnectionPool, Connector
from probegate.resolver import Resolver
from probegate.state.snapshot import RouteGroup

# A C static when compiled (`time.monotonic()` would look the attribute up on every call).
_monotonic: Final = time.monotonic

NO_LIMIT: Final = (
    1 << 62
)  # bytes: a request body limit of 0 ("none") as a number every size is under


class ProxyContext:
    plan: GatewayPlan
    tables: Tables
    limits: Limits
    max_body: int
    header_timeout: float
    body_timeout: float
    keep_alive_timeout: float

    def __init__(
        self,
        plan: GatewayPlan,
        health: HealthSource,
        resolver: Resolver,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._monotonic = monotonic
        self.now = monotonic()  # the coarse clock, refreshed by the proxy's tick
        self.balancer = Balancer(health, monotonic)
        self.evidence = LiveEvidence(health)  # passiveHealth: runs of live failures per target
        self.connector = Connector(resolver)
        self.pools: dict[TargetKey, ConnectionPool] = {}
        self.connections: set[Served] = set()
        self.stopping = False
        self._trace_prefix = os.urandom(8).hex().encode("ascii")
        self._trace_count = 0
        # the trace's first 30 digits for the current 256 requests (remade when they pass)
        self._trace_high = self._trace_prefix + hexlify(bytes(7))
        self.responses: dict[str, list[int]] = {}  # listener → answers per status class
        # (listener, pool, settings) → request durations; pool and settings empty for own answers
        self.durations: dict[tuple[str, str, str], Histogram] = {}
        # count_done's last labels and their two meters: a route's labels are strings made when
        # its table is compiled, so the same route again is found by their identity, not by two
        # tuple-keyed look-ups (~1,100 instructions a request in the compiled build, which keeps
        # a tuple[str, str, str] unboxed and would make a new tuple object for each look-up)
        self._last_labels = _UNROUTED
        self._last_counts: list[int] = []  # empty until the first answer: no labels remembered
        self._last_histogram = Histogram()
        self.failed = 0  # requests the gateway failed (502/504, cut answers)
        self.access = _access_log(plan)
        self.plan = plan
        self.adopt(plan)

    def adopt(self, plan: GatewayPlan) -> None:
        """Take a plan's data-path half (the caller has bound its listeners)."""
        if plan.access_log != self.plan.access_log:
            if self.access is not None:
                self.access.close()
            self.access = _access_log(plan)
        self.tables = compile_tables(plan)
        limits = self.limits = plan.limits
        self.max_body = limits.max_body or NO_LIMIT
        self.header_timeout = limits.header_timeout
        self.body_timeout = limits.body_timeout
        self.keep_alive_timeout = limits.keep_alive_timeout
        self.plan = plan

    # ------------------------------------------------------------------ called by connections

    def admit(self, connection: Served) -> bool:
        if len(self.connections) >= self.limits.max_connections or self.stopping:
            return False
        self.connections.add(connection)
        return True

    def forget(self, connection: Served) -> None:
        self.connections.discard(connection)

    def next_trace(self) -> bytes:
        """32 hex digits: a random per-process prefix and a counter (unique, and cheap: the
        counter's last two digits come from a table, the 30 before them are remade every 256
        requests)."""
        count = self._trace_count = self._trace_count + 1
        low = count & 0xFF
        if not low:
            self._trace_high = self._trace_prefix + hexlify((count >> 8).to_bytes(7, "big"))
        return self._trace_high + _HEX_PAIRS[low]

    def pool_for(self, upstream: Upstream) -> ConnectionPool:
        """The pool of a target. After a reload the upstream object is new: an equal one keeps
        its warm connections; a changed one (port, TLS, trust) starts a fresh pool, and the old
        one closes its idle connections and takes no busy one back."""
        pool = self.pools.get(upstream.key)
        if pool is not None and pool.upstream == upstream:
            pool.upstream = upstream
            return pool
        if pool is not None:
            pool.retired = True
            pool.close_idle()
        pool = self.pools[upstream.key] = ConnectionPool(upstream)
        return pool

    def no_target_reason(
        self, backend: BackendPlan, tried: Sequence[tuple[Upstream, str]], lang: Lang = Lang.EN
    ) -> str:
        """The body of a 502: the pool, and why none of its servers could take the request
        (English for the access log's error_info; the client's language for the body)."""
        pool = backend.pool
        if backend.member_count == 0:
            return words.no_servers(pool, lang)
        if tried:
            failures = "; ".join(f"{u.key.server}: {why}" for u, why in tried)
            return words.none_could_take(pool, failures, lang)
        group = self.balancer.health.routes.get(backend.group)
        total = group.total if group is not None else backend.member_count
        undecided = group is not None and any(
            u.state is not State.UNHEALTHY for u in group.unrouted
        )
        if group is not None and undecided:
            return words.not_routable(total, pool, unrouted_words(group, lang), lang)
        reasons = ", ".join(r.value for r in group.failing_reasons) if group else ""
        return words.unhealthy(total, pool, reasons, lang)

    def count_done(
        self, exchange: Logged, status: int, info: RouteInfo | None, started: float
    ) -> None:
        """Responses per listener and status class (index 1-5; 0: anything else), the duration
        histogram, the access log. `info` and `started` are the exchange's own, passed apart:
        the compiled build reads them as fields of the caller, not by name through `Logged`."""
        labels = info.labels if info is not None else _UNROUTED
        last = self._last_labels
        if (
            self._last_counts
            and labels[0] is last[0]
            and labels[1] is last[1]
            and labels[2] is last[2]
        ):
            counts, histogram = self._last_counts, self._last_histogram
        else:
            counts, histogram = self._meters(labels)
        counts[status // 100 if status < 600 else 0] += 1
        if started:
            histogram.observe(_monotonic() - started)
        if self.access is not None:
            self.access.add(access_entry(exchange, status))

    def _meters(self, labels: tuple[str, str, str]) -> tuple[list[int], Histogram]:
        """The answer counts of the labels' listener and the labels' duration histogram, made
        on first use; remembered as the last ones."""
        counts = self.responses.get(labels[0])
        if counts is None:
            counts = self.responses[labels[0]] = [0] * 6
        histogram = self.durations.get(labels)
        if histogram is None:
            histogram = self.durations[labels] = Histogram()
        self._last_labels, self._last_counts, self._last_histogram = labels, counts, histogram
        return counts, histogram


_HEX_PAIRS: Final[list[bytes]] = [b"%02x" % i for i in range(256)]
_UNROUTED: Final = ("", "", "")  # the labels of an answer given before routing (400, 414, …)


def unrouted_words(group: RouteGroup, lang: Lang = Lang.EN) -> str:
    """`1 unknown (tcp-connect-error, 1 of 3 failures), 2 unhealthy (tcp-connect-error)`: a
    server not yet decided is named with its latest failing reason, never called unhealthy."""
    counts: dict[tuple[State, str, int, int], int] = {}
    for u in group.unrouted:
        failures = u.failures if u.state is State.UNKNOWN else 0
        key = (u.state, u.reason.value, failures, u.threshold if failures else 0)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(
        words.unrouted_part(n, state, reason, (failures, threshold), lang)
        for (state, reason, failures, threshold), n in counts.items()
    )


def _access_log(plan: GatewayPlan) -> AccessLog | None:
    return AccessLog(plan.access_log.path) if plan.access_log.enabled else None
