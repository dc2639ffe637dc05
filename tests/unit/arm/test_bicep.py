"""ARM import of what compiled Bicep produces: copy loops with a count known at import, if(),
contains(), copyIndex(), json(), replace(), split() and the other functions of conditions and
defaults; `//` comments; parameters asked for only when a converted field reads them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from probegate.config.arm import convert_arm
from probegate.config.arm.params import build_scope
from probegate.config.source import parse_text
from probegate.errors import ConfigError
from tests.unit.arm.templates import GATEWAY, template

FIXTURE = Path(__file__).parents[2] / "fixtures" / "arm" / "bicep-compiled.json"


def compiled() -> Any:
    return parse_text(FIXTURE.read_text(encoding="utf-8"), str(FIXTURE))  # holds // comments


def test_a_compiled_bicep_template_converts() -> None:
    result = convert_arm(compiled())  # the securestring password feeds nothing converted
    config = result.config
    assert config["backendAddressPools"] == [
        {"name": "web", "backendAddresses": [{"ipAddress": f"127.0.0.1{i}"} for i in (1, 2, 3)]}
    ]
    assert config["httpListeners"] == [
        {"name": "site-1", "port": 80, "protocol": "Http", "hostNames": ["shop.example"]},
        {"name": "site-2", "port": 80, "protocol": "Http", "hostNames": ["admin.example"]},
    ]
    assert [
        (r["name"], r["priority"], r["httpListener"]) for r in config["requestRoutingRules"]
    ] == [
        ("rule-1", 100, "site-1"),
        ("rule-2", 101, "site-2"),
    ]
    assert config["probes"] == [
        {"name": "health", "protocol": "Http", "host": "shop.internal.example",
         "path": "/healthz", "interval": 15, "timeout": 5, "unhealthyThreshold": 3}
    ]  # fmt: skip
    assert config["backendHttpSettingsCollection"] == [
        {"name": "web-http", "port": 8080, "protocol": "Http", "probe": "health"}
    ]
    assert not any("copy" in line for line in result.ignored)
    flipped = convert_arm(compiled(), {"enableHttps": True}).config
    assert flipped["backendHttpSettingsCollection"][0]["port"] == 443


def scope_value(expression: str, parameters: dict[str, Any] | None = None) -> object:
    declared = {name: {"type": "string"} for name in parameters or {}}
    scope, issues = build_scope(declared, {}, parameters or {}, "parameters")
    assert issues == []
    return scope.evaluate_string(expression)


# fmt: off
FUNCTIONS = [
    pytest.param("[if(equals('a', 'a'), 'yes', 'no')]", "yes", id="if-equals"),
    pytest.param("[if(true(), 'taken', parameters('nope'))]", "taken", id="if-skips-the-other-branch"),
    pytest.param("[contains('web-http', 'http')]", True, id="contains-text"),
    pytest.param("[contains(createArray(1, 2), 3)]", False, id="contains-array"),
    pytest.param("[contains(json('{\"Path\": 1}'), 'path')]", True, id="contains-key-any-case"),
    pytest.param("[json('[1, \"a\", null]')]", [1, "a", None], id="json"),
    pytest.param("[replace('a.b.c', '.', '-')]", "a-b-c", id="replace"),
    pytest.param("[split('a, b;c', createArray(', ', ';'))]", ["a", "b", "c"], id="split-many"),
    pytest.param("[length(split('a,b,c', ','))]", 3, id="length"),
    pytest.param("[empty('')]", True, id="empty"),
    pytest.param("[not(empty(createObject('a', 1)))]", True, id="not-createObject"),
    pytest.param("[and(true(), or(false(), true()))]", True, id="and-or"),
    pytest.param("[coalesce(null(), '', 'x')]", "", id="coalesce"),
    pytest.param("[union(createObject('a', 1), createObject('b', 2)).b]", 2, id="union"),
    pytest.param("[add(mul(2, 3), sub(10, div(9, 2)))]", 12, id="arithmetic"),
    pytest.param("[greater(length('abc'), 2)]", True, id="greater"),
    pytest.param("[string(8080)]", "8080", id="string"),
    pytest.param("[int('8443')]", 8443, id="int"),
    pytest.param("[toUpper(first(split('web.example', '.')))]", "WEB", id="first-toUpper"),
    pytest.param("[last(range(5, 3))]", 7, id="range-last"),
    pytest.param("[startsWith('Https', 'http')]", True, id="startsWith-any-case"),
    pytest.param("[skip(take('abcdef', 4), 1)]", "bcd", id="take-skip"),
]
# fmt: on


@pytest.mark.parametrize(("expression", "expected"), FUNCTIONS)
def test_functions_of_compiled_bicep(expression: str, expected: object) -> None:
    assert scope_value(expression) == expected


def test_a_variable_copy_loop_and_copy_index_with_an_offset() -> None:
    variables = {"copy": [{"name": "ports", "count": 3, "input": "[add(8080, copyIndex('ports', 10))]"}]}  # fmt: skip
    scope, _ = build_scope({}, variables, {}, "parameters")
    assert scope.evaluate_string("[variables('ports')]") == [8090, 8091, 8092]


def test_copy_index_outside_its_loop_says_so() -> None:
    with pytest.raises(Exception, match="outside of that copy loop"):
        scope_value("[copyIndex('nothing')]")


def test_a_missing_parameter_that_feeds_only_ignored_fields_is_not_asked_for() -> None:
    doc = template(
        {"probes": [{"name": "p", "properties": {"protocol": "Http", "host": "a.example"}}]},
        parameters={"location": {"type": "string"}, "adminPassword": {"type": "securestring"}},
    )
    doc["resources"][0]["location"] = "[parameters('location')]"
    result = convert_arm(doc)
    assert result.config["probes"][0]["host"] == "a.example"
    doc["resources"][0]["properties"]["probes"][0]["properties"]["host"] = (
        "[parameters('location')]"
    )
    with pytest.raises(ConfigError) as caught:
        convert_arm(doc)
    [issue] = caught.value.issues
    assert issue.path == "parameters.location"
    assert issue.message.endswith("resources[0].properties.probes[0].properties.host uses it")


def test_the_gateway_type_is_still_found_with_comments_around_it() -> None:
    text = '{\n  // a gateway\n  "resources": [/* one */ {"type": "GW", "properties": {}}]\n}'
    text = text.replace("GW", GATEWAY)
    assert convert_arm(parse_text(text, "t.json")).config == {}


# ---------------------------------------------------------------------------------------- what the
# conversion settles: names in ipAddress, listeners apart, empty pools, secrets, template paths


def test_a_host_name_in_ip_address_moves_to_fqdn_with_a_note() -> None:
    pool = {"name": "web", "properties": {"backendAddresses": [
        {"ipAddress": "shop-web.azurewebsites.test"}, {"ipAddress": "127.0.0.11"}]}}  # fmt: skip
    result = convert_arm(template({"backendAddressPools": [pool]}))
    assert result.config["backendAddressPools"][0]["backendAddresses"] == [
        {"fqdn": "shop-web.azurewebsites.test"},
        {"ipAddress": "127.0.0.11"},
    ]
    [note] = result.notes
    assert note.startswith(
        "resources[0].properties.backendAddressPools[0].properties.backendAddresses[0].ipAddress: "
        "'shop-web.azurewebsites.test' is a host name, not an IP address: written as fqdn"
    )


def two_frontends(ipv6: bool) -> dict[str, Any]:
    """The shape of the IPv4 + IPv6 quickstart: one port, two frontend IP configurations."""
    ref = "[resourceId('Microsoft.Network/applicationGateways/frontendIPConfigurations', 'agw', '{0}')]"  # fmt: skip
    port = {"id": "[resourceId('Microsoft.Network/applicationGateways/frontendPorts', 'agw', 'p80')]"}  # fmt: skip
    doc = template({
        "frontendIPConfigurations": [
            {"name": "v4", "properties": {"publicIPAddress": {"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'pip4')]"}}},
            {"name": "v6", "properties": {"publicIPAddress": {"id": "[resourceId('Microsoft.Network/publicIPAddresses', 'pip6')]"}}},
        ],
        "frontendPorts": [{"name": "p80", "properties": {"port": 80}}],
        "httpListeners": [
            {"name": f"l-{name}", "properties": {"frontendIPConfiguration": {"id": ref.format(name)},
                                                 "frontendPort": port, "protocol": "Http"}}
            for name in ("v4", "v6")
        ],
    })  # fmt: skip
    version = "IPv6" if ipv6 else "IPv4"
    doc["resources"].insert(0, {"type": "Microsoft.Network/publicIPAddresses", "name": "pip6",
                                "properties": {"publicIPAddressVersion": version}})  # fmt: skip
    return doc


def test_listeners_sharing_a_port_on_two_frontend_ips_bind_apart() -> None:
    result = convert_arm(two_frontends(ipv6=True))
    listeners = result.config["httpListeners"]
    assert [listener.get("bindAddress") for listener in listeners] == [None, "::1"]
    assert any("'l-v6': on frontend IP configuration 'v6'" in note and "::1" in note for note in result.notes)  # fmt: skip
    other = convert_arm(two_frontends(ipv6=False)).config["httpListeners"]
    assert [listener.get("bindAddress") for listener in other] == [None, "127.0.0.2"]


def test_listeners_on_one_frontend_ip_keep_the_default_address() -> None:
    doc = two_frontends(ipv6=True)
    listeners = doc["resources"][1]["properties"]["httpListeners"]
    listeners[1]["properties"]["frontendIPConfiguration"] = listeners[0]["properties"]["frontendIPConfiguration"]  # fmt: skip
    listeners[1]["properties"]["hostName"] = "b.example"
    result = convert_arm(doc)
    assert all("bindAddress" not in listener for listener in result.config["httpListeners"])


def test_a_pool_whose_members_join_from_a_nic_is_said_to_be_empty() -> None:
    doc = template({"backendAddressPools": [{"name": "vms", "properties": {}}]})
    nic = {"type": "Microsoft.Network/networkInterfaces", "name": "nic-1", "properties": {
        "ipConfigurations": [{"name": "c", "properties": {
            "applicationGatewayBackendAddressPools": [{"id": "/x/backendAddressPools/vms"}]}}]}}  # fmt: skip
    doc["resources"].append(nic)
    result = convert_arm(doc)
    assert result.config["backendAddressPools"] == [{"name": "vms", "backendAddresses": []}]
    assert any(
        note.startswith("backendAddressPools[0] 'vms' is empty: its members join from resources[1] "
                        "(Microsoft.Network/networkInterfaces)")
        for note in result.notes
    )  # fmt: skip


def test_problems_in_the_converted_config_name_the_template_path_and_parameter() -> None:
    from probegate.config.load import load_document  # noqa: PLC0415 - the loader's view

    probe = {"name": "p", "properties": {"protocol": "Http", "host": "a.example",
                                         "unhealthyThreshold": "[parameters('threshold')]"}}  # fmt: skip
    doc = template({"probes": [probe]}, parameters={"threshold": {"type": "int"}})
    with pytest.raises(ConfigError) as caught:
        load_document(doc, "t.json", Path("."), {"threshold": 25})
    assert [str(issue) for issue in caught.value.issues] == [
        "resources[0].properties.probes[0].properties.unhealthyThreshold: must be between 0 and "
        "20, got 25 (from parameter 'threshold'; probegate's probes[0].unhealthyThreshold)"
    ]


def test_summary_and_prominent_lines() -> None:
    from probegate.config.arm import present  # noqa: PLC0415

    lines = present(
        [
            'resources[0]: Microsoft.Network/virtualNetworks "v" (only the application gateway is converted)',
            "resources[2].properties.firewallPolicy: {id} (probegate has no web application firewall)",
            "resources[2].properties.enableHttp2: false (probegate serves clients over HTTP/1.1)",
            "resources[2].properties.enableHttp2: true (probegate serves clients over HTTP/1.1)",
            'resources[2].location: "westeurope" (the Azure region does not apply to a self-hosted gateway)',
            'resources[2].properties.sku.tier: "Standard_v2" (probegate takes the v1 or v2 rules from the sku name)',
        ],
        ["a note"],
    )
    assert lines == [
        "a note",
        "not converted, so probegate behaves differently: resources[2].properties.firewallPolicy: "
        "{id} (probegate has no web application firewall)",
        "not converted, so probegate behaves differently: resources[2].properties.enableHttp2: "
        "true (probegate serves clients over HTTP/1.1)",
        "left out, as they cannot apply to a self-hosted gateway: 1 other resource "
        "(Microsoft.Network/virtualNetworks), enableHttp2, location, sku.tier "
        "(import-arm --show-ignored lists each one)",
    ]  # fmt: skip


def test_a_secret_named_by_the_environment_is_read_at_load(tmp_path: Path) -> None:
    from probegate.config.secrets import expand_secrets  # noqa: PLC0415

    doc = {"sslCertificates": [{"name": "c", "data": "x", "password": "${env:PG_TEST_PFX}"}]}
    expanded, issues = expand_secrets(doc, {"PG_TEST_PFX": "hunter2"})
    assert issues == []
    assert expanded["sslCertificates"][0]["password"] == "hunter2"  # type: ignore[index]
    assert doc["sslCertificates"][0]["password"] == "${env:PG_TEST_PFX}"  # the input is kept
    _, missing = expand_secrets(doc, {})
    assert [issue.path for issue in missing] == ["sslCertificates[0].password"]
    assert "PG_TEST_PFX, which is not set" in missing[0].message
    assert "hunter2" not in missing[0].message
