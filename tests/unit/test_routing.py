"""Request routing (SPEC section 7): listener selection, path maps, redirect locations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import trustme
from hypothesis import given
from hypothesis import strategies as st

from probegate.config.compile import compile_plan
from probegate.config.load import load_document
from probegate.config.plan import Backend, GatewayPlan, PathMap, Redirect
from probegate.proxy.routing import Route, RouteTable, host_key, redirect_location

# The data path's own behaviour: scripts/test runs it compiled, then again interpreted.
pytestmark = pytest.mark.datapath

POOLS = [{"name": "web", "backendAddresses": [{"ipAddress": "127.0.0.11"}]}]
SETTINGS = [{"name": "plain", "port": 8081, "protocol": "Http"}]


def plan_of(document: dict[str, Any], base_dir: Path | None = None) -> GatewayPlan:
    full = {"backendAddressPools": POOLS, "backendHttpSettingsCollection": SETTINGS, **document}
    return compile_plan(load_document(full, "test", base_dir or Path.cwd()))


def listener(name: str, port: int, *hosts: str, bind: str = "127.0.0.1") -> dict[str, Any]:
    return {"name": name, "port": port, "protocol": "Http", "bindAddress": bind,
            "hostNames": list(hosts)}  # fmt: skip


def basic_rule(name: str, on: str, priority: int | None = None) -> dict[str, Any]:
    rule = {"name": name, "ruleType": "Basic", "httpListener": on,
            "backendAddressPool": "web", "backendHttpSettings": "plain"}  # fmt: skip
    return rule if priority is None else {**rule, "priority": priority}


# ------------------------------------------------------------------------ listener selection

SITES = plan_of(
    {
        "httpListeners": [
            listener("basic", 8080),
            listener("exact", 8080, "www.site.test"),
            listener("wild", 8080, "*.site.test"),
            listener("early-wild", 8080, "*.early.test"),
            listener("late-exact", 8080, "api.early.test"),
            listener("any6", 8080, bind="::"),
            listener("any4", 9090, bind="0.0.0.0"),
            listener("local2", 9090, "two.site.test", bind="127.0.0.2"),
            listener("idle", 7070),  # no rule: never selected
        ],
        "requestRoutingRules": [
            basic_rule("r-basic", "basic", 1),  # first in order, still tried after multi-site
            basic_rule("r-exact", "exact", 10),
            basic_rule("r-wild", "wild", 20),
            basic_rule("r-early-wild", "early-wild", 5),
            basic_rule("r-late-exact", "late-exact", 30),
            basic_rule("r-any6", "any6", 40),
            basic_rule("r-any4", "any4", 50),
            basic_rule("r-local2", "local2", 60),
        ],
    }
)
SITES_TABLE = RouteTable.compile(SITES)


@pytest.mark.parametrize(
    ("port", "bind", "host", "rule"),
    [
        pytest.param(8080, "127.0.0.1", None, "r-basic", id="no-host-basic"),
        pytest.param(8080, "127.0.0.1", "", "r-basic", id="empty-host-basic"),
        pytest.param(8080, "127.0.0.1", "other.test", "r-basic", id="unknown-host-basic"),
        pytest.param(8080, "127.0.0.1", "www.site.test", "r-exact", id="multi-site-before-basic"),
        pytest.param(8080, "127.0.0.1", "WWW.Site.Test:8080", "r-exact", id="port-and-case"),
        pytest.param(8080, "127.0.0.1", "www.site.test.", "r-exact", id="trailing-dot"),
        pytest.param(8080, "127.0.0.1", "www.site.test:", "r-exact", id="empty-port"),
        pytest.param(8080, "127.0.0.1", b"www.site.test:8080", "r-exact", id="bytes-host"),
        pytest.param(8080, "127.0.0.1", "a.site.test", "r-wild", id="wildcard-one-label"),
        pytest.param(8080, "127.0.0.1", "a.b.site.test", "r-wild", id="wildcard-any-chars"),
        pytest.param(8080, "127.0.0.1", "A.SITE.TEST:1", "r-wild", id="wildcard-port-and-case"),
        pytest.param(8080, "127.0.0.1", "site.test", "r-basic", id="wildcard-not-apex"),
        pytest.param(8080, "127.0.0.1", "xsite.test", "r-basic", id="wildcard-needs-dot"),
        pytest.param(
            8080, "127.0.0.1", "api.early.test", "r-early-wild", id="rule-order-beats-exact"
        ),
        pytest.param(8080, "127.0.0.1", "[::1]:8080", "r-basic", id="ipv6-host-basic"),
        pytest.param(8080, "127.0.0.1", "[::1]", "r-basic", id="ipv6-host-no-port"),
        pytest.param(8080, "127.0.0.1", "127.0.0.1:8080", "r-basic", id="ipv4-host-basic"),
        pytest.param(8080, "::1", "[::1]:8080", "r-any6", id="any6-takes-ipv6-address"),
        pytest.param(8080, "::1", "www.site.test", "r-any6", id="any6-does-not-see-ipv4-sites"),
        pytest.param(8080, "127.0.0.9", "www.site.test", None, id="other-address-no-listener"),
        pytest.param(9090, "127.0.0.2", "two.site.test", "r-local2", id="specific-address-site"),
        pytest.param(9090, "127.0.0.2", "one.site.test", "r-any4", id="any4-basic-behind-site"),
        pytest.param(9090, "127.0.0.3", "two.site.test", "r-any4", id="site-bound-elsewhere"),
        pytest.param(9090, "0.0.0.0", None, "r-any4", id="any4-address-itself"),
        pytest.param(7070, "127.0.0.1", None, None, id="listener-without-rule"),
        pytest.param(1, "127.0.0.1", None, None, id="no-listener-on-port"),
    ],
)
def test_listener_selection(
    port: int, bind: str, host: str | bytes | None, rule: str | None
) -> None:
    found = SITES_TABLE.route(port, bind, host, "/")
    assert (found.rule if found else None) == rule


def test_exact_beats_wildcard_when_its_rule_comes_first() -> None:
    found = SITES_TABLE.route(8080, "127.0.0.1", "www.site.test", b"/")
    assert found is not None
    assert (found.rule, found.listener.name) == ("r-exact", "exact")


def test_exact_and_wildcard_in_one_listener() -> None:
    plan = plan_of(
        {
            "httpListeners": [listener("both", 8080, "*.both.test", "www.both.test")],
            "requestRoutingRules": [basic_rule("r-both", "both")],
        }
    )
    table = RouteTable.compile(plan)
    assert [getattr(table.route(8080, "127.0.0.1", h, "/"), "rule", None) for h in (
        "www.both.test", "x.both.test", "both.test")] == ["r-both", "r-both", None]  # fmt: skip


def order_document(v2: bool) -> dict[str, Any]:
    """Two wildcard sites both matching `a.deep.order.test`: listed first, but prioritised last."""
    return {
        **({} if v2 else {"sku": "Standard"}),
        "httpListeners": [
            listener("shallow", 8080, "*.order.test"),
            listener("deep", 8080, "*.deep.order.test"),
        ],
        "requestRoutingRules": [
            basic_rule("r-shallow", "shallow", 20 if v2 else None),
            basic_rule("r-deep", "deep", 10 if v2 else None),
        ],
    }


@pytest.mark.parametrize(
    ("v2", "rule"),
    [
        pytest.param(True, "r-deep", id="v2-by-priority"),
        pytest.param(False, "r-shallow", id="v1-by-list-order"),
    ],
)
def test_rule_order_decides_between_sites(v2: bool, rule: str) -> None:
    table = RouteTable.compile(plan_of(order_document(v2)))
    found = table.route(8080, "127.0.0.1", "a.deep.order.test", "/")
    assert found is not None
    assert found.rule == rule
    assert getattr(table.route(8080, "127.0.0.1", "b.order.test", "/"), "rule", None) == "r-shallow"


@pytest.mark.parametrize(
    ("host", "key"),
    [
        pytest.param(None, None, id="none"),
        pytest.param("", None, id="empty"),
        pytest.param("Www.Site.Test:8080", "www.site.test", id="port-case"),
        pytest.param("[::1]:8080", "[::1]", id="ipv6-port"),
        pytest.param("[::1]", "[::1]", id="ipv6"),
        pytest.param("a.test.:80", "a.test", id="dot-port"),
        pytest.param("a.test:x", "a.test:x", id="not-a-port"),
        pytest.param(b"A.TEST", "a.test", id="bytes"),
    ],
)
def test_host_key(host: str | bytes | None, key: str | None) -> None:
    assert host_key(host) == key


# ------------------------------------------------------------------------ path maps


def path_rule(name: str, *paths: str) -> dict[str, Any]:
    return {"name": name, "paths": list(paths), "backendAddressPool": "web",
            "backendHttpSettings": "plain"}  # fmt: skip


PATHS_DOCUMENT: dict[str, Any] = {
    "httpListeners": [listener("front", 8080)],
    "redirectConfigurations": [
        {"name": "gone", "redirectType": "Permanent", "targetUrl": "http://new.site.test/"},
    ],
    "urlPathMaps": [
        {
            "name": "map",
            "defaultBackendAddressPool": "web",
            "defaultBackendHttpSettings": "plain",
            "pathRules": [
                path_rule("api", "/api/*", "/v1/api"),
                path_rule("special", "/api/special/*", "/Health"),
                path_rule("static", "/static*"),
                {"name": "old", "paths": ["/old/*"], "redirectConfiguration": "gone"},
                path_rule("unicode", "/café/*"),
            ],
        }
    ],
    "requestRoutingRules": [
        {
            "name": "paths",
            "ruleType": "PathBasedRouting",
            "httpListener": "front",
            "urlPathMap": "map",
        },
    ],
}
PATHS = plan_of(PATHS_DOCUMENT)
PATHS_TABLE = RouteTable.compile(PATHS)


@pytest.mark.parametrize(
    ("path", "path_rule"),
    [
        pytest.param("/api/x", "api", id="prefix"),
        pytest.param("/api/", "api", id="prefix-slash-only"),
        pytest.param("/api", None, id="prefix-not-without-slash"),
        pytest.param("/apix", None, id="prefix-not-sibling"),
        pytest.param("/API/X", "api", id="case-insensitive"),
        pytest.param(b"/Api/x", "api", id="bytes-case-insensitive"),
        pytest.param("/api/special/x", "api", id="first-listed-rule-wins"),
        pytest.param("/v1/api", "api", id="second-path-of-rule"),
        pytest.param("/v1/api/", None, id="exact-not-prefix"),
        pytest.param("/health", "special", id="exact"),
        pytest.param(b"/HEALTH", "special", id="exact-case-insensitive"),
        pytest.param("/health/x", None, id="exact-not-longer"),
        pytest.param("/staticfile.css", "static", id="star-without-slash"),
        pytest.param("/static", "static", id="star-matches-empty-rest"),
        pytest.param("/old/page", "old", id="redirect-rule"),
        pytest.param("/café/menu", "unicode", id="unicode-text"),
        pytest.param(b"/caf%C3%A9/menu", "unicode", id="unicode-percent-encoded"),
        pytest.param("/", None, id="root-default"),
        pytest.param(b"", None, id="empty-default"),
    ],
)
def test_path_map(path: str | bytes, path_rule: str | None) -> None:
    found = PATHS_TABLE.route(8080, "127.0.0.1", "www.site.test", path)
    assert found is not None
    assert (found.rule, found.path_rule) == ("paths", path_rule)
    kind = Redirect if path_rule == "old" else Backend
    assert isinstance(found.destination, kind)


# ------------------------------------------------------------------------ redirects


@pytest.fixture(scope="module")
def redirects(tmp_path_factory: pytest.TempPathFactory, ca: trustme.CA) -> RouteTable:
    base = tmp_path_factory.mktemp("routing")
    leaf = ca.issue_cert("www.site.test")
    leaf.cert_chain_pems[0].write_to_path(str(base / "site.pem"))
    leaf.private_key_pem.write_to_path(str(base / "site.key"))

    def secure(name: str, port: int) -> dict[str, Any]:
        return {**listener(name, port), "protocol": "Https", "sslCertificate": "site"}

    def to(name: str, target: dict[str, str], path: bool, query: bool) -> dict[str, Any]:
        return {"name": name, "redirectType": "Found", **target,
                "includePath": path, "includeQueryString": query}  # fmt: skip

    names = ["url-bare", "url-path", "url-query", "url-both",
             "l-80", "l-8082", "l-443", "l-8443", "l-8443-query"]  # fmt: skip
    document = {
        "sslCertificates": [{"name": "site", "certFile": "site.pem", "keyFile": "site.key"}],
        "httpListeners": [
            listener("front", 8080),
            listener("http-80", 80),
            listener("http-8082", 8082),
            secure("https-443", 443),
            secure("https-8443", 8443),
        ],
        "redirectConfigurations": [
            to("url-bare", {"targetUrl": "https://new.site.test/landing"}, False, False),
            to("url-path", {"targetUrl": "https://new.site.test/"}, True, False),
            to("url-query", {"targetUrl": "https://new.site.test/landing?from=old"}, False, True),
            to("url-both", {"targetUrl": "//new.site.test/base#top"}, True, True),
            to("l-80", {"targetListener": "http-80"}, False, False),
            to("l-8082", {"targetListener": "http-8082"}, True, False),
            to("l-443", {"targetListener": "https-443"}, False, True),
            to("l-8443", {"targetListener": "https-8443"}, True, True),
            to("l-8443-query", {"targetListener": "https-8443"}, False, True),
        ],
        "urlPathMaps": [
            {
                "name": "map",
                "defaultBackendAddressPool": "web",
                "defaultBackendHttpSettings": "plain",
                "pathRules": [
                    {"name": n, "paths": [f"/{n}/*"], "redirectConfiguration": n} for n in names
                ],
            }
        ],
        "requestRoutingRules": [
            {"name": "paths", "ruleType": "PathBasedRouting", "httpListener": "front",
             "urlPathMap": "map"},
        ],
    }  # fmt: skip
    return RouteTable.compile(plan_of(document, base))


@pytest.mark.parametrize(
    ("name", "host", "query", "location"),
    [
        pytest.param("url-bare", "www.site.test", "a=1", "https://new.site.test/landing", id="url-bare"),
        pytest.param("url-path", "www.site.test", "a=1", "https://new.site.test/{p}", id="url-path"),
        pytest.param("url-query", "www.site.test", "a=1", "https://new.site.test/landing?from=old&a=1", id="url-query-appended"),
        pytest.param("url-query", "www.site.test", None, "https://new.site.test/landing?from=old", id="url-query-absent"),
        pytest.param("url-both", "www.site.test", "a=1", "http://new.site.test/base/{p}?a=1#top", id="url-both-relative-scheme"),
        pytest.param("l-80", "WWW.Site.Test:8080", "a=1", "http://www.site.test/", id="listener-default-http-port"),
        pytest.param("l-8082", "www.site.test:8080", "a=1", "http://www.site.test:8082/{p}", id="listener-path"),
        pytest.param("l-443", "www.site.test:8080", "a=1", "https://www.site.test/?a=1", id="listener-default-https-port"),
        pytest.param("l-8443", "www.site.test", "a=1", "https://www.site.test:8443/{p}?a=1", id="listener-both"),
        pytest.param("l-8443", "[::1]:8080", b"a=1", "https://[::1]:8443/{p}?a=1", id="listener-ipv6-host"),
        pytest.param("l-8443", None, "a=1", "https://127.0.0.1:8443/{p}?a=1", id="listener-no-host"),
        pytest.param("l-8443-query", "www.site.test", "", "https://www.site.test:8443/", id="listener-empty-query"),
    ],
)  # fmt: skip
def test_redirect_location(
    redirects: RouteTable, name: str, host: str | None, query: str | bytes | None, location: str
) -> None:
    path = f"/{name}/x"
    found = redirects.route(8080, "127.0.0.1", "www.site.test", path.encode())
    assert found is not None
    assert found.path_rule == name
    assert isinstance(found.destination, Redirect)
    assert found.destination.status == 302
    got = redirect_location(found.destination, "http", host, path.encode(), query)
    assert got == location.format(p=path.removeprefix("/"))


# ------------------------------------------------------------------------ properties


def destinations(plan: GatewayPlan) -> dict[str, set[int]]:
    """Rule name → ids of the destinations it may answer with."""
    found: dict[str, set[int]] = {}
    for rule in plan.rules:
        target = rule.destination
        options = (
            [target.default, *(p.destination for p in target.rules)]
            if isinstance(target, PathMap)
            else [target]
        )
        found[rule.name] = {id(d) for d in options}
    return found


HOSTS = st.one_of(
    st.none(),
    st.text(),
    st.binary(),
    st.builds(
        "{}{}".format,
        st.sampled_from(["www.site.test", "a.site.test", "[::1]", "two.site.test", "X.early.test"]),
        st.sampled_from(["", ":", ":8080", ".", ":x"]),
    ),
)
PATHS_ANY = st.one_of(st.text(), st.binary(), st.sampled_from(["/api/", "/HEALTH", "/static"]))


@given(
    port=st.sampled_from([8080, 9090, 7070, 1]),
    bind=st.sampled_from(["127.0.0.1", "127.0.0.2", "::1", "0.0.0.0", "::"]),
    host=HOSTS,
    path=PATHS_ANY,
)
def test_routing_never_raises_and_answers_a_configured_rule(
    port: int, bind: str, host: str | bytes | None, path: str | bytes
) -> None:
    for plan, table in ((SITES, SITES_TABLE), (PATHS, PATHS_TABLE)):
        found = table.route(port, bind, host, path)
        if found is None:
            continue
        assert isinstance(found, Route)
        rule = next(r for r in plan.rules if r.name == found.rule)
        assert found.listener is rule.listener
        assert found.listener.port == port
        assert id(found.destination) in destinations(plan)[found.rule]


@given(host=HOSTS, path=st.text(), query=st.one_of(st.none(), st.text(), st.binary()))
def test_redirect_location_never_raises(host: str | bytes | None, path: str, query: Any) -> None:
    found = PATHS_TABLE.route(8080, "127.0.0.1", None, "/old/x")
    assert found is not None
    assert isinstance(found.destination, Redirect)
    assert redirect_location(found.destination, "https", host, path, query).startswith("http://")
