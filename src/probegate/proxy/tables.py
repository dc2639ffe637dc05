"""What the data path needs of one plan, computed once per plan (start and each reload).

Rules of this module:
- pure: no asyncio, no sockets; it reads the plan and the effective probes only;
- everything a request needs after routing is one dict look-up by `id(route)` away: the
  backend's group key, host rule, path override, affinity cookie and its upstreams;
- live traffic connects as the probes do (SPEC section 7): same port, same SNI, same trust policy,
  so a target the probes call Healthy is one the proxy can use.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from probegate.config.effective import EffectiveProbe, TlsMode, effective_probe
from probegate.config.errorpages import ErrorPages
from probegate.config.plan import (
    Backend,
    GatewayPlan,
    Passive,
    Protocol,
    Redirect,
    Target,
    TargetKey,
)
from probegate.config.rewrite import RewriteSet
from probegate.health.tlscheck import TrustPolicy, trust_policy
from probegate.proxy.routing import Route, RouteTable
from probegate.state.snapshot import GroupKey


@dataclass(frozen=True, slots=True)
class Upstream:
    """One target as the data path uses it."""

    key: TargetKey
    target: Target
    address: str  # IP literal or FQDN (resolved at connect time)
    is_ip: bool
    port: int
    tls: bool
    sni: str | None
    policy: TrustPolicy | None  # None: the chain is not checked (Http, or checks turned off)
    probe: EffectiveProbe
    affinity: bytes  # opaque cookie value naming this target


@dataclass(frozen=True, slots=True)
class BackendPlan:
    """A (pool, settings) destination."""

    group: GroupKey
    pool: str
    settings: str
    member_count: int
    timeout: float  # requestTimeout
    host: bytes | None  # Host header forced by the settings; None: the client's
    host_from_member: bool  # pickHostNameFromBackendAddress: each member's own address
    path: bytes | None  # override backend path
    cookie: bytes | None  # affinity cookie name; None: no affinity
    drain_timeout: float | None  # seconds a removed member keeps its pinned clients; None: none
    by_key: Mapping[TargetKey, Upstream]
    by_cookie: Mapping[bytes, Upstream]
    passive: Passive | None = None  # passiveHealth: live failures are counted (else nothing is)


@dataclass(frozen=True, slots=True)
class RouteInfo:
    route: Route
    backend: BackendPlan | None
    redirect: Redirect | None
    prefix: bytes | None  # the path rule's matched prefix (lowered, `*` removed) for overrides
    exact: bool  # the path rule matched exactly (no `*`)
    rewrite: RewriteSet | None = None  # the route's rewrite set; None: the request pays nothing
    # (listener, pool, settings): the labels an answer is counted under, made once per route
    labels: tuple[str, str, str] = ("", "", "")


@dataclass(frozen=True, slots=True)
class Tables:
    routes: RouteTable
    by_route: Mapping[int, RouteInfo]  # id(route) → info (the table keeps the routes alive)
    upstreams: Mapping[TargetKey, Upstream]
    backends: Mapping[GroupKey, BackendPlan]
    pages: Mapping[int, ErrorPages] = field(default_factory=dict)  # port → pages before routing
    has_pages: bool = False  # some listener or the gateway has custom error pages


def compile_tables(plan: GatewayPlan) -> Tables:
    routes = RouteTable.compile(plan)
    upstreams = {t.key: _upstream(t, effective_probe(t, plan.tier)) for t in plan.targets}
    backends: dict[GroupKey, BackendPlan] = {}
    by_route: dict[int, RouteInfo] = {}
    for route in _all_routes(routes):
        destination = route.destination
        backend = None
        if isinstance(destination, Backend):
            group = GroupKey(destination.pool.name, destination.settings.name)
            backend = backends.get(group) or _backend(destination, group, upstreams)
            backends[group] = backend
        by_route[id(route)] = _info(route, backend)
    pages = _pages_by_port(plan)
    has_pages = bool(plan.error_pages) or any(x.error_pages for x in plan.listeners)
    return Tables(routes, by_route, upstreams, backends, pages, has_pages)


def _pages_by_port(plan: GatewayPlan) -> dict[int, ErrorPages]:
    """Before routing, a port's answers take its listener's pages when one listener has the port,
    else the gateway's."""
    by_port: dict[int, list[ErrorPages]] = {}
    for listener in plan.listeners:
        by_port.setdefault(listener.port, []).append(listener.error_pages)
    return {p: found[0] if len(found) == 1 else plan.error_pages for p, found in by_port.items()}


def _all_routes(table: RouteTable) -> list[Route]:
    found: dict[int, Route] = {}
    for by_address in table.sites.values():
        for site in by_address.values():
            entries = [*site.exact.values(), *(e for _, e in site.wildcards)]
            if site.basic is not None:
                entries.append(site.basic)
            for entry in entries:
                if isinstance(entry, Route):
                    found[id(entry)] = entry
                else:
                    for route in [entry.default, *(r for _, _, r in entry.text)]:
                        found[id(route)] = route
    return list(found.values())


def _info(route: Route, backend: BackendPlan | None) -> RouteInfo:
    redirect = route.destination if isinstance(route.destination, Redirect) else None
    name = route.listener.name
    labels = (name, backend.pool, backend.settings) if backend is not None else (name, "", "")
    matched = route.matched
    if matched is None:
        return RouteInfo(route, backend, redirect, None, False, route.rewrite, labels)
    exact = not matched.endswith("*")
    prefix = matched.removesuffix("*").lower().encode("utf-8")
    return RouteInfo(route, backend, redirect, prefix, exact, route.rewrite, labels)


def _backend(
    backend: Backend, group: GroupKey, upstreams: Mapping[TargetKey, Upstream]
) -> BackendPlan:
    settings = backend.settings
    mine = {
        k: u for k, u in upstreams.items() if k.pool == group.pool and k.settings == group.settings
    }
    draining = settings.draining
    cookie = settings.affinity_cookie_name if settings.cookie_based_affinity else None
    return BackendPlan(
        group=group,
        pool=backend.pool.name,
        settings=settings.name,
        member_count=len(backend.pool.members),
        timeout=float(settings.request_timeout),
        host=settings.host_name.encode("idna") if settings.host_name else None,
        host_from_member=settings.pick_host_name_from_backend_address,
        path=settings.path.encode("utf-8") if settings.path else None,
        cookie=cookie.encode("ascii") if cookie else None,
        drain_timeout=float(draining.timeout) if draining and draining.enabled else None,
        by_key=mine,
        by_cookie={u.affinity: u for u in mine.values()},
        passive=settings.passive,
    )


def _upstream(target: Target, probe: EffectiveProbe) -> Upstream:
    tls = target.settings.protocol is Protocol.HTTPS
    mode = probe.tls.value
    checked = tls and mode not in (TlsMode.NOT_VALIDATED, TlsMode.INSECURE_SKIP_VERIFY)
    return Upstream(
        key=target.key,
        target=target,
        address=target.member.address,
        is_ip=target.member.is_ip,
        port=target.port,
        tls=tls,
        sni=probe.sni.value if tls else None,
        policy=trust_policy(probe) if checked else None,
        probe=probe,
        affinity=affinity_value(target.key),
    )


def affinity_value(key: TargetKey) -> bytes:
    """Opaque and stable across restarts: a hash of the target's key, never its address."""
    digest = hashlib.sha256(f"probegate-affinity:{key}".encode()).hexdigest()
    return digest[:32].encode("ascii")


def rewrite_path(info: RouteInfo, path: bytes) -> bytes:
    """The override backend path, as the model applies it: the path rule's matched part (all of
    it for an exact rule) is replaced by the override; a basic rule or a map default puts the
    override in front of the whole path."""
    assert info.backend is not None
    override = info.backend.path
    if override is None:
        return path
    if info.prefix is None or not path.lower().startswith(info.prefix):  # (a URL rewrite moved it)
        return override.rstrip(b"/") + path
    if info.exact:
        return override
    rest = path[len(info.prefix) :]
    return override if not rest else override.rstrip(b"/") + b"/" + rest.lstrip(b"/")
