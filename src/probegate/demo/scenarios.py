"""The demo's embedded configurations, built from the running lab's addresses.

Rules of this module:
- plain data in, plain documents out: the same YAML an operator would write (it is written to a
  file the gateway loads, so `probegate explain -c` works on it too);
- short timing so the first verdicts come within seconds: probes every 2 s, 1 s timeout, the
  first failure decides (`unhealthyThreshold: 1`);
- two gateways, because the SKU is per configuration: `demo` (Standard_v2) holds every scenario
  but one, `legacy` (Standard, v1) the authentication-certificate check that only v1 has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from probegate.demo.lab import APP_HOST, Lab, Scenario

INTERVAL, TIMEOUT, THRESHOLD = 2, 1, 1


@dataclass(frozen=True, slots=True)
class PathRule:
    name: str
    path: str
    pool: str
    settings: str


# The demo listener's path rules; every other path goes to the `web` pool.
PATH_RULES = (
    PathRule("status", "/status/*", "status-codes", "web-http"),
    PathRule("content", "/content/*", "content", "content-http"),
    PathRule("login", "/login/*", "login", "login-http"),
    PathRule("secure", "/secure/*", "secure", "secure-https"),
    PathRule("public", "/public/*", "public", "public-https"),
)
DEFAULT_POOL = "web"


def _probe(name: str, protocol: str, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "protocol": protocol,
        "host": APP_HOST,
        "path": "/health",
        "interval": INTERVAL,
        "timeout": TIMEOUT,
        "unhealthyThreshold": THRESHOLD,
        **extra,
    }


def _settings(name: str, protocol: str, probe: str, **extra: Any) -> dict[str, Any]:
    port = 443 if protocol == "Https" else 80  # every member carries its own port
    return {"name": name, "port": port, "protocol": protocol, "probe": probe,
            "requestTimeout": 5, **extra}  # fmt: skip


def _pools(scenarios: Sequence[Scenario], gateway: str) -> list[dict[str, Any]]:
    pools: dict[str, list[dict[str, object]]] = {}
    for scenario in scenarios:
        if scenario.gateway == gateway:
            pools.setdefault(scenario.pool, []).append(scenario.member)
    return [{"name": name, "backendAddresses": members} for name, members in pools.items()]


def demo_document(lab: Lab, listener_port: int) -> dict[str, Any]:
    """The v2 gateway: one listener whose path rules reach every pool."""
    return {
        "sku": "Standard_v2",
        "httpListeners": [
            {"name": "demo", "port": listener_port, "protocol": "Http", "bindAddress": "127.0.0.1"}
        ],
        "backendAddressPools": _pools(lab.scenarios, "demo"),
        "backendHttpSettingsCollection": [
            _settings("web-http", "Http", "web-health"),
            _settings("content-http", "Http", "content-health"),
            _settings("login-http", "Http", "login-health"),
            _settings("secure-https", "Https", "tls-health", trustedRootCertificates=["demo-root"]),
            _settings("public-https", "Https", "tls-health"),
        ],
        "probes": [
            _probe("web-health", "Http"),
            _probe("content-health", "Http", match={"body": '"status":"ok"'}),
            _probe("login-health", "Http", match={"statusCodes": ["401"]}),
            _probe("tls-health", "Https"),
        ],
        "trustedRootCertificates": [{"name": "demo-root", "data": lab.pki.root.b64}],
        "urlPathMaps": [
            {
                "name": "demo-paths",
                "defaultBackendAddressPool": DEFAULT_POOL,
                "defaultBackendHttpSettings": "web-http",
                "pathRules": [
                    {
                        "name": r.name,
                        "paths": [r.path],
                        "backendAddressPool": r.pool,
                        "backendHttpSettings": r.settings,
                    }
                    for r in PATH_RULES
                ],
            }
        ],
        "requestRoutingRules": [
            {
                "name": "demo",
                "ruleType": "PathBasedRouting",
                "httpListener": "demo",
                "urlPathMap": "demo-paths",
            }
        ],
        "dnsServers": [lab.dns.label],
        "admin": {"bindAddress": "127.0.0.1", "port": 0},
    }


def legacy_document(lab: Lab, listener_port: int) -> dict[str, Any]:
    """The v1 gateway: the leaf must be one of the uploaded authentication certificates."""
    return {
        "sku": "Standard",
        "httpListeners": [
            {
                "name": "legacy",
                "port": listener_port,
                "protocol": "Http",
                "bindAddress": "127.0.0.1",
            }
        ],
        "backendAddressPools": _pools(lab.scenarios, "legacy"),
        "backendHttpSettingsCollection": [
            _settings(
                "legacy-https", "Https", "legacy-health", authenticationCertificates=["legacy-auth"]
            ),
        ],
        "probes": [_probe("legacy-health", "Https")],
        "authenticationCertificates": [{"name": "legacy-auth", "data": lab.pki.legacy.b64}],
        "requestRoutingRules": [
            {
                "name": "legacy",
                "ruleType": "Basic",
                "httpListener": "legacy",
                "backendAddressPool": "legacy",
                "backendHttpSettings": "legacy-https",
            }
        ],
        "dnsServers": [lab.dns.label],
        "admin": {"bindAddress": "127.0.0.1", "port": 0},
    }
