"""Rewrite rule sets and custom error pages over real loopback sockets: security headers,
X-Forwarded-For without ports, Location fixed from captures, deletions, negate and ignoreCase,
query-string routing with reroute, a rewrite loop answering 500, custom 502/400 pages, and a
backend's own 403 passed through unchanged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from probegate.demo.backends import wait_until
from tests.integration.proxykit import (
    RecordingBackend,
    RunningGateway,
    Seen,
    answer,
    config,
    free_port,
    get,
    send_raw,
)


def _header(name: str, value: str) -> dict[str, str]:
    return {"headerName": name, "headerValue": value}


SITE_SET = {
    "name": "site",
    "rewriteRules": [
        {
            "name": "security-headers",
            "ruleSequence": 10,
            "actionSet": {"responseHeaderConfigurations": [
                _header("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
                _header("X-Content-Type-Options", "nosniff"),
                _header("Content-Security-Policy", "default-src 'self'"),
            ]},
        },
        {
            "name": "xff-without-ports",
            "ruleSequence": 20,
            "actionSet": {"requestHeaderConfigurations": [
                _header("X-Forwarded-For", "{var_add_x_forwarded_for_proxy}")
            ]},
        },
        {
            "name": "fix-location",
            "ruleSequence": 30,
            "conditions": [{"variable": "http_resp_Location", "pattern": r"(https?)://127\.0\.0\.1:\d+(.*)$"}],
            "actionSet": {"responseHeaderConfigurations": [
                _header("Location", "{http_resp_Location_1}://app.test{http_resp_Location_2}")
            ]},
        },
        {
            "name": "hide-backend",
            "ruleSequence": 40,
            "actionSet": {
                "requestHeaderConfigurations": [_header("X-Debug", "")],
                "responseHeaderConfigurations": [_header("X-Powered-By", "")],
            },
        },
        {
            "name": "mobile",
            "ruleSequence": 50,
            "conditions": [{"variable": "http_req_User-Agent", "pattern": "MOBILE"}],
            "actionSet": {"requestHeaderConfigurations": [_header("X-Device", "mobile")]},
        },
        {
            "name": "case-sensitive",
            "ruleSequence": 60,
            "conditions": [{"variable": "http_req_X-Case", "pattern": "ABC", "ignoreCase": False}],
            "actionSet": {"responseHeaderConfigurations": [_header("X-Case-Matched", "yes")]},
        },
        {
            "name": "not-api",
            "ruleSequence": 70,
            "conditions": [{"variable": "var_uri_path", "pattern": "^/api", "negate": True}],
            "actionSet": {"responseHeaderConfigurations": [_header("X-Not-Api", "1")]},
        },
        {
            "name": "category-to-shop",
            "ruleSequence": 80,
            "conditions": [{"variable": "var_query_string", "pattern": r"category=(\w+)"}],
            "actionSet": {"urlConfiguration": {
                "modifiedPath": "/shop/{var_query_string_1}",
                "modifiedQueryString": "from=query",
                "reroute": True,
            }},
        },
    ],
}  # fmt: skip
SHOP_SET = {
    "name": "shopset",
    "rewriteRules": [
        {"name": "tag", "actionSet": {"responseHeaderConfigurations": [_header("X-Shop", "yes")]}}
    ],
}
LOOP_SET = {
    "name": "loopset",
    "rewriteRules": [
        {
            "name": "again",
            "actionSet": {"urlConfiguration": {"modifiedPath": "/loop/again", "reroute": True}},
        }
    ],
}


def _web(backend: RecordingBackend, seen: Seen) -> bytes | None:
    powered = (("X-Powered-By", "Express"),)
    if seen.target.startswith("/redirect"):
        location = f"http://127.0.0.1:{backend.port}/login?next=1"
        return answer(302, b"", (("Location", location), *powered))
    if seen.target.startswith("/status/"):
        return None
    return answer(200, b"web", powered)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    folder = tmp_path_factory.mktemp("rewrite")
    (folder / "g502.html").write_text("<h1>maintenance</h1>")
    (folder / "g403.html").write_text("<h1>forbidden page</h1>")
    (folder / "l400.html").write_text("<h1>bad request page</h1>")
    web = RecordingBackend("web", handler=_web).start()
    shop = RecordingBackend("shop").start()
    port, pages_port = free_port(), free_port()
    document = config(port, {"web": [web], "shop": [shop], "dead": []})
    document["httpListeners"] = [
        {"name": "front", "port": port, "protocol": "Http"},
        {"name": "pages", "port": pages_port, "protocol": "Http", "customErrorConfigurations": [
            {"statusCode": "HttpStatus400", "customErrorPageFile": "l400.html"}]},
    ]  # fmt: skip
    document["requestRoutingRules"] = [
        {"name": "r", "ruleType": "PathBasedRouting", "priority": 10, "httpListener": "front",
         "urlPathMap": "paths"},
        {"name": "p", "ruleType": "Basic", "priority": 20, "httpListener": "pages",
         "backendAddressPool": "dead", "backendHttpSettings": "s"},
    ]  # fmt: skip
    rule = {"backendHttpSettings": "s"}
    document["urlPathMaps"] = [
        {
            "name": "paths",
            "defaultBackendAddressPool": "web",
            "defaultBackendHttpSettings": "s",
            "defaultRewriteRuleSet": "site",
            "pathRules": [
                {"name": "shop", "paths": ["/shop/*"], "backendAddressPool": "shop",
                 "rewriteRuleSet": "shopset", **rule},
                {"name": "loop", "paths": ["/loop/*"], "backendAddressPool": "web",
                 "rewriteRuleSet": "loopset", **rule},
                {"name": "down", "paths": ["/down/*"], "backendAddressPool": "dead", **rule},
            ],
        }
    ]  # fmt: skip
    document["rewriteRuleSets"] = [SITE_SET, SHOP_SET, LOOP_SET]
    document["customErrorConfigurations"] = [
        {"statusCode": "HttpStatus502", "customErrorPageFile": "g502.html"},
        {"statusCode": "HttpStatus403", "customErrorPageFile": "g403.html"},
    ]
    log = folder / "access.jsonl"
    document["accessLog"] = {"enabled": True, "path": str(log)}
    gateway = RunningGateway(folder, document).start()
    try:
        gateway.wait_routable("web", 1)
        gateway.wait_routable("shop", 1)
        yield {"port": port, "pages": pages_port, "web": web, "shop": shop, "log": log}
    finally:
        gateway.stop()
        web.stop()
        shop.stop()


def test_security_headers_are_added_and_backend_headers_deleted(site: dict[str, Any]) -> None:
    reply = get(site["port"], "/home")
    assert reply.status == 200
    assert reply.body == b"web"
    assert reply.header("Strict-Transport-Security") == "max-age=31536000; includeSubDomains"
    assert reply.header("X-Content-Type-Options") == "nosniff"
    assert reply.header("Content-Security-Policy") == "default-src 'self'"
    assert reply.header("X-Powered-By") is None
    assert reply.header("X-Not-Api") == "1"


def test_x_forwarded_for_carries_no_ports(site: dict[str, Any]) -> None:
    web: RecordingBackend = site["web"]
    get(site["port"], "/xff", headers="X-Forwarded-For: 127.0.0.9\r\nX-Debug: secret\r\n")
    seen = web.requests[-1]
    assert seen.target == "/xff"
    assert seen.all("X-Forwarded-For") == ["127.0.0.9, 127.0.0.1"]
    assert seen.header("X-Debug") is None


def test_location_is_rewritten_from_its_captures(site: dict[str, Any]) -> None:
    reply = get(site["port"], "/redirect")
    assert reply.status == 302
    assert reply.header("Location") == "http://app.test/login?next=1"


def test_negate_and_ignore_case(site: dict[str, Any]) -> None:
    web: RecordingBackend = site["web"]
    reply = get(
        site["port"], "/api/x", headers="User-Agent: some mobile browser\r\nX-Case: abc\r\n"
    )
    assert web.requests[-1].header("X-Device") == "mobile"  # ignoreCase (the default)
    assert reply.header("X-Case-Matched") is None  # ignoreCase false: abc is not ABC
    assert reply.header("X-Not-Api") is None  # negate: the path does start with /api
    reply = get(site["port"], "/api/x", headers="X-Case: xABCx\r\n")
    assert reply.header("X-Case-Matched") == "yes"
    assert web.requests[-1].header("X-Device") is None


def test_query_string_routing_with_reroute(site: dict[str, Any]) -> None:
    shop: RecordingBackend = site["shop"]
    reply = get(site["port"], "/list?category=shoes&page=2")
    assert reply.status == 200
    assert reply.body == b"shop"
    assert shop.requests[-1].target == "/shop/shoes?from=query"
    assert reply.header("X-Shop") == "yes"  # the set of the path rule it was rerouted to
    assert reply.header("X-Content-Type-Options") == "nosniff"  # and the set it came through
    original = "/list?category=shoes&page=2"
    wait_until(lambda: _logged(site["log"], original) is not None, 5, "the access log")
    entry = _logged(site["log"], original)
    assert entry is not None
    assert entry["requestUri"] == "/shop/shoes?from=query"
    assert entry["backendPoolName"] == "shop"


def _logged(log: Path, original: str) -> dict[str, Any] | None:
    if not log.exists():
        return None
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("originalRequestUriWithArgs") == original:
            return entry  # type: ignore[no-any-return]
    return None


def test_a_rewrite_loop_answers_500_and_the_gateway_keeps_serving(site: dict[str, Any]) -> None:
    reply = get(site["port"], "/loop/start")
    assert reply.status == 500
    assert b"rewrite loop" in reply.body
    assert get(site["port"], "/home").status == 200


def test_custom_502_page_keeps_the_reason_in_a_header(site: dict[str, Any]) -> None:
    reply = get(site["port"], "/down/x")
    assert reply.status == 502
    assert reply.body == b"<h1>maintenance</h1>"
    assert reply.header("Content-Type") == "text/html; charset=utf-8"
    reason = reply.header("X-Probegate-Reason") or ""
    assert "dead" in reason


def test_a_listener_s_pages_replace_the_gateway_s(site: dict[str, Any]) -> None:
    reply = get(site["pages"], "/anything")
    assert reply.status == 502
    assert reply.body != b"<h1>maintenance</h1>"  # the listener names only a 400 page
    bad = b"GET / HTTP/1.1\r\nHost: a.test\r\nHost: b.test\r\n\r\n"
    found = send_raw(site["pages"], bad)
    assert found.replies[0].status == 400
    assert found.replies[0].body == b"<h1>bad request page</h1>"
    assert found.replies[0].header("X-Probegate-Reason") == "more than one Host header"


def test_a_backend_s_own_403_passes_unchanged(site: dict[str, Any]) -> None:
    reply = get(site["port"], "/status/403")
    assert reply.status == 403
    assert reply.body == b"status"
    assert reply.header("X-Probegate-Reason") is None
