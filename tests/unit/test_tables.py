"""tables.py: what the data path computes once per plan (pure)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from probegate.config.plan import TargetKey
from probegate.proxy.routing import Route
from probegate.proxy.tables import RouteInfo, affinity_value, compile_tables, rewrite_path
from probegate.state.snapshot import GroupKey
from tests.unit.proxyrig import DOCUMENT, plan_of

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

TWO_MEMBERS: dict[str, Any] = {
    **DOCUMENT,
    "backendAddressPools": [
        {"name": "web", "backendAddresses": [{"ipAddress": "127.0.1.1"}, {"fqdn": "b.example.test"}]},
        {"name": "shop", "backendAddresses": [{"ipAddress": "127.0.1.2"}]},
    ],
    "backendHttpSettingsCollection": [
        {"name": "plain", "port": 8081, "protocol": "Http", "hostName": "inside.example.test",
         "cookieBasedAffinity": "Enabled", "affinityCookieName": "Sticky"},
    ],
}  # fmt: skip


def test_every_route_has_its_info_and_backends_are_shared() -> None:
    tables = compile_tables(plan_of())
    routes = {
        info.route.rule + "/" + (info.route.path_rule or ""): info
        for info in tables.by_route.values()
    }
    assert set(routes) == {"basic/", "paths/api", "paths/old", "paths/"}
    assert routes["paths/old"].backend is None
    assert routes["paths/old"].redirect is not None
    assert routes["basic/"].backend is routes["paths/api"].backend  # one plan per (pool, settings)
    assert set(tables.backends) == {GroupKey("web", "plain"), GroupKey("shop", "plain")}  # fmt: skip


def test_upstreams_carry_what_a_connect_needs() -> None:
    tables = compile_tables(plan_of(TWO_MEMBERS))
    by_server = {key.server: u for key, u in tables.upstreams.items() if key.pool == "web"}
    ip, name = by_server["127.0.1.1:8081"], by_server["b.example.test:8081"]
    assert (ip.is_ip, ip.port, ip.tls, ip.sni, ip.policy) == (True, 8081, False, None, None)
    assert (name.address, name.is_ip) == ("b.example.test", False)
    backend = tables.backends[GroupKey("web", "plain")]
    assert backend.member_count == 2
    assert backend.host == b"inside.example.test"
    assert backend.cookie == b"Sticky"
    assert backend.by_cookie[ip.affinity] is ip


def test_affinity_values_are_opaque_and_stable() -> None:
    key = TargetKey("web", "plain", "127.0.1.1:8081")
    value = affinity_value(key)
    assert value == affinity_value(TargetKey("web", "plain", "127.0.1.1:8081"))
    assert len(value) == 32
    assert b"127.0.1.1" not in value
    assert value != affinity_value(TargetKey("web", "plain", "127.0.1.2:8081"))


def _info(prefix: bytes | None, exact: bool, override: bytes) -> RouteInfo:
    info = next(iter(compile_tables(plan_of()).by_route.values()))
    assert info.backend is not None
    backend = dataclasses.replace(info.backend, path=override)
    return RouteInfo(info.route, backend, None, prefix, exact)


@pytest.mark.parametrize(
    ("prefix", "exact", "override", "path", "rewritten"),
    [
        pytest.param(None, False, b"/base/", b"/x/y", b"/base/x/y", id="basic-rule"),
        pytest.param(b"/api/", False, b"/v1/", b"/api/users", b"/v1/users", id="prefix"),
        pytest.param(b"/api/", False, b"/v1", b"/api/", b"/v1", id="prefix-nothing-after"),
        pytest.param(b"/health", True, b"/status", b"/health", b"/status", id="exact"),
        pytest.param(
            b"/api/",
            False,
            b"/v1/",
            b"/moved/users",
            b"/v1/moved/users",
            id="a-url-rewrite-moved-the-path-out-of-the-prefix",
        ),
    ],
)
def test_path_overrides(
    prefix: bytes | None, exact: bool, override: bytes, path: bytes, rewritten: bytes
) -> None:
    assert rewrite_path(_info(prefix, exact, override), path) == rewritten


def test_the_route_table_is_the_plans() -> None:
    tables = compile_tables(plan_of())
    entry = tables.routes.entry(8080, "127.0.0.1", b"shop.example.test")
    assert entry is not None
    route = entry if isinstance(entry, Route) else entry.select(b"/api/x")
    assert tables.by_route[id(route)].route.path_rule == "api"
