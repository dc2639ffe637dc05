"""Every validation rule of SPEC section 1: one broken document each, the exact path and message.

Each case starts from a small valid document, applies edits at JSON paths and asserts the complete
list of issues, so an extra or a missing complaint fails the test as surely as a wrong message.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import pytest

from probegate.config.load import validate_document

DELETE = object()
Edit = tuple[str, Any]


def base_document() -> dict[str, Any]:
    return {
        "sku": "Standard_v2",
        "httpListeners": [{"name": "front", "port": 8080, "protocol": "Http"}],
        "backendAddressPools": [
            {
                "name": "pool1",
                "backendAddresses": [{"ipAddress": "127.0.0.11"}, {"fqdn": "app.example.test"}],
            }
        ],
        "backendHttpSettingsCollection": [
            {"name": "s1", "port": 8081, "protocol": "Http", "probe": "p1"}
        ],
        "probes": [
            {"name": "p1", "protocol": "Http", "host": "app.example.test", "path": "/health"}
        ],
        "requestRoutingRules": [
            {
                "name": "r1",
                "ruleType": "Basic",
                "priority": 10,
                "httpListener": "front",
                "backendAddressPool": "pool1",
                "backendHttpSettings": "s1",
            }
        ],
    }


_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def _steps(path: str) -> list[str | int]:
    return [int(index) if index else key for key, index in _STEP.findall(path)]


def apply(document: dict[str, Any], edits: list[Edit]) -> dict[str, Any]:
    result = copy.deepcopy(document)
    for path, value in edits:
        *parents, last = _steps(path)
        node: Any = result
        for step in parents:
            node = node[step]
        if value is DELETE:
            del node[last]
        elif isinstance(node, list) and isinstance(last, int) and last == len(node):
            node.append(value)
        else:
            node[last] = value
    return result


def issues_of(document: dict[str, Any], base_dir: Path) -> list[tuple[str, str]]:
    _, issues = validate_document(document, base_dir)
    return [(i.path, i.message) for i in issues]


V1_BASE: list[Edit] = [("sku", "Standard"), ("requestRoutingRules[0].priority", DELETE)]
SECOND_RULE = {
    "name": "r2",
    "ruleType": "Basic",
    "httpListener": "front",
    "backendAddressPool": "pool1",
    "backendHttpSettings": "s1",
}

PATH_RULE_EDIT: Edit = (
    "requestRoutingRules[0]",
    {
        "name": "r1",
        "ruleType": "PathBasedRouting",
        "priority": 10,
        "httpListener": "front",
        "urlPathMap": "paths",
    },
)


def path_map(rules: list[dict[str, Any]]) -> Edit:
    """An edit that adds the path map 'paths' (default: pool1 with s1) holding `rules`."""
    default = {"defaultBackendAddressPool": "pool1", "defaultBackendHttpSettings": "s1"}
    return ("urlPathMaps", [{"name": "paths", **default, "pathRules": rules}])


_S = "backendHttpSettingsCollection[0]"
_HTTPS = [(f"{_S}.protocol", "Https"), ("probes[0].protocol", "Https")]

CASES = [
    # ---------------------------------------------------------------- backend TLS switches
    pytest.param(
        [
            ("sku", "Standard"),
            (f"{_S}.validateSNI", False),
            ("requestRoutingRules[0].priority", DELETE),
            *_HTTPS,
        ],
        [(f"{_S}.validateSNI", "only v2 SKUs (Standard_v2, WAF_v2) have it (sku is 'Standard')")],
        id="validate-sni-on-v1",
    ),
    pytest.param(
        [(f"{_S}.validateCertChainAndExpiry", False)],
        [(f"{_S}.validateCertChainAndExpiry", "only applies to Https settings")],
        id="validate-chain-on-http-settings",
    ),
    pytest.param(
        [(f"{_S}.sniName", "127.0.0.9"), *_HTTPS],
        [
            (
                f"{_S}.sniName",
                "'127.0.0.9' is an IP address, not a host name: a server name sent in TLS is a "
                "DNS name",
            )
        ],
        id="sni-name-is-an-ip",
    ),
    pytest.param(
        [(f"{_S}.validateSni", False), *_HTTPS],
        [(f"{_S}.validateSni", "unknown key; did you mean 'validateSNI'?")],
        id="validate-sni-spelled-as-camel-case",
    ),
    # ---------------------------------------------------------------- ranges and types
    pytest.param(
        [("probes[0].unhealthyThreshold", 25)],
        [("probes[0].unhealthyThreshold", "must be between 0 and 20, got 25")],
        id="threshold-above-20",
    ),
    pytest.param(
        [("probes[0].interval", 0)],
        [("probes[0].interval", "must be between 1 and 86400, got 0")],
        id="interval-zero",
    ),
    pytest.param(
        [("probes[0].timeout", 90000)],
        [("probes[0].timeout", "must be between 1 and 86400, got 90000")],
        id="timeout-too-long",
    ),
    pytest.param(
        [("httpListeners[0].port", 70000)],
        [("httpListeners[0].port", "must be between 1 and 65535, got 70000")],
        id="listener-port-range",
    ),
    pytest.param(
        [("backendHttpSettingsCollection[0].requestTimeout", 0)],
        [("backendHttpSettingsCollection[0].requestTimeout", "must be between 1 and 86400, got 0")],
        id="request-timeout-zero",
    ),
    pytest.param(
        [
            (
                "backendHttpSettingsCollection[0].connectionDraining",
                {"enabled": True, "drainTimeoutInSec": 4000},
            )
        ],
        [
            (
                "backendHttpSettingsCollection[0].connectionDraining.drainTimeoutInSec",
                "must be between 1 and 3600, got 4000",
            )
        ],
        id="drain-timeout-range",
    ),
    pytest.param(
        [("probes[0].minServers", -1)],
        [("probes[0].minServers", "must be 0 or more, got -1")],
        id="min-servers-negative",
    ),
    pytest.param(
        [("backendHttpSettingsCollection[0].port", "8081")],
        [("backendHttpSettingsCollection[0].port", "must be a whole number, got '8081'")],
        id="port-as-string",
    ),
    pytest.param(
        [("backendHttpSettingsCollection[0].pickHostNameFromBackendAddress", "yes")],
        [
            (
                "backendHttpSettingsCollection[0].pickHostNameFromBackendAddress",
                "must be true or false, got 'yes'",
            )
        ],
        id="bool-as-string",
    ),
    pytest.param(
        [("backendHttpSettingsCollection[0].port", DELETE)],
        [("backendHttpSettingsCollection[0].port", "is required")],
        id="missing-port",
    ),
    pytest.param(
        [("probes[0].protocol", "Ftp")],
        [("probes[0].protocol", "must be one of 'Http', 'Https', got 'Ftp'")],
        id="protocol-not-http",
    ),
    pytest.param(
        [("sku", "Basic")],
        [("sku", "must be one of 'Standard', 'WAF', 'Standard_v2', 'WAF_v2', got 'Basic'")],
        id="sku-unknown",
    ),
    pytest.param(
        [("backendAddressPools", {"name": "pool1"})],
        [("backendAddressPools", "must be a list, got a mapping")],
        id="collection-not-a-list",
    ),
    # ---------------------------------------------------------------- unknown keys
    pytest.param(
        [("probes[0].unhealthyTreshold", 2)],
        [("probes[0].unhealthyTreshold", "unknown key; did you mean 'unhealthyThreshold'?")],
        id="unknown-key-typo",
    ),
    pytest.param(
        [("backendPools", [])],
        [("backendPools", "unknown key; did you mean 'backendAddressPools'?")],
        id="unknown-top-level-key",
    ),
    pytest.param(
        [("probes[0].Interval", 10)],
        [("probes[0].Interval", "unknown key; did you mean 'interval'?")],
        id="unknown-key-wrong-case",
    ),
    pytest.param(
        [("probes[0].retries", 3)],
        [("probes[0].retries", "unknown key")],
        id="unknown-key-no-suggestion",
    ),
    # ---------------------------------------------------------------- names and references
    pytest.param(
        [("requestRoutingRules[0].backendAddressPool", "pool2")],
        [
            (
                "requestRoutingRules[0].backendAddressPool",
                "no item of 'backendAddressPools' is named 'pool2'; did you mean 'pool1'?",
            )
        ],
        id="dangling-pool-reference",
    ),
    pytest.param(
        [("backendHttpSettingsCollection[0].probe", "health")],
        [
            (
                "backendHttpSettingsCollection[0].probe",
                "no item of 'probes' is named 'health' (defined: p1)",
            )
        ],
        id="dangling-probe-reference",
    ),
    pytest.param(
        [("backendAddressPools[1]", {"name": "pool1"})],
        [("backendAddressPools[1].name", "'pool1' is already the name of backendAddressPools[0]")],
        id="duplicate-name",
    ),
    pytest.param(
        [
            ("backendAddressPools[0].name", "pool one"),
            ("requestRoutingRules[0].backendAddressPool", "pool one"),
        ],
        [
            (
                "backendAddressPools[0].name",
                "'pool one' is not a valid name: use 1 to 80 letters, digits, '_', '.' or '-', "
                "starting with a letter or digit",
            )
        ],
        id="name-with-space",
    ),
    # ---------------------------------------------------------------- probes
    pytest.param(
        [("probes[0].protocol", "Https")],
        [
            (
                "backendHttpSettingsCollection[0].probe",
                "probe 'p1' uses Https but these settings use Http; a probe's protocol must "
                "match its settings'",
            )
        ],
        id="probe-protocol-mismatch",
    ),
    pytest.param(
        [("probes[0].pickHostNameFromBackendHttpSettings", True)],
        [("probes[0].host", "cannot be set together with pickHostNameFromBackendHttpSettings")],
        id="host-and-pick-host",
    ),
    pytest.param(
        [("probes[0].host", DELETE)],
        [("probes[0]", "set 'host', or 'pickHostNameFromBackendHttpSettings: true'")],
        id="probe-without-host",
    ),
    pytest.param(
        [("probes[0].host", DELETE), ("probes[0].pickHostNameFromBackendHttpSettings", True)],
        [
            (
                "backendHttpSettingsCollection[0].probe",
                "probe 'p1' takes its host from these settings, which have neither 'hostName' "
                "nor 'pickHostNameFromBackendAddress: true'",
            )
        ],
        id="pick-host-from-settings-without-one",
    ),
    pytest.param(
        [*V1_BASE, ("probes[0].port", 9000)],
        [
            (
                "probes[0].port",
                "only v2 SKUs (Standard_v2, WAF_v2) take a probe port (sku is 'Standard')",
            )
        ],
        id="probe-port-on-v1",
    ),
    pytest.param(
        [("probes[0].match", {"body": "x" * 5000})],
        [("probes[0].match.body", "must be at most 4090 characters, got 5000")],
        id="match-body-too-long",
    ),
    pytest.param(
        [("probes[0].match", {"statusCodes": ["200-299", "600"]})],
        [("probes[0].match.statusCodes[1]", "status codes must be within 100-599, got '600'")],
        id="status-out-of-range",
    ),
    pytest.param(
        [("probes[0].match", {"statusCodes": ["2xx"]})],
        [
            (
                "probes[0].match.statusCodes[0]",
                "must be a status 'NNN' or a range 'NNN-NNN', got '2xx'",
            )
        ],
        id="status-bad-syntax",
    ),
    pytest.param(
        [("probes[0].match", {"statusCodes": ["399-200"]})],
        [("probes[0].match.statusCodes[0]", "the range is backwards, got '399-200'")],
        id="status-range-backwards",
    ),
    pytest.param(
        [("probes[0].path", "health")],
        [("probes[0].path", "must start with '/', got 'health'")],
        id="probe-path-relative",
    ),
    # ---------------------------------------------------------------- settings and SKU rules
    pytest.param(
        [
            ("backendHttpSettingsCollection[0].hostName", "app.example.test"),
            ("backendHttpSettingsCollection[0].pickHostNameFromBackendAddress", True),
        ],
        [
            (
                "backendHttpSettingsCollection[0].hostName",
                "cannot be set together with pickHostNameFromBackendAddress",
            )
        ],
        id="settings-host-and-pick",
    ),
    pytest.param(
        [
            *V1_BASE,
            ("backendHttpSettingsCollection[0].protocol", "Https"),
            ("probes[0].protocol", "Https"),
            ("backendHttpSettingsCollection[0].trustedRootCertificates", ["root"]),
            ("trustedRootCertificates", [{"name": "root", "data": "{ROOT_B64}"}]),
        ],
        [
            (
                "backendHttpSettingsCollection[0].trustedRootCertificates",
                "only v2 SKUs (Standard_v2, WAF_v2) use trusted roots (sku is 'Standard')",
            )
        ],
        id="trusted-root-on-v1",
    ),
    pytest.param(
        [
            ("backendHttpSettingsCollection[0].protocol", "Https"),
            ("probes[0].protocol", "Https"),
            ("backendHttpSettingsCollection[0].authenticationCertificates", ["auth"]),
            ("authenticationCertificates", [{"name": "auth", "data": "{ROOT_B64}"}]),
        ],
        [
            (
                "backendHttpSettingsCollection[0].authenticationCertificates",
                "only v1 SKUs (Standard, WAF) use authentication certificates (sku is "
                "'Standard_v2'); use 'trustedRootCertificates' instead",
            )
        ],
        id="authentication-certificate-on-v2",
    ),
    pytest.param(
        [
            ("backendHttpSettingsCollection[0].trustedRootCertificates", ["root"]),
            ("trustedRootCertificates", [{"name": "root", "data": "{ROOT_B64}"}]),
        ],
        [
            (
                "backendHttpSettingsCollection[0].trustedRootCertificates",
                "only applies to Https settings",
            )
        ],
        id="trusted-root-on-http",
    ),
    pytest.param(
        [("backendHttpSettingsCollection[0].affinityCookieName", "my cookie")],
        [
            (
                "backendHttpSettingsCollection[0].affinityCookieName",
                "'my cookie' is not a valid cookie name (letters, digits and !#$%&'*+.^_`|~- only)",
            )
        ],
        id="cookie-name-with-space",
    ),
    # ---------------------------------------------------------------- files
    pytest.param(
        [("trustedRootCertificates", [{"name": "root", "certFile": "missing.pem"}])],
        [
            (
                "trustedRootCertificates[0].certFile",
                "cannot read '{BASE}/missing.pem': No such file or directory",
            )
        ],
        id="certificate-file-missing",
    ),
    pytest.param(
        [("trustedRootCertificates", [{"name": "root", "certFile": "garbage.cer"}])],
        [
            (
                "trustedRootCertificates[0].certFile",
                "'{BASE}/garbage.cer' is neither a PEM nor a DER certificate",
            )
        ],
        id="certificate-file-garbage",
    ),
    pytest.param(
        [("trustedRootCertificates", [{"name": "root", "data": "not base64!"}])],
        [("trustedRootCertificates[0].data", "is not valid base64")],
        id="certificate-data-not-base64",
    ),
    pytest.param(
        [
            (
                "trustedRootCertificates",
                [{"name": "root", "certFile": "a.pem", "data": "{ROOT_B64}"}],
            )
        ],
        [("trustedRootCertificates[0]", "give exactly one of 'certFile' or 'data', not both")],
        id="certificate-file-and-data",
    ),
    # ---------------------------------------------------------------- pools
    pytest.param(
        [("backendAddressPools[0].backendAddresses[0]", {"ipAddress": "web.example.test"})],
        [
            (
                "backendAddressPools[0].backendAddresses[0].ipAddress",
                "'web.example.test' is not an IP address; put host names in 'fqdn'",
            )
        ],
        id="fqdn-in-ip-address",
    ),
    pytest.param(
        [("backendAddressPools[0].backendAddresses[0].fqdn", "app.example.test")],
        [
            (
                "backendAddressPools[0].backendAddresses[0]",
                "give exactly one of 'ipAddress' or 'fqdn', not both",
            ),
        ],
        id="member-with-both-addresses",
    ),
    pytest.param(
        [("backendAddressPools[0].backendAddresses[1]", {"fqdn": "bad_host!.test"})],
        [
            (
                "backendAddressPools[0].backendAddresses[1].fqdn",
                "'bad_host!.test' is not a valid host name",
            )
        ],
        id="fqdn-invalid",
    ),
    # ---------------------------------------------------------------- listeners
    pytest.param(
        [("httpListeners[0].protocol", "Https")],
        [("httpListeners[0].sslCertificate", "is required for an Https listener")],
        id="https-listener-without-certificate",
    ),
    pytest.param(
        [("httpListeners[0].hostNames", [f"s{i}.example.test" for i in range(6)])],
        [("httpListeners[0].hostNames", "at most 5 host names, got 6")],
        id="too-many-host-names",
    ),
    pytest.param(
        [("httpListeners[0].hostNames", ["app.*.example.test"])],
        [
            (
                "httpListeners[0].hostNames[0]",
                "'app.*.example.test' has a wildcard outside the leftmost label; write it as "
                "'*.example.com'",
            )
        ],
        id="wildcard-in-middle",
    ),
    pytest.param(
        [("httpListeners[1]", {"name": "second", "port": 8080, "protocol": "Http"})],
        [("httpListeners[1]", "is a second basic listener on port 8080 as httpListeners[0]")],
        id="two-basic-listeners-one-port",
    ),
    pytest.param(
        [("httpListeners[0].bindAddress", "localhost")],
        [("httpListeners[0].bindAddress", "must be an IP address, got 'localhost'")],
        id="bind-address-not-ip",
    ),
    # ---------------------------------------------------------------- routing
    pytest.param(
        [("requestRoutingRules[0].ruleType", "PathBasedRouting")],
        [
            ("requestRoutingRules[0].backendAddressPool", "belongs in the path map of this rule"),
            ("requestRoutingRules[0].backendHttpSettings", "belongs in the path map of this rule"),
            ("requestRoutingRules[0].urlPathMap", "is required for a PathBasedRouting rule"),
        ],
        id="path-rule-without-map",
    ),
    pytest.param(
        [("requestRoutingRules[0].backendHttpSettings", DELETE)],
        [
            (
                "requestRoutingRules[0].backendHttpSettings",
                "is required together with 'backendAddressPool'",
            )
        ],
        id="pool-without-settings",
    ),
    pytest.param(
        [("requestRoutingRules[1]", {**SECOND_RULE, "priority": 10})],
        [
            (
                "requestRoutingRules[1].httpListener",
                "listener 'front' is already used by requestRoutingRules[0]",
            ),
            (
                "requestRoutingRules[1].priority",
                "10 is already the priority of requestRoutingRules[0]",
            ),
        ],
        id="duplicate-priority-and-listener",
    ),
    pytest.param(
        [
            ("httpListeners[1]", {"name": "other", "port": 8090, "protocol": "Http"}),
            ("requestRoutingRules[1]", {**SECOND_RULE, "httpListener": "other"}),
        ],
        [("requestRoutingRules[1].priority", "is required once any rule has a priority")],
        id="priority-on-some-rules",
    ),
    pytest.param(
        [("sku", "Standard")],
        [
            (
                "requestRoutingRules[0].priority",
                "only v2 SKUs order rules by priority (sku is 'Standard')",
            )
        ],
        id="priority-on-v1",
    ),
    pytest.param(
        [
            PATH_RULE_EDIT,
            path_map(
                [
                    {
                        "name": "a",
                        "paths": ["/a*/b"],
                        "backendAddressPool": "pool1",
                        "backendHttpSettings": "s1",
                    }
                ]
            ),
        ],
        [
            (
                "urlPathMaps[0].pathRules[0].paths[0]",
                "'*' may only be the last character, got '/a*/b'",
            )
        ],
        id="path-with-inner-star",
    ),
    pytest.param(
        [
            PATH_RULE_EDIT,
            path_map([]),
        ],
        [("urlPathMaps[0].pathRules", "must not be empty")],
        id="path-map-without-rules",
    ),
    pytest.param(
        [
            (
                "redirectConfigurations",
                [
                    {
                        "name": "to-https",
                        "redirectType": "Permanent",
                        "targetListener": "front",
                        "targetUrl": "https://app.example.test/",
                    }
                ],
            )
        ],
        [
            (
                "redirectConfigurations[0]",
                "give exactly one of 'targetListener' or 'targetUrl', not both",
            )
        ],
        id="redirect-two-targets",
    ),
    # ---------------------------------------------------------------- resolvers and admin
    pytest.param(
        [("dnsServers", ["resolver.example.test:53"])],
        [
            (
                "dnsServers[0]",
                "'resolver.example.test:53': a DNS server must be an IP address (with an optional port)",
            )
        ],
        id="dns-server-by-name",
    ),
    pytest.param(
        [("admin", {"bindAddress": "0.0.0.0"})],
        [
            (
                "admin.token",
                "is required when the admin API listens on a non-loopback address ('0.0.0.0')",
            )
        ],
        id="admin-exposed-without-token",
    ),
    pytest.param(
        [("admin", {"port": 8080})],
        [("admin.port", "port 8080 is already used by httpListeners[0]")],
        id="admin-port-clash",
    ),
]


@pytest.fixture
def base_dir(tmp_path: Path) -> Path:
    (tmp_path / "garbage.cer").write_bytes(b"\x00\x01 this is not a certificate")
    return tmp_path


def _fill(value: Any, base_dir: Path, root_b64: str) -> Any:
    if isinstance(value, str):
        return value.replace("{BASE}", str(base_dir)).replace("{ROOT_B64}", root_b64)
    if isinstance(value, list | tuple):
        return type(value)(_fill(v, base_dir, root_b64) for v in value)
    if isinstance(value, dict):
        return {k: _fill(v, base_dir, root_b64) for k, v in value.items()}
    return value


@pytest.mark.parametrize(("edits", "expected"), CASES)
def test_invalid_document_reports_path_and_message(
    edits: list[Edit], expected: list[tuple[str, str]], base_dir: Path, root_b64: str
) -> None:
    document = apply(base_document(), [(p, _fill(v, base_dir, root_b64)) for p, v in edits])
    assert issues_of(document, base_dir) == _fill(expected, base_dir, root_b64)


def test_base_document_is_valid(base_dir: Path) -> None:
    assert issues_of(base_document(), base_dir) == []


def test_every_problem_is_reported_at_once(base_dir: Path) -> None:
    document = apply(
        base_document(),
        [
            ("probes[0].unhealthyThreshold", 25),
            ("requestRoutingRules[0].backendAddressPool", "pool2"),
            ("httpListeners[0].prot", "Http"),
        ],
    )
    assert issues_of(document, base_dir) == [
        ("httpListeners[0].prot", "unknown key; did you mean 'port'?"),
        ("probes[0].unhealthyThreshold", "must be between 0 and 20, got 25"),
        (
            "requestRoutingRules[0].backendAddressPool",
            "no item of 'backendAddressPools' is named 'pool2'; did you mean 'pool1'?",
        ),
    ]


def test_top_level_must_be_a_mapping(base_dir: Path) -> None:
    assert issues_of([1, 2], base_dir) == [  # type: ignore[arg-type]
        ("", "the top level must be a mapping of collections, got a list")
    ]


@pytest.mark.parametrize(
    ("header", "field", "message"),
    [
        pytest.param({"name": "Host", "value": "x"}, "name", "Host is not set here", id="host"),
        pytest.param({"name": "Connection", "value": "x"}, "name", "hop-by-hop", id="hop-by-hop"),
        pytest.param({"name": "X Bad", "value": "x"}, "name", "is not a header name", id="space"),
        pytest.param({"name": "X-A", "value": "a\r\nB: c"}, "value", "printable ASCII", id="crlf"),
        pytest.param({"name": "X-A", "value": " a"}, "value", "start or end with spaces", id="pad"),
    ],
)
def test_a_probe_header_that_cannot_be_sent_is_refused(
    header: dict[str, str], field: str, message: str
) -> None:
    document = base_document()
    document["probes"][0]["headers"] = [header]
    _, issues = validate_document(document, Path.cwd())
    assert [i.path for i in issues] == [f"probes[0].headers[0].{field}"]
    assert message in issues[0].message


def test_a_probe_header_given_twice_is_refused() -> None:
    document = base_document()
    document["probes"][0]["headers"] = [
        {"name": "X-Tag", "value": "a"},
        {"name": "x-tag", "value": "b"},
    ]
    _, issues = validate_document(document, Path.cwd())
    assert [(i.path, i.message) for i in issues] == [
        ("probes[0].headers[1].name", "'x-tag' is given twice")
    ]
