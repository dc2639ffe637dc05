"""Which target takes a request: round robin over the routable ones, cookie affinity, draining.

Rules of this module:
- the only input about health is the store's published `routes` mapping, read once per pick
  (an attribute read, no lock): routable means what the health engine says, nothing else; a
  publication replaces the mapping (it is never changed in place), so a pick asks it again only
  when it is a new one;
- affinity: a cookie naming a routable target keeps the request there; one naming a target that
  is no longer routable is ignored (the caller re-pins); one naming a member removed by a reload
  keeps its client there until that member's drain deadline;
- targets this request already failed on are skipped;
- a published group may name targets of the previous plan (a reload's warm-up keeps serving on
  them until a new target passes): those resolve through `previous`, the upstreams the last
  reloads retired.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final, Protocol

from probegate.config.plan import Target, TargetKey
from probegate.proxy.tables import BackendPlan, Upstream
from probegate.state.snapshot import GroupKey, RouteGroup


class HealthSource(Protocol):
    @property
    def routes(self) -> Mapping[GroupKey, RouteGroup]: ...  # replaced by each publication
    def eject(self, key: TargetKey, facts: dict[str, str]) -> bool: ...


class _Pick:
    """One backend plan's round robin, as resolved from one published `routes` mapping. Found by
    the plan's identity: a pick then costs one look-up by an integer (a group key is a tuple,
    hashed anew on every look-up), and the store's mapping is asked again only once it published
    a new one."""

    __slots__ = ("backend", "group", "routes", "turn", "upstreams")

    def __init__(
        self,
        backend: BackendPlan,
        routes: Mapping[GroupKey, RouteGroup],
        group: RouteGroup | None,
        upstreams: tuple[Upstream, ...],
        turn: int,
    ) -> None:
        self.backend = backend  # the plan it was resolved for (an id is unique while it lives)
        self.routes = routes  # the published mapping it was resolved from
        self.group = group  # None: the store publishes no such group
        self.upstreams = upstreams
        self.turn = turn


class Balancer:
    def __init__(self, health: HealthSource, monotonic: Callable[[], float]) -> None:
        self.health = health
        self._monotonic = monotonic
        self._picks: dict[int, _Pick] = {}  # id(backend plan) → its round robin
        self._last: _Pick | None = None  # the latest pick's: most requests repeat its plan
        self._by_group: dict[GroupKey, _Pick] = {}  # the latest per group: a reload keeps its turn
        self.draining: dict[bytes, tuple[Upstream, float]] = {}  # cookie → (removed member, until)
        self.previous: dict[Target, Upstream] = {}  # retired upstreams a warm-up may still use

    def pick(
        self,
        backend: BackendPlan,
        cookie: bytes | None,
        tried: Sequence[tuple[Upstream, str]] = (),
    ) -> Upstream | None:
        routes = self.health.routes
        state = self._last
        if state is None or state.backend is not backend or state.routes is not routes:
            state = self._picks.get(id(backend))
            if state is None or state.routes is not routes or state.backend is not backend:
                state = self._resolved(backend, routes)
            self._last = state
        group = state.group
        if group is None:
            return None
        if cookie is not None:
            pinned = self._pinned(backend, cookie, group.routable)
            if pinned is not None and not _tried(pinned, tried):
                return pinned
        upstreams = state.upstreams
        count = len(upstreams)
        if not count:
            return None
        turn = state.turn
        if not tried:
            state.turn = turn + 1 if turn + 1 < count else 0
            return upstreams[turn % count]
        for step in range(count):
            upstream = upstreams[(turn + step) % count]
            if not _tried(upstream, tried):
                state.turn = (turn + step + 1) % count
                return upstream
        return None

    def _resolved(self, backend: BackendPlan, routes: Mapping[GroupKey, RouteGroup]) -> _Pick:
        """The round robin of `backend` under the mapping the store published last."""
        group = routes.get(backend.group)
        before = self._by_group.get(backend.group)
        found: tuple[Upstream, ...] = ()
        if group is not None:
            if before is not None and before.group is group and before.backend is backend:
                found = before.upstreams  # another mapping, but this group did not change
            else:
                found = tuple(self._resolve(backend.by_key, group.routable))
                # slow start: a ramping target is picked less often
                if group.weights is not None and len(found) == len(group.weights):
                    found = weighted(found, group.weights)
        state = _Pick(backend, routes, group, found, before.turn if before is not None else 0)
        if len(self._picks) > 2 * len(self._by_group) + 16:  # plans a reload left behind
            self._picks = {id(p.backend): p for p in self._by_group.values()}
        self._picks[id(backend)] = self._by_group[backend.group] = state
        return state

    def _pinned(
        self, backend: BackendPlan, cookie: bytes, routable: Sequence[object]
    ) -> Upstream | None:
        pinned = backend.by_cookie.get(cookie)
        if pinned is not None and pinned.target in routable:
            return pinned
        drained = self.draining.get(cookie)  # removed by a reload, or drained by the operator
        if drained is not None and drained[0].key.pool == backend.pool:
            upstream, until = drained
            if self._monotonic() < until:
                return upstream
        return None

    def _resolve(
        self, by_key: Mapping[TargetKey, Upstream], targets: Sequence[Target]
    ) -> list[Upstream]:
        """The upstreams of published targets: the current plan's, else a retired one."""
        found = []
        for target in targets:
            upstream = by_key.get(target.key)
            if upstream is None or (upstream.target is not target and upstream.target != target):
                upstream = self.previous.get(target)
            if upstream is not None:
                found.append(upstream)
        return found

    def drain(self, removed: list[tuple[Upstream, float]]) -> None:
        """Members removed by a reload (or drained through the admin API), with the time their
        pinned clients may use them until."""
        now = self._monotonic()
        self.draining = {
            u.affinity: (u, t) for u, t in [*self.draining.values(), *removed] if t > now
        }

    def undrain(self, keys: Sequence[TargetKey]) -> None:
        """Members the operator put back: their pinned clients are theirs again as routable."""
        self.draining = {c: d for c, d in self.draining.items() if d[0].key not in keys}


WEIGHT_STEPS: Final = 20  # a full share is 20 turns of a weighted cycle; a ramp moves in 5 % steps


def weighted(upstreams: tuple[Upstream, ...], weights: Sequence[float]) -> tuple[Upstream, ...]:
    """One cycle of smooth weighted round robin: each upstream appears in proportion to its
    weight, spread through the cycle (not in bursts). Built once per published group, so a
    pick stays one index into a tuple."""
    steps = [max(1, round(w * WEIGHT_STEPS)) for w in weights]
    total = sum(steps)
    current = [0] * len(steps)
    cycle: list[Upstream] = []
    for _ in range(total):
        for i, step in enumerate(steps):
            current[i] += step
        best = max(range(len(steps)), key=current.__getitem__)
        current[best] -= total
        cycle.append(upstreams[best])
    return tuple(cycle)


def _tried(upstream: Upstream, tried: Sequence[tuple[Upstream, str]]) -> bool:
    return any(t.key == upstream.key for t, _ in tried)
