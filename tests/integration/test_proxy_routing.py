"""Routing over real sockets (SPEC section 7): listeners, host names, path maps, overrides,
redirects, the Host header rules, cookie affinity, and a server killed under load (SPEC 11
rows 19 and 20)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probegate.demo.backends import wait_until
from tests.integration.proxykit import (
    RecordingBackend,
    Reply,
    RunningGateway,
    config,
    free_port,
    get,
    send_raw,
)

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """One gateway with multi-site, wildcard and basic listeners on one port, a path map, path
    overrides, host rules, and a redirecting listener on a second port."""
    names = ("web", "api", "img", "wild")
    backends = {name: RecordingBackend(name).start() for name in names}
    port, old_port = free_port(), free_port()
    document = config(port, {name: [backends[name]] for name in names})
    document["httpListeners"] = [
        {"name": "api", "port": port, "protocol": "Http", "hostNames": ["api.test"]},
        {"name": "wild", "port": port, "protocol": "Http", "hostNames": ["*.site.test"]},
        {"name": "front", "port": port, "protocol": "Http"},
        {"name": "old", "port": old_port, "protocol": "Http"},
    ]
    probe_settings = document["backendHttpSettingsCollection"][0]
    document["backendHttpSettingsCollection"] = [
        probe_settings,
        {**probe_settings, "name": "s-api", "path": "/override/", "hostName": "backend.internal"},
        {**probe_settings, "name": "s-pick", "pickHostNameFromBackendAddress": True},
    ]
    document["urlPathMaps"] = [
        {
            "name": "paths",
            "defaultBackendAddressPool": "web",
            "defaultBackendHttpSettings": "s",
            "pathRules": [
                {
                    "name": "api-path",
                    "paths": ["/API/*"],
                    "backendAddressPool": "api",
                    "backendHttpSettings": "s-api",
                },
                {
                    "name": "logo",
                    "paths": ["/img/logo.png"],
                    "backendAddressPool": "img",
                    "backendHttpSettings": "s",
                },
            ],
        }
    ]
    document["redirectConfigurations"] = [
        {
            "name": "moved",
            "redirectType": "Permanent",
            "targetUrl": "http://new.test/base",
            "includePath": True,
            "includeQueryString": True,
        }
    ]
    document["requestRoutingRules"] = [
        _rule("r-api", 10, "api", backendAddressPool="api", backendHttpSettings="s-api"),
        _rule("r-wild", 20, "wild", backendAddressPool="wild", backendHttpSettings="s-pick"),
        {**_rule("r-paths", 30, "front", urlPathMap="paths"), "ruleType": "PathBasedRouting"},
        _rule("r-old", 40, "old", redirectConfiguration="moved"),
    ]
    gateway = RunningGateway(tmp_path_factory.mktemp("site"), document).start()
    try:
        gateway.wait_routable("web", 1)
        gateway.wait_routable("img", 1)
        gateway.wait_routable("api", 1, "s-api")
        gateway.wait_routable("wild", 1, "s-pick")
        yield {"port": port, "old": old_port, "backends": backends}
    finally:
        gateway.stop()
        for backend in backends.values():
            backend.stop()


def _rule(name: str, priority: int, listener: str, **target: str) -> dict[str, Any]:
    rule: dict[str, Any] = {"name": name, "ruleType": "Basic", "priority": priority}
    return rule | {"httpListener": listener} | target


ROUTES = [
    # host, path → backend, path the backend sees, Host the backend sees
    pytest.param("api.test", "/", "api", "/override/", "backend.internal", id="multi-site"),
    pytest.param("API.test.", "/x", "api", "/override/x", "backend.internal", id="host-case-dot"),
    pytest.param("a.site.test", "/x?q=1", "wild", "/x?q=1", "127.0.0.1", id="wildcard"),
    pytest.param("a.b.site.test", "/", "wild", "/", "127.0.0.1", id="wildcard-deep"),
    pytest.param("site.test", "/", "web", "/", "site.test", id="wildcard-not-apex"),
    pytest.param("other.test", "/", "web", "/", "other.test", id="basic-fallback"),
    pytest.param("x.test", "/api/v1?q=1", "api", "/override/v1?q=1", "backend.internal", id="path"),
    pytest.param("x.test", "/Api/", "api", "/override/", "backend.internal", id="path-case"),
    pytest.param("x.test", "/api", "web", "/api", "x.test", id="prefix-needs-slash"),
    pytest.param("x.test", "/img/logo.png", "img", "/img/logo.png", "x.test", id="exact"),
    pytest.param("x.test", "/IMG/LOGO.PNG", "img", "/IMG/LOGO.PNG", "x.test", id="exact-case"),
    pytest.param("x.test", "/img/logo.png/2", "web", "/img/logo.png/2", "x.test", id="exact-only"),
    pytest.param("x.test", "/img/../api/z", "api", "/override/z", "backend.internal", id="dots"),
    pytest.param("x.test", "/%61pi/z", "api", "/override/z", "backend.internal", id="percent"),
]


@pytest.mark.parametrize(("host", "path", "backend", "seen_path", "seen_host"), ROUTES)
def test_routing_matrix(  # noqa: PLR0917 - one parameter per column of the table
    site: dict[str, Any], host: str, path: str, backend: str, seen_path: str, seen_host: str
) -> None:
    backends: dict[str, RecordingBackend] = site["backends"]
    before = {name: len(b.requests) for name, b in backends.items()}
    reply = get(site["port"], path, host=host)
    assert reply.status == 200, reply
    grew = [name for name, b in backends.items() if len(b.requests) > before[name]]
    assert grew == [backend]
    seen = backends[backend].requests[-1]
    assert seen.target == seen_path
    assert seen.header("host") == seen_host
    assert seen.header("x-original-host") == host


def test_absolute_form_routes_on_its_authority(site: dict[str, Any]) -> None:
    request = b"GET http://api.test/v HTTP/1.1\r\nHost: other.test\r\n\r\n"
    reply = send_raw(site["port"], request, wait_close=False).replies[0]
    assert reply.status == 200
    seen = site["backends"]["api"].requests[-1]
    assert seen.raw.startswith(b"GET /override/v HTTP/1.1\r\nHost: backend.internal\r\n")


def test_redirect_keeps_path_and_query(site: dict[str, Any]) -> None:
    reply = get(site["old"], "/a/b?c=1")
    assert reply.status == 301
    assert reply.header("location") == "http://new.test/base/a/b?c=1"


def test_path_above_the_root_is_refused(site: dict[str, Any]) -> None:
    assert get(site["port"], "/../etc/passwd", host="x.test").status == 400


# ------------------------------------------------------------------ affinity


def test_affinity_pins_and_repins_when_the_server_goes(tmp_path: Path) -> None:
    a, b = RecordingBackend("a").start(), RecordingBackend("b").start()
    port = free_port()
    document = config(port, {"web": [a, b]}, settings={"cookieBasedAffinity": "Enabled"})
    try:
        with RunningGateway(tmp_path, document) as gw:
            gw.wait_routable("web", 2)
            first = get(port)
            cookies = [v for k, v in first.headers if k.lower() == "set-cookie"]
            assert len(cookies) == 2
            value = cookies[0].split(";")[0].split("=", 1)[1]
            assert cookies[0] == f"ApplicationGatewayAffinity={value}; Path=/"
            assert cookies[1] == (
                f"ApplicationGatewayAffinityCORS={value}; Path=/; SameSite=None; Secure"
            )
            assert "127.0.0.1" not in value
            header = f"Cookie: x=1; ApplicationGatewayAffinity={value}\r\n"
            pinned = {get(port, headers=header).body for _ in range(6)}
            assert pinned == {first.body}
            assert all(r.header("set-cookie") is None for r in [get(port, headers=header)])
            gone = a if first.body == b"a" else b
            gone.stop()
            gw.wait_routable("web", 1)
            moved = get(port, headers=header)
            assert moved.body != first.body
            assert moved.header("set-cookie") is not None  # re-pinned
    finally:
        a.stop()
        b.stop()


# ------------------------------------------------------------------ SPEC 11 rows 19 and 20


def test_row19_server_killed_under_load_no_client_request_fails(tmp_path: Path) -> None:
    a, b = RecordingBackend("a").start(), RecordingBackend("b").start()
    port = free_port()
    try:
        with RunningGateway(tmp_path, config(port, {"web": [a, b]})) as gw:
            gw.wait_routable("web", 2)
            statuses: Counter[int] = Counter()
            stop = threading.Event()

            def load() -> None:
                while not stop.is_set():
                    statuses[get(port).status] += 1

            workers = [threading.Thread(target=load) for _ in range(4)]
            for worker in workers:
                worker.start()
            wait_until(lambda: statuses.total() > 100, 10, "load to run")
            b.stop()
            gw.wait_routable("web", 1)  # the probes saw it: Unhealthy after the threshold
            served = statuses.total()
            wait_until(lambda: statuses.total() > served + 100, 10, "load after the kill")
            stop.set()
            for worker in workers:
                worker.join(10)
            assert gw.gateway is not None
            report = gw.gateway.snapshot()
            down = [v for v in report.targets if v.probe.target.member.port == b.port]
            assert down[0].record.state.value == "Unhealthy"
    finally:
        a.stop()
        b.stop()
    assert set(statuses) == {200}, statuses


def test_row20_all_down_is_502_then_recovers_at_the_first_passing_probe(tmp_path: Path) -> None:
    a = RecordingBackend("a").start()
    port, a_port = free_port(), a.port
    with RunningGateway(tmp_path, config(port, {"web": [a]})) as gw:
        gw.wait_routable("web", 1)
        assert get(port).status == 200
        a.stop()
        gw.wait_routable("web", 0)
        down = get(port)
        assert down.status == 502
        assert down.body == b"the server of pool 'web' is unhealthy: tcp-connect-error\n"
        with RecordingBackend("back", port=a_port):
            gw.wait_routable("web", 1)
            back: Reply = get(port)
    assert back.status == 200
    assert back.body == b"back"
